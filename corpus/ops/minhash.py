"""MinHash signatures and LSH band hashes of normalized text, all numpy (used by :mod:`corpus.ops.dedup`).

Word boundaries, n-gram shingles and their 64-bit hashes come from one pass over the UTF-8
bytes of a chunk: a polynomial prefix hash (mod 2^64), so the hash of any byte span is two
lookups and a multiply, finalized with MurmurHash3's fmix64. The MinHash values are a
``min`` over ``a_k * h + b_k`` (mod 2^64, odd ``a_k``) per document with
``np.minimum.reduceat``; each band's values fold into one 64-bit band hash.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from corpus.ops.dedup import MinhashDedupConfig

_U64 = np.uint64
_U64_MAX = np.iinfo(np.uint64).max


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place: spreads every input bit over all output bits."""
    x ^= x >> _U64(33)
    x *= _U64(0xFF51AFD7ED558CCD)
    x ^= x >> _U64(33)
    x *= _U64(0xC4CEB9FE1A85EC53)
    x ^= x >> _U64(33)
    return x


@functools.lru_cache(maxsize=4)
def _powers(base: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``base**j`` and ``base**-j`` mod 2^64 for j < length (base odd, so it is invertible)."""
    inverse = pow(base, -1, 1 << 64)
    pw = np.empty(length, dtype=_U64)
    inv = np.empty(length, dtype=_U64)
    pw[0] = inv[0] = 1
    with np.errstate(over="ignore"):
        pw[1:] = np.cumprod(np.full(length - 1, base, dtype=_U64), dtype=_U64)
        inv[1:] = np.cumprod(np.full(length - 1, inverse, dtype=_U64), dtype=_U64)
    return pw, inv


def _capacity(n: int) -> int:
    """Round up to a power of two so the cached power tables are reused across chunks."""
    return 1 << max(16, int(n).bit_length())


@dataclass(frozen=True)
class Shingles:
    """The 64-bit hashes of a chunk's shingles, grouped by document (CSR layout)."""

    hashes: np.ndarray  # uint64, one per shingle, documents back to back
    counts: np.ndarray  # int64, shingles per document (0 for a document without words)


@dataclass(frozen=True, eq=False)
class MinHasher:
    """MinHash signatures and LSH band hashes for normalized text, all numpy."""

    n_grams: int
    num_bands: int
    rows: int
    seed: int
    base: int = field(init=False)
    a: np.ndarray = field(init=False, repr=False)
    b: np.ndarray = field(init=False, repr=False)
    band_seeds: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        k = self.num_bands * self.rows
        words = rng.integers(0, _U64_MAX, size=k * 2 + self.num_bands + 1, dtype=_U64, endpoint=True)
        object.__setattr__(self, "base", int(words[0]) | 1)
        object.__setattr__(self, "a", words[1 : k + 1] | _U64(1))  # odd: a bijection mod 2^64
        object.__setattr__(self, "b", words[k + 1 : 2 * k + 1].copy())
        object.__setattr__(self, "band_seeds", words[2 * k + 1 :].copy())

    @classmethod
    def from_config(cls, config: MinhashDedupConfig) -> MinHasher:
        return cls(config.n_grams, config.num_buckets, config.hashes_per_bucket, config.seed)

    def shingles(self, data: np.ndarray, offsets: np.ndarray) -> Shingles:
        """Hash every word n-gram of every document (normalized: single spaces, stripped).

        A shingle is the byte span from the start of word i to the end of word i+n-1, so
        its hash is that of the string ``" ".join(words[i:i+n])``, read off a polynomial
        prefix hash of the whole chunk (mod 2^64) and finalized with fmix64.
        """
        n_docs = len(offsets) - 1
        if data.size == 0:
            return Shingles(np.zeros(0, dtype=_U64), np.zeros(n_docs, dtype=np.int64))
        word_starts, word_ends = _word_spans(data, offsets)
        word_doc = np.searchsorted(offsets, word_starts, side="right") - 1
        word_count = np.bincount(word_doc, minlength=n_docs)
        first_word = np.concatenate(([0], np.cumsum(word_count)[:-1]))
        counts = np.where(word_count >= self.n_grams, word_count - self.n_grams + 1, np.minimum(word_count, 1))
        total = int(counts.sum())
        shingle_doc = np.repeat(np.arange(n_docs), counts)
        local = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        first = first_word[shingle_doc] + local
        last = np.minimum(first + (self.n_grams - 1), first_word[shingle_doc] + word_count[shingle_doc] - 1)
        starts, ends = word_starts[first], word_ends[last]

        pw, inv = _powers(self.base, _capacity(data.size + 1))
        prefix = np.zeros(data.size + 1, dtype=_U64)
        with np.errstate(over="ignore"):
            np.cumsum(data.astype(_U64) * pw[: data.size], out=prefix[1:])
            hashes = (prefix[ends] - prefix[starts]) * inv[starts]
            hashes ^= (ends - starts).astype(_U64) * _U64(0x9E3779B97F4A7C15)
            _fmix64(hashes)
        return Shingles(hashes, counts.astype(np.int64))

    def signatures(self, shingles: Shingles) -> tuple[np.ndarray, np.ndarray]:
        """(signatures of the documents that have shingles, (m, k) uint64; their row positions)."""
        has = np.flatnonzero(shingles.counts)
        sig = np.empty((has.size, self.a.size), dtype=_U64)
        if has.size == 0:
            return sig, has
        starts = (np.cumsum(shingles.counts) - shingles.counts)[has]
        buf = np.empty_like(shingles.hashes)
        with np.errstate(over="ignore"):
            for k in range(self.a.size):
                np.multiply(shingles.hashes, self.a[k], out=buf)
                np.add(buf, self.b[k], out=buf)
                sig[:, k] = np.minimum.reduceat(buf, starts)
        return sig, has

    def band_hashes(self, data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """One 64-bit hash per band and document, (n, bands) uint64; 0 marks "no shingles".

        Two documents share a band hash exactly when (up to 64-bit collisions) they share
        all ``rows`` MinHash values of that band.
        """
        sig, has = self.signatures(self.shingles(data, offsets))
        return self.bands(sig, has, len(offsets) - 1)

    def bands(self, sig: np.ndarray, has: np.ndarray, n_docs: int) -> np.ndarray:
        """Fold each band's ``rows`` values into one 64-bit hash; rows without shingles stay 0."""
        out = np.zeros((n_docs, self.num_bands), dtype=_U64)
        if has.size == 0:
            return out
        bands = sig.reshape(has.size, self.num_bands, self.rows)
        with np.errstate(over="ignore"):
            acc = np.broadcast_to(self.band_seeds[: self.num_bands], (has.size, self.num_bands)).copy()
            for r in range(self.rows):
                acc ^= bands[:, :, r]
                _fmix64(acc)
        acc[acc == 0] = 1  # keep 0 free as the "no signature" marker
        out[has] = acc
        return out


def _word_spans(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) byte positions of every space-separated word in the chunk."""
    is_space = data == 32
    boundary_before = np.empty(data.size, dtype=bool)
    boundary_before[0] = True
    boundary_before[1:] = is_space[:-1]
    boundary_after = np.empty(data.size, dtype=bool)
    boundary_after[-1] = True
    boundary_after[:-1] = is_space[1:]
    doc_starts = offsets[:-1][offsets[:-1] < data.size]
    boundary_before[doc_starts] = True
    doc_ends = offsets[1:][offsets[1:] > 0] - 1
    boundary_after[doc_ends] = True
    word = ~is_space
    starts = np.flatnonzero(word & boundary_before)
    ends = np.flatnonzero(word & boundary_after) + 1
    return starts, ends
