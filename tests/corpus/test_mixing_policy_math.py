"""The math of the mixture target, the policies, the ADO-style reward and the uncertainty stopping rule."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from corpus.feedback import FeedbackState, NewVersion, Skip, decide
from corpus.metrics import MetricsRecord
from corpus.mixing.compare import compare_to_first
from corpus.mixing.history import RoundResult
from corpus.mixing.policies import ExcessLossConfig, propose_excess_loss, propose_weights
from corpus.mixing.target import Target, TargetError, domain_emphasis, held_out_share, target_loss, target_se
from corpus.proxy.online import OnlineSampler, OnlineSamplerConfig, bound_shift, fit_power_law, learnable_progress
from corpus.proxy.train import target_options
from corpus.spec import MixtureSpec, PathPolicy, SpecError, TargetSpec, load_spec

D = ["a", "b", "c"]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


# --- target ---------------------------------------------------------------------------


def test_target_values_and_standard_errors():
    loss = {"a": 2.0, "b": 3.0, "c": 4.0, "held": 5.0}
    se = {"a": 0.3, "b": 0.4, "c": 0.0, "held": 0.1}
    assert target_loss(loss, Target("average"), D) == pytest.approx(3.0)
    assert target_loss(loss, Target("worst"), D) == 4.0
    w = Target("weighted", {"a": 1.0, "held": 3.0})
    assert target_loss(loss, w, D) == pytest.approx((2.0 + 15.0) / 4)
    assert w.held_out(D) == ["held"]
    assert target_se(loss, se, Target("average"), D) == pytest.approx(math.sqrt(0.09 + 0.16) / 3)
    assert target_se(loss, se, Target("worst"), D) == 0.0  # the worst domain's own error
    assert target_se(loss, se, w, D) == pytest.approx(math.sqrt((0.25 * 0.3) ** 2 + (0.75 * 0.1) ** 2))
    assert target_se(loss, None, Target("average"), D) == math.inf
    with pytest.raises(TargetError, match="held"):
        target_loss({"a": 1.0}, Target("weighted", {"a": 1.0, "held": 1.0}), D)
    with pytest.raises(TargetError, match="weights"):
        Target("weighted", {})


def test_emphasis_follows_the_target():
    loss = {"a": 2.0, "b": 5.0, "c": 3.0}
    assert domain_emphasis(loss, Target("average"), D) == pytest.approx({d: 1 / 3 for d in D})
    assert domain_emphasis(loss, Target("worst"), D) == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert domain_emphasis(loss, Target("weighted", {"a": 1.0, "c": 3.0, "held": 9.0}), D) == pytest.approx(
        {"a": 0.25, "b": 0.0, "c": 0.75}
    )


def test_spec_target_is_validated():
    assert MixtureSpec(target={"kind": "weighted", "weights": {"a": 1.0}}).target.kind == "weighted"
    with pytest.raises(ValueError, match="needs weights"):
        TargetSpec(kind="weighted")
    with pytest.raises(ValueError, match="only a weighted target"):
        TargetSpec(kind="worst", weights={"a": 1.0})


def test_spec_target_naming_an_unknown_source_is_an_error(tmp_path):
    (tmp_path / "data").mkdir()
    data = {
        "pipeline": "p",
        "sources": [{"name": "web", "location": "data/web", "format": "text"}],
        "mixture": {"target": {"kind": "weighted", "weights": {"nope": 1.0}}},
    }
    with pytest.raises(SpecError) as exc:
        load_spec(data, PathPolicy.default(tmp_path))
    issues = {i.field: i.message for i in exc.value.issues}
    assert "nope" in issues["mixture.target.weights"]


# --- excess_loss (DoReMi with a reference) -----------------------------------------------


def test_excess_loss_with_a_reference_is_the_exponentiated_excess():
    hist = [
        RoundResult(version="m0001", weights={"a": 0.5, "b": 0.25, "c": 0.25}, val_loss={"a": 3.0, "b": 2.5, "c": 2.0})
    ]
    cfg = ExcessLossConfig(
        reference="given", reference_losses={"a": 2.8, "b": 2.0, "c": 2.0}, step_size=2.0, smoothing=0.0, floor=0.0
    )
    w = propose_excess_loss(hist, D, {}, cfg)
    raw = {"a": 0.5 * math.exp(2.0 * 0.2), "b": 0.25 * math.exp(2.0 * 0.5), "c": 0.25}
    total = sum(raw.values())
    assert w == pytest.approx({d: v / total for d, v in raw.items()})


def test_excess_loss_weighted_target_does_not_push_untargeted_domains():
    hist = [RoundResult(version="m0001", weights={d: 1 / 3 for d in D}, val_loss={"a": 3.0, "b": 3.0, "c": 3.0})]
    cfg = {"reference": "given", "reference_losses": {"a": 2.0, "b": 2.0, "c": 2.0}, "smoothing": 0.0, "floor": 0.0}
    w = propose_weights("excess_loss", hist, D, {}, cfg, target=Target("weighted", {"a": 1.0}))
    # only a counts: a's excess is 3 x 1 nat, b and c get none
    assert w["a"] == pytest.approx(math.exp(3.0) / (math.exp(3.0) + 2))
    assert w["b"] == pytest.approx(w["c"])


def test_regression_optimises_a_held_out_target_domain():
    rng = np.random.default_rng(0)
    hist = []
    for i in range(12):
        x = rng.dirichlet(np.ones(3))
        w = dict(zip(D, x.tolist(), strict=True))
        # the held-out domain is learnt from a only; the trained domains prefer balance
        losses = {"a": 3 - x[0], "b": 3 - x[1], "c": 3 - x[2], "held": 4 - 2 * x[0]}
        hist.append(RoundResult(version=f"m{i + 1:04d}", weights=w, val_loss=losses))
    cfg = {"min_history": 4, "n_candidates": 2000, "top_k": 20, "lightgbm": {"num_iterations": 200}}
    held = propose_weights("regression", hist, D, {d: 1 / 3 for d in D}, cfg, target=Target("weighted", {"held": 1.0}))
    assert held["a"] > 0.6


# --- the ADO-style online reward ---------------------------------------------------------


def test_power_law_fit_and_learnable_progress():
    n = np.linspace(1_000, 200_000, 30)
    fit = fit_power_law(n, 1.5 + 4.0 * n**-0.3)
    assert fit == pytest.approx((1.5, 4.0, 0.3), rel=1e-3)
    assert learnable_progress(10_000, fit) == pytest.approx(0.3 * 4.0 * 10_000**-0.3, rel=1e-3)
    assert fit_power_law(np.array([1.0, 2.0]), np.array([3.0, 2.0])) is None  # too few points


def test_progress_reward_moves_weight_to_the_domain_still_learning():
    sampler = OnlineSampler(
        ["learning", "flat"],
        {"learning": 0.5, "flat": 0.5},
        OnlineSamplerConfig(reward="progress", floor=0.02, min_points=3, max_shift=1.0),
        tokens_per_sequence=100,
    )
    for step in range(1, 30):
        dom = np.array([0, 1] * 8)
        n = step * 800.0
        sampler.observe(dom, np.where(dom == 0, 2.0 + 3.0 * n**-0.4, 5.0))  # flat: high loss, nothing to learn
        sampler.update(step)
    w = sampler.weights_dict()
    assert w["learning"] > 0.8
    loss_sampler = OnlineSampler(
        ["learning", "flat"], {"learning": 0.5, "flat": 0.5}, OnlineSamplerConfig(reward="loss", max_shift=1.0)
    )
    for step in range(1, 30):
        dom = np.array([0, 1] * 8)
        loss_sampler.observe(dom, np.where(dom == 0, 2.0 + 3.0 * (step * 800.0) ** -0.4, 5.0))
        loss_sampler.update(step)
    assert loss_sampler.weights_dict()["flat"] > 0.8  # raw loss favours the flat, hard domain


def test_held_out_share_of_a_target():
    assert held_out_share(Target("average"), D) == 0.0 and held_out_share(Target("worst"), D) == 0.0
    assert held_out_share(Target("weighted", {"a": 1.0, "b": 1.0, "held": 2.0, "zero": 0.0}), D) == pytest.approx(0.5)
    assert held_out_share(Target("weighted", {"held": 1.0}), D) == 1.0


def test_bound_shift_keeps_the_weights_within_the_trust_region():
    prior = np.array([0.5, 0.25, 0.25])
    p = np.array([0.9, 0.05, 0.05])  # total-variation distance 0.4 from the prior
    out = bound_shift(p, prior, 0.1)
    assert 0.5 * np.abs(out - prior).sum() == pytest.approx(0.1)
    assert out.sum() == pytest.approx(1.0) and (out >= 0).all()
    assert out == pytest.approx(prior + 0.25 * (p - prior))  # on the segment from the prior to p
    assert bound_shift(p, prior, 0.5) is p  # inside the region: unchanged
    assert bound_shift(p, prior, 0.0) == pytest.approx(prior)


def _drive(sampler: OnlineSampler, steps: int = 30) -> dict[str, float]:
    for step in range(1, steps):
        dom = np.array([0, 1, 2] * 6)
        sampler.observe(dom, np.where(dom == 2, 5.0, 2.0))  # domain c: high training loss
        sampler.update(step)
    return sampler.weights_dict()


@pytest.mark.parametrize("reward", ["loss", "progress"])
def test_online_sampler_keeps_the_held_out_share_at_the_prior(reward):
    """A target half on an untrained domain: half of the mixture stays at the prior, whatever the reward."""
    prior = {"a": 0.5, "b": 0.3, "c": 0.2}
    cfg = OnlineSamplerConfig(reward=reward, step_size=5.0, floor=0.0, min_points=3, max_shift=1.0)
    free = _drive(OnlineSampler(D, prior, cfg, tokens_per_sequence=100))
    held = _drive(OnlineSampler(D, prior, cfg, tokens_per_sequence=100, held_out_share=0.5))
    assert all(held[d] >= 0.5 * prior[d] - 1e-12 for d in D)
    assert held["c"] > prior["c"]  # the trained half still follows the reward
    if reward == "loss":  # memoryless given the rewards: exactly half the free weights, half the prior
        assert held == pytest.approx({d: 0.5 * free[d] + 0.5 * prior[d] for d in D}, abs=1e-6)
    assert _drive(OnlineSampler(D, prior, cfg, tokens_per_sequence=100, held_out_share=1.0)) == pytest.approx(prior)
    with pytest.raises(ValueError, match="held_out_share"):
        OnlineSampler(D, prior, cfg, held_out_share=1.5)


def test_online_sampler_trust_region_bounds_its_move_from_the_prior():
    prior = {d: 1 / 3 for d in D}
    free = _drive(OnlineSampler(D, prior, OnlineSamplerConfig(reward="loss", step_size=5.0, floor=0.0, max_shift=1.0)))
    bounded = _drive(OnlineSampler(D, prior, OnlineSamplerConfig(reward="loss", step_size=5.0, floor=0.0)))
    tv = 0.5 * sum(abs(bounded[d] - prior[d]) for d in D)
    assert 0.5 * sum(abs(free[d] - prior[d]) for d in D) > 0.5  # unbounded, the loss reward runs to c
    assert tv == pytest.approx(OnlineSamplerConfig().max_shift)
    assert bounded["c"] > prior["c"]  # still moved the right way


def test_trainer_options_carry_the_target_to_the_online_sampler():
    opts = target_options(Target("weighted", {"a": 1.0, "held": 1.0}), ["a", "b"], n_evals=2)
    assert opts.target_held_out_share == 0.5 and opts.target_emphasis == {"a": 1.0, "b": 0.0} and opts.n_evals == 2
    spec_target = TargetSpec(kind="weighted", weights={"a": 3.0, "b": 1.0})
    assert target_options(spec_target, ["a", "b"]).target_emphasis == {"a": 0.75, "b": 0.25}
    default = target_options(None, D)
    assert default.target_held_out_share == 0.0 and default.target_emphasis == {d: 1 / 3 for d in D}


def test_excess_loss_keeps_the_held_out_share_at_the_latest_weights():
    base = {"a": 0.5, "b": 0.25, "c": 0.25}
    hist = [RoundResult(version="m0001", weights=base, val_loss={"a": 3.0, "b": 2.5, "c": 2.0, "held": 4.0})]
    cfg = {"reference": "given", "reference_losses": {"a": 2.8, "b": 2.0, "c": 2.0}, "smoothing": 0.0, "floor": 0.0}
    trained_only = propose_weights("excess_loss", hist, D, {}, cfg, target=Target("weighted", {d: 1.0 for d in D}))
    half_held = Target("weighted", {"a": 1.0, "b": 1.0, "c": 1.0, "held": 3.0})
    w = propose_weights("excess_loss", hist, D, {}, cfg, target=half_held)
    assert w == pytest.approx({d: 0.5 * trained_only[d] + 0.5 * base[d] for d in D})
    assert propose_weights("excess_loss", hist, D, {}, cfg, target=Target("weighted", {"held": 1.0})) == (
        pytest.approx(base)
    )


# --- the uncertainty stopping rule ---------------------------------------------------------


def _rec(version: str, loss: float, se: float | None, minutes: int) -> MetricsRecord:
    return MetricsRecord(
        run_id=f"run-{version}",
        pipeline="demo",
        mixture_version=version,
        step=10,
        tokens_seen=1000,
        val_loss={"a": loss + 0.2, "b": loss, "c": loss - 0.2},
        val_loss_se=None if se is None else {d: se for d in D},
        finished=True,
        created_at=T0 + timedelta(minutes=minutes),
    )


def _two_versions(spec: MixtureSpec, second: float, se: float | None):
    d1 = decide([], FeedbackState(), spec, D, {d: 1 / 3 for d in D}, pipeline="demo")
    recs = [_rec("m0001", 3.0, se, 0)]
    d2 = decide(recs, d1.state, spec, D, {d: 1 / 3 for d in D}, pipeline="demo")
    assert isinstance(d2, NewVersion) and d2.version == "m0002"
    recs.append(_rec("m0002", second, se, 1))
    return decide(recs, d2.state, spec, D, {d: 1 / 3 for d in D}, pipeline="demo")


def test_stop_rule_compares_the_improvement_with_its_standard_error():
    spec = MixtureSpec(policy="excess_loss", rounds=5, stop_within_se=2.0)
    # average-target SE per version = sqrt(3) * 0.03 / 3 = 0.0173; of the difference: 0.0245; 2 SE = 0.049
    small = _two_versions(spec, 2.97, 0.03)
    assert isinstance(small, Skip) and small.reason.startswith("no improvement beyond the evaluation noise")
    assert "2.0 x SE 0.0245" in small.reason
    large = _two_versions(spec, 2.90, 0.03)
    assert isinstance(large, NewVersion) and large.version == "m0003"


def test_stop_rule_without_standard_errors_leaves_the_decision_to_rounds():
    spec = MixtureSpec(policy="excess_loss", rounds=5, stop_within_se=2.0)
    assert isinstance(_two_versions(spec, 2.999, None), NewVersion)


def test_stop_rule_adds_the_seed_spread():
    # the same +0.1 improvement: beyond 2 evaluation SEs, but not beyond 2 SE once a seed sd of 0.05 is added
    assert isinstance(
        _two_versions(MixtureSpec(policy="excess_loss", rounds=5, stop_within_se=2.0), 2.90, 0.03), NewVersion
    )
    noisy = _two_versions(MixtureSpec(policy="excess_loss", rounds=5, stop_within_se=2.0, seed_sd=0.05), 2.90, 0.03)
    assert isinstance(noisy, Skip) and "no improvement beyond the evaluation and seed noise" in noisy.reason
    only_seed = _two_versions(MixtureSpec(policy="excess_loss", rounds=5, stop_within_se=2.0, seed_sd=0.05), 2.99, None)
    assert isinstance(only_seed, Skip)  # no val_loss_se, but the seed spread alone judges


def test_stop_rule_uses_the_named_target():
    spec = MixtureSpec(policy="excess_loss", rounds=5, min_improvement=0.05, target={"kind": "worst"})
    d = _two_versions(spec, 2.9, None)
    assert isinstance(d, NewVersion)  # worst went 3.0 -> 2.9: improvement 0.1 >= 0.05


# --- version comparison (demo table) ------------------------------------------------------


def test_compare_to_first_interval_and_verdicts():
    def r(v, loss, se):
        return RoundResult(
            version=v, weights={d: 1 / 3 for d in D}, val_loss={d: loss for d in D}, val_loss_se={d: se for d in D}
        )

    rows = compare_to_first(
        [r("m0001", 3.0, 0.03), r("m0002", 2.99, 0.03), r("m0003", 2.8, 0.03)], Target("average"), D
    )
    se = math.sqrt(3) * 0.03 / 3
    half = 1.959964 * math.hypot(se, se)
    assert rows[1].diff == pytest.approx(-0.01) and rows[1].high - rows[1].low == pytest.approx(2 * half, rel=1e-5)
    assert rows[1].verdict == "no difference shown"
    assert rows[2].verdict == "better than the first version"
    wider = compare_to_first([r("m0001", 3.0, 0.03), r("m0003", 2.8, 0.03)], Target("average"), D, seed_sd=0.2)
    assert wider[1].verdict == "no difference shown"  # half width 1.96 * sqrt(2 * 0.0173^2 + 2 * 0.2^2) > 0.2
    no_se = compare_to_first([r("m0001", 3.0, math.inf), r("m0002", 2.0, math.inf)], Target("average"), D)
    assert no_se[1].verdict.startswith("no interval")
