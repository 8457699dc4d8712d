"""Selection at mixing time: rules restrict training documents, never validation ones; the plan follows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xxhash

from corpus.mixing.domain_tokens import DomainIndex, DomainTokens, SamplerError
from corpus.mixing.sampler import MixturePlan, document_ranges, epoch_order, materialize, plan_mixture
from corpus.mixing.selection import SelectionRule, apply_selection


def _domain(name: str, n: int = 20) -> DomainTokens:
    ids = [f"{name}{i:02d}" for i in range(n)]
    arrays = [np.full(10, i, dtype=np.uint16) for i in range(n)]
    splits = ["val" if i < 2 else "train" for i in range(n)]
    return DomainTokens.from_arrays(name, ids, arrays, splits)


def test_top_fraction_keeps_the_best_training_documents_and_every_validation_one():
    dom = _domain("a")
    scores = {f"a{i:02d}": float(i) for i in range(20)}  # higher id, higher score
    out, summary = apply_selection(
        {"a": dom}, {"a": SelectionRule(column="score/quality", mode="top_fraction", value=0.25)}, {"a": scores}
    )
    idx = out["a"].index
    assert set(idx.train_ids) == {
        "a15",
        "a16",
        "a17",
        "a18",
        "a19",
    }  # 25% of 18 docs x 10 tokens -> 45 tokens -> 5 docs
    assert idx.val_ids == dom.index.val_ids
    assert summary["a"]["kept_docs"] == 5 and summary["a"]["rule"]["column"] == "score/quality"
    plan = plan_mixture(out, {"a": 1.0}, 100, max_epochs=10, seed=0)
    stream = materialize(plan, out)["a"]
    assert set(np.unique(stream).tolist()) <= {15, 16, 17, 18, 19}


def test_threshold_and_weight_modes():
    dom = _domain("a")
    scores = {f"a{i:02d}": i / 19 for i in range(20)}
    out, s = apply_selection(
        {"a": dom}, {"a": SelectionRule(column="score/lm", mode="threshold", value=0.5)}, {"a": scores}
    )
    assert min(int(i[1:]) for i in out["a"].index.train_ids) == 10 and s["a"]["kept_docs"] == 10
    # weight: every positive weight stays eligible (with its weight), weight 0 and missing never
    weights = {f"a{i:02d}": (0.0 if i % 5 == 0 else i / 19) for i in range(19)}
    out, s = apply_selection({"a": dom}, {"a": SelectionRule(column="weight/softdedup", mode="weight")}, {"a": weights})
    idx = out["a"].index
    assert [int(i[1:]) for i in idx.train_ids] == [i for i in range(2, 19) if i % 5]
    assert s["a"]["kept_docs"] == 14 and s["a"]["unscored_docs"] == 1 and s["a"]["kept_tokens"] == 140
    assert idx.train_weights is not None and np.allclose(idx.train_weights, [weights[i] for i in idx.train_ids])
    assert s["a"]["weight_mean"] == pytest.approx(float(np.mean(idx.train_weights)), abs=1e-6)


def test_unscored_documents_and_bad_rules():
    dom = _domain("a")
    out, s = apply_selection(
        {"a": dom}, {"a": SelectionRule(column="score/q", mode="top_fraction", value=1.0)}, {"a": {"a05": 1.0}}
    )
    assert s["a"]["unscored_docs"] == 17 and "a05" in out["a"].index.train_ids
    with pytest.raises(ValueError, match="top_fraction needs value"):
        SelectionRule(column="score/q", mode="top_fraction")
    with pytest.raises(ValueError, match="pattern"):
        SelectionRule(column="text", mode="threshold", value=1.0)
    with pytest.raises(SamplerError, match="unknown domains"):
        apply_selection({"a": dom}, {"b": SelectionRule(column="score/q", value=0.5)}, {})
    with pytest.raises(SamplerError, match="keeps no training document"):
        apply_selection(
            {"a": dom}, {"a": SelectionRule(column="score/q", mode="threshold", value=9.0)}, {"a": {"a05": 1.0}}
        )


def test_mixture_selection_from_a_stage_score_column(tmp_path):
    """plan_version samples only the documents the rule keeps, reading scores from the stage's output."""
    import polars as pl

    from corpus import learning
    from corpus.io import CorpusStore
    from corpus.runner import stage_dir
    from corpus.spec import SpecError, load_spec
    from corpus.tokenize import token_shard_table

    spec_dict = {
        "pipeline": "m",
        "sources": [{"name": "a", "location": str(tmp_path), "format": "jsonl"}],
        "stages": [{"name": "sel", "op": "soft_dedup@1"}],
        "mixture": {
            "budget_tokens": 1000,
            "selection": {"a": {"stage": "sel", "column": "weight/softdedup", "mode": "top_fraction", "value": 0.5}},
        },
    }
    spec = load_spec(spec_dict)
    store = CorpusStore(root=str(tmp_path / "store"))
    ids = [f"d{i:02d}" for i in range(20)]
    w = store.partition_writer(stage_dir("m", "sel", "a"))
    w.write_shard(0, pl.DataFrame({"id": ids, "text": ["x"] * 20, "weight/softdedup": [i / 20 for i in range(20)]}))
    w.commit()
    table = token_shard_table(
        ids, "a", ["val" if i < 2 else "train" for i in range(20)], [np.full(10, i, dtype=np.uint16) for i in range(20)]
    )
    tw = store.partition_writer(stage_dir("m", "tokenized", "a"))
    tw.write_shard(0, table)
    tw.commit()
    plan = learning.plan_version(spec, store, "m0001", {"a": 1.0})
    doc = store.read_json(learning.plan_rel("m", "m0001"))
    assert doc["selection"]["a"]["kept_docs"] == 9 and doc["selection"]["a"]["stage"] == "sel"
    assert plan.domains["a"].train_docs == 9 and plan.domains["a"].val_docs == 2
    bad = {
        **spec_dict,
        "mixture": {"selection": {"zz": {"stage": "nope", "column": "score/q", "mode": "top_fraction"}}},
    }
    with pytest.raises(SpecError) as err:
        load_spec(bad)
    text = str(err.value)
    assert "mixture.selection.zz: unknown domain" in text and "mixture.selection.zz.stage: unknown stage 'nope'" in text
    assert "mixture.selection.zz.value: top_fraction needs value" in text


