"""Heuristic quality filters that reproduce datatrove 0.10.1's, vectorized over a batch.

Four filters, each the same rules, thresholds, rule order and drop-reason names as the
datatrove filter it is named after, so that numbers are comparable across projects:

* ``gopher_quality@1``    - ``GopherQualityFilter`` (Rae et al. 2021, Gopher / MassiveText);
* ``gopher_repetition@1`` - ``GopherRepetitionFilter``;
* ``c4_quality@1``        - ``C4QualityFilter`` (Raffel et al. 2020), as a document-level tag;
* ``fineweb_quality@1``   - ``FineWebQualityFilter`` (Penedo et al. 2024).

datatrove applies the rules one document at a time in Python and splits words with spaCy,
which makes them slow. Here every rule is a polars / numpy expression over the whole batch:
lines and paragraphs by exploding split strings, words with the regex emulation of spaCy's
tokenizer in :mod:`corpus.ops._words`, n-gram repetition by sorting packed n-gram hashes
(:class:`_NGrams`). benchmarks/bench_quality.py measures speed and agreement with datatrove
(benchmarks/results/quality.json). It measures agreement on 5,499 documents: every 8th of the
shared corpora's 9,042 documents followed by perturbed copies of them (sentences shuffled,
words swapped) up to 50 MB, so about four in five are copies. datatrove's Gopher quality
filter drops 92% of them, so that filter's figure rests mostly on drops. The decisions agreed
on 99.96% (Gopher quality) and 100% (the other three) of those documents, the reason on
>= 99.98% of the documents both drop.

Where the result can differ from datatrove's, and why:

* word splitting: the few segmentation differences listed in :mod:`corpus.ops._words`
  (they move a count by one word, so only documents right at a threshold can flip);
* n-grams are compared as word tuples (datatrove compares joined strings: ``"ab"+"c"``
  equals ``"a"+"bc"`` there) through 64-bit hashes;
* where datatrove divides by zero (a document with no words or no lines while the rule
  needing them is on) the ratio is taken as 0 instead of raising; a null text is ``""``;
* ``c4_quality`` decides like ``C4QualityFilter`` but leaves the text as it is (datatrove
  removes the lines that do not count from documents it keeps), always splits into lines
  (datatrove's default), and has no bad-words rule (that is datatrove's separate
  ``C4BadWordsFilter``, which downloads a list; nothing is fetched here).

Filters only *tag*: each returns the batch, rows and order unchanged, with the ``_drop``
column holding the reason of the first rule a document fails (null = keep). A reason set by
an earlier step is kept, and documents that already carry one are not evaluated again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import polars as pl
from pydantic import Field

from corpus import schema
from corpus.ops import _words
from corpus.ops.registry import OpConfig, register

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0.0)]
NGramSize = Annotated[int, Field(ge=1, le=10)]

# The characters of Python's str.isspace(), which str.split() and str.strip() use (Rust's \s
# differs: it lacks \x1c-\x1f), and the line boundaries of str.splitlines() besides "\n".
PY_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_LINE_BREAKS = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\x{2028}\x{2029}]"
_NOT_SPACE = _words.char_class(PY_SPACE, negate=True)
_INLINE_SPACE = _words.char_class("".join(c for c in PY_SPACE if c not in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"))


# =============================================================================== common


def _texts(batch: pl.DataFrame, op: str) -> pl.Series:
    if schema.TEXT not in batch.columns:
        raise KeyError(
            f"{op}: the batch has no {schema.TEXT!r} column (columns: {batch.columns}); "
            f"run it after a stage that produces document text"
        )
    return batch[schema.TEXT].cast(pl.String).fill_null("")


def _tag(batch: pl.DataFrame, op: str, reasons_of: Callable[[pl.Series], np.ndarray]) -> pl.DataFrame:
    """Evaluate ``reasons_of`` on the documents not dropped yet and merge into ``_drop``.

    ``reasons_of(texts)`` returns an object array of reason strings / None, one per text.
    """
    texts = _texts(batch, op)
    if schema.DROP in batch.columns:
        prior = batch[schema.DROP].cast(pl.String)
        todo = np.flatnonzero(prior.is_null().to_numpy())
    else:
        prior = pl.Series(schema.DROP, [None] * batch.height, dtype=pl.String)
        todo = np.arange(batch.height)
    if len(todo) == 0:
        return batch.with_columns(prior.alias(schema.DROP))
    subset = texts if len(todo) == batch.height else texts.gather(todo)
    reasons = reasons_of(subset)
    merged = prior.scatter(todo, pl.Series([None if r is None else str(r) for r in reasons.tolist()], dtype=pl.String))
    return batch.with_columns(merged.alias(schema.DROP))


def _first_failure(rules: Sequence[tuple[str, np.ndarray | bool]], n: int) -> np.ndarray:
    """Per document, the name of the first rule (in order) whose mask is True, else None."""
    out = np.full(n, None, dtype=object)
    undecided = np.ones(n, dtype=bool)
    for reason, failed in rules:
        hit = undecided & np.broadcast_to(np.asarray(failed, dtype=bool), (n,))
        out[hit] = reason
        undecided &= ~hit
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (datatrove would raise ZeroDivisionError there)."""
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _above(values: np.ndarray, limit: float | None) -> np.ndarray | bool:
    """``values > limit``; False when the rule is off (``limit`` null or 0, datatrove's truth test)."""
    return np.asarray(values > limit) if limit else False


