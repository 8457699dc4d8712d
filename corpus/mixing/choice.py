"""Which mixture version to train with once the loop stops.

The first version (the spec's starting mixture) is the default. A later version replaces it
only when its difference to the first is shown: its whole interval lies below zero. Among
such versions the lowest target loss wins. A version inside the noise is never chosen over
the first, so the chosen version is never worse than the first beyond its interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corpus.mixing.compare import VersionComparison, compare_to_first
from corpus.mixing.history import RoundResult
from corpus.mixing.target import Target

if TYPE_CHECKING:
    from corpus.spec import PipelineSpec


@dataclass(frozen=True)
class Choice:
    version: str
    reason: str


def choose_version(rows: Sequence[VersionComparison]) -> Choice | None:
    """The version to use, from ``compare_to_first`` rows (None without any evaluated version)."""
    if not rows:
        return None
    first = rows[0]
    shown = [r for r in rows[1:] if r.verdict == "better than the first version"]
    if not shown:
        blind = any(r.verdict.startswith("no interval") for r in rows[1:])
        return Choice(
            first.version,
            f"no later version is shown better than {first.version}"
            + (" (versions without standard errors show no difference)" if blind else ""),
        )
    best = min(shown, key=lambda r: r.target)
    return Choice(
        best.version,
        f"{best.version} is better than {first.version} by {-best.diff:.4f} "
        f"(95% interval [{best.low:+.4f}, {best.high:+.4f}])",
    )


def choose_for_spec(history: Sequence[RoundResult], spec: PipelineSpec) -> Choice | None:
    """``choose_version`` over a loop's evaluated versions, on the spec's target, trained sources and
    seed spread (the intervals of ``compare_to_first``)."""
    assert spec.mixture is not None, "the spec has no mixture section"
    rows = compare_to_first(history, Target.of(spec.mixture.target), spec.trained_sources, seed_sd=spec.mixture.seed_sd)
    return choose_version(rows)