def test_a_selection_column_no_stage_writes_is_a_spec_error(tmp_path):
    from corpus.spec import SpecError, load_spec

    def spec(column: str, stage: str = "top", **selection) -> dict:
        return {
            "pipeline": "m",
            "sources": [{"name": n, "location": str(tmp_path / n), "format": "jsonl"} for n in ("a", "b")],
            "stages": [
                {"name": "scored", "op": "quality_classifier@2", "config": {"reference_sources": ["a"], "name": "edu"}},
                {"name": "weighted", "op": "soft_dedup@1", "input": "scored"},
                {"name": "top", "op": "normalize_text@1", "input": "weighted", "sources": ["b"]},
            ],
            "mixture": {"selection": {"b": {"stage": stage, "column": column, "mode": "weight", **selection}}},
        }

    # columns written upstream reach the named stage; the classifier's column follows its configured name
    for column in ("weight/softdedup", "score/edu"):
        load_spec(spec(column))
    with pytest.raises(SpecError) as err:
        load_spec(spec("score/quality"))
    text = str(err.value)
    assert "mixture.selection.b.column: stage 'top' and the stages before it write no column 'score/quality'" in text
    assert "(they write: score/edu, weight/softdedup)" in text
    with pytest.raises(SpecError, match="write no column 'weight/softdedup'"):
        load_spec(spec("weight/softdedup", stage="scored"))


# -- weight mode: a draw by weight without replacement --------------------------------------------


def _weighted_domain(n: int = 200, light: float = 0.05) -> tuple[DomainTokens, dict[str, float]]:
    """``n`` training documents of 10 tokens (even index weight 1.0, odd ``light``), two validation ones."""
    ids = [f"w{i:03d}" for i in range(n + 2)]
    arrays = [np.full(10, i % 2, dtype=np.uint16) for i in range(n + 2)]  # token value 0: heavy, 1: light
    splits = ["val" if i >= n else "train" for i in range(n + 2)]
    dom = DomainTokens.from_arrays("w", ids, arrays, splits)
    return dom, {ids[i]: (1.0 if i % 2 == 0 else light) for i in range(n)}


def _select(dom: DomainTokens, weights: dict[str, float]) -> DomainTokens:
    out, _ = apply_selection({"w": dom}, {"w": SelectionRule(column="weight/softdedup", mode="weight")}, {"w": weights})
    return out["w"]


def _es_order(seed: int, domain: str, epoch: int, ids, weights) -> list[int]:
    """The documented rule, written out: descending log(u) / w, u from the epoch's hash, ties by id."""
    keys = []
    for doc_id, w in zip(ids, weights, strict=True):
        h = xxhash.xxh3_64_intdigest(f"{seed}:{domain}:{epoch}:{doc_id}".encode())
        u = ((h >> 12) + 0.5) / 2**52
        keys.append(math.log(u) / float(np.float32(w)) if w > 0 else -math.inf)
    return sorted(range(len(ids)), key=lambda j: (-keys[j], ids[j]))


def test_a_partial_domain_takes_documents_in_proportion_to_weight():
    # 100 documents of weight 1 and 100 of weight 0.05, 40 drawn (20% of the tokens): the draw
    # passes the threshold key t with 100 (1 - e^-t) + 100 (1 - e^(-t/20)) = 40, t ~ 0.48, so
    # about 38 heavy and 2.4 light documents (16x); a plain hash order would take them 1:1.
    dom, weights = _weighted_domain()
    sel = _select(dom, weights)
    assert sel.index.available_tokens == 2000 and len(sel.index.train_ids) == 200  # every positive weight eligible
    heavy = light = 0
    for seed in range(5):
        plan = plan_mixture({"w": sel}, {"w": 1.0}, 400, max_epochs=1, seed=seed)
        ranges = list(document_ranges(plan, "w", sel.index))
        order = _es_order(seed, "w", 0, sel.index.train_ids, sel.index.train_weights)
        assert [r[0] for r in ranges] == [sel.index.train_ids[j] for j in order[:40]]
        stream = materialize(plan, {"w": sel})["w"]
        heavy, light = heavy + int((stream == 0).sum()), light + int((stream == 1).sum())
    assert heavy + light == 5 * 400 and heavy > 5 * light


