"""Which mixture version to train with once the loop stops.

The first version (the spec's starting mixture) is the default. A later version replaces it
only when its difference to the first is shown: its whole interval lies below zero. Among
such versions the lowest target loss wins. A version inside the noise is never chosen over
the first, so the chosen version is never worse than the first beyond its interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corpus.mixing.compare import VersionComparison, compare_to_first
from corpus.mixing.history import RoundResult
from corpus.mixing.target import Target


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


def choose_from_history(
    history: Sequence[RoundResult], target: Target, trained: Sequence[str], seed_sd: float | None = None
) -> Choice | None:
    """``choose_version`` over the evaluated versions of a loop (intervals as ``compare_to_first``)."""
    return choose_version(compare_to_first(history, target, trained, seed_sd=seed_sd))
