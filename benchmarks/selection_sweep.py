"""Tokens to reach a baseline's final loss, read off a sweep of training budgets.

Each point of a sweep is its own run at a fraction ``f`` of the full budget, with the learning-rate
schedule of that shorter budget (warmup, then cosine decay to its own end), the same seed, the same
sample and the same proxy. A seed's fraction is the smallest ``f`` whose final loss is at most the
baseline's final loss at the full budget, interpolated linearly between the two budgets around the
first crossing from above (:func:`corpus.stats.tokens_to_target` over the points in budget order).

Final losses need not fall monotonically with the budget. The key takes the first crossing, as
defined; ``sustained`` beside it is the crossing after the last budget that misses, so a seed
whose later budget misses again shows both. A seed reaching the target at the smallest budget is
reported at that budget, an upper bound (``at_smallest_budget``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from corpus.stats import paired_interval, tokens_to_target


def sweep_steps(fractions: Sequence[float], full_steps: int) -> list[int]:
    """Optimizer steps per budget fraction (``round(f * full_steps)``), the full budget last."""
    fs = [float(f) for f in fractions]
    if not fs or any(not 0.0 < f < 1.0 for f in fs) or sorted(set(fs)) != fs:
        raise ValueError(f"budget fractions must be distinct, ascending and inside (0, 1), got {list(fractions)}")
    if full_steps < 1:
        raise ValueError(f"full_steps must be positive, got {full_steps}")
    steps = [max(1, round(f * full_steps)) for f in fs] + [int(full_steps)]
    if len(set(steps)) != len(steps):
        raise ValueError(f"budget fractions {fs} give repeated step counts {steps} at {full_steps} steps")
    return steps


def crossing(points: Sequence[tuple[float, float]], target: float) -> dict:
    """One seed's fraction from ``(fraction, final loss)`` points; the largest fraction must be 1.0.

    ``fraction``: the first crossing (``None`` if no budget reaches ``target``); ``sustained``: the
    crossing after the last budget that misses (``None`` if the full budget misses).
    """
    pts = sorted((float(f), float(loss)) for f, loss in points)
    if not pts or pts[-1][0] != 1.0:
        raise ValueError(f"a sweep needs its full-budget point (fraction 1.0); got fractions {[f for f, _ in pts]}")
    if len({f for f, _ in pts}) != len(pts) or pts[0][0] <= 0.0:
        raise ValueError(f"sweep fractions must be distinct and positive; got {[f for f, _ in pts]}")
    if not math.isfinite(target) or any(not math.isfinite(loss) for _, loss in pts):
        raise ValueError("sweep losses and the target must be finite")
    reached = [loss <= target for _, loss in pts]
    misses = [i for i, r in enumerate(reached) if not r]
    if not misses:
        sustained = pts[0][0]
    elif misses[-1] == len(pts) - 1:
        sustained = None
    else:
        sustained = tokens_to_target(pts[misses[-1] :], target)
    first = tokens_to_target(pts, target)
    return {
        "fraction": None if first is None else round(first, 4),
        "sustained": None if sustained is None else round(sustained, 4),
        "at_smallest_budget": reached[0],
        "reaches_then_misses": any(a and not b for a, b in pairwise(reached)),
        "loss_falls_with_budget": all(b[1] <= a[1] for a, b in pairwise(pts)),
    }


def largest(fractions: Sequence[float | None]) -> float | None:
    """The acceptance value: the largest per-seed fraction; ``None`` if any seed never reached the target."""
    if not fractions or any(f is None for f in fractions):
        return None
    return round(max(fractions), 4)


def sweep_summary(
    fractions: Sequence[float],
    losses: Sequence[Sequence[float]],
    targets: Sequence[float],
    seeds: Sequence[int],
) -> dict:
    """Per-seed crossings and per-budget paired differences against the targets.

    ``fractions``: the budgets as fractions, the last 1.0; ``losses[k][i]``: final loss at
    ``fractions[k]`` for ``seeds[i]``; ``targets[i]``: the baseline's final loss for ``seeds[i]``.
    """
    if len(losses) != len(fractions) or any(len(row) != len(seeds) for row in losses) or len(targets) != len(seeds):
        raise ValueError("sweep_summary needs one loss per budget and seed and one target per seed")
    per_seed = {}
    for i, seed in enumerate(seeds):
        points = [(f, row[i]) for f, row in zip(fractions, losses, strict=True)]
        per_seed[int(seed)] = crossing(points, targets[i]) | {"target": targets[i]}
    first = [c["fraction"] for c in per_seed.values()]
    sustained = [c["sustained"] for c in per_seed.values()]
    by_budget = {}
    for f, row in zip(fractions, losses, strict=True):
        iv = paired_interval(row, targets)
        by_budget[f"{f:.4f}"] = iv.as_dict() | {"verdict": iv.verdict(), "losses": list(row)}
    return {
        "largest_fraction": largest(first),
        "largest_sustained_fraction": largest(sustained),
        "per_seed": per_seed,
        "vs_baseline_full_budget": by_budget,
    }
