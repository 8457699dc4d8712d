"""Online domain sampler: reweights domains inside one proxy run (ODM / EXP3 style).

Online Data Mixing (Albalak et al., 2023) treats domains as the arms of a multi-armed
bandit whose reward is the domain's current training loss: a domain the model still
finds hard is worth more tokens. Every ``update_every`` steps the sampler turns the
smoothed per-domain loss into sampling weights::

    reward_d   <- smoothing * reward_d + (1 - smoothing) * mean training loss of d
    weights    = (1 - k * floor) * normalize(prior_d * exp(step_size * reward_d)) + floor

``floor`` is EXP3's exploration term: every domain keeps at least that share, so a
domain whose loss is stale is still observed. Each batch holds sequences of several
domains (semi-bandit feedback), so every sampled domain's loss is observed directly and
needs no importance weighting. The weight trajectory is returned for plots and metadata.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class OnlineSamplerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    update_every: int = Field(10, ge=1, le=100_000, description="steps between weight updates")
    step_size: float = Field(1.0, gt=0.0, le=100.0, description="eta: how strongly loss differences (nats) move weight")
    smoothing: float = Field(0.5, ge=0.0, lt=1.0, description="EMA factor of the per-domain reward")
    floor: float = Field(0.02, ge=0.0, le=0.5, description="exploration floor: minimum share of every domain")
    prior: bool = Field(True, description="multiply by the run's initial weights (False: start from uniform)")


class OnlineSampler:
    """Draws the domain of each training sequence and updates the weights from losses."""

    def __init__(self, domains: Sequence[str], initial_weights: Mapping[str, float], config: OnlineSamplerConfig | None = None, *, seed: int = 0):
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
        self.trajectory: list[tuple[int, dict[str, float]]] = [(0, self.weights_dict())]

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

    def update(self, step: int) -> dict[str, float]:
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
            r = np.where(known, self.reward, np.nanmean(self.reward))  # unseen domains: average reward
            logits = np.log(np.maximum(self.prior, 1e-12)) + self.config.step_size * (r - r.max())
            p = np.exp(logits - logits.max())
            self.weights = self._with_floor(p)
        self._sum[:] = 0
        self._count[:] = 0
        self.trajectory.append((step, self.weights_dict()))
        return self.weights_dict()

    def mean_weights(self) -> dict[str, float]:
        """Average weights over the trajectory (DoReMi reports the average as its mixture)."""
        mean = {d: math.fsum(w[d] for _, w in self.trajectory) / len(self.trajectory) for d in self.domains}
        total = sum(mean.values())
        return {d: v / total for d, v in mean.items()}
