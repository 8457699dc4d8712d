"""Hashed word unigram + bigram features, vectorized: polars tokenizes and hashes, numpy combines.

A document's features are its lowercased words (``\\w\\w+``, the scikit-learn token pattern)
and pairs of consecutive words, hashed into ``n_features`` buckets; its vector holds the
counts per bucket scaled to unit L2 norm. Nothing loops over documents or words in Python.

Word hashes come from polars (``Series.hash``), which is stable within a polars version but
not promised across versions; ``fingerprint()`` hashes fixed words so that a saved model can
tell when the hashing it was trained with is not the one in use (see ``QualityModel.load``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import polars as pl

TOKEN_PATTERN = r"\w\w+"
FEATURES = "words-1-2/polars-hash/splitmix"  # names this feature scheme in saved models
CHUNK_DOCS = 2048  # documents per vectorized pass (bounds the temporary arrays)
_SEED = 0
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_FINGERPRINT_WORDS = ["the", "quality", "of", "a", "document", "über", "données", "数据", "x" * 40]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer (wrapping uint64 arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def fingerprint() -> str:
    """Hex digest of the word hashes of fixed words under the installed polars."""
    h = pl.Series(_FINGERPRINT_WORDS, dtype=pl.String).hash(_SEED).to_numpy()
    return f"{int(np.bitwise_xor.reduce(_mix(h))):016x}"


def _bucket(h: np.ndarray, n_features: int) -> np.ndarray:
    if n_features & (n_features - 1) == 0:
        return (h & np.uint64(n_features - 1)).astype(np.int64)
    return (h % np.uint64(n_features)).astype(np.int64)


def occurrences(texts: Sequence[str | None], n_features: int, max_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """(document index, bucket) of every unigram and bigram occurrence, documents in order."""
    words = (
        pl.Series(texts, dtype=pl.String)
        .fill_null("")
        .str.slice(0, max_chars)
        .str.to_lowercase()
        .str.extract_all(TOKEN_PATTERN)
    )
    counts = words.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = words.list.explode().drop_nulls()
    h = _mix(flat.hash(_SEED).to_numpy())
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
    same = doc[:-1] == doc[1:]
    pair = _mix(h[:-1][same] * _GOLDEN + h[1:][same] + np.uint64(1))
    return (
        np.concatenate([doc, doc[:-1][same]]),
        np.concatenate([_bucket(h, n_features), _bucket(pair, n_features)]),
    )


def counts(
    texts: Sequence[str | None], n_features: int, max_chars: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (document, bucket) pairs with their counts, and each document's L2 norm."""
    doc, idx = occurrences(texts, n_features, max_chars)
    keys = np.sort(doc * n_features + idx)
    if not len(keys):
        return keys, keys, keys.astype(np.float64), np.zeros(len(texts))
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    run = np.diff(np.append(starts, len(keys))).astype(np.float64)
    rows, cols = np.divmod(keys[starts], n_features)
    norm = np.sqrt(np.bincount(rows, weights=run * run, minlength=len(texts)))
    return rows, cols, run, norm


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK_DOCS):
        yield slice(start, min(n, start + CHUNK_DOCS))


def matrix(texts: Sequence[str | None], n_features: int, max_chars: int):
    """The documents' L2-normalized hashed count vectors as a scipy CSR matrix."""
    from scipy import sparse

    parts = []
    for part in _chunks(len(texts)):
        rows, cols, run, norm = counts(texts[part], n_features, max_chars)
        values = run / np.where(norm > 0, norm, 1.0)[rows]
        shape = (part.stop - part.start, n_features)
        parts.append(sparse.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float64))
    if not parts:
        return sparse.csr_matrix((0, n_features), dtype=np.float64)
    return sparse.vstack(parts, format="csr")


def linear_scores(texts: Sequence[str | None], coef: np.ndarray, intercept: float, max_chars: int) -> np.ndarray:
    """``x @ coef + intercept`` per document (``x`` as in ``matrix``) without building the matrix."""
    out = np.empty(len(texts), dtype=np.float64)
    for part in _chunks(len(texts)):
        rows, cols, run, norm = counts(texts[part], len(coef), max_chars)
        dot = np.bincount(rows, weights=coef[cols] * run, minlength=part.stop - part.start)
        out[part] = dot / np.where(norm > 0, norm, 1.0) + intercept
    return out
