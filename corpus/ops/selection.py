"""Global selection operators: a locally trained quality classifier, reference-LM loss, soft dedup.

Each runs across the pipeline's sources at once (``kind="global"``: the stage's
``<stage>_index`` asset holds its result) and returns one row per scored document: ``id``,
``_drop`` (a reason, or null to keep), ``duplicate_of`` (null) and a score column
``score/<name>`` (higher = more wanted) or a weight column ``weight/<name>``, which the
stage joins onto the documents it keeps. A model an operator trains travels back as a file
of the index (``model.bin``) with its held-out figures in the index summary.

* ``quality_classifier@2`` - DCLM recipe: positives from named reference sources (or a
  labelled JSONL file), negatives a random sample of the sources being filtered;
  keep by threshold or top fraction (reason ``low_quality_score``).
* ``lm_score@1`` - loss under the proxy GPT trained on reference sources: CCNet bands
  (reason ``perplexity_band``) or RHO-style "learnable, not yet learned" top fraction
  (reason ``low_rho_score``).
* ``soft_dedup@1`` - n-gram commonness -> ``weight/softdedup`` sampling weight, no drops.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from corpus import schema
from corpus.ops.registry import OpConfig, register
from corpus.selection.classifier import ClassifierError, ClassifierOptions, score_pool, train_classifier
from corpus.selection.decontam import resolve_path
from corpus.spec_types import FieldName, Location, Word

SourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
ScoreName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
REASON_CLASSIFIER = "low_quality_score"
REASON_BAND = "perplexity_band"
REASON_RHO = "low_rho_score"


class SelectionError(ValueError):
    pass


def _collect(batches: Iterable[pl.DataFrame]) -> pl.DataFrame:
    parts = [b.select(schema.ID, schema.TEXT, schema.SOURCE) for b in batches]
    if not parts:
        return pl.DataFrame(schema={schema.ID: pl.String, schema.TEXT: pl.String, schema.SOURCE: pl.String})
    return pl.concat(parts).with_columns(pl.col(schema.TEXT).fill_null(""))


def _sample(texts: list[str], k: int, seed: int) -> list[str]:
    if len(texts) <= k:
        return texts
    return random.Random(seed).sample(texts, k)


def _keep_mask(
    scores: np.ndarray, threshold: float | None, top_fraction: float | None
) -> tuple[np.ndarray, float | None]:
    if top_fraction is not None:
        if not len(scores):
            return np.ones(0, dtype=bool), None
        cut = float(np.quantile(scores, 1.0 - top_fraction))
        return scores >= cut, cut
    if threshold is not None:
        return scores >= threshold, float(threshold)
    return np.ones(len(scores), dtype=bool), None


def _result(ids: pl.Series, keep: np.ndarray, reason: str, column: str, values: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            schema.ID: ids,
            schema.DROP: pl.Series([None if k else reason for k in keep.tolist()], dtype=pl.String),
            schema.DUPLICATE_OF: pl.Series([None] * len(ids), dtype=pl.String),
            column: pl.Series(values.astype(np.float64)),
        }
    )


class _SourcesConfig(OpConfig):
    reference_sources: list[SourceName] = Field(
        default_factory=list, max_length=64, description="sources whose documents are the positives"
    )
    filter_sources: list[SourceName] | None = Field(
        None, max_length=256, description="sources scored and filtered (default: every other)"
    )

    def source_refs(self) -> list[tuple[str, str]]:
        refs = [(f"reference_sources[{i}]", s) for i, s in enumerate(self.reference_sources)]
        return refs + [(f"filter_sources[{i}]", s) for i, s in enumerate(self.filter_sources or [])]

    def split(self, docs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        ref = docs.filter(pl.col(schema.SOURCE).is_in(self.reference_sources))
        rest = docs.filter(~pl.col(schema.SOURCE).is_in(self.reference_sources))
        if self.filter_sources is not None:
            rest = rest.filter(pl.col(schema.SOURCE).is_in(self.filter_sources))
        return ref, rest


# --- quality classifier ------------------------------------------------------------------


class LabelledFile(OpConfig):
    path: Annotated[Location, Field(min_length=1, max_length=1000, description="JSONL with a text and a label field")]
    text_field: FieldName = "text"
    label_field: FieldName = "label"
    positive_labels: list[Word | int | bool] = Field(default_factory=lambda: [1, True, "1", "pos", "positive", "high"])


class QualityClassifierConfig(_SourcesConfig):
    name: ScoreName = Field("quality", description="the score column is score/<name>")
    labelled_file: LabelledFile | None = Field(None, description="instead of reference_sources: labelled examples")
    backend: Literal["fasttext", "linear"] = Field(
        "linear",
        description="linear: hashed word uni+bigrams + logistic regression (deterministic); fasttext: fastText",
    )
    negatives_sample: int = Field(
        20_000, ge=2, le=5_000_000, description="random documents of the filtered sources as negatives"
    )
    positives_max: int = Field(100_000, ge=2, le=5_000_000)
    top_fraction: float | None = Field(
        0.1, gt=0.0, le=1.0, description="keep this share of the filtered documents (DCLM: 10%)"
    )
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="instead of top_fraction: keep scores >= threshold"
    )
    heldout_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _check(self) -> QualityClassifierConfig:
        if bool(self.reference_sources) == (self.labelled_file is not None):
            raise ValueError("give exactly one of reference_sources (positives: those sources) or labelled_file")
        if self.threshold is not None and "top_fraction" in self.model_fields_set and self.top_fraction is not None:
            raise ValueError("give top_fraction or threshold, not both")
        return self

    def paths(self) -> list[tuple[str, str]]:
        return [("labelled_file.path", self.labelled_file.path)] if self.labelled_file else []

    @property
    def keep_rule(self) -> tuple[float | None, float | None]:
        return (self.threshold, None) if self.threshold is not None else (None, self.top_fraction)


def _labelled(cfg: LabelledFile) -> tuple[list[str], list[str]]:
    p = resolve_path(cfg.path)
    if not p.is_file():
        raise SelectionError(f"config.labelled_file.path: {cfg.path!r} not found (looked at {p}); fix the path")
    pos, neg = [], []
    wanted = {str(v).lower() for v in cfg.positive_labels}
    for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise SelectionError(
                f"config.labelled_file.path: {cfg.path!r} line {n} is not JSON; fix the file"
            ) from None
        if not isinstance(rec, dict) or cfg.text_field not in rec or cfg.label_field not in rec:
            raise SelectionError(
                f"config.labelled_file: {cfg.path!r} line {n} lacks {cfg.text_field!r} or {cfg.label_field!r}; "
                "set text_field / label_field"
            )
        (pos if str(rec[cfg.label_field]).lower() in wanted else neg).append(str(rec[cfg.text_field]))
    return pos, neg


@register(
    "quality_classifier",
    2,
    "global",
    QualityClassifierConfig,
    reasons=(REASON_CLASSIFIER,),
    adds_columns=("score/<name>",),
    requires_packages=("fasttext", "sklearn"),
    tags=("selection", "model"),
)
def quality_classifier(
    batches: Iterable[pl.DataFrame], cfg: QualityClassifierConfig
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Train a quality classifier locally (reference sources vs a random sample of the filtered ones)
    and keep the top scores.

    Positives: the documents of ``reference_sources`` (or a labelled JSONL file); negatives:
    a seeded random sample of the filtered sources (the DCLM recipe). Hashed word uni+bigrams +
    logistic regression by default (fastText selectable). Held-out precision, recall, AUC,
    a score histogram and examples per band go to the index's metadata; the model file is
    kept beside it. Writes ``score/<name>``; drops below the cut with ``low_quality_score``.
    """
    docs = _collect(batches)
    ref, rest = cfg.split(docs)
    pool = rest[schema.TEXT].to_list()
    opts = ClassifierOptions(backend=cfg.backend, heldout_fraction=cfg.heldout_fraction, seed=cfg.seed)
    try:
        if cfg.labelled_file is not None:
            positives, negatives = _labelled(cfg.labelled_file)
            where = ("config.labelled_file (positive rows)", "config.labelled_file (negative rows)")
            model, report = train_classifier(
                _sample(positives, cfg.positives_max, cfg.seed),
                negatives,
                opts,
                positives_field=where[0],
                negatives_field=where[1],
            )
            if not pool:
                raise SelectionError("config.filter_sources: no documents to score; name sources that hold documents")
            scores = model.score(pool)
        else:
            positives = _sample(ref[schema.TEXT].to_list(), cfg.positives_max, cfg.seed)
            if not pool:
                raise SelectionError("config.filter_sources: no documents to score; name sources that hold documents")
            k = min(len(pool), cfg.negatives_sample)
            negative_idx = sorted(random.Random(cfg.seed).sample(range(len(pool)), k))
            model, report, scores = score_pool(
                pool,
                positives,
                negative_idx,
                opts,
                positives_field="config.reference_sources",
                negatives_field="config.filter_sources (the negatives)",
            )
    except ClassifierError as exc:
        raise SelectionError(str(exc)) from None
    threshold, top = cfg.keep_rule
    keep, cut = _keep_mask(scores, threshold, top)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.bin"
        model.save(path)
        data = path.read_bytes()
    info = {
        "kind": "classifier",
        "score_column": f"score/{cfg.name}",
        "cut": cut,
        "scored": int(rest.height),
        "kept": int(keep.sum()),
        **report.to_dict(),
        "files": {"model.bin": data},
    }
    return _result(rest[schema.ID], keep, REASON_CLASSIFIER, f"score/{cfg.name}", scores), info


