"""Profile a source from a sample: the figures a person (or a planner) needs to choose operators.

Every figure is measured with the platform's own operators on the sample, so what the
profile says a filter would drop is what that filter drops in the pipeline: the language
distribution comes from ``language_filter@1``, duplicates from ``dedup_exact@1`` and
``dedup_minhash@1``, PII from ``redact_pii@1``, and the quality figures from each
registered quality filter with its default config. HTML is extracted (``extract_html@1``)
before text figures are taken, because a pipeline would extract it first too.

The language distribution is the whole one (``language_shares``), and a guess CLD2 scores
below the language filter's ``min_score`` counts as ``low_confidence``, not as that language.
Quality figures are taken on the text the filters see in a pipeline: extracted, then
normalized (``normalize_text@1``) unless the source is code; ``quality_combined`` gives the
share dropped by each set of quality filters run together.

Duplicate rates from a sample are lower bounds: two copies are seen only when both fall
in the sample.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from itertools import combinations
from typing import Any

import polars as pl

from agent.sources import Sample
from corpus import schema
from corpus.ops import registry

HTML_TYPES = ("text/html", "application/xhtml+xml")
CODE_PREFIX = "text/x-"
QUALITY_TAG = "quality"
MIN_DOCS_PER_LANGUAGE = 5  # per-language quality figures need at least this many documents
LANGUAGE_MIN_SCORE = 0.5  # language_filter@1's default min_score
LOW_CONFIDENCE = "low_confidence"  # the language bucket of guesses scored below it
LISTED_LANGUAGES = 12


def _share(part: int | float, whole: int | float) -> float:
    return round(float(part) / whole, 4) if whole else 0.0


def _quantiles(values: pl.Series) -> dict[str, int]:
    if values.len() == 0:
        return {"p10": 0, "p50": 0, "p90": 0, "max": 0}
    return {
        "p10": int(values.quantile(0.1, "nearest") or 0),
        "p50": int(values.quantile(0.5, "nearest") or 0),
        "p90": int(values.quantile(0.9, "nearest") or 0),
        "max": int(values.max() or 0),  # type: ignore[arg-type]
    }


def _run_filter(op_key: str, docs: pl.DataFrame, config: dict[str, Any] | None = None) -> pl.Series:
    """The drop reason per document (null = kept) that ``op_key`` gives ``docs``."""
    op = registry.get_operator(op_key)
    out = op.fn(docs, op.parse_config(config or {}))
    if schema.DROP not in out.columns:
        return pl.Series(schema.DROP, [None] * docs.height, dtype=pl.String())
    return out[schema.DROP]


def extract_html_docs(docs: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Docs with HTML replaced by its main text (empty extractions removed); and how many were empty."""
    op = registry.get_operator("extract_html@1")
    out = op.fn(docs, op.parse_config({}))
    bad = pl.Series([False] * out.height)
    for col in (schema.DROP, schema.ERROR):
        if col in out.columns:
            bad = bad | out[col].is_not_null()
    kept = out.filter(~bad).drop([c for c in (schema.DROP, schema.ERROR) if c in out.columns])
    return kept, int(bad.sum())


def language_profile(
    docs: pl.DataFrame, min_score: float = LANGUAGE_MIN_SCORE
) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """Every language of the sample with its share; a guess scored below ``min_score`` counts as ``low_confidence``.

    ``min_score`` is ``language_filter@1``'s default: a document the filter would not take as
    confidently in a language is not counted as that language.
    """
    op = registry.get_operator("language_filter@1")
    out = op.fn(docs, op.parse_config({"languages": None, "min_score": 0.0}))
    bucket = (
        pl.when(pl.col(schema.LANGUAGE_SCORE) < min_score)
        .then(pl.lit(LOW_CONFIDENCE))
        .otherwise(pl.col(schema.LANGUAGE))
    )
    stats = (
        out.with_columns(bucket.alias("_bucket"))
        .group_by("_bucket")
        .agg(pl.len().alias("docs"), pl.col(schema.LANGUAGE_SCORE).mean().alias("mean_score"))
        .sort(["docs", "_bucket"], descending=[True, False])
    )
    rows = [
        {
            "language": r["_bucket"],
            "share": _share(r["docs"], docs.height),
            "docs": r["docs"],
            "mean_score": round(float(r["mean_score"] or 0.0), 3),
        }
        for r in stats.iter_rows(named=True)
    ]
    return rows, out.drop([c for c in (schema.DROP,) if c in out.columns])


