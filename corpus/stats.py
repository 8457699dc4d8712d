"""Statistics for comparisons between training runs: paired intervals, tokens to a target.

Every comparison of two data choices is made on paired seeds (same seed, same evaluation
set, only the data changed); a result is the mean difference with its 95% interval, and
"no difference shown" when the interval covers zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scipy import stats as _scipy_stats


@dataclass(frozen=True)
class Interval:
    """Mean of paired differences (``a - b``) with a two-sided confidence interval."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.n >= 2 and (self.high < 0.0 or self.low > 0.0)

    def verdict(self, lower_is_better: bool = True) -> str:
        """``better`` / ``worse`` (for ``a`` against ``b``) or ``no difference shown``."""
        if not self.excludes_zero:
            return "no difference shown"
        a_lower = self.high < 0.0
        return "better" if a_lower == lower_is_better else "worse"

    def as_dict(self) -> dict:
        return asdict(self) | {"excludes_zero": self.excludes_zero}

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:+.4f} (n={self.n}, no interval)"
        half = (self.high - self.low) / 2
        return f"{self.mean:+.4f} ± {half:.4f}"


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Student-t interval of the mean of ``values`` (n < 2 gives an infinite interval)."""
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("mean_interval needs at least one value")
    if any(not math.isfinite(v) for v in xs):
        raise ValueError("mean_interval: values must be finite")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return Interval(mean, -math.inf, math.inf, n, confidence)
    var = sum((v - mean) ** 2 for v in xs) / (n - 1)
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(var / n)
    return Interval(mean, mean - half, mean + half, n, confidence)


def paired_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Interval:
    """Interval of the mean of ``a[i] - b[i]`` (the same seed ``i`` in both arms)."""
    if len(a) != len(b):
        raise ValueError(f"paired_interval needs equal lengths (got {len(a)} and {len(b)}): pair runs by seed")
    return mean_interval([float(x) - float(y) for x, y in zip(a, b, strict=True)], confidence)


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean (``inf`` for fewer than two values)."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n < 2:
        return math.inf
    mean = sum(xs) / n
    return math.sqrt(sum((v - mean) ** 2 for v in xs) / (n - 1) / n)


def tokens_to_target(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """First token count at which an evaluation curve reaches ``target`` (lower is better).

    ``curve`` is ``(tokens, loss)`` in training order; the crossing is interpolated linearly
    between the two evaluations around it. ``None`` when the curve never reaches the target.
    """
    prev: tuple[float, float] | None = None
    for tokens, loss in curve:
        if loss <= target:
            if prev is None or prev[1] == loss:
                return float(tokens)
            t0, l0 = prev
            return float(t0 + (l0 - target) / (l0 - loss) * (tokens - t0))
        prev = (float(tokens), float(loss))
    return None