# --- reference-LM loss -------------------------------------------------------------------


class LmScoreConfig(_SourcesConfig):
    name: ScoreName = "lm"
    mode: Literal["perplexity", "rho"] = Field("perplexity", description="CCNet bands, or RHO-style excess loss")
    keep_bands: list[Literal["head", "middle", "tail"]] = Field(
        default_factory=lambda: ["head", "middle"], min_length=1
    )
    top_fraction: float = Field(0.5, gt=0.0, le=1.0, description="rho: keep this share (highest excess loss)")
    budget_tokens: int = Field(200_000, ge=1_000, le=100_000_000, description="training tokens of each small LM")
    vocab_size: int = Field(2048, ge=260, le=65_536)
    max_tokens: int = Field(256, ge=8, le=8192, description="tokens of each document scored")
    seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _check(self) -> LmScoreConfig:
        if not self.reference_sources:
            raise ValueError("reference_sources: name at least one source to train the reference model on")
        return self


@register(
    "lm_score",
    1,
    "global",
    LmScoreConfig,
    reasons=(REASON_BAND, REASON_RHO),
    adds_columns=("score/<name>",),
    tags=("selection", "model"),
)
def lm_score(batches: Iterable[pl.DataFrame], cfg: LmScoreConfig) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Score documents by their loss under a small reference LM trained on reference sources;
    keep perplexity bands or RHO's top.

    ``perplexity``: CCNet-style terciles of reference loss (head = lowest); documents outside
    ``keep_bands`` are dropped (``perplexity_band``); ``score/<name>`` is minus the loss.
    ``rho``: the excess loss (a model of a random sample of the filtered sources minus the
    reference model); the top fraction is kept (``low_rho_score``).
    """
    from corpus.selection.lmscore import ReferenceLM, ScoreError, bands

    docs = _collect(batches)
    ref, rest = cfg.split(docs)
    if not rest.height:
        raise SelectionError("config.filter_sources: no documents to score; name sources that hold documents")
    try:
        lm = ReferenceLM.fit(
            ref[schema.TEXT].to_list(), cfg.budget_tokens, cfg.vocab_size, cfg.seed, field="config.reference_sources"
        )
    except ScoreError as exc:
        raise SelectionError(str(exc)) from None
    texts = rest[schema.TEXT].to_list()
    ref_loss = lm.doc_losses(texts, cfg.max_tokens)
    info: dict[str, Any] = {
        "kind": "lm_score",
        "mode": cfg.mode,
        "score_column": f"score/{cfg.name}",
        "scored": len(texts),
        "reference_train_loss": lm.train_loss,
    }
    if cfg.mode == "perplexity":
        band = bands(ref_loss)
        keep = np.isin(band, cfg.keep_bands)
        score, reason = -np.nan_to_num(ref_loss, nan=np.inf), REASON_BAND
        info["bands"] = {b: int((band == b).sum()) for b in ("head", "middle", "tail")}
    else:
        sample = _sample(texts, 20_000, cfg.seed)
        current = ReferenceLM.fit(
            sample, cfg.budget_tokens, seed=cfg.seed, tokenizer=lm.tokenizer, field="config.filter_sources"
        )
        score = np.nan_to_num(current.doc_losses(texts, cfg.max_tokens) - ref_loss, nan=-np.inf)
        keep, _ = _keep_mask(score, None, cfg.top_fraction)
        reason = REASON_RHO
    info["kept"] = int(keep.sum())
    finite = np.isfinite(ref_loss)
    info["reference_loss_quantiles"] = (
        np.quantile(ref_loss[finite], [0.1, 0.5, 0.9]).round(4).tolist() if finite.any() else []
    )
    return _result(
        rest[schema.ID], keep, reason, f"score/{cfg.name}", np.nan_to_num(score, neginf=-1e9, posinf=1e9)
    ), info


# --- soft dedup --------------------------------------------------------------------------


class SoftDedupConfig(OpConfig):
    ngram: int = Field(5, ge=2, le=13, description="words per n-gram")
    min_weight: float = Field(0.02, ge=0.0, le=1.0, description="weights are clipped below at this")


@register("soft_dedup", 1, "global", SoftDedupConfig, adds_columns=("weight/softdedup",), tags=("dedup", "selection"))
def soft_dedup(batches: Iterable[pl.DataFrame], cfg: SoftDedupConfig) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Give every document a sampling weight from n-gram commonness across all sources (SoftDedup-style); drops nothing.

    weight = mean over the document's distinct word n-grams of 1 / (documents containing
    it): k exact copies weigh 1/k each. Written to ``weight/softdedup``.
    """
    from corpus.selection.softdedup import softdedup_weights

    docs = _collect(batches)
    weights = softdedup_weights(docs[schema.TEXT], cfg.ngram, cfg.min_weight)
    keep = np.ones(docs.height, dtype=bool)
    info = {
        "kind": "soft_dedup",
        "weight_mean": float(weights.mean()) if len(weights) else 0.0,
        "weight_below_half": int((weights < 0.5).sum()),
        "documents": int(docs.height),
    }
    return _result(docs[schema.ID], keep, "", "weight/softdedup", weights), info