def normalize_docs(docs: pl.DataFrame) -> pl.DataFrame:
    """``docs`` as ``normalize_text@1`` leaves them: the text the language and quality filters see in a pipeline."""
    op = registry.get_operator("normalize_text@1")
    out = op.fn(docs, op.parse_config({}))
    if schema.DROP in out.columns:
        out = out.filter(pl.col(schema.DROP).is_null())
    return out.drop([c for c in (schema.DROP, schema.ERROR) if c in out.columns])


def duplicate_profile(docs: pl.DataFrame) -> dict[str, Any]:
    if docs.height < 2:
        return {"exact_share": 0.0, "near_share": 0.0, "note": "too few documents to estimate"}
    batch = docs.select(schema.ID, schema.TEXT, schema.SOURCE).with_columns(
        pl.lit(0, dtype=pl.Int32).alias("source_rank")
    )
    exact = registry.get_operator("dedup_exact@1")
    near = registry.get_operator("dedup_minhash@1")
    exact_drops = exact.fn(iter([batch]), exact.parse_config({})).height
    near_table = near.fn(iter([batch]), near.parse_config({}))
    near_only = int((near_table[schema.DROP] == "near_duplicate").sum()) if near_table.height else 0
    return {
        "exact_share": _share(exact_drops, docs.height),
        "near_share": _share(near_only, docs.height),
        "note": "estimated on the sample: a lower bound (both copies must fall in the sample)",
    }


def pii_profile(docs: pl.DataFrame) -> dict[str, Any]:
    op = registry.get_operator("redact_pii@1")
    out = op.fn(docs, op.parse_config({}))
    cols = [c for c in ("pii_email", "pii_ip", "pii_phone") if c in out.columns]
    counts = {c.removeprefix("pii_"): int(out[c].sum() or 0) for c in cols}
    with_hits = int(out.select(pl.sum_horizontal(cols) > 0).to_series().sum()) if cols and out.height else 0
    return {"hits": counts, "total_hits": sum(counts.values()), "docs_with_hits_share": _share(with_hits, docs.height)}


def quality_profile(docs: pl.DataFrame, languages: pl.Series | None) -> tuple[dict[str, Any], dict[str, pl.Series]]:
    """Per quality filter: the share of documents it would drop, by reason and by language."""
    out: dict[str, Any] = {}
    lang_counts = Counter(languages.to_list()) if languages is not None else Counter()
    big_langs = [
        lang for lang, n in lang_counts.most_common(6) if n >= MIN_DOCS_PER_LANGUAGE and lang != LOW_CONFIDENCE
    ]
    masks: dict[str, pl.Series] = {}
    for op in registry.list_operators():
        if QUALITY_TAG not in op.tags or docs.height == 0:
            continue
        reasons = _run_filter(op.key, docs)
        dropped = reasons.is_not_null()
        masks[op.key] = dropped
        entry: dict[str, Any] = {
            "drop_share": _share(int(dropped.sum()), docs.height),
            "reasons": {r: _share(n, docs.height) for r, n in Counter(reasons.drop_nulls().to_list()).most_common(5)},
        }
        if languages is not None and len(big_langs) > 1:
            frame = pl.DataFrame({"lang": languages, "dropped": dropped})
            entry["drop_share_by_language"] = {
                lang: _share(int(frame.filter(pl.col("lang") == lang)["dropped"].sum()), lang_counts[lang])
                for lang in big_langs
            }
        out[op.key] = entry
    return out, masks


def combined_drops(masks: dict[str, pl.Series], n: int) -> dict[str, float]:
    """The share of documents dropped by each set of quality filters run together (keys joined by '+')."""
    keys = sorted(masks)
    out: dict[str, float] = {}
    for size in range(2, len(keys) + 1):
        for combo in combinations(keys, size):
            union = masks[combo[0]]
            for k in combo[1:]:
                union = union | masks[k]
            out["+".join(combo)] = _share(int(union.sum()), n)
    return out


def _cap_bytes(docs: pl.DataFrame, max_bytes: int, seed: int = 0) -> tuple[pl.DataFrame, bool]:
    """Documents of ``docs`` drawn at random (seeded, order kept) holding at most ``max_bytes`` of text (at least
    one)."""
    if docs.height == 0:
        return docs, False
    if int(docs[schema.TEXT].str.len_bytes().sum() or 0) <= max_bytes:
        return docs, False
    order = list(range(docs.height))
    random.Random(seed).shuffle(order)
    sizes = docs[schema.TEXT].str.len_bytes().to_list()
    keep, total = [], 0
    for i in order:
        if keep and total + sizes[i] > max_bytes:
            continue
        keep.append(i)
        total += sizes[i]
    return docs[sorted(keep)], True


