"""Online domain sampler: reweights domains inside one proxy run.

Two rewards (``OnlineSamplerConfig.reward``):

* ``progress`` (default), after ADO (Jiang et al., "Adaptive Data Optimization: Dynamic
  Sample Selection with Scaling Laws", ICLR 2025): each domain's smoothed training loss
  is fitted, as a function of the tokens ``n_d`` trained on that domain so far, by the
  scaling law ``L_d(n) = eps_d + beta_d * n ** -alpha_d``. The reward is the predicted
  *learnable progress* ``-n_d * dL_d/dn = alpha_d * beta_d * n_d ** -alpha_d`` (loss still
  to gain per e-fold of that domain's data; an intrinsically hard but unlearnable domain,
  whose loss is flat, earns nothing). As in ADO, weights are proportional to
  ``mu_d * reward_d`` where ``mu`` is a running average of past weights (credit for the
  data a domain already received) and are mixed with the prior. Until a domain has
  ``min_points`` loss points (or when its fit fails) its reward is the average one.
* ``loss``: Online Data Mixing (Albalak et al., 2023): a multi-armed bandit whose reward
  is the domain's current training loss (favours intrinsically hard domains)::

    reward_d   <- smoothing * reward_d + (1 - smoothing) * mean training loss of d
    weights    = (1 - k * floor) * normalize(prior_d * exp(step_size * reward_d)) + floor

Both rewards come from training losses, so the sampler only sees trained domains. Two guards
keep it from hurting a target it cannot see (RegMix's held-out setting) or from drifting on
noise: the target's share on untrained domains (``held_out_share``) stays at the prior, and
the weights stay within ``max_shift`` total-variation distance of the prior (a trust region,
as in DoReMi's smoothing toward uniform). ``floor`` is EXP3's exploration term: every domain
keeps at least that share, so a domain whose loss is stale is still observed. Each batch holds sequences of several
domains (semi-bandit feedback), so every sampled domain's loss is observed directly and
needs no importance weighting. The weight trajectory is returned for plots and metadata.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class OnlineSamplerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    update_every: int = Field(10, ge=1, le=100_000, description="steps between weight updates")
    step_size: float = Field(1.0, gt=0.0, le=100.0, description="eta: how strongly loss differences (nats) move weight")
    smoothing: float = Field(0.5, ge=0.0, lt=1.0, description="EMA factor of the per-domain reward")
    floor: float = Field(0.02, ge=0.0, le=0.5, description="exploration floor: minimum share of every domain")
    prior: bool = Field(True, description="multiply by the run's initial weights (False: start from uniform)")
    reward: Literal["progress", "loss"] = Field(
        "progress", description="ADO-style learnable progress, or raw training loss (ODM)"
    )
    min_points: int = Field(
        4, ge=3, le=10_000, description="progress: loss points per domain before its scaling law is fitted"
    )
    prior_mix: float = Field(0.3, ge=0.0, le=1.0, description="progress: share of the prior mixed into the weights")
    credit_smoothing: float = Field(
        0.9, ge=0.0, lt=1.0, description="progress: EMA factor of mu (the running average of weights)"
    )
    max_shift: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="trust region: the largest total-variation distance of the weights from the prior (1: none)",
    )


def fit_power_law(n: np.ndarray, loss: np.ndarray) -> tuple[float, float, float] | None:
    """Least-squares fit of ``loss = eps + beta * n ** -alpha``; (eps, beta, alpha) or None."""
    n = np.asarray(n, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    ok = np.isfinite(n) & np.isfinite(loss) & (n > 0)
    n, loss = n[ok], loss[ok]
    if len(n) < 3 or np.ptp(n) <= 0:
        return None
    scale = float(n.max())
    x = n / scale

    def f(x: np.ndarray, eps: float, beta: float, alpha: float) -> np.ndarray:
        return eps + beta * x ** (-alpha)

    from scipy.optimize import OptimizeWarning, curve_fit  # here: a proxy run without the online sampler never fits

    lo = float(loss.min())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # a flat curve has no covariance; the fit itself is fine
            (eps, beta, alpha), _ = curve_fit(
                f,
                x,
                loss,
                p0=(0.8 * lo, 0.2 * lo, 0.5),
                bounds=([0.0, 0.0, 1e-3], [lo, 10 * lo + 10, 3.0]),
                maxfev=2000,
            )
    except (RuntimeError, ValueError):
        return None
    return float(eps), float(beta * scale**alpha), float(alpha)


def bound_shift(p: np.ndarray, prior: np.ndarray, max_shift: float) -> np.ndarray:
    """``p`` pulled toward ``prior`` along the segment between them until their total-variation distance
    ``0.5 * sum |p - prior|`` is at most ``max_shift`` (both on the simplex; so is the result)."""
    tv = 0.5 * float(np.abs(p - prior).sum())
    if tv <= max_shift:
        return p
    return prior + (max_shift / tv) * (p - prior)


def learnable_progress(n: float, fit: tuple[float, float, float]) -> float:
    """``-n * dL/dn`` of the fitted law at ``n`` tokens: ``alpha * beta * n ** -alpha``."""
    _, beta, alpha = fit
    return float(alpha * beta * n ** (-alpha))


class OnlineSampler:
    """Draws the domain of each training sequence and updates the weights from losses."""

    def __init__(
        self,
        domains: Sequence[str],
        initial_weights: Mapping[str, float],
        config: OnlineSamplerConfig | None = None,
        *,
        seed: int = 0,
        tokens_per_sequence: int = 1,
        emphasis: Mapping[str, float] | None = None,
        held_out_share: float = 0.0,
    ):
        if not domains:
            raise ValueError("the online sampler needs at least one domain")
        self.domains = list(domains)
        self.config = config or OnlineSamplerConfig()
        k = len(self.domains)
        self.floor = min(self.config.floor, 1.0 / k)
        init = np.array([max(float(initial_weights.get(d, 0.0)), 0.0) for d in self.domains])
        if init.sum() <= 0:
            init = np.ones(k)
        self.prior = init / init.sum() if self.config.prior else np.full(k, 1.0 / k)
        self.reward = np.full(k, np.nan)
        self.weights = self._with_floor(self.prior)
        self._sum = np.zeros(k)
        self._count = np.zeros(k)
        self.rng = np.random.default_rng([seed, 7])
        self.tokens_per_sequence = tokens_per_sequence
        # how much the target counts each domain (1 each for the average target)
        emph = np.array([float((emphasis or {}).get(d, 1.0)) for d in self.domains]) if emphasis else np.ones(k)
        self.emphasis = emph * k / emph.sum() if emph.sum() > 0 else np.ones(k)
        if not 0.0 <= held_out_share <= 1.0:
            raise ValueError(f"held_out_share must be in [0, 1], got {held_out_share}")
        # the share of the target on domains never trained (no training loss): kept at the prior
        self.held_out_share = float(held_out_share)
        self.tokens = np.zeros(k)
        self.points: list[list[tuple[float, float]]] = [[] for _ in range(k)]
        self.mu = self.weights.copy()
        self.progress = np.full(k, np.nan)
        self.trajectory: list[tuple[int, dict[str, float]]] = [(0, self.weights_dict())]

    def _guarded(self, p: np.ndarray) -> np.ndarray:
        """Adaptive weights -> the weights drawn from: the held-out share at the prior, the trust region, the
        floor."""
        p = p / p.sum()
        p = (1 - self.held_out_share) * p + self.held_out_share * self.prior
        return self._with_floor(bound_shift(p, self.prior, self.config.max_shift))

    def _with_floor(self, p: np.ndarray) -> np.ndarray:
        k = len(p)
        out = (1 - k * self.floor) * p / p.sum() + self.floor
        return out / out.sum()

    def weights_dict(self) -> dict[str, float]:
        return {d: float(w) for d, w in zip(self.domains, self.weights, strict=True)}

    def sample(self, n: int) -> np.ndarray:
        """Domain indices of the next ``n`` sequences."""
        return self.rng.choice(len(self.domains), size=n, p=self.weights)

    def observe(self, domain_index: np.ndarray, sequence_loss: np.ndarray) -> None:
        """Record the mean training loss of each sequence of a batch."""
        np.add.at(self._sum, domain_index, sequence_loss)
        np.add.at(self._count, domain_index, 1)
        np.add.at(self.tokens, domain_index, self.tokens_per_sequence)

    def update(self, step: int) -> dict[str, float]:
        if self.config.reward == "progress":
            return self._update_progress(step)
        return self._update_loss(step)

    def _update_progress(self, step: int) -> dict[str, float]:
        seen = self._count > 0
        for i in np.flatnonzero(seen):
            self.points[i].append((float(self.tokens[i]), float(self._sum[i] / self._count[i])))
            pts = self.points[i]
            if len(pts) >= self.config.min_points:
                n = np.array([p[0] for p in pts])
                loss = np.array([p[1] for p in pts])
                fit = fit_power_law(
                    n[len(n) // 5 :], loss[len(n) // 5 :]
                )  # skip the first fifth (ADO ignores early steps)
                self.progress[i] = learnable_progress(float(self.tokens[i]), fit) if fit else np.nan
        known = np.isfinite(self.progress)
        if known.any():
            r = np.where(known, self.progress, np.nanmean(self.progress)) * self.emphasis
            r = np.maximum(r, 1e-12)
            p = self.mu * r
            p = (1 - self.config.prior_mix) * p / p.sum() + self.config.prior_mix * self.prior
            self.weights = self._guarded(p)
        a = self.config.credit_smoothing
        self.mu = a * self.mu + (1 - a) * self.weights
        self._sum[:] = 0
        self._count[:] = 0
        self.trajectory.append((step, self.weights_dict()))
        return self.weights_dict()

    def _update_loss(self, step: int) -> dict[str, float]:
        seen = self._count > 0
        if seen.any():
            mean = np.where(seen, self._sum / np.maximum(self._count, 1), np.nan)
            a = self.config.smoothing
            fresh = np.isnan(self.reward) & seen
            self.reward[fresh] = mean[fresh]
            old = ~np.isnan(self.reward) & seen & ~fresh
            self.reward[old] = a * self.reward[old] + (1 - a) * mean[old]
        known = ~np.isnan(self.reward)
        if known.any():
            r = np.where(known, self.reward, np.nanmean(self.reward)) * self.emphasis  # unseen domains: average reward
            logits = np.log(np.maximum(self.prior, 1e-12)) + self.config.step_size * (r - r.max())
            p = np.exp(logits - logits.max())
            self.weights = self._guarded(p)
        self._sum[:] = 0
        self._count[:] = 0
        self.trajectory.append((step, self.weights_dict()))
        return self.weights_dict()

    def mean_weights(self) -> dict[str, float]:
        """Average weights over the trajectory (DoReMi reports the average as its mixture)."""
        mean = {d: math.fsum(w[d] for _, w in self.trajectory) / len(self.trajectory) for d in self.domains}
        total = sum(mean.values())
        return {d: v / total for d, v in mean.items()}
