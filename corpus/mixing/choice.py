"""Which mixture version to train with once the loop stops.

The first version (the spec's starting mixture) is the default. A later version replaces it
only when its difference to the first is shown: its whole interval lies below zero. Among
such versions the lowest target loss wins. A version inside the noise is never chosen over
the first, so the chosen version is never worse than the first beyond its interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corpus.mixing.compare import VersionComparison


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
        return Choice(first.version, f"no later version is shown better than {first.version}")
    best = min(shown, key=lambda r: r.target)
    return Choice(
        best.version,
        f"{best.version} is better than {first.version} by {-best.diff:.4f} "
        f"(95% interval [{best.low:+.4f}, {best.high:+.4f}])",
    )