def profile_sample(sample: Sample, text_max_bytes: int = 2 << 20) -> dict[str, Any]:
    """The profile of an already-read sample (see the module docstring).

    Text figures are taken on the leading documents that hold at most ``text_max_bytes`` of
    (extracted) text, which bounds the time the quality filters take.
    """
    t0 = time.perf_counter()
    batch = sample.batch
    docs = batch.docs
    n = docs.height
    ctypes = (
        docs[schema.CONTENT_TYPE].fill_null("unknown").str.split(";").list.first().str.strip_chars().str.to_lowercase()
    )
    ctype_counts = Counter(ctypes.to_list())
    html_docs = sum(v for k, v in ctype_counts.items() if k in HTML_TYPES)
    code_docs = sum(v for k, v in ctype_counts.items() if k.startswith(CODE_PREFIX))
    profile: dict[str, Any] = {
        "source": sample.source.model_dump(mode="json", exclude_defaults=True),
        "sample": {
            "records_read": batch.records,
            "documents": n,
            "reader_dropped": dict(Counter(batch.dropped[schema.DROP_REASON].to_list()))
            if batch.dropped.height
            else {},
            "quarantined": dict(Counter(e.split(":", 1)[0] for e in batch.quarantine["error"].to_list()))
            if batch.quarantine.height
            else {},
            "records_read_by_encoding": dict(batch.encodings),
            "how": "records drawn at random over the source's files"
            + (" (some files read only up to their share of the byte budget)" if sample.truncated_by_bytes else ""),
        },
        "coverage": sample.coverage.to_json() if sample.coverage is not None else None,
        "content_types": {k: _share(v, n) for k, v in ctype_counts.most_common()},
        "html_share": _share(html_docs, n),
        "code_share": _share(code_docs, n),
    }
    text_docs = docs
    if html_docs:
        text_docs, empty = extract_html_docs(docs)
        profile["extraction"] = {
            "applied": "extract_html@1",
            "empty_share_of_html": _share(empty, html_docs),
            "note": "text figures below are measured on the extracted text",
        }
    if code_docs < n / 2:
        text_docs = normalize_docs(text_docs)
        profile["text_seen_by_filters"] = (
            "extracted and " if html_docs else ""
        ) + "normalized with normalize_text@1, as the pipeline does before its filters"
    text_docs, capped = _cap_bytes(text_docs, text_max_bytes)
    if capped:
        profile["sample"]["text_figures_on"] = (
            f"{text_docs.height} documents drawn from the sample ({text_max_bytes >> 20} MiB of text)"
        )
    if text_docs.height == 0:
        profile["note"] = "no document with text in the sample"
        profile["seconds"] = round(time.perf_counter() - t0 + sample.seconds, 2)
        return profile
    texts = text_docs[schema.TEXT]
    words = texts.str.count_matches(r"\S+")
    chars = texts.str.len_chars()
    total_chars = int(chars.sum() or 0)
    digits = int(texts.str.count_matches(r"[0-9]").sum() or 0)
    profile["length_chars"] = _quantiles(chars)
    profile["length_words"] = _quantiles(words)
    profile["digit_char_share"] = _share(digits, total_chars)
    languages, annotated = language_profile(text_docs)
    confident = [x for x in languages if x["language"] not in (LOW_CONFIDENCE, "unknown")]
    profile["languages"] = languages[:LISTED_LANGUAGES]
    profile["languages_seen"] = len(confident)
    profile["language_shares"] = {x["language"]: x["share"] for x in languages}  # the full distribution
    profile["language_min_score"] = LANGUAGE_MIN_SCORE
    scores = annotated[schema.LANGUAGE_SCORE]
    profile["language_low_confidence_share"] = _share(int((scores < LANGUAGE_MIN_SCORE).sum()), text_docs.height)
    profile["language_score_quantiles"] = {
        q: round(float(scores.quantile(v, "nearest") or 0.0), 3) for q, v in (("p10", 0.1), ("p25", 0.25), ("p50", 0.5))
    }
    profile["duplicates"] = duplicate_profile(text_docs)
    profile["pii"] = pii_profile(text_docs)
    lang_buckets = pl.Series(
        [
            LOW_CONFIDENCE if sc < LANGUAGE_MIN_SCORE else lang
            for lang, sc in zip(annotated[schema.LANGUAGE].to_list(), scores.to_list(), strict=True)
        ],
        dtype=pl.String(),
    )
    profile["quality"], masks = quality_profile(text_docs, lang_buckets)
    profile["quality_combined"] = combined_drops(masks, text_docs.height)
    profile["seconds"] = round(time.perf_counter() - t0 + sample.seconds, 2)
    return profile