def test_no_document_repeats_before_every_positive_weight_document_was_drawn():
    dom, weights = _weighted_domain(light=0.05)
    weights.update({"w000": 0.0, "w001": 0.0})  # weight 0: never drawn
    sel = _select(dom, weights)
    positive = {i for i, w in weights.items() if w > 0}
    plan = plan_mixture({"w": sel}, {"w": 1.0}, int(1.5 * 1980), max_epochs=2, seed=3)
    assert plan.domains["w"].full_epochs == 1 and plan.domains["w"].partial_docs == 99
    stream = [r[0] for r in document_ranges(plan, "w", sel.index)]
    first, rest = stream[: len(positive)], stream[len(positive) :]
    assert len(set(first)) == len(first) and set(first) == positive
    assert len(set(rest)) == len(rest) and not {"w000", "w001"} & set(stream)
    # inside an epoch the heavy documents come first: a light document is passed by a heavy one with
    # P(E_h < 20 E_l) = 20/21, so mean ranks ~143 (light) vs ~54 (heavy); a plain hash order: ~98 each
    rank = {w: np.mean([k for k, i in enumerate(first) if weights[i] == w]) for w in (1.0, 0.05)}
    assert rank[0.05] > 2 * rank[1.0]


def test_the_weighted_draw_is_deterministic_and_seeded():
    def ranges(seed: int) -> list[tuple[str, int, int]]:
        dom, weights = _weighted_domain(light=0.3)
        sel = _select(dom, weights)
        plan = plan_mixture({"w": sel}, {"w": 1.0}, 555, max_epochs=1, seed=seed)
        return list(document_ranges(plan, "w", sel.index))

    a = ranges(7)
    assert a == ranges(7) and a != ranges(8) and a[-1][2] == 5  # 55 documents, then 5 tokens of the next
    dom, _ = _weighted_domain(light=0.3)
    plain = plan_mixture({"w": dom}, {"w": 1.0}, 555, max_epochs=1, seed=7)
    unweighted = [r[0] for r in document_ranges(plain, "w", dom.index)]
    assert [r[0] for r in a] != unweighted[: len(a)]  # the weights change the order


def test_unweighted_order_is_the_hash_order_and_zero_weights_come_last_by_id():
    ids = tuple(f"d{i:04d}" for i in range(3000))
    idx = DomainIndex(ids, np.ones(len(ids), dtype=np.int64), (), np.zeros(0, dtype=np.int64))
    for epoch in (0, 1):
        old = sorted(
            range(len(ids)), key=lambda i: (xxhash.xxh3_64_intdigest(f"5:web:{epoch}:{ids[i]}".encode()), ids[i])
        )
        assert epoch_order("web", idx, epoch, 5) == old
    assert idx.digest() == xxhash.xxh3_64_hexdigest(b"".join(f"{i}\x001\x01".encode() for i in sorted(ids)))
    w = np.where(np.arange(len(ids)) % 3 == 0, 0.0, 1.0)
    widx = DomainIndex(ids, idx.train_tokens, (), idx.val_tokens, train_weights=w)
    order = epoch_order("web", widx, 0, 5)
    zeros = [j for j in range(len(ids)) if w[j] == 0]
    assert order == _es_order(5, "web", 0, ids, w) and order[-len(zeros) :] == zeros
    plan = plan_mixture(
        {"w": DomainTokens.from_arrays("w", ["x"], [np.ones(3, np.uint16)], ["train"])},
        {"w": 1.0},
        3,
        max_epochs=1,
        seed=0,
    )
    assert plan.order_rule == MixturePlan.model_fields["order_rule"].default  # unweighted plans read as before


def test_a_plan_made_under_other_weights_is_refused():
    dom, weights = _weighted_domain()
    sel = _select(dom, weights)
    plan = plan_mixture({"w": sel}, {"w": 1.0}, 400, max_epochs=1, seed=0)
    assert "log(u)/w" in plan.order_rule
    assert _select(dom, dict(weights)).index.digest() == sel.index.digest()  # same weights, same plan
    for changed in ({**weights, "w001": 0.5}, {i: 2 * w for i, w in weights.items()}):
        with pytest.raises(SamplerError, match="'w': its training documents changed since plan"):
            list(document_ranges(plan, "w", _select(dom, changed).index))
    with pytest.raises(SamplerError, match="changed since plan"):  # nor the unweighted documents
        list(document_ranges(plan, "w", dom.index))
    with pytest.raises(SamplerError, match="train_weights"):
        DomainIndex(("a",), np.ones(1, dtype=np.int64), (), np.zeros(0, dtype=np.int64), train_weights=np.ones(2))
