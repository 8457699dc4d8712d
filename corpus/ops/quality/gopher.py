"""``gopher_quality@1`` and ``gopher_repetition@1``: datatrove's ``GopherQualityFilter`` and
``GopherRepetitionFilter``, vectorized over a batch (see :mod:`corpus.ops.quality`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from pydantic import Field

from corpus.ops import _words
from corpus.ops.quality.common import (
    _INLINE_SPACE,
    _LINE_BREAKS,
    PY_SPACE,
    Count,
    NGramSize,
    NonNegative,
    Ratio,
    _above,
    _below,
    _count_duplicates,
    _first_failure,
    _ratio,
    _tag,
)
from corpus.ops.quality.ngrams import _NGrams
from corpus.ops.registry import OpConfig, register

# =============================================================================== Gopher quality

GOPHER_QUALITY_REASONS = (
    "gopher_short_doc",
    "gopher_long_doc",
    "gopher_below_avg_threshold",
    "gopher_above_avg_threshold",
    "gopher_too_many_hashes",
    "gopher_too_many_ellipsis",
    "gopher_too_many_bullets",
    "gopher_too_many_end_ellipsis",
    "gopher_below_alpha_threshold",
    "gopher_enough_stop_words",
)


class GopherQualityConfig(OpConfig):
    """datatrove ``GopherQualityFilter`` parameters and defaults; null (or 0) turns a rule off."""

    min_doc_words: Count | None = Field(50, description="fewest non-symbol words")
    max_doc_words: Count | None = Field(100_000, description="most non-symbol words")
    min_avg_word_length: NonNegative | None = Field(3, description="shortest mean length of non-symbol words")
    max_avg_word_length: NonNegative | None = Field(10, description="longest mean length of non-symbol words")
    max_symbol_word_ratio: NonNegative | None = Field(0.1, description="most '#' (and, separately, ellipses) per word")
    max_bullet_lines_ratio: Ratio | None = Field(0.9, description="most lines starting with a bullet (•, -)")
    max_ellipsis_lines_ratio: Ratio | None = Field(0.3, description="most lines ending with an ellipsis")
    max_non_alpha_words_ratio: Ratio | None = Field(
        0.8, description="fewest words with a letter, as a share of words (datatrove's name kept)"
    )
    min_stop_words: Count | None = Field(2, description="fewest distinct stop words present")
    stop_words: tuple[str, ...] = Field(_words.STOP_WORDS, description="stop words, matched case-sensitively")


@register("gopher_quality", 1, "filter", GopherQualityConfig, reasons=GOPHER_QUALITY_REASONS, tags=("quality",))
def score_gopher_quality(batch: pl.DataFrame, config: GopherQualityConfig) -> pl.DataFrame:
    """Tag documents that fail Gopher's quality heuristics, as datatrove's GopherQualityFilter does (same rules,
    thresholds, reasons): too few or too many words, mean word length outside 3-10, too many '#' or ellipses, mostly
    bullet or ellipsis lines, under 80% of words with a letter, fewer than 2 stop words.

    Words are datatrove's English words (spaCy's segmentation, emulated by
    :func:`corpus.ops._words.split_words`). Catches menus, code, tables, keyword lists and
    non-prose; the stop-word and word-length rules assume English.
    """
    return _tag(batch, "gopher_quality@1", lambda texts: _gopher_quality_reasons(texts, config))


def _gopher_quality_reasons(texts: pl.Series, c: GopherQualityConfig) -> np.ndarray:
    n = len(texts)
    words = _words.split_words(texts)
    n_words = words.counts.astype(np.float64)
    # a word with a letter is never a symbol word: test the others for any non-punctuation
    has_letter = words.found.str.contains(r"\p{L}").to_numpy()
    non_symbol = has_letter.copy()
    rest = np.flatnonzero(~has_letter)
    non_symbol[rest] = words.found.gather(rest).str.contains(_words.NON_SYMBOL_CHAR).to_numpy()
    n_letter_words = words.sum_per_doc(lambda w: w.str.contains(r"\p{L}"), has_letter)
    n_non_symbol = words.sum_per_doc(lambda w: w.str.contains(_words.NON_SYMBOL_CHAR), non_symbol)
    lengths = words.found.str.len_chars().to_numpy()
    non_symbol_chars = words.sum_per_doc(
        lambda w: w.str.len_chars() * w.str.contains(_words.NON_SYMBOL_CHAR), lengths * non_symbol
    )
    mean_length = _ratio(non_symbol_chars, n_non_symbol)
    mean_length[n_non_symbol == 0] = np.nan  # numpy's mean of nothing: every comparison is False
    n_stop = _distinct_stop_words(words, c.stop_words)

    hashes = texts.str.count_matches("#", literal=True).to_numpy()
    ellipses = (texts.str.count_matches("...", literal=True) + texts.str.count_matches("…", literal=True)).to_numpy()
    unified = texts.str.replace_all(_LINE_BREAKS, "\n")  # str.splitlines() breaks at each of these
    breaks = unified.str.count_matches("\n", literal=True).to_numpy().astype(np.int64)
    n_lines = breaks + 1 - unified.str.ends_with("\n").to_numpy()
    n_lines[(unified == "").to_numpy()] = 0
    bullet_lines = unified.str.count_matches(f"(?m)^{_INLINE_SPACE}*[•\\-]").to_numpy()
    ellipsis_lines = unified.str.count_matches(f"(?m)(?:\\.\\.\\.|…){_INLINE_SPACE}*$").to_numpy()

    return _first_failure(
        [
            ("gopher_short_doc", _below(n_non_symbol, c.min_doc_words)),
            ("gopher_long_doc", _above(n_non_symbol, c.max_doc_words)),
            ("gopher_below_avg_threshold", _below(mean_length, c.min_avg_word_length)),
            ("gopher_above_avg_threshold", _above(mean_length, c.max_avg_word_length)),
            ("gopher_too_many_hashes", _above(_ratio(hashes, n_words), c.max_symbol_word_ratio)),
            ("gopher_too_many_ellipsis", _above(_ratio(ellipses, n_words), c.max_symbol_word_ratio)),
            ("gopher_too_many_bullets", _above(_ratio(bullet_lines, n_lines), c.max_bullet_lines_ratio)),
            ("gopher_too_many_end_ellipsis", _above(_ratio(ellipsis_lines, n_lines), c.max_ellipsis_lines_ratio)),
            ("gopher_below_alpha_threshold", _below(_ratio(n_letter_words, n_words), c.max_non_alpha_words_ratio)),
            ("gopher_enough_stop_words", _below(n_stop, c.min_stop_words)),
        ],
        n,
    )


def _distinct_stop_words(words: _words.Words, stop_words: Sequence[str]) -> np.ndarray:
    """Per document, how many of ``stop_words`` occur among its words (compared by 64-bit hash)."""
    n_docs = len(words.offsets) - 1
    vocabulary = list(dict.fromkeys(stop_words))
    if not vocabulary:
        return np.zeros(n_docs, dtype=np.int64)
    stop_hashes = pl.Series(vocabulary, dtype=pl.String).hash(seed=0).to_numpy()
    order = np.argsort(stop_hashes)
    stop_hashes = stop_hashes[order]
    found = words.found.hash(seed=0).to_numpy()
    at = np.minimum(np.searchsorted(stop_hashes, found), len(stop_hashes) - 1)
    is_stop = stop_hashes[at] == found
    is_stop[words.replaced] = False
    docs = [words.found_doc[is_stop]]
    ids = [order[at[is_stop]]]
    index = {w: i for i, w in enumerate(vocabulary)}
    patch_ids = np.array([index.get(w, -1) for w in words.patch], dtype=np.int64)
    docs.append(words.patch_doc[patch_ids >= 0])
    ids.append(patch_ids[patch_ids >= 0])
    present = (
        np.bincount(np.concatenate(docs) * len(vocabulary) + np.concatenate(ids), minlength=n_docs * len(vocabulary))
        > 0
    )
    return present.reshape(n_docs, len(vocabulary)).sum(axis=1)


# =============================================================================== Gopher repetition

_TOP_SIZES = range(1, 11)
GOPHER_REPETITION_REASONS = (
    "empty",
    "dup_para_frac",
    "dup_para_char_frac",
    "dup_line_frac",
    "dup_line_char_frac",
    *(f"top_{n}_gram" for n in _TOP_SIZES),
    *(f"duplicated_{n}_n_grams" for n in _TOP_SIZES),
)


class GopherRepetitionConfig(OpConfig):
    """datatrove ``GopherRepetitionFilter`` parameters and defaults (Gopher's Table A1).

    null (or 0) turns a line or paragraph rule off; an empty list turns the n-gram rules off.
    """

    dup_line_frac: Ratio | None = Field(0.3, description="most repeated lines, as a share of lines")
    dup_para_frac: Ratio | None = Field(0.3, description="most repeated paragraphs, as a share of paragraphs")
    dup_line_char_frac: Ratio | None = Field(0.2, description="most characters in repeated lines, as a share")
    dup_para_char_frac: Ratio | None = Field(0.2, description="most characters in repeated paragraphs")
    top_n_grams: tuple[tuple[NGramSize, Ratio], ...] = Field(
        ((2, 0.2), (3, 0.18), (4, 0.16)),
        description="(n, fraction): most characters covered by the most frequent n-gram",
    )
    dup_n_grams: tuple[tuple[NGramSize, Ratio], ...] = Field(
        ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)),
        description="(n, fraction): most characters in repeated n-grams",
    )


@register(
    "gopher_repetition", 1, "filter", GopherRepetitionConfig, reasons=GOPHER_REPETITION_REASONS, tags=("quality",)
)
def score_gopher_repetition(batch: pl.DataFrame, config: GopherRepetitionConfig) -> pl.DataFrame:
    """Tag repetitive documents, as datatrove's GopherRepetitionFilter does (same rules, thresholds, reasons): repeated
    paragraphs or lines, a 2-4-gram covering too much of the text, too many characters in repeated 5-10-grams.

    Catches boilerplate-heavy pages, spam and generation loops. n-grams are of datatrove's
    English words; the line and paragraph rules work for any language.
    """
    return _tag(batch, "gopher_repetition@1", lambda texts: _gopher_repetition_reasons(texts, config))


def _gopher_repetition_reasons(texts: pl.Series, c: GopherRepetitionConfig) -> np.ndarray:
    n = len(texts)
    text_len = texts.str.len_chars().to_numpy().astype(np.float64)
    # re.split(r"\n{2,}", text.strip()): every run of 2+ newlines becomes exactly "\n\n" first
    paragraphs = texts.str.strip_chars(PY_SPACE).str.replace_all(r"\n{3,}", "\n\n").str.split("\n\n")
    n_para, para_dups, para_dup_chars = _count_duplicates(paragraphs)
    lines = texts.str.replace_all(r"\n+", "\n").str.split("\n")
    n_lines, line_dups, line_dup_chars = _count_duplicates(lines)
    reasons = _first_failure(
        [
            ("empty", text_len == 0),
            ("dup_para_frac", _above(_ratio(para_dups, n_para), c.dup_para_frac)),
            ("dup_para_char_frac", _above(_ratio(para_dup_chars, text_len), c.dup_para_char_frac)),
            ("dup_line_frac", _above(_ratio(line_dups, n_lines), c.dup_line_frac)),
            ("dup_line_char_frac", _above(_ratio(line_dup_chars, text_len), c.dup_line_char_frac)),
        ],
        n,
    )
    undecided = np.flatnonzero(reasons == None)  # noqa: E711 - elementwise on an object array
    if len(undecided) and (c.top_n_grams or c.dup_n_grams):
        reasons[undecided] = _ngram_reasons(texts.gather(undecided), text_len[undecided], c)
    return reasons


def _ngram_reasons(texts: pl.Series, text_len: np.ndarray, c: GopherRepetitionConfig) -> np.ndarray:
    """The top-n-gram and repeated-n-gram rules, in datatrove's order, for the given documents."""
    n_docs = len(texts)
    words = _words.split_words(texts)
    grams = _NGrams(words)
    reasons = np.full(n_docs, None, dtype=object)
    undecided = np.ones(n_docs, dtype=bool)
    for size, fraction in c.top_n_grams:
        top = grams.top_chars(size)
        hit = undecided & (top / np.maximum(text_len, 1) > fraction) & (text_len > 0)
        reasons[hit] = f"top_{size}_gram"
        undecided &= ~hit
    for size, fraction in c.dup_n_grams:
        # the cheap upper bound rules most documents out; the exact greedy count does the rest
        upper = grams.repeated_chars_upper_bound(size)
        maybe = np.flatnonzero(undecided & (upper / np.maximum(text_len, 1) > fraction))
        if len(maybe):
            exact = grams.repeated_chars(size, maybe)
            hit = maybe[exact / text_len[maybe] > fraction]
            reasons[hit] = f"duplicated_{size}_n_grams"
            undecided[hit] = False
    return reasons
