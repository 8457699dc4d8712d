"""Word splitting that reproduces datatrove's English word tokenizer, vectorized over a batch.

datatrove's quality filters count and compare *words* from
``datatrove.utils.text.split_into_words(text, "eng")``: spaCy's blank English tokenizer
(split at whitespace, strip prefixes and suffixes from each chunk, split the rest at infixes,
apply a table of special cases), whitespace tokens dropped. Running spaCy document by
document is most of those filters' time, so here the segmentation is one Rust-regex scan
(:func:`token_pattern`, run by polars ``str.extract_all`` over a whole column) followed by
table lookups over all the words at once for spaCy's special cases: sequences it keeps as
one word (``Mr.``, ``e.g.``, ``C++``, emoticons), words it splits (``don't`` -> ``do n't``,
``cannot`` -> ``can not``, ``im`` -> ``i m``) and numbers with a unit (``5km`` -> ``5 km``).

The regex engine has no look-around, so the rules are written as joints keyed on the next
character (and, for two of them, the previous one). Differences from spaCy found on the
shared corpora (each well under 1 word in 1,000; decision agreement is measured by
tests/corpus/test_quality.py and benchmarks/bench_quality.py):

* a hyphen between two words spelled ``a--b`` gives ``a-`` ``-b`` (spaCy: ``a`` ``--`` ``b``);
* a hyphen after a non-ASCII letter is taken as a word's leading hyphen (``ñ-a`` -> ``ñ`` ``-a``),
  and one before a non-ASCII letter as a trailing one (``peut-être`` splits; ``x-é`` may not):
  the context tests use ASCII word boundaries, which keep the automaton fast;
* a final period after a letter spaCy's rules do not know (``ӱ.``, ``ʼ.``) is split off, and
  ``McD.``-style words (a capital after a lower-case letter) lose their period;
* a one-character run between two joints (``a.b.C``, ``a-1-b``) may split differently;
* ``+`` after a letter at the end of a word (``Star+``) is split off;
* special cases are merged when their text occurs in the document as written, which can
  merge a spaced occurrence (``Mr .``) in a document that also has ``Mr.``.

The exception tables below are data from spaCy 3.8 (``spacy.lang.en.tokenizer_exceptions``)
and datatrove 0.10.1 (``datatrove.utils.text``), embedded so that the filters need neither
spaCy nor datatrove at run time; tests check them against both.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import polars as pl

from corpus.ops._word_pattern import _UNIT_IN_TEXT, _UNIT_TOKEN, NON_SYMBOL_CHAR, char_class, token_pattern
from corpus.ops._word_tables import (
    _KEPT_WHOLE,
    _SPLIT_EXCEPTIONS,
    PUNCTUATION_SET,
    SENTENCE_END_CHARS,
    STOP_WORDS,
    TERMINAL_PUNCTUATION,
)

__all__ = [
    "NON_SYMBOL_CHAR",
    "PUNCTUATION_SET",
    "SENTENCE_END_CHARS",
    "STOP_WORDS",
    "TERMINAL_PUNCTUATION",
    "Words",
    "char_class",
    "count_sentences",
    "split_words",
    "token_pattern",
]


def _is_punct(token: str) -> bool:
    """spaCy's ``is_punct``: every character is Unicode punctuation (category P*)."""
    return all(unicodedata.category(ch).startswith("P") for ch in token)


def count_sentences(words: list[str]) -> int:
    """Sentences spaCy's Sentencizer finds in a text with these words (>= 1 if there are words).

    A new sentence starts at the first word that is not punctuation after a word that is
    exactly one of ``SENTENCE_END_CHARS``.
    """
    if not words:
        return 1  # datatrove's split_into_sentences returns [text] for a text without sentences
    sentences = 1
    seen_end = False
    for word in words:
        is_end = word in SENTENCE_END_CHARS
        if seen_end and not is_end and not _is_punct(word):
            sentences += 1
            seen_end = False
        elif is_end:
            seen_end = True
    return sentences


@dataclass(frozen=True)
class _Fixups:
    """spaCy's special cases, as lookups on the words the regex produces.

    ``merges``: word sequences spaCy keeps as one word (``Mr`` ``.`` -> ``Mr.``, ``:`` ``)`` ->
    ``:)``), keyed by their first two words, longest first. ``splits``: words spaCy splits
    (``don't`` -> ``do`` ``n't``).
    """

    merges: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]]
    splits: dict[str, list[str]]