def _below(values: np.ndarray, limit: float | None) -> np.ndarray | bool:
    """``values < limit``; False when the rule is off (``limit`` null or 0, datatrove's truth test)."""
    return np.asarray(values < limit) if limit else False


def _segment_sum(values: np.ndarray, doc_of: np.ndarray, n_docs: int) -> np.ndarray:
    return np.bincount(doc_of, weights=values, minlength=n_docs)


def _explode_parts(parts: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """Flatten a list column; return the elements and, for each element, its row index."""
    counts = parts.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = parts.explode(empty_as_null=False, keep_nulls=False)
    return flat, np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _non_first(doc_of: np.ndarray, values: pl.Series) -> np.ndarray:
    """True where ``values[i]`` already occurred earlier in the same document."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    key = values.hash(seed=0).to_numpy() ^ (doc_of.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    return ~pl.Series(key).is_first_distinct().to_numpy()


def _count_duplicates(parts: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """datatrove's ``find_duplicates`` per row: (elements, repeated elements, repeated chars)."""
    flat, doc_of = _explode_parts(parts)
    n = len(parts)
    repeated = _non_first(doc_of, flat)
    lengths = flat.str.len_chars().to_numpy().astype(np.float64)
    n_elements = np.bincount(doc_of, minlength=n)
    n_repeated = np.bincount(doc_of[repeated], minlength=n)
    repeated_chars = _segment_sum(lengths[repeated], doc_of[repeated], n)
    return n_elements, n_repeated, repeated_chars


def _splitlines(texts: pl.Series) -> pl.Series:
    """``str.splitlines()`` for every text (all of Python's line boundaries, no trailing empty line)."""
    unified = texts.str.replace_all(_LINE_BREAKS, "\n")
    trimmed = unified.str.strip_suffix("\n")
    lines = trimmed.str.split("\n")
    # "" -> [] (splitlines of an empty string has no line), "\n" -> [""]
    return pl.select(pl.when(unified == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(lines)).to_series()


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
    """Tag documents that fail Gopher's quality heuristics, as datatrove's GopherQualityFilter does (same rules, thresholds, reasons): too few or too many words, mean word length outside 3-10, too many '#' or ellipses, mostly bullet or ellipsis lines, under 80% of words with a letter, fewer than 2 stop words.

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
    """Tag repetitive documents, as datatrove's GopherRepetitionFilter does (same rules, thresholds, reasons): repeated paragraphs or lines, a 2-4-gram covering too much of the text, too many characters in repeated 5-10-grams.

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


@dataclass(frozen=True)
class _Level:
    """The candidate n-grams of one size, sorted by (key, position): equal n-grams form runs."""

    pos: np.ndarray  # start position (index into the flat words) of each n-gram
    first: np.ndarray  # True for the earliest occurrence in its run
    repeated: np.ndarray  # True if its run has two or more members


class _NGrams:
    """n-gram statistics of each document's word sequence, computed for all documents at once.

    Every word gets a 64-bit hash (salted with its document, so equal n-grams of different
    documents never meet) and an n-gram's key folds the hashes of its words. Sorting the keys,
    packed with the position in their low bits so that the sort is one ``np.sort`` of uint64,
    groups equal n-grams earliest first. An n-gram can only occur twice if the (n-1)-gram at
    its start does, so each larger n looks at the repeated positions only.
    """

    _MUL = np.uint64(0x100000001B3)

    def __init__(self, words: _words.Words) -> None:
        self.offsets = words.offsets
        self.n_docs = len(words.offsets) - 1
        self.doc_of = words.doc_index()
        n_words = len(words)
        salt = (self.doc_of.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        self.hashes = words.map(lambda w: w.hash(seed=0)).astype(np.uint64) ^ salt
        lengths = words.map(lambda w: w.str.len_chars()).astype(np.int64)
        self.cum_len = np.zeros(n_words + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.cum_len[1:])
        self.pos_bits = max(1, int(n_words).bit_length())
        self._levels: dict[int, _Level] = {}

    def _starts(self, size: int) -> np.ndarray:
        """Every position where an n-gram of ``size`` words fits inside its document."""
        valid = np.ones(len(self.doc_of), dtype=bool)
        if size > 1 and len(valid):
            ends = self.offsets[1:]
            cut = (ends[:, None] - np.arange(1, size)[None, :]).ravel()
            owner = np.repeat(self.offsets[:-1], size - 1)
            valid[cut[cut >= owner]] = False
        return np.flatnonzero(valid)

    def _keys(self, pos: np.ndarray, size: int) -> np.ndarray:
        keys = self.hashes[pos]
        for j in range(1, size):
            keys = (keys * self._MUL) ^ self.hashes[pos + j]
        return keys

    def level(self, size: int) -> _Level:
        if size not in self._levels:
            below = max((k for k in self._levels if k < size), default=0)
            if below == 0:
                candidates = self._starts(size)
            else:
                # an n-gram repeats only where the shorter gram at its start repeats
                prev = self._levels[below]
                candidates = prev.pos[prev.repeated]
                candidates = candidates[candidates + size <= self.offsets[1:][self.doc_of[candidates]]]
            self._levels[size] = self._group(candidates, self._keys(candidates, size))
        return self._levels[size]

    def _group(self, positions: np.ndarray, keys: np.ndarray) -> _Level:
        shift = np.uint64(self.pos_bits)
        packed = keys >> shift
        packed <<= shift
        packed |= positions.astype(np.uint64)
        packed.sort()
        pos = (packed & np.uint64((1 << self.pos_bits) - 1)).astype(np.int64)
        packed >>= shift
        first = np.ones(len(pos), dtype=bool)
        np.not_equal(packed[1:], packed[:-1], out=first[1:])
        next_first = np.ones(len(pos), dtype=bool)
        next_first[:-1] = first[1:]
        return _Level(pos, first, ~(first & next_first))

    def _chars(self, pos: np.ndarray, size: int) -> np.ndarray:
        """Characters of the n-grams starting at ``pos`` with their words concatenated."""
        return (self.cum_len[pos + size] - self.cum_len[pos]).astype(np.float64)

    def top_chars(self, size: int) -> np.ndarray:
        """datatrove's ``find_top_duplicate``: len(" ".join(top n-gram)) * its count, per document.

        The top n-gram is the most frequent, the earliest on ties (``Counter.most_common``);
        0 for a document with fewer than ``size`` words (datatrove skips the rule there).
        """
        counts = np.diff(self.offsets)
        top = np.zeros(self.n_docs)
        has = np.flatnonzero(counts >= size)
        starts = self.offsets[:-1][has]
        top[has] = self._chars(starts, size) + size - 1
        level = self.level(size)
        rep = np.flatnonzero(level.repeated)
        if len(rep):
            run_heads = np.flatnonzero(level.first[rep])
            count = np.diff(np.append(run_heads, len(rep)))
            first_pos = level.pos[rep[run_heads]]
            # per document: the highest count, then the earliest first occurrence
            score = (count.astype(np.int64) << 40) | ((1 << 40) - 1 - first_pos)
            best = np.full(self.n_docs, -1, dtype=np.int64)
            np.maximum.at(best, self.doc_of[first_pos], score)
            docs = np.flatnonzero(best >= 0)
            best_count = best[docs] >> 40
            best_pos = (1 << 40) - 1 - (best[docs] & ((1 << 40) - 1))
            top[docs] = best_count * (self._chars(best_pos, size) + size - 1)
        return top

    def repeated_chars_upper_bound(self, size: int) -> np.ndarray:
        """Characters of every n-gram that occurred before: never below ``find_all_duplicate``."""
        level = self.level(size)
        later = level.pos[~level.first]
        return np.bincount(self.doc_of[later], weights=self._chars(later, size), minlength=self.n_docs)

    def repeated_chars(self, size: int, docs: np.ndarray) -> np.ndarray:
        """datatrove's ``find_all_duplicate`` for the given documents (greedy: a repeat skips n words)."""
        level = self.level(size)
        wanted = np.zeros(self.n_docs, dtype=bool)
        wanted[docs] = True
        pick = level.repeated & wanted[self.doc_of[level.pos]]
        run_id = np.cumsum(level.first) - 1
        pos, run = level.pos[pick], run_id[pick]
        if len(pos) == 0:
            return np.zeros(len(docs))
        order = np.argsort(pos, kind="stable")
        pos, run = pos[order], run[order]
        chars = self._chars(pos, size)
        doc = self.doc_of[pos]
        total = dict.fromkeys(docs.tolist(), 0.0)
        bounds = np.flatnonzero(np.concatenate([[True], doc[1:] != doc[:-1], [True]]))
        pos_l, run_l, chars_l = pos.tolist(), run.tolist(), chars.tolist()
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            seen: set[int] = set()
            skip_until = -1
            repeated = 0.0
            for i in range(a, b):
                if pos_l[i] < skip_until:
                    continue
                if run_l[i] in seen:
                    repeated += chars_l[i]
                    skip_until = pos_l[i] + size
                else:
                    seen.add(run_l[i])
            total[int(doc[a])] = repeated
        return np.array([total[d] for d in docs.tolist()])


# =============================================================================== C4 quality

C4_QUALITY_REASONS = ("lorem_ipsum", "curly_bracket", "too_few_sentences")
_CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


class C4QualityConfig(OpConfig):
    """datatrove ``C4QualityFilter`` parameters and defaults; null turns a count rule off (datatrove's -1).

    Lines are always the text's lines (datatrove's default ``split_paragraph=True``). The C4
    bad-words list is not part of this filter (in datatrove it is the separate
    ``C4BadWordsFilter``, which downloads the list): nothing is fetched.
    """

    remove_citations: bool = Field(True, description="ignore citations ([1], [edit]) in the line checks")
    filter_no_terminal_punct: bool = Field(True, description="lines must end with . ? ! \" or ' (not ...) to count")
    min_num_sentences: Count | None = Field(5, description="fewest sentences in the lines that count")
    min_words_per_line: Count | None = Field(3, description="fewest words for a line to count")
    max_word_length: Count | None = Field(1000, description="a line with a longer word does not count")
    filter_lorem_ipsum: bool = Field(True, description="drop documents containing 'lorem ipsum'")
    filter_javascript: bool = Field(True, description="lines mentioning javascript do not count")
    filter_curly_bracket: bool = Field(True, description="drop documents with a '{' in a counted line")
    filter_policy: bool = Field(True, description="lines about cookies / terms of use do not count")


@register("c4_quality", 1, "filter", C4QualityConfig, reasons=C4_QUALITY_REASONS, tags=("quality",))
def score_c4_quality(batch: pl.DataFrame, config: C4QualityConfig) -> pl.DataFrame:
    """Tag documents that fail C4's page rules, as datatrove's C4QualityFilter decides (same rules, reasons): fewer than 5 sentences in lines that end with terminal punctuation and have 3+ words, 'lorem ipsum' or a '{' in such a line.

    datatrove also *rewrites* the documents it keeps (drops the lines that do not count and
    the citations); a filter here only tags, so texts are left as they are and only the
    keep/drop decision is datatrove's. No bad-words list (nothing is downloaded).
    """
    return _tag(batch, "c4_quality@1", lambda texts: _c4_reasons(texts, config))


def _c4_reasons(texts: pl.Series, c: C4QualityConfig) -> np.ndarray:
    n = len(texts)
    flat, doc_of = _explode_parts(_splitlines(texts))
    line = flat.str.strip_chars(PY_SPACE)
    counting = np.ones(len(line), dtype=bool)  # lines that still count
    if c.max_word_length is not None:
        long_lines = np.flatnonzero(line.str.len_chars().to_numpy() > c.max_word_length)
        for i, text in zip(long_lines.tolist(), line.gather(long_lines).to_list()):
            counting[i] = not any(len(w) > c.max_word_length for w in text.split())
    n_line_words = line.str.count_matches(f"{_NOT_SPACE}+").to_numpy()
    if c.remove_citations:
        bracketed = np.flatnonzero(line.str.contains("[", literal=True).to_numpy())
        if len(bracketed):
            line = line.scatter(bracketed, line.gather(bracketed).str.replace_all(_CITATION, ""))
    if c.filter_no_terminal_punct:
        counting &= line.str.contains(r"[.?!\"']$").to_numpy() & ~line.str.ends_with("...").to_numpy()
    if c.min_words_per_line is not None:
        counting &= n_line_words >= c.min_words_per_line
    idx = np.flatnonzero(counting)
    cand = line.gather(idx)
    lower = cand.str.to_lowercase()
    off = np.zeros(len(idx), dtype=bool)
    lorem = lower.str.contains("lorem ipsum", literal=True).to_numpy() if c.filter_lorem_ipsum else off
    js = lower.str.contains("javascript", literal=True).to_numpy() if c.filter_javascript else off
    curly = cand.str.contains("{", literal=True).to_numpy() if c.filter_curly_bracket else off.copy()
    policy = lower.str.contains_any(list(_POLICY)).to_numpy() if c.filter_policy else off.copy()
    # per counted line, in datatrove's order: lorem drops the document, javascript skips the
    # line, a curly bracket drops the document, policy skips the line, otherwise the line counts
    curly &= ~js
    policy &= ~(js | curly)
    ends_doc = lorem | curly
    doc_cand = doc_of[idx]
    reasons = np.full(n, None, dtype=object)
    if ends_doc.any():  # the document's first such line decides the reason
        ending = np.flatnonzero(ends_doc)
        first_end = np.full(n, len(idx), dtype=np.int64)
        np.minimum.at(first_end, doc_cand[ending], ending)
        has_end = np.flatnonzero(first_end < len(idx))
        reasons[has_end] = np.where(lorem[first_end[has_end]], "lorem_ipsum", "curly_bracket")
    if c.min_num_sentences is None:
        return reasons
    kept = ~(lorem | js | curly | policy)
    kept_per_doc = np.bincount(doc_cand[kept], minlength=n)
    # every counted line holds at least one sentence: only documents with fewer counted lines
    # than the minimum need their sentences counted
    short = np.flatnonzero((reasons == None) & (kept_per_doc < c.min_num_sentences))  # noqa: E711
    if len(short):
        in_short = np.zeros(n, dtype=bool)
        in_short[short] = True
        lines_to_count = np.flatnonzero(kept & in_short[doc_cand])
        sentences = np.zeros(n, dtype=np.int64)
        if len(lines_to_count):
            words = _words.split_words(cand.gather(lines_to_count))
            flat_words = words.words.to_list()
            for j, d in enumerate(doc_cand[lines_to_count].tolist()):
                sentences[d] += _words.count_sentences(flat_words[words.offsets[j] : words.offsets[j + 1]])
        few = short[sentences[short] < c.min_num_sentences]
        reasons[few] = "too_few_sentences"
    return reasons


# =============================================================================== FineWeb quality

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
    """Tag documents that fail FineWeb's heuristics, as datatrove's FineWebQualityFilter does (same rules, thresholds, reasons): under 12% of lines ending in punctuation, over 67% of lines at most 30 characters, over 1% of characters in repeated lines, over 0.3 newlines per word.

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
