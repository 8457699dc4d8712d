"""Mixture sampler (budget, repetition cap, val never sampled, determinism) and weight policies."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from corpus.mixing.domain_tokens import DomainTokens, SamplerError, natural_weights, validation_tokens
from corpus.mixing.policies import (
    RoundResult,
    initial_weights,
    policy_config_errors,
    propose_weights,
)
from corpus.mixing.regression import MixtureRegressor, RegressionConfig
from corpus.mixing.sampler import MixturePlan, allocate_tokens, document_ranges, materialize, plan_mixture
from corpus.spec import PipelineSpec, validate_spec
from corpus.tokenize import assign_split, token_shard_table

VAL_TOKEN = 999  # only validation documents contain this id


def make_domain(
    name: str, n_docs: int, doc_len: tuple[int, int], seed: int, val_fraction: float = 0.1
) -> tuple[list[str], list[np.ndarray], list[str]]:
    rng = np.random.default_rng(seed)
    ids = [f"{name}-{i:04d}" for i in range(n_docs)]
    splits = assign_split(ids, val_fraction, 2, 1000)
    arrays = []
    for split in splits:
        n = int(rng.integers(*doc_len))
        arr = rng.integers(1, 900, size=n).astype(np.uint16)
        if split == "val":
            arr[:] = VAL_TOKEN
        arr[-1] = 0  # separator
        arrays.append(arr)
    return ids, arrays, splits


@pytest.fixture(scope="module")
def raw():
    return {
        "web": make_domain("web", 300, (50, 400), 1),
        "code": make_domain("code", 120, (100, 800), 2),
        "tiny": make_domain("tiny", 12, (20, 60), 3, val_fraction=0.2),
    }


@pytest.fixture(scope="module")
def domains(raw):
    return {d: DomainTokens.from_arrays(d, *raw[d]) for d in raw}


def test_budget_is_honoured_in_proportion(domains):
    weights = {"web": 0.5, "code": 0.4, "tiny": 0.1}
    plan = plan_mixture(domains, weights, 20_000, max_epochs=10, seed=0)
    assert plan.total_tokens == 20_000 and not plan.capped and not plan.notes
    for d, w in weights.items():
        assert abs(plan.domains[d].tokens - w * 20_000) <= 1
        assert plan.domains[d].effective_weight == pytest.approx(w, abs=1e-4)
    streams = materialize(plan, domains)
    assert {d: len(s) for d, s in streams.items()} == {d: plan.domains[d].tokens for d in domains}


def test_cap_binding_is_reported_not_hidden(domains):
    tiny_avail = domains["tiny"].index.available_tokens
    weights = {"web": 0.4, "code": 0.3, "tiny": 0.3}
    budget = 30_000
    plan = plan_mixture(domains, weights, budget, max_epochs=2, seed=0)
    tiny = plan.domains["tiny"]
    assert plan.capped == ["tiny"] and tiny.cap_binding
    assert tiny.tokens == 2 * tiny_avail < 0.3 * budget
    assert tiny.epochs == pytest.approx(2.0)
    assert plan.requested_weights["tiny"] == 0.3
    assert plan.effective_weights["tiny"] == pytest.approx(tiny.tokens / budget)
    assert any("tiny" in n and "max_epochs=2" in n for n in plan.notes)
    # redistribute: budget still met, the shortfall shared 4:3 by the others
    assert plan.total_tokens == budget
    extra_web = plan.domains["web"].tokens - 0.4 * budget
    extra_code = plan.domains["code"].tokens - 0.3 * budget
    assert extra_web / extra_code == pytest.approx(4 / 3, rel=1e-3)
    # shrink: the others keep their share, the run is smaller
    shrunk = plan_mixture(domains, weights, budget, max_epochs=2, seed=0, cap_policy="shrink")
    assert shrunk.total_tokens < budget and shrunk.domains["web"].tokens == 0.4 * budget
    assert materialize(shrunk, domains)["tiny"].size == 2 * tiny_avail


def test_every_domain_capped_reports_the_shortfall(domains):
    plan = plan_mixture(domains, {"web": 0.3, "code": 0.3, "tiny": 0.4}, 10_000_000, max_epochs=1.5, seed=0)
    assert set(plan.capped) == {"web", "code", "tiny"}
    assert plan.total_tokens < 10_000_000
    assert any("every weighted domain reached its repetition cap" in n for n in plan.notes)
    assert sum(plan.effective_weights.values()) == pytest.approx(1.0)


def test_validation_documents_are_never_sampled(domains, raw):
    plan = plan_mixture(domains, {"web": 0.2, "code": 0.2, "tiny": 0.6}, 50_000, max_epochs=50, seed=3)
    assert plan.domains["tiny"].epochs > 10
    streams = materialize(plan, domains)
    for d, stream in streams.items():
        assert not (stream == VAL_TOKEN).any()
        val_ids = set(domains[d].index.val_ids)
        assert val_ids and not val_ids & {r[0] for r in document_ranges(plan, d, domains[d].index)}
    val = validation_tokens(domains, max_tokens=500)
    for stream in val.values():
        assert 0 < len(stream) <= 500
        assert set(np.unique(stream).tolist()) <= {VAL_TOKEN, 0}


def test_plan_is_deterministic_and_layout_independent(domains, raw):
    weights = {"web": 0.5, "code": 0.3, "tiny": 0.2}
    a = plan_mixture(domains, weights, 25_000, max_epochs=4, seed=7)
    b = plan_mixture(domains, weights, 25_000, max_epochs=4, seed=7)
    assert a.to_json() == b.to_json()
    # same documents in other shards and another row order: same plan, same stream
    ids, arrays, splits = raw["web"]
    order = np.random.default_rng(0).permutation(len(ids))
    tables = [
        token_shard_table([ids[i] for i in part], "web", [splits[i] for i in part], [arrays[i] for i in part])
        for part in np.array_split(order, 3)
    ]
    relaid = dict(domains, web=DomainTokens.from_tables("web", tables))
    c = plan_mixture(relaid, weights, 25_000, max_epochs=4, seed=7)
    assert c.to_json() == a.to_json()
    for d in weights:
        assert np.array_equal(materialize(a, domains)[d], materialize(c, relaid)[d])
    other = plan_mixture(domains, weights, 25_000, max_epochs=4, seed=8)
    assert not np.array_equal(materialize(other, domains)["web"], materialize(a, domains)["web"])


def test_plan_json_round_trip_and_exact_ranges(domains):
    plan = plan_mixture(domains, {"web": 0.6, "code": 0.3, "tiny": 0.1}, 12_345, max_epochs=4, seed=1, version="m0002")
    back = MixturePlan.from_json(plan.to_json())
    assert back == plan and back.version == "m0002"
    web = plan.domains["web"]
    ranges = list(document_ranges(plan, "web", domains["web"].index))
    assert sum(end - start for _, start, end in ranges) == web.tokens
    assert ranges[-1][2] == web.partial_tail_tokens or web.partial_tail_tokens == 0
    assert len({r[0] for r in ranges}) == len(ranges)  # under one epoch: no document twice


def test_epochs_visit_every_document_before_repeating(domains):
    avail = domains["code"].index.available_tokens
    plan = plan_mixture(domains, {"web": 0.0, "code": 1.0, "tiny": 0.0}, int(2.5 * avail), max_epochs=3, seed=0)
    code = plan.domains["code"]
    assert code.full_epochs == 2 and 0 < code.epochs - 2 < 1
    ranges = [r[0] for r in document_ranges(plan, "code", domains["code"].index)]
    n = code.train_docs
    assert sorted(ranges[:n]) == sorted(ranges[n : 2 * n]) == sorted(domains["code"].index.train_ids)
    assert ranges[:n] != ranges[n : 2 * n]  # each epoch in its own order


def test_parquet_source_matches_in_memory(domains, raw, tmp_path):
    ids, arrays, splits = raw["code"]
    paths = []
    for i, part in enumerate(np.array_split(np.arange(len(ids)), 2)):
        path = tmp_path / f"part-{i:05d}.parquet"
        pq.write_table(
            token_shard_table([ids[j] for j in part], "code", [splits[j] for j in part], [arrays[j] for j in part]),
            path,
        )
        paths.append(str(path))
    from_files = DomainTokens.from_parquet("code", paths)
    assert from_files.index.digest() == domains["code"].index.digest()
    weights = {"web": 0.3, "code": 0.5, "tiny": 0.2}
    mixed = dict(domains, code=from_files)
    a, b = (
        plan_mixture(domains, weights, 9_000, max_epochs=4, seed=0),
        plan_mixture(mixed, weights, 9_000, max_epochs=4, seed=0),
    )
    assert a == b
    assert np.array_equal(materialize(a, domains)["code"], materialize(b, mixed)["code"])


def test_changed_documents_invalidate_a_plan(domains, raw):
    plan = plan_mixture(domains, {"web": 0.5, "code": 0.3, "tiny": 0.2}, 5_000, max_epochs=4, seed=0)
    ids, arrays, splits = raw["tiny"]
    drop = splits.index("train")  # remove one training document
    keep = [i for i in range(len(ids)) if i != drop]
    changed = dict(
        domains,
        tiny=DomainTokens.from_arrays(
            "tiny", [ids[i] for i in keep], [arrays[i] for i in keep], [splits[i] for i in keep]
        ),
    )
    with pytest.raises(SamplerError, match="'tiny': its training documents changed since plan"):
        materialize(plan, changed)


def test_bad_inputs_fail_with_clear_errors(domains):
    with pytest.raises(SamplerError, match="sum to"):
        plan_mixture(domains, {"web": 0.5, "code": 0.3, "tiny": 0.1}, 1000, max_epochs=1, seed=0)
    with pytest.raises(SamplerError, match="missing domains: tiny"):
        plan_mixture(domains, {"web": 0.5, "code": 0.5}, 1000, max_epochs=1, seed=0)
    bad = DomainTokens.from_tables(
        "x", [token_shard_table(["a"], "x", ["train"], [np.array([1, 2], np.uint16)]).drop_columns(["split"])]
    )
    with pytest.raises(SamplerError, match="missing column"):
        _ = bad.index


def test_allocate_tokens_water_fills():
    tokens, capped = allocate_tokens({"a": 0.5, "b": 0.3, "c": 0.2}, {"a": 10, "b": 10**9, "c": 10**9}, 1000)
    assert tokens["a"] == 10 and capped == ["a"]
    assert sum(tokens.values()) == 1000 and tokens["b"] / tokens["c"] == pytest.approx(1.5, rel=0.01)


def test_natural_weights_are_token_proportional(domains):
    nat = natural_weights(domains)
    total = sum(dt.index.available_tokens for dt in domains.values())
    for d, dt in domains.items():
        assert nat[d] == pytest.approx(dt.index.available_tokens / total)


# --- policies ---------------------------------------------------------------------------

DOMAINS = ["web", "code", "math", "lit"]
NATURAL = {"web": 0.6, "code": 0.25, "math": 0.1, "lit": 0.05}


def check_weights(w: dict[str, float], floor: float = 0.0) -> None:
    assert list(w) == DOMAINS
    assert all(math.isfinite(v) and v >= floor - 1e-12 for v in w.values())
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-9)


def test_uniform_and_natural():
    uni = propose_weights("uniform", [], DOMAINS, NATURAL)
    assert all(v == pytest.approx(0.25) for v in uni.values())
    nat = propose_weights("natural", [], DOMAINS, NATURAL)
    assert nat == pytest.approx(NATURAL)
    flat = propose_weights("natural", [], DOMAINS, NATURAL, {"temperature": 3.0})
    check_weights(flat)
    assert flat["lit"] > NATURAL["lit"] and flat["web"] < NATURAL["web"]
    assert flat["web"] > flat["code"] > flat["math"] > flat["lit"]  # order kept
    floored = propose_weights("natural", [], DOMAINS, {**NATURAL, "lit": 0.0, "web": 0.65}, {"floor": 0.05})
    check_weights(floored, 0.05)


def test_excess_loss_moves_weight_to_high_excess_domains():
    ref = {"web": 3.0, "code": 2.0, "math": 2.5, "lit": 4.0}
    latest = RoundResult(version="m0002", weights=NATURAL, val_loss={"web": 3.05, "code": 2.0, "math": 3.5, "lit": 4.0})
    cfg = {"reference": "given", "reference_losses": ref, "floor": 0.0, "smoothing": 0.0}
    w = propose_weights("excess_loss", [latest], DOMAINS, NATURAL, cfg)
    check_weights(w)
    assert w["math"] > 2 * NATURAL["math"]  # excess 1.0 nat -> e times more, before normalization
    assert w["code"] < NATURAL["code"] and w["lit"] < NATURAL["lit"]
    assert w["math"] / w["code"] == pytest.approx(math.e * NATURAL["math"] / NATURAL["code"], rel=1e-6)
    assert w["web"] / w["code"] == pytest.approx(math.exp(0.05) * NATURAL["web"] / NATURAL["code"], rel=1e-6)
    # a bigger step moves further; the floor holds
    w2 = propose_weights("excess_loss", [latest], DOMAINS, NATURAL, {**cfg, "step_size": 3.0, "floor": 0.02})
    check_weights(w2, 0.02)
    assert w2["math"] > w["math"]


def test_excess_loss_against_the_first_round():
    first = RoundResult(version="m0001", weights=NATURAL, val_loss={"web": 3.0, "code": 2.0, "math": 2.5, "lit": 5.0})
    # only the reference round so far: bootstrap with the loss above the mean (3.125)
    w = propose_weights("excess_loss", [first], DOMAINS, NATURAL)
    check_weights(w, 0.01)
    assert w["lit"] > NATURAL["lit"] and w["code"] < NATURAL["code"]
    assert propose_weights(
        "excess_loss", [first], DOMAINS, NATURAL, {"bootstrap": "keep", "smoothing": 0.0, "floor": 0.0}
    ) == pytest.approx(NATURAL)
    # second round: math got worse than in the reference round -> it gains weight
    second = RoundResult(version="m0002", weights=w, val_loss={"web": 2.9, "code": 2.1, "math": 2.9, "lit": 4.0})
    w3 = propose_weights("excess_loss", [first, second], DOMAINS, NATURAL)
    check_weights(w3, 0.01)
    assert w3["math"] / w["math"] > w3["web"] / w["web"]
    assert w3["math"] / w["math"] > w3["lit"] / w["lit"]


def true_losses(weights: np.ndarray) -> np.ndarray:
    """A synthetic mixing law: each domain's loss falls with its own weight and a bit with related ones."""
    base = np.array([3.0, 2.0, 2.5, 4.0])
    gain = np.array([0.3, 0.5, 0.6, 0.2])
    transfer = 0.1 * weights[..., [1, 0, 1, 0]]  # web<->lit-ish, code<->math transfer
    return base - gain * np.log(weights + 0.01) * 0.5 - transfer


