"""The optimisation target of a mixture: one number from per-domain validation losses.

* ``average``: mean loss over the trained domains (the default).
* ``worst``: the largest loss over the trained domains.
* ``weighted``: ``sum_d w_d * loss_d / sum_d w_d`` over the domains named in ``weights``,
  which may include held-out domains that are evaluated but never trained on (RegMix's
  setting: optimise the mixture for a target distribution one does not train on).

Every policy, the feedback loop's stopping rule and the benchmarks compute the target
through :func:`target_loss`, and its evaluation standard error through :func:`target_se`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

TargetKind = Literal["average", "worst", "weighted"]


class TargetError(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    kind: TargetKind = "average"
    weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("average", "worst", "weighted"):
            raise TargetError(f"target kind must be average, worst or weighted, got {self.kind!r}")
        if self.kind == "weighted":
            if not self.weights:
                raise TargetError("a weighted target needs weights: a non-negative weight per domain")
            bad = [
                d for d, w in self.weights.items() if not isinstance(w, int | float) or not math.isfinite(w) or w < 0
            ]
            if bad or sum(self.weights.values()) <= 0:
                raise TargetError(
                    f"target weights must be finite, >= 0 and not all 0 (bad: {', '.join(bad) or 'all zero'})"
                )

    @classmethod
    def of(cls, value: Target | Mapping | str | None) -> Target:
        """A Target from a Target, a spec's ``{kind, weights}`` mapping, a kind name or None (average)."""
        if value is None:
            return cls()
        if isinstance(value, Target):
            return value
        if isinstance(value, str):
            return cls(kind=value)  # type: ignore[arg-type]
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        return cls(kind=value.get("kind", "average"), weights=dict(value.get("weights") or {}))

    def domains(self, trained: Sequence[str]) -> list[str]:
        """The domains whose loss enters the target."""
        if self.kind == "weighted":
            return [d for d, w in self.weights.items() if w > 0]
        return list(trained)

    def held_out(self, trained: Sequence[str]) -> list[str]:
        return [d for d in self.domains(trained) if d not in trained]

    def describe(self) -> str:
        if self.kind == "average":
            return "average validation loss"
        if self.kind == "worst":
            return "worst-domain validation loss"
        return "weighted validation loss (" + ", ".join(f"{d} {w:g}" for d, w in self.weights.items() if w > 0) + ")"


def _need(val_loss: Mapping[str, float], names: Sequence[str]) -> None:
    missing = [d for d in names if not math.isfinite(float(val_loss.get(d, math.nan)))]
    if missing:
        raise TargetError(f"target needs a finite validation loss for {', '.join(missing)}")


def target_loss(val_loss: Mapping[str, float], target: Target, trained: Sequence[str]) -> float:
    """The target's value for one evaluation (lower is better)."""
    names = target.domains(trained)
    _need(val_loss, names)
    if target.kind == "average":
        return math.fsum(val_loss[d] for d in names) / len(names)
    if target.kind == "worst":
        return max(val_loss[d] for d in names)
    total = math.fsum(target.weights[d] for d in names)
    return math.fsum(target.weights[d] * val_loss[d] for d in names) / total


def target_se(
    val_loss: Mapping[str, float], se: Mapping[str, float] | None, target: Target, trained: Sequence[str]
) -> float:
    """Standard error of :func:`target_loss` from per-domain evaluation errors (domains independent); inf if unknown."""
    names = target.domains(trained)
    if not se or any(not math.isfinite(float(se.get(d, math.inf))) for d in names):
        return math.inf
    if target.kind == "average":
        return math.sqrt(math.fsum(se[d] ** 2 for d in names)) / len(names)
    if target.kind == "worst":
        return float(se[max(names, key=lambda d: val_loss[d])])
    total = math.fsum(target.weights[d] for d in names)
    return math.sqrt(math.fsum((target.weights[d] / total * se[d]) ** 2 for d in names))


def domain_emphasis(val_loss: Mapping[str, float], target: Target, trained: Sequence[str]) -> dict[str, float]:
    """How much each trained domain's loss counts in the target (sums to 1 over trained domains).

    ``average``: equal; ``worst``: all on the currently worst trained domain; ``weighted``:
    the target weights of trained domains (held-out domains cannot be pushed directly;
    when the target names only held-out domains the emphasis is equal).
    """
    trained = list(trained)
    if target.kind == "average":
        return {d: 1.0 / len(trained) for d in trained}
    if target.kind == "worst":
        finite = [d for d in trained if math.isfinite(float(val_loss.get(d, math.nan)))]
        worst = max(finite, key=lambda d: val_loss[d]) if finite else None
        return {d: (1.0 if d == worst else 0.0) for d in trained} if worst else {d: 1.0 / len(trained) for d in trained}
    raw = {d: float(target.weights.get(d, 0.0)) for d in trained}
    total = sum(raw.values())
    return {d: v / total for d, v in raw.items()} if total > 0 else {d: 1.0 / len(trained) for d in trained}


def held_out_share(target: Target, trained: Sequence[str]) -> float:
    """The share of the target's weight on domains that are not trained (0 for ``average`` and ``worst``).

    A policy whose signal comes from trained domains alone (training losses, per-domain excess) has
    no signal for this share of the target; it keeps that share of the mixture where it was.
    """
    if target.kind != "weighted":
        return 0.0
    trained_set = set(trained)
    total = math.fsum(w for w in target.weights.values() if w > 0)
    held = math.fsum(w for d, w in target.weights.items() if w > 0 and d not in trained_set)
    return held / total if total > 0 else 0.0
