"""Weight policies: the history of evaluated mixtures -> the next mixture's weights.

Each policy is a small function ``propose(history, domains, natural_weights, config, *, seed)``
with a pydantic config (``extra="forbid"``), registered by name:

* ``uniform``: every domain the same share.
* ``natural``: token-proportional; ``temperature`` > 1 flattens it (``p ** (1/T)``).
* ``excess_loss``: DoReMi (Xie et al., NeurIPS 2023) / Sheared-LLaMA style. Domains whose
  validation loss exceeds a reference get exponentially more weight:
  ``w' = smooth(normalize(w * exp(step_size * k * e_d * max(loss - reference, 0))))``,
  starting from the latest evaluated mixture, with ``e_d`` the target's emphasis on the
  domain (1/k for the average target); the target's share on untrained (held-out)
  domains, which no excess can show, keeps the latest weights. ``reference="given"`` is DoReMi's reference
  model: the per-domain loss of a separate reference run (e.g. a proxy trained on the
  uniform mixture with the same budget), so the excess is what the domain could still
  learn, not its intrinsic difficulty. ``"first_round"`` uses the loop's first version
  as the reference (cheaper; the same thing when m0001 is that reference mixture). When
  the only evaluated round is the reference itself there is no excess yet;
  ``bootstrap="loss_above_mean"`` then uses the loss above the domains' mean as the
  excess, ``"keep"`` keeps the weights.
* ``regression``: RegMix, see :mod:`corpus.mixing.regression`.

Every policy optimises the mixture's named target (:mod:`corpus.mixing.target`: average,
worst domain, or weighted, possibly over held-out domains); ``domains`` are the trained
domains, the history's losses may hold more.

Whatever the policy, the result is finite, sums to 1 and gives every domain at least
``floor``; :func:`propose_weights` checks that with ``validate_weights``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from corpus.mixing.configs import ExcessLossConfig, NaturalConfig, PolicyConfig, RegressionConfig, UniformConfig
from corpus.mixing.history import RoundResult
from corpus.mixing.regression import exploring, propose_regression
from corpus.mixing.target import Target, domain_emphasis, held_out_share
from corpus.mixing.weights import WeightsError, normalize, validate_weights

__all__ = ["POLICIES", "PolicyConfig", "PolicyError", "RoundResult", "Target", "propose_weights"]


class PolicyError(ValueError):
    pass


# --- policies ------------------------------------------------------------------------


def _finish(raw: Mapping[str, float], domains: Sequence[str], floor: float) -> dict[str, float]:
    out = normalize({d: raw.get(d, 0.0) for d in domains}, floor=floor)
    return {d: out[d] for d in domains}


def propose_uniform(
    history: Sequence[RoundResult],
    domains: Sequence[str],
    natural_weights: Mapping[str, float],
    config: UniformConfig,
    *,
    seed: int = 0,
    target: Target | None = None,
) -> dict[str, float]:
    return _finish({d: 1.0 for d in domains}, domains, config.floor)


def propose_natural(
    history: Sequence[RoundResult],
    domains: Sequence[str],
    natural_weights: Mapping[str, float],
    config: NaturalConfig,
    *,
    seed: int = 0,
    target: Target | None = None,
) -> dict[str, float]:
    raw = {d: float(natural_weights.get(d, 0.0)) ** (1.0 / config.temperature) for d in domains}
    return _finish(raw, domains, config.floor)


def excess_losses(history: Sequence[RoundResult], domains: Sequence[str], config: ExcessLossConfig) -> dict[str, float]:
    """Per-domain ``max(latest loss - reference, 0)``; 0 where a loss is missing or not finite."""
    latest = history[-1].val_loss
    if config.reference == "given":
        reference = dict(config.reference_losses or {})
        missing = [d for d in domains if d not in reference]
        if missing:
            raise PolicyError(
                f"excess_loss: reference_losses has no value for {', '.join(missing)}; give one per domain"
            )
    else:
        reference = history[0].val_loss
    out = {}
    for d in domains:
        loss, ref = latest.get(d, math.nan), reference.get(d, math.nan)
        out[d] = max(loss - ref, 0.0) if math.isfinite(loss) and math.isfinite(ref) else 0.0
    if not any(out.values()) and config.bootstrap == "loss_above_mean":
        finite = [latest[d] for d in domains if math.isfinite(latest.get(d, math.nan))]
        if finite:
            mean = sum(finite) / len(finite)
            out = {d: max(latest[d] - mean, 0.0) if math.isfinite(latest.get(d, math.nan)) else 0.0 for d in domains}
    return out


def propose_excess_loss(
    history: Sequence[RoundResult],
    domains: Sequence[str],
    natural_weights: Mapping[str, float],
    config: ExcessLossConfig,
    *,
    seed: int = 0,
    target: Target | None = None,
) -> dict[str, float]:
    if not history:
        return _finish(dict(natural_weights), domains, config.floor)
    base = history[-1].weights
    base = {d: float(base[d]) if d in base else float(natural_weights.get(d, 0.0)) for d in domains}
    excess = excess_losses(history, domains, config)
    emphasis = domain_emphasis(history[-1].val_loss, target or Target(), domains)
    k = len(domains)
    excess = {d: k * emphasis[d] * excess[d] for d in domains}
    top = max(excess.values())
    # exp of (excess - max) avoids overflow; normalization cancels the constant
    raw = {d: base[d] * math.exp(config.step_size * (excess[d] - top)) for d in domains}
    total = sum(raw.values())
    if total <= 0:
        raw = {d: 1.0 for d in domains}
        total = float(len(domains))
    # the target's share on untrained domains has no excess to follow: that share keeps the latest weights
    h = held_out_share(target or Target(), domains)
    base_total = sum(base.values()) or 1.0
    moved = {d: (1 - h) * raw[d] / total + h * base[d] / base_total for d in domains}
    smoothed = {d: (1 - config.smoothing) * moved[d] + config.smoothing / k for d in domains}
    return _finish(smoothed, domains, config.floor)


# --- registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    name: str
    config_model: type[PolicyConfig]
    propose: Callable[..., dict[str, float]]
    description: str
    # (history, domains, config) -> True while proposals are exploration, not improvements
    exploring: Callable[..., bool] | None = None


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in [
        Policy("uniform", UniformConfig, propose_uniform, "every domain the same share"),
        Policy(
            "natural", NaturalConfig, propose_natural, "token-proportional (temperature-flattened when temperature > 1)"
        ),
        Policy(
            "excess_loss",
            ExcessLossConfig,
            propose_excess_loss,
            "exponentiated per-domain excess loss over a reference (DoReMi style)",
        ),
        Policy(
            "regression",
            RegressionConfig,
            propose_regression,
            "RegMix: LightGBM on (weights -> loss) history, best predicted mixture",
            exploring,
        ),
    ]
}


def get_policy(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise PolicyError(f"unknown mixture policy {name!r}; available: {', '.join(POLICIES)}") from None


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(root)"


def policy_config_errors(policy: str, config: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(field path, message) for every problem of ``config`` under ``policy``; [] when valid."""
    if policy not in POLICIES:
        return [("(policy)", f"unknown mixture policy {policy!r}; available: {', '.join(POLICIES)}")]
    try:
        POLICIES[policy].config_model.model_validate(dict(config or {}))
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            loc = _loc(err["loc"])
            if loc == "(root)" and ": " in msg:  # cross-field checks name their field first
                loc, msg = msg.split(": ", 1)
            if err["type"] == "extra_forbidden":
                if len(err["loc"]) == 1:
                    fields = ", ".join(POLICIES[policy].config_model.model_fields)
                    msg = f"unknown field for policy {policy!r}; fields: {fields}"
                else:
                    msg = "unknown field (check the spelling)"
            out.append((loc, msg))
        return out
    return []