@cache
def _fixups() -> _Fixups:
    splits = {"".join(parts): parts for parts in (e.split("|") for e in _SPLIT_EXCEPTIONS.split())}
    specials = [w for w in _KEPT_WHOLE.split() if len(w) > 1]
    pieces = pl.Series(specials).str.extract_all(token_pattern()).to_list()
    merges: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]] = {}
    for word, parts in zip(specials, pieces, strict=True):
        if len(parts) > 1 and "".join(parts) == word:
            merges.setdefault((parts[0], parts[1]), []).append((tuple(parts), word))
    for options in merges.values():
        options.sort(key=lambda option: -len(option[0]))
    return _Fixups(merges, splits)


@dataclass(frozen=True)
class Words:
    """The words of a batch of documents, flattened, document after document.

    Held as the regex's words (``found``, with their documents ``found_doc``) plus the patch
    that turns them into spaCy's: ``replaced`` found words are dropped and the ``patch``
    words put in their place (``source``: for each final word, the found word it comes
    from; ``patched``: final positions that hold a patch word; ``patch_doc``: their
    documents). Per-word values are computed on the found words and patched in numpy
    (:meth:`map`, :meth:`sum_per_doc`), which is much cheaper than rebuilding the strings;
    :attr:`words` builds them when they are wanted.
    """

    found: pl.Series
    found_doc: np.ndarray  # int64, the document of each found word
    replaced: np.ndarray  # int64 found positions that the patch replaces, ascending
    sizes: np.ndarray  # int64, how many patch words replace each of them (0: merged away)
    patched: np.ndarray  # int64 final positions holding a patch word, ascending
    patch: list[str]
    patch_doc: np.ndarray  # int64, the document of each patch word
    offsets: np.ndarray  # int64, len(documents) + 1: words[offsets[i]:offsets[i+1]] is document i

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @cached_property
    def source(self) -> np.ndarray:
        """For each final word, the index of the found word it comes from."""
        repeat = np.ones(len(self.found), dtype=np.int64)
        repeat[self.replaced] = self.sizes
        return np.repeat(np.arange(len(self.found), dtype=np.int64), repeat)

    @property
    def counts(self) -> np.ndarray:
        """Words per document."""
        return np.diff(self.offsets)

    def doc_index(self) -> np.ndarray:
        """For each word, the index of its document."""
        return np.repeat(np.arange(len(self.offsets) - 1, dtype=np.int64), self.counts)

    def _is_identity(self) -> bool:
        return len(self.replaced) == 0

    def map(self, fn: Callable[[pl.Series], pl.Series]) -> np.ndarray:
        """``fn`` (an elementwise Series -> Series function) applied to every word, as numpy."""
        values = fn(self.found).to_numpy()
        if self._is_identity():
            return values
        out = values[self.source]
        out[self.patched] = fn(pl.Series(self.patch, dtype=pl.String)).to_numpy()
        return out

    def sum_per_doc(self, fn: Callable[[pl.Series], pl.Series], found_values: np.ndarray | None = None) -> np.ndarray:
        """Per document, the sum of ``fn`` over its words (``found_values``: ``fn`` of the found words, if known)."""
        n_docs = len(self.offsets) - 1
        values = (fn(self.found).to_numpy() if found_values is None else found_values).astype(np.float64)
        if self._is_identity():
            return np.bincount(self.found_doc, weights=values, minlength=n_docs)
        values = values.copy()
        values[self.replaced] = 0.0
        patch_values = fn(pl.Series(self.patch, dtype=pl.String)).to_numpy().astype(np.float64)
        return np.bincount(self.found_doc, weights=values, minlength=n_docs) + np.bincount(
            self.patch_doc, weights=patch_values, minlength=n_docs
        )

    @property
    def words(self) -> pl.Series:
        """The words as strings (built on demand)."""
        if self._is_identity():
            return self.found
        return self.found.gather(self.source).scatter(self.patched, self.patch)


