"""The ``regression`` weight policy: RegMix (Liu et al., ICLR 2025) over our own run history.

RegMix trains many small proxy models on random mixtures, fits a regressor from mixture
weights to validation loss (LightGBM, one model per target), then simulates a large
number of candidate mixtures, predicts their loss and averages the top-k candidates.

Here the "proxy runs" are the mixture versions the feedback loop has already evaluated
(:class:`~corpus.mixing.history.RoundResult`). While the history is shorter than
``min_history`` the policy explores: it proposes a Dirichlet sample around the prior
(natural weights), so the regressor has varied mixtures to learn from. Afterwards it
fits one regressor per domain of the target (held-out target domains included), predicts
the mixture's target (or, with ``config.target`` set, the average, worst or one domain's
loss) for candidates drawn from Dirichlets centred on the evaluated mixtures and on the
prior, and returns the mean of the ``top_k`` best candidates.

The LightGBM hyperparameters default to RegMix's (``learning_rate=0.01``, 1000 boosting
rounds, ``seed=42``, gbdt, L2 objective); ``min_data_in_leaf`` shrinks with a short
history, since LightGBM's default of 20 would make every prediction the mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.mixing.configs import LightGBMParams, RegressionConfig
from corpus.mixing.history import RoundResult
from corpus.mixing.target import Target
from corpus.mixing.weights import normalize

if TYPE_CHECKING:
    import lightgbm


def _lgb() -> Any:
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - lightgbm is a core dependency
        raise ImportError("the regression mixture policy needs lightgbm: pip install lightgbm==4.7.0") from exc
    return lightgbm


def fit_lightgbm(
    X: np.ndarray,
    y: np.ndarray,
    params: LightGBMParams | None = None,
    *,
    eval_set: tuple[np.ndarray, np.ndarray] | None = None,
    early_stopping_rounds: int | None = None,
) -> lightgbm.Booster:
    """One LightGBM regressor (weights -> loss).

    ``eval_set`` + ``early_stopping_rounds`` reproduce RegMix's notebook, which stops on
    the set it reports (3 rounds); leave them out for an honest held-out score.
    """
    lgb = _lgb()
    params = params or LightGBMParams()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    train = lgb.Dataset(X, y, params={"verbosity": -1})
    kwargs: dict[str, Any] = {}
    if eval_set is not None and early_stopping_rounds:
        kwargs["valid_sets"] = [
            lgb.Dataset(
                np.asarray(eval_set[0], dtype=np.float64), np.asarray(eval_set[1], dtype=np.float64), reference=train
            )
        ]
        kwargs["callbacks"] = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    return lgb.train(params.lgb_params(len(y)), train, num_boost_round=params.num_iterations, **kwargs)


def predict(booster: lightgbm.Booster, X: np.ndarray) -> np.ndarray:
    best = booster.best_iteration if booster.best_iteration and booster.best_iteration > 0 else None
    return np.asarray(booster.predict(np.asarray(X, dtype=np.float64), num_iteration=best))


class MixtureRegressor:
    """One LightGBM model per domain: mixture weights -> that domain's validation loss."""

    def __init__(self, domains: Sequence[str], params: LightGBMParams | None = None):
        self.domains = list(domains)
        self.params = params or LightGBMParams()
        self.models: dict[str, lightgbm.Booster] = {}

    def fit(self, X: np.ndarray, losses: Mapping[str, np.ndarray]) -> MixtureRegressor:
        for d in self.domains:
            y = np.asarray(losses[d], dtype=np.float64)
            ok = np.isfinite(y)
            if ok.sum() < 2:
                raise ValueError(
                    f"domain {d!r}: fewer than 2 finite validation losses in the history; cannot fit a regressor"
                )
            self.models[d] = fit_lightgbm(X[ok], y[ok], self.params)
        return self

    def predict_losses(self, X: np.ndarray) -> np.ndarray:
        """Predicted loss, shape (n_candidates, n_domains)."""
        return np.stack([predict(self.models[d], X) for d in self.domains], axis=1)

    def predict_objective(self, X: np.ndarray, target: str | Target) -> np.ndarray:
        losses = self.predict_losses(X)
        if isinstance(target, Target):
            if target.kind == "weighted":
                w = np.array([float(target.weights.get(d, 0.0)) for d in self.domains])
                return losses @ (w / w.sum())
            target = target.kind
        if target == "average":
            return losses.mean(axis=1)
        if target == "worst":
            return losses.max(axis=1)
        return losses[:, self.domains.index(target)]


def _dirichlet(rng: np.random.Generator, centre: np.ndarray, concentration: float, n: int) -> np.ndarray:
    alpha = np.maximum(centre * concentration * len(centre), 1e-3)
    return rng.dirichlet(alpha, size=n)


def exploring(history: Sequence[RoundResult], domains: Sequence[str], config: RegressionConfig) -> bool:
    """True while the history is too short to fit: proposals are exploration samples,
    expected to be worse than the best mixture so far (the feedback loop must not stop on that)."""
    usable = [r for r in history if all(np.isfinite(r.val_loss.get(d, np.nan)) for d in domains)]
    return len(usable) < config.min_history


def propose_regression(
    history: Sequence[RoundResult],
    domains: Sequence[str],
    natural_weights: Mapping[str, float],
    config: RegressionConfig,
    *,
    seed: int = 0,
    target: Target | None = None,
) -> dict[str, float]:
    """Explore while the history is short, then the RegMix pick (see module docstring)."""
    domains = list(domains)
    k = len(domains)
    seed = config.seed if config.seed is not None else seed
    prior = np.array([natural_weights[d] for d in domains]) if config.prior == "natural" else np.full(k, 1.0 / k)
    prior = prior / prior.sum()
    usable = [r for r in history if all(np.isfinite(r.val_loss.get(d, np.nan)) for d in domains)]
    rng = np.random.default_rng([seed, len(history)])
    if exploring(history, domains, config):
        sample = _dirichlet(rng, prior, config.explore_concentration, 1)[0]
        return normalize(dict(zip(domains, sample.tolist(), strict=True)), floor=config.floor)
    if config.target is not None:
        if config.target not in ("average", "worst") and config.target not in domains:
            raise ValueError(
                f"regression target {config.target!r} is not a domain; "
                f"use 'average', 'worst' or one of: {', '.join(domains)}"
            )
        goal, names = config.target, domains
    else:
        tgt = target or Target()
        names = tgt.domains(domains)
        goal = tgt
    usable = [r for r in usable if all(np.isfinite(r.val_loss.get(d, np.nan)) for d in names)]
    if len(usable) < 2:
        raise ValueError("regression: fewer than 2 evaluated versions have every target domain's loss")
    X = np.array([[r.weights.get(d, 0.0) for d in domains] for r in usable])
    losses = {d: np.array([r.val_loss[d] for r in usable]) for d in names}
    model = MixtureRegressor(names, config.lightgbm).fit(X, losses)
    observed = model.predict_objective(X, goal)
    centres = [prior, X[int(np.argmin(observed))], *X]
    per = max(1, config.n_candidates // (len(centres) * len(config.candidate_concentrations)))
    cands = [X]
    for centre in centres:
        for c in config.candidate_concentrations:
            cands.append(_dirichlet(rng, centre, c, per))
    candidates = np.concatenate(cands)
    scores = model.predict_objective(candidates, goal)
    top = np.argsort(scores, kind="stable")[: config.top_k]
    best = candidates[top].mean(axis=0)
    return normalize(dict(zip(domains, best.tolist(), strict=True)), floor=config.floor)
