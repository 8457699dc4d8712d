"""Mixture weights are validated values: non-negative, finite, normalized, every domain named.

A bad mixture is an explicit error, never a silent renormalization (mosaicml/streaming's rule).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

NORMALIZATION_TOLERANCE = 1e-6


class WeightsError(ValueError):
    pass


def validate_weights(weights: Mapping[str, float], domains: Sequence[str], *, floor: float = 0.0) -> dict[str, float]:
    """Return ``weights`` as a dict in ``domains`` order, or raise WeightsError saying what is wrong."""
    missing = [d for d in domains if d not in weights]
    unknown = [d for d in weights if d not in domains]
    problems = []
    if missing:
        problems.append(f"missing domains: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown domains: {', '.join(unknown)} (domains: {', '.join(domains)})")
    for d, w in weights.items():
        if not isinstance(w, int | float) or isinstance(w, bool):
            problems.append(f"{d}: weight must be a number, got {w!r}")
        elif not math.isfinite(w):
            problems.append(f"{d}: weight must be finite, got {w}")
        elif w < 0:
            problems.append(f"{d}: weight must be non-negative, got {w}")
        elif w < floor:
            problems.append(f"{d}: weight {w} is below the floor {floor}")
    if not problems:
        total = sum(float(weights[d]) for d in domains)
        if abs(total - 1.0) > NORMALIZATION_TOLERANCE:
            problems.append(f"weights sum to {total:.6g}, not 1 (normalize them explicitly)")
    if problems:
        raise WeightsError("invalid mixture weights: " + "; ".join(problems))
    return {d: float(weights[d]) for d in domains}


def normalize(raw: Mapping[str, float], *, floor: float = 0.0) -> dict[str, float]:
    """Explicit normalization for policies: clip to >= 0, apply ``floor`` (share of mass), sum to 1."""
    if not raw:
        raise WeightsError("no domains to weight")
    vals = {d: max(0.0, float(w)) if math.isfinite(float(w)) else 0.0 for d, w in raw.items()}
    total = sum(vals.values())
    if total <= 0:
        vals = {d: 1.0 for d in vals}
        total = float(len(vals))
    out = {d: v / total for d, v in vals.items()}
    if floor > 0:
        if floor * len(out) > 1:
            raise WeightsError(f"floor {floor} is impossible for {len(out)} domains")
        out = {d: floor + (1 - floor * len(out)) * w for d, w in out.items()}
    # exact renormalization against float drift
    s = sum(out.values())
    return {d: w / s for d, w in out.items()}
