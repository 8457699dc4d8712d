"""Quality measures of the MinHash dedup benchmark (:mod:`bench_dedup`): recall, merged-low pairs and
precision on the planted copies against their true word-5-gram Jaccard, and how well each engine's
MinHash values estimate that Jaccard."""

from __future__ import annotations

import itertools
import random
import tempfile

import numpy as np
import polars as pl

from corpus.ops import dedup
from corpus.ops.dedup import MinhashDedupConfig


def patch_datatrove_xxhash() -> None:
    """datatrove 0.10.1 hashes ``str`` with xxhash, which xxhash>=4 refuses ("Strings must be
    encoded before hashing"); encode first, as older xxhash did internally."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xxhash

    dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode("utf-8") if isinstance(data, str) else data)
    dt_xxhash.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode("utf-8") if isinstance(data, str) else data)


def quality(
    texts: list[str],
    plants: list[tuple[int, int, float]],
    sample: list[int],
    rep: list[int],
    jac: dict[tuple[int, int], float],
) -> dict[str, float | int]:
    high = [k for k in sample if plants[k][2] > 0 and jac[plants[k][:2]] >= 0.8]
    low = [k for k in sample if jac[plants[k][:2]] < 0.5]
    exact = [k for k in sample if plants[k][2] == 0.0]
    merged = {k: rep[plants[k][0]] == rep[plants[k][1]] for k in sample}
    removed = [i for i in range(len(texts)) if rep[i] != i]
    rng = random.Random(1)
    checked = rng.sample(removed, min(len(removed), 1500))
    good = sum(jaccard(texts[i], texts[rep[i]]) >= 0.5 for i in checked)
    return {
        "removed": len(removed),
        "recall_j_ge_0_8": float(np.mean([merged[k] for k in high])),
        "merged_j_lt_0_5": float(np.mean([merged[k] for k in low])),
        "precision": good / len(checked) if checked else 1.0,
        "exact_removed": float(np.mean([merged[k] for k in exact])),
        "pairs_j_ge_0_8": len(high),
        "pairs_j_lt_0_5": len(low),
        "pairs_exact": len(exact),
    }


def _shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    from datatrove.utils.text import simplify_text

    words = simplify_text(text).split()
    return {tuple(words)} if 0 < len(words) < n else {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / max(len(sa | sb), 1)


def estimator_quality(pairs: list[tuple[str, str]], true: np.ndarray) -> dict[str, dict[str, float]]:
    """How well each engine's 112 MinHash values estimate the true Jaccard of the planted pairs.

    ``z_std`` is the spread of (estimate - truth) in units of the binomial standard error
    sqrt(J (1 - J) / 112): 1.0 means the hash functions behave like ideal random permutations.
    """
    import xxhash  # noqa: F401  (datatrove's hasher, patched below)
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    patch_datatrove_xxhash()
    config = MinhashDedupConfig()
    hasher = dedup.MinHasher.from_config(config)

    def ours(texts: list[str]) -> np.ndarray:
        words = dedup._normalize(pl.Series(texts, dtype=pl.String), config.normalization, words=True)
        sig, has = hasher.signatures(hasher.shingles(*dedup._utf8_bytes(words)))
        out = np.zeros((len(texts), config.num_hashes), dtype=np.uint64)
        out[has] = sig
        return out

    with tempfile.TemporaryDirectory() as tmp:
        step = MinhashDedupSignature(output_folder=tmp, config=MinhashConfig())

        def theirs(text: str) -> np.ndarray:
            shingles = step.get_shingles(text)
            if not shingles.size:
                return np.array([0] * config.num_hashes)
            return np.array(list(itertools.chain.from_iterable(step.get_signature(shingles))))

        estimates = {
            "ours": (ours([a for a, _ in pairs]) == ours([b for _, b in pairs])).mean(axis=1),
            "datatrove": np.array([(theirs(a) == theirs(b)).mean() for a, b in pairs]),
        }
    keep = true < 0.999
    se = np.sqrt(np.maximum(true[keep] * (1 - true[keep]), 1e-3) / config.num_hashes)
    return {
        name: {
            "bias": float((est[keep] - true[keep]).mean()),
            "mean_abs_error": float(np.abs(est[keep] - true[keep]).mean()),
            "z_std": float(((est[keep] - true[keep]) / se).std()),
            "pairs": int(keep.sum()),
        }
        for name, est in estimates.items()
    }
