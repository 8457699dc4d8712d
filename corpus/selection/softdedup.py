"""Soft dedup: turn n-gram commonness into a per-document sampling weight instead of a hard drop.

In the spirit of SoftDedup (He et al., 2024): a document made of n-grams that many other
documents share is *common* and is sampled less, not removed. Here a document's weight is
the mean, over its distinct word n-grams, of ``1 / df(g)`` where ``df(g)`` is the number of
documents containing ``g`` (words normalized as in :mod:`corpus.selection.ngrams`). So:

* a document sharing nothing weighs 1;
* each of ``k`` exact copies weighs ``1/k`` (together: one document's worth);
* a page whose half is boilerplate shared by 10 pages weighs about ``0.5 + 0.5/10``.

Weights are clipped below at ``min_weight`` and documents shorter than ``n`` words weigh 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from corpus.selection import ngrams


def softdedup_weights(texts: Sequence[str] | pl.Series, n: int = 5, min_weight: float = 0.0) -> np.ndarray:
    """Per-document sampling weights in ``(0, 1]`` (see the module docstring)."""
    w = ngrams.words(texts)
    out = np.ones(w.n_texts, dtype=np.float64)
    starts, owner = ngrams.ngram_starts(w, n)
    if not len(starts):
        return out
    keys = ngrams.ngram_keys(w, n, starts)
    # distinct (document, n-gram) pairs: document frequency counts each document once
    pairs = np.unique(np.stack([owner.astype(np.uint64), keys], axis=1), axis=0)
    doc, key = pairs[:, 0].astype(np.int64), pairs[:, 1]
    _uniq, inverse, df = np.unique(key, return_inverse=True, return_counts=True)
    inv_df = 1.0 / df[inverse]
    total = np.bincount(doc, weights=inv_df, minlength=w.n_texts)
    count = np.bincount(doc, minlength=w.n_texts)
    has = count > 0
    out[has] = total[has] / count[has]
    return np.maximum(out, min_weight) if min_weight > 0 else out
