"""The configs of the weight policies: one base (:class:`PolicyConfig`) with the shared fields.

Kept apart from the policies so :mod:`corpus.mixing.policies` (the registry) and
:mod:`corpus.mixing.regression` (the RegMix policy) both import configs, never each other.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ExcessLossConfig", "LightGBMParams", "NaturalConfig", "PolicyConfig", "RegressionConfig", "UniformConfig"]


class PolicyConfig(BaseModel):
    """The fields every policy's config has; a policy's output gives each domain at least ``floor``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    floor: float = Field(0.0, ge=0.0, lt=1.0, description="minimum share of every domain")


class UniformConfig(PolicyConfig):
    pass


class NaturalConfig(PolicyConfig):
    temperature: float = Field(
        1.0, ge=0.05, le=100.0, description="weights ~ natural ** (1 / temperature); 1 = token-proportional"
    )


class ExcessLossConfig(PolicyConfig):
    floor: float = Field(0.01, ge=0.0, lt=1.0, description="minimum share of every domain")
    reference: Literal["first_round", "given"] = Field(
        "first_round", description="losses the excess is measured against"
    )
    reference_losses: dict[str, float] | None = Field(None, description="reference='given': per-domain reference loss")
    step_size: float = Field(1.0, gt=0.0, le=100.0, description="eta in w * exp(eta * excess); excess is in nats")
    smoothing: float = Field(1e-3, ge=0.0, le=1.0, description="mix with uniform: (1 - c) * w + c / k (DoReMi's c)")
    bootstrap: Literal["loss_above_mean", "keep"] = Field(
        "loss_above_mean", description="when every excess is 0 (only the reference round so far)"
    )

    @model_validator(mode="after")
    def _check(self) -> ExcessLossConfig:
        if self.reference == "given" and not self.reference_losses:
            raise ValueError("reference_losses: reference 'given' needs reference_losses (a loss per domain)")
        if self.reference_losses:
            bad = [
                d for d, v in self.reference_losses.items() if not isinstance(v, int | float) or not math.isfinite(v)
            ]
            if bad:
                raise ValueError(f"reference_losses: values must be finite numbers ({', '.join(bad)})")
        return self


class LightGBMParams(BaseModel):
    """RegMix's LightGBM settings (regression_fitting/regression.ipynb)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(0.01, gt=0.0, le=1.0)
    num_iterations: int = Field(1000, ge=1, le=100_000)
    num_leaves: int = Field(31, ge=2, le=4096)
    min_data_in_leaf: int | None = Field(None, ge=1, le=10_000, description="None: 20, or fewer for a short history")
    seed: int = 42
    num_threads: int = Field(1, ge=1, le=256, description="1 keeps fits bit-for-bit reproducible")

    def lgb_params(self, n_rows: int) -> dict[str, Any]:
        min_leaf = self.min_data_in_leaf if self.min_data_in_leaf is not None else max(1, min(20, n_rows // 5))
        return {
            "boosting_type": "gbdt",
            "objective": "regression",
            "metric": ["l1", "l2"],
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": min_leaf,
            "min_data_in_bin": min(3, min_leaf),
            "seed": self.seed,
            "num_threads": self.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }


class RegressionConfig(PolicyConfig):
    """Config of the ``regression`` (RegMix) policy."""

    target: Literal["average", "worst"] | str | None = Field(
        None,
        description="None: the mixture's named target; else minimize the average or worst-domain loss, or one domain's",
    )
    min_history: int = Field(
        4, ge=2, le=10_000, description="evaluated mixtures needed before fitting; shorter histories explore"
    )
    explore_concentration: float = Field(
        5.0, gt=0.0, le=10_000, description="Dirichlet concentration of exploration samples around the prior"
    )
    n_candidates: int = Field(20_000, ge=100, le=2_000_000, description="simulated mixtures scored by the regressor")
    candidate_concentrations: list[float] = Field(
        default_factory=lambda: [2.0, 10.0, 50.0],
        min_length=1,
        description="Dirichlet concentrations of candidates around each centre",
    )
    top_k: int = Field(100, ge=1, le=100_000, description="average the k best predicted candidates (RegMix: 100)")
    prior: Literal["natural", "uniform"] = "natural"
    floor: float = Field(0.01, ge=0.0, lt=1.0, description="minimum share of every domain")
    seed: int | None = Field(None, ge=0, description="None: the mixture spec's seed")
    lightgbm: LightGBMParams = Field(default_factory=LightGBMParams)
