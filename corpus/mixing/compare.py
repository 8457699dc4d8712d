"""Each mixture version's target loss and its difference to the first version, with an interval.

The interval comes from the evaluations' standard errors (``val_loss_se`` of the metrics
records): ``diff +- z * sqrt(se_v^2 + se_1^2)``. Both versions are scored on the same
validation tokens, so their errors are positively correlated and this interval is wide
for evaluation noise; seed-to-seed training noise, which only repeated seeds measure
(``benchmarks/bench_mixing.py`` does), enters only when ``seed_sd`` is given. The verdict says "no
difference shown" whenever the interval covers zero or a standard error is missing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from corpus.mixing.history import RoundResult
from corpus.mixing.target import Target, target_loss, target_se


@dataclass(frozen=True)
class VersionComparison:
    version: str
    target: float
    se: float  # evaluation standard error of ``target`` (inf when unknown)
    diff: float  # target - first version's target (negative: better)
    low: float
    high: float

    @property
    def verdict(self) -> str:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return "no interval (no standard errors)"
        if self.high < 0:
            return "better than the first version"
        if self.low > 0:
            return "worse than the first version"
        return "no difference shown"


def compare_to_first(
    history: Sequence[RoundResult],
    target: Target,
    trained: Sequence[str],
    confidence: float = 0.95,
    seed_sd: float | None = None,
) -> list[VersionComparison]:
    """One row per evaluated version, the first being the reference (difference 0)."""
    if not history:
        return []
    from scipy.stats import norm  # here, not at the top: every process that loads the definitions imports this

    z = float(norm.ppf(0.5 + confidence / 2))
    first = history[0]
    t0 = target_loss(first.val_loss, target, trained)
    se0 = target_se(first.val_loss, first.val_loss_se, target, trained)
    rows = []
    for i, h in enumerate(history):
        t = target_loss(h.val_loss, target, trained)
        se = target_se(h.val_loss, h.val_loss_se, target, trained)
        if i == 0:
            rows.append(VersionComparison(h.version, t, se, 0.0, 0.0, 0.0))
            continue
        half = z * math.sqrt(se**2 + se0**2 + 2 * (seed_sd or 0.0) ** 2)
        rows.append(VersionComparison(h.version, t, se, t - t0, t - t0 - half, t - t0 + half))
    return rows
