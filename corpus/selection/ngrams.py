"""Normalized word n-gram hashes of many texts at once (vectorized with polars and numpy).

Words are the whitespace-separated tokens of the NFKC-normalized, lowercased text with every
character that is neither a letter, digit nor space removed (``Ernesto's`` -> ``ernestos``,
``$3,000.50`` -> ``300050``), so case, punctuation and whitespace never matter and each
token of the text stays one word. Each word gets a 64-bit hash; the key of the n-gram starting
at word ``s`` is the polynomial ``sum_j h[s+j] * P**(n-1-j)`` (mod 2**64). Additive keys
make *masked* keys cheap: the key with word ``i`` replaced by a wildcard is
``key + (W - h[s+i]) * P**(n-1-i)``, so two n-grams that differ in one word share a masked
key at that position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

WORD_RE = r"\w+"
_PUNCT = r"[^\w\s]"
_P = np.uint64(0x100000001B3)
_WILDCARD = np.uint64(0x9E3779B97F4A7C15)
_SEED = 0x5EED


@dataclass(frozen=True)
class Words:
    """Word hashes of a list of texts, flattened: text ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``."""

    hashes: np.ndarray  # uint64
    offsets: np.ndarray  # int64, len = texts + 1

    @property
    def n_texts(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def words(texts: Sequence[str] | pl.Series) -> Words:
    series = texts if isinstance(texts, pl.Series) else pl.Series("t", list(texts), dtype=pl.String)
    norm = series.cast(pl.String).fill_null("").str.normalize("NFKC").str.to_lowercase()
    lists = norm.str.replace_all(_PUNCT, "").str.extract_all(WORD_RE)
    lengths = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = lists.explode().drop_nulls()
    hashes = flat.hash(seed=_SEED).to_numpy().astype(np.uint64) if len(flat) else np.zeros(0, dtype=np.uint64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] != len(hashes):  # pragma: no cover - a polars behaviour change
        raise RuntimeError("word split and word count disagree")
    return Words(hashes, offsets)


def _powers(n: int) -> np.ndarray:
    out = np.ones(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(1, n):
            out[k] = out[k - 1] * _P
    return out[::-1]  # out[j] = P ** (n-1-j)


def ngram_starts(w: Words, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(start positions, owning text) of every n-gram that fits inside its text."""
    lengths = w.lengths()
    counts = np.maximum(lengths - n + 1, 0)
    owner = np.repeat(np.arange(w.n_texts, dtype=np.int64), counts)
    if not len(owner):
        return np.zeros(0, dtype=np.int64), owner
    first = np.repeat(w.offsets[:-1] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    starts = np.arange(len(owner), dtype=np.int64) + first
    return starts, owner


def ngram_keys(w: Words, n: int, starts: np.ndarray) -> np.ndarray:
    """The n-gram key at each start position."""
    powers = _powers(n)
    keys = np.zeros(len(starts), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            keys += w.hashes[starts + j] * powers[j]
    return keys


def masked_keys(w: Words, n: int, starts: np.ndarray, keys: np.ndarray, i: int) -> np.ndarray:
    """The keys with word ``i`` of each n-gram replaced by the wildcard."""
    p = _powers(n)[i]
    with np.errstate(over="ignore"):
        return keys + (_WILDCARD - w.hashes[starts + i]) * p
