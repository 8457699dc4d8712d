"""``fineweb_quality@1``: datatrove's ``FineWebQualityFilter``, vectorized over a batch (see
:mod:`corpus.ops.quality`)."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
from pydantic import Field

from corpus.ops import _words
from corpus.ops.quality.common import (
    PY_SPACE,
    Count,
    NonNegative,
    Ratio,
    _explode_parts,
    _first_failure,
    _non_first,
    _ratio,
    _segment_sum,
    _tag,
)
from corpus.ops.registry import OpConfig, register

FINEWEB_QUALITY_REASONS = ("empty", "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio")


class FineWebQualityConfig(OpConfig):
    """datatrove ``FineWebQualityFilter`` parameters and defaults."""

    line_punct_thr: Ratio = Field(0.12, description="fewest lines ending with terminal punctuation, as a share")
    line_punct_exclude_zero: bool = Field(False, description="keep documents where no line ends with punctuation")
    stop_chars: tuple[str, ...] | None = Field(
        None, description="line endings that count as punctuation (null: datatrove's TERMINAL_PUNCTUATION)"
    )
    short_line_thr: Ratio = Field(0.67, description="most lines of at most short_line_length characters, as a share")
    short_line_length: Count = Field(30, description="a line this long or shorter is short")
    char_duplicates_ratio: Ratio = Field(0.01, description="most characters in repeated lines, as a share")
    new_line_ratio: NonNegative = Field(0.3, description="most newlines per word (a count ratio, may exceed 1)")


@register("fineweb_quality", 1, "filter", FineWebQualityConfig, reasons=FINEWEB_QUALITY_REASONS, tags=("quality",))
def score_fineweb_quality(batch: pl.DataFrame, config: FineWebQualityConfig) -> pl.DataFrame:
    """Tag documents that fail FineWeb's heuristics, as datatrove's FineWebQualityFilter does (same rules, thresholds,
    reasons): under 12% of lines ending in punctuation, over 67% of lines at most 30 characters, over 1% of
    characters in repeated lines, over 0.3 newlines per word.

    Catches list-like, navigation-heavy and line-wrapped pages that the Gopher and C4 rules
    let through.
    """
    return _tag(batch, "fineweb_quality@1", lambda texts: _fineweb_reasons(texts, config))


def _fineweb_reasons(texts: pl.Series, c: FineWebQualityConfig) -> np.ndarray:
    n = len(texts)
    flat, doc_of = _explode_parts(texts.str.split("\n"))
    nonblank = flat.str.strip_chars(PY_SPACE) != ""
    lines = flat.filter(nonblank)
    doc_of = doc_of[nonblank.to_numpy()]
    n_lines = np.bincount(doc_of, minlength=n)
    stops = c.stop_chars if c.stop_chars is not None else tuple(_words.TERMINAL_PUNCTUATION)
    ending = "(?:" + "|".join(_words.char_class(s) if len(s) == 1 else re.escape(s) for s in stops) + ")$"
    punct_lines = np.bincount(doc_of[lines.str.contains(ending).to_numpy()], minlength=n)
    short_lines = np.bincount(doc_of[(lines.str.len_chars() <= c.short_line_length).to_numpy()], minlength=n)
    repeated = _non_first(doc_of, lines)
    repeated_chars = _segment_sum(lines.str.len_chars().to_numpy()[repeated].astype(np.float64), doc_of[repeated], n)
    newlines = texts.str.count_matches("\n", literal=True).to_numpy()
    chars_without_newlines = texts.str.len_chars().to_numpy() - newlines

    punct_ratio = _ratio(punct_lines, n_lines)
    rules = [
        ("empty", n_lines == 0),
        ("line_punct_ratio", (punct_ratio < c.line_punct_thr) & ~((punct_ratio == 0) & c.line_punct_exclude_zero)),
        ("short_line_ratio", _ratio(short_lines, n_lines) > c.short_line_thr),
        ("char_dup_ratio", _ratio(repeated_chars, chars_without_newlines) > c.char_duplicates_ratio),
    ]
    reasons = _first_failure(rules, n)
    undecided = np.flatnonzero(reasons == None)  # noqa: E711
    if len(undecided):
        n_words = _words.split_words(texts.gather(undecided)).counts
        many = _ratio(newlines[undecided], n_words) > c.new_line_ratio
        reasons[undecided[many]] = "list_ratio"
    return reasons