def test_regression_explores_then_picks_a_predicted_better_mixture():
    rng = np.random.default_rng(0)
    cfg = RegressionConfig(min_history=4, n_candidates=5000, floor=0.0, seed=11)
    # short history: exploration, deterministic per round, different across rounds
    first = RoundResult(
        version="m0001",
        weights=NATURAL,
        val_loss=dict(zip(DOMAINS, true_losses(np.array(list(NATURAL.values()))).tolist(), strict=True)),
    )
    e1 = propose_weights("regression", [first], DOMAINS, NATURAL, cfg)
    assert e1 == propose_weights("regression", [first], DOMAINS, NATURAL, cfg)
    assert e1 != propose_weights("regression", [first, first], DOMAINS, NATURAL, cfg)
    check_weights(e1)
    # long history of random mixtures: fit and pick
    X = rng.dirichlet(np.ones(4), size=60)
    Y = true_losses(X)
    history = [
        RoundResult(
            version=f"m{i + 1:04d}",
            weights=dict(zip(DOMAINS, x.tolist(), strict=True)),
            val_loss=dict(zip(DOMAINS, y.tolist(), strict=True)),
        )
        for i, (x, y) in enumerate(zip(X, Y, strict=True))
    ]
    w = propose_weights("regression", history, DOMAINS, NATURAL, cfg)
    check_weights(w)
    picked = np.array([w[d] for d in DOMAINS])
    model = MixtureRegressor(DOMAINS, cfg.lightgbm).fit(X, {d: Y[:, i] for i, d in enumerate(DOMAINS)})
    predicted_pick = model.predict_objective(picked[None, :], "average")[0]
    predicted_history = model.predict_objective(X, "average")
    assert predicted_pick <= np.quantile(predicted_history, 0.1)
    true_pick = true_losses(picked).mean()
    assert true_pick < np.median(Y.mean(axis=1))
    assert true_pick < Y.mean(axis=1).min() + 0.05
    # target a single domain: weight goes to it
    w_code = propose_weights("regression", history, DOMAINS, NATURAL, cfg.model_copy(update={"target": "code"}))
    assert w_code["code"] > w["code"]