def split_words(texts: pl.Series) -> Words:
    """Split every text into datatrove's English words (spaCy's segmentation, whitespace dropped).

    One regex pass finds the words; then lookups over all of them at once find the few that
    spaCy treats as special cases: sequences it keeps as one word (``Mr`` ``.`` -> ``Mr.``)
    and words it splits (``don't`` -> ``do`` ``n't``, ``5km`` -> ``5`` ``km``).
    """
    texts = texts.fill_null("")
    lists = texts.str.extract_all(token_pattern())
    counts = lists.list.len().to_numpy().astype(np.int64)
    found = lists.explode(empty_as_null=False, keep_nulls=False)
    doc_of = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    replace: dict[int, list[str]] = {}
    if len(found):
        replace = _merges(found, doc_of, texts)
        replace.update(_splits(found, doc_of, texts, skip=replace.keys()))
    replaced = np.array(sorted(replace), dtype=np.int64)
    sizes = np.array([len(replace[i]) for i in replaced.tolist()], dtype=np.int64)
    # a replaced word at found position p lands at p plus the growth of the replacements before it
    starts = replaced + np.concatenate([[0], np.cumsum(sizes - 1)[:-1]]).astype(np.int64)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    patched = np.repeat(starts, sizes) + within
    patch_doc = np.repeat(doc_of[replaced], sizes)
    counts = counts + np.bincount(doc_of[replaced], weights=sizes - 1, minlength=len(counts)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    patch = [w for i in replaced.tolist() for w in replace[i]]
    return Words(found, doc_of, replaced, sizes, patched, patch, patch_doc, offsets)


def _merges(words: pl.Series, doc_of: np.ndarray, texts: pl.Series) -> dict[int, list[str]]:
    """{position: [special]} at the start of each special case, {position: []} for its other pieces."""
    fix = _fixups()
    n = len(words)
    replace: dict[int, list[str]] = {}
    # two consecutive words of one document that both occur in special cases; then the
    # pair, and the whole sequence, are looked up
    pieces = pl.Series(list({word for pair in fix.merges for word in pair}), dtype=pl.String).implode()
    is_piece = words.is_in(pieces).to_numpy()
    starts = np.flatnonzero(is_piece[:-1] & is_piece[1:] & (doc_of[:-1] == doc_of[1:]))
    if len(starts):
        pairs = pl.select(pl.concat_str([words.gather(starts), words.gather(starts + 1)], separator="\x00")).to_series()
        known = pl.Series([f"{a}\x00{b}" for a, b in fix.merges], dtype=pl.String).implode()
        starts = starts[pairs.is_in(known).to_numpy()]
    if len(starts) == 0:
        return replace
    longest = max(len(seq) for options in fix.merges.values() for seq, _ in options)
    values = words.gather(np.minimum(np.add.outer(starts, np.arange(longest)), n - 1).ravel()).to_list()
    # spaCy merges only pieces written without spaces between them; the words do not record
    # spacing, so a merge needs the special case to occur in the document as written
    docs = np.unique(doc_of[starts])
    text_of = dict(zip(docs.tolist(), texts.gather(docs).to_list(), strict=True))
    merged_until = -1
    for row, i in enumerate(starts.tolist()):
        if i < merged_until:
            continue
        window = values[row * longest : (row + 1) * longest]
        doc = int(doc_of[i])
        for seq, special in fix.merges.get((window[0], window[1]), ()):  # longest first
            k = len(seq)
            if i + k <= n and doc_of[i + k - 1] == doc and tuple(window[:k]) == seq and special in text_of[doc]:
                replace[i] = [special]
                replace.update({j: [] for j in range(i + 1, i + k)})
                merged_until = i + k
                break
    return replace


def _splits(words: pl.Series, doc_of: np.ndarray, texts: pl.Series, skip: Iterable[int]) -> dict[int, list[str]]:
    """{position: parts} for the exception table's words and for numbers followed by a unit."""
    fix = _fixups()
    is_exception = words.is_in(pl.Series(list(fix.splits), dtype=pl.String).implode()).to_numpy()
    candidates = set(np.flatnonzero(is_exception).tolist())
    with_units = np.flatnonzero(texts.str.contains(_UNIT_IN_TEXT).to_numpy())
    if len(with_units):  # only documents whose text has a number right before a unit
        in_unit_doc = np.zeros(len(texts), dtype=bool)
        in_unit_doc[with_units] = True
        scope = np.flatnonzero(in_unit_doc[doc_of])
        ends_in_unit = words.gather(scope).str.contains(r"[0-9]\p{L}+[²³]?$").to_numpy()
        candidates.update(scope[ends_in_unit].tolist())
    candidates -= set(skip)
    replace: dict[int, list[str]] = {}
    where = sorted(candidates)
    for i, word in zip(where, words.gather(where).to_list() if where else [], strict=True):
        parts = fix.splits.get(word)
        if parts is None and (unit := _UNIT_TOKEN.match(word)):
            parts = list(unit.groups())
        if parts is not None:
            replace[i] = parts
    return replace
