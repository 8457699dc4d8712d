"""Language identification with CLD2: ``language_filter@1``.

pycld2 ships its model inside the wheel (nothing to download) and classifies a few hundred
MB of text per second per core, so this runs on every document with one C call each.

Scores. CLD2 reports, for its top language, the share of the text's bytes in that language
and whether it considers the result reliable. ``language_score`` is that share (0..1), halved
when the result is unreliable (very short or mixed texts: CLD2 says so, or only its
best-effort guess names a language), so one threshold,
``min_score``, expresses "confidently this language". A text CLD2 cannot place gets
``language = "unknown"`` and score 0.

Codes are ISO 639-1 where the language has one (``en``, ``de``, ``zh``; CLD2's legacy
``iw`` / ``jw`` / ``in`` are mapped to ``he`` / ``jv`` / ``id``, script variants such as
``zh-Hant`` to their language); languages without a two-letter code keep CLD2's ISO 639-2/3
code (``haw``, ``ceb``).
"""

from __future__ import annotations

import re
from collections import Counter

import polars as pl
from pydantic import Field, field_validator

from corpus import schema
from corpus.ops.registry import OpConfig, register

UNKNOWN = "unknown"
_LEGACY_CODES = {"iw": "he", "jw": "jv", "in": "id", "ji": "yi", "mo": "ro"}
# CLD2 rejects C0/C1 control characters and lone surrogates ("invalid UTF-8"); they carry no language
_CLD2_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class LanguageFilterConfig(OpConfig):
    languages: list[str] | None = Field(
        None, description="keep only these languages (ISO 639-1 codes, e.g. [en, de]); null keeps any language"
    )
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="drop documents whose language_score is below this")
    max_chars: int = Field(
        20_000,
        ge=100,
        le=10_000_000,
        description="classify on this many leading characters (speed; CLD2 needs far less)",
    )

    @field_validator("languages")
    @classmethod
    def _codes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("an empty list keeps nothing; use null to keep any language")
        bad = [c for c in value if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", c)]
        if bad:
            raise ValueError(f"not language codes: {bad}; use ISO 639-1 codes such as 'en', 'de', 'fr'")
        return [_normalize_code(c) for c in value]


def _normalize_code(code: str) -> str:
    code = code.split("-")[0].lower()
    return _LEGACY_CODES.get(code, code)


def _cld2(text: str, best_effort: bool) -> tuple[bool, tuple[tuple[str, str, int, float], ...]]:
    import pycld2

    try:
        reliable, _, details = pycld2.detect(text, bestEffort=best_effort)
    except (pycld2.error, UnicodeEncodeError):
        try:
            reliable, _, details = pycld2.detect(_CLD2_UNSAFE.sub(" ", text), bestEffort=best_effort)
        except (pycld2.error, UnicodeEncodeError):
            return False, (("Unknown", "un", 0, 0.0),)
    return reliable, details


def detect(text: str | None, max_chars: int = 20_000) -> tuple[str, float]:
    """(language code or "unknown", score 0..1) of ``text`` by CLD2.

    CLD2 answers "unknown" for texts too short to judge; it is then asked for its best
    guess, which always counts as unreliable (CLD2's best-effort mode marks even a guess
    on three letters as reliable).
    """
    if not text:
        return UNKNOWN, 0.0
    sample = text[:max_chars]
    reliable, details = _cld2(sample, best_effort=False)
    if details[0][1] == "un":
        _, details = _cld2(sample, best_effort=True)
        reliable = False
    _, code, percent, _ = details[0]
    code = _normalize_code(code)
    if code in ("un", "xx") or percent <= 0:
        return UNKNOWN, 0.0
    score = percent / 100.0
    if not reliable:
        score /= 2
    return code, score


LISTED_LANGUAGES = 12  # languages listed per shard in a stage's ``languages`` figure


def kept_languages(kept: pl.DataFrame) -> dict[str, dict[str, int]]:
    """The stage figure ``languages``: documents kept per language (the most common in each shard)."""
    counts = Counter(kept[schema.LANGUAGE].fill_null(UNKNOWN).to_list())
    return {"languages": dict(counts.most_common(LISTED_LANGUAGES))}


@register(
    "language_filter",
    1,
    "filter",
    LanguageFilterConfig,
    reasons=("language_not_allowed", "language_low_confidence"),
    adds_columns=(schema.LANGUAGE, schema.LANGUAGE_SCORE),
    requires_packages=("pycld2",),
    tags=("language",),
    kept_stats=kept_languages,
)
def language_filter(batch: pl.DataFrame, config: LanguageFilterConfig) -> pl.DataFrame:
    """Identify each document's language with CLD2 (adds language and language_score) and tag documents below
    min_score (language_low_confidence) or outside the allowed languages (language_not_allowed).

    A document whose language is not confidently identified is tagged
    ``language_low_confidence`` before its language is checked against ``languages``.
    """
    results = [detect(t, config.max_chars) for t in batch[schema.TEXT].to_list()]
    langs = pl.Series(schema.LANGUAGE, [r[0] for r in results], dtype=pl.String())
    scores = pl.Series(schema.LANGUAGE_SCORE, [r[1] for r in results], dtype=pl.Float64())
    low = scores < config.min_score
    reason = pl.when(pl.lit(low)).then(pl.lit("language_low_confidence"))
    if config.languages is not None:
        reason = reason.when(~pl.lit(langs.is_in(config.languages))).then(pl.lit("language_not_allowed"))
    return batch.with_columns(langs, scores).with_columns(
        reason.otherwise(pl.lit(None, dtype=pl.String())).alias(schema.DROP)
    )