def test_policy_config_errors_name_the_field():
    assert policy_config_errors("excess_loss", {}) == []
    assert policy_config_errors("regression", {"top_k": 10, "lightgbm": {"learning_rate": 0.05}}) == []
    errs = dict(policy_config_errors("excess_loss", {"step": 1, "floor": 2}))
    assert "unknown field" in errs["step"] and "floor" in errs
    assert dict(policy_config_errors("excess_loss", {"reference": "given"}))["reference_losses"].startswith(
        "reference 'given' needs"
    )
    assert "lightgbm.num_leaves" in dict(policy_config_errors("regression", {"lightgbm": {"num_leaves": 1}}))
    assert policy_config_errors("magic", {})[0][1].startswith(
        "unknown mixture policy 'magic'; available: uniform, natural"
    )


def test_spec_validation_reports_policy_config_fields():
    spec = PipelineSpec.model_validate(
        {
            "pipeline": "demo",
            "sources": [{"name": "web", "location": "data/web", "format": "text"}],
            "mixture": {"policy": "excess_loss", "policy_config": {"step_size": -1}},
        }
    )
    issues = {i.field: i.message for i in validate_spec(spec)}
    assert "mixture.policy_config.step_size" in issues


def test_initial_weights_from_spec_values():
    assert initial_weights("uniform", DOMAINS, NATURAL) == pytest.approx(dict.fromkeys(DOMAINS, 0.25))
    assert initial_weights("natural", DOMAINS, NATURAL) == pytest.approx(NATURAL)
    assert initial_weights(NATURAL, DOMAINS, NATURAL) == NATURAL