def parse_policy_config(policy: str, config: Mapping[str, Any] | BaseModel | None) -> PolicyConfig:
    p = get_policy(policy)
    if isinstance(config, p.config_model):
        return config
    if isinstance(config, BaseModel):
        raise PolicyError(f"policy {policy!r} takes a {p.config_model.__name__}, got {type(config).__name__}")
    errors = policy_config_errors(policy, config)
    if errors:
        raise PolicyError(f"invalid config for mixture policy {policy!r}: " + "; ".join(f"{f}: {m}" for f, m in errors))
    return p.config_model.model_validate(dict(config or {}))


def policy_exploring(
    policy: str,
    history: Sequence[RoundResult],
    domains: Sequence[str],
    config: Mapping[str, Any] | BaseModel | None = None,
) -> bool:
    """Whether ``policy`` is still exploring after ``history`` (its rounds then are not expected to improve)."""
    p = get_policy(policy)
    return bool(p.exploring and p.exploring(list(history), list(domains), parse_policy_config(policy, config)))


def propose_weights(
    policy: str,
    history: Sequence[RoundResult],
    domains: Sequence[str],
    natural_weights: Mapping[str, float],
    config: Mapping[str, Any] | BaseModel | None = None,
    *,
    seed: int = 0,
    target: Target | None = None,
) -> dict[str, float]:
    """Run ``policy`` for ``target`` (default: average) and check its output.

    The weights must be finite, sum to 1 and give every domain at least the config's ``floor``.
    """
    if not domains:
        raise PolicyError("no domains to weight")
    cfg = parse_policy_config(policy, config)
    weights = get_policy(policy).propose(
        list(history), list(domains), dict(natural_weights), cfg, seed=seed, target=target or Target()
    )
    try:
        return validate_weights(weights, list(domains), floor=cfg.floor * (1 - 1e-9))
    except WeightsError as exc:  # a policy bug, not a user error
        raise PolicyError(f"policy {policy!r} produced invalid weights: {exc}") from exc


def initial_weights(
    initial: str | Mapping[str, float], domains: Sequence[str], natural_weights: Mapping[str, float]
) -> dict[str, float]:
    """The first mixture's weights from ``MixtureSpec.initial`` ("uniform", "natural" or explicit)."""
    if initial == "uniform":
        return propose_uniform([], domains, natural_weights, UniformConfig())
    if initial == "natural":
        return propose_natural([], domains, natural_weights, NaturalConfig())
    if isinstance(initial, Mapping):
        return validate_weights(initial, list(domains))
    raise PolicyError(f"mixture.initial must be 'uniform', 'natural' or a weight per domain, got {initial!r}")
