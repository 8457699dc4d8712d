"""Selection at mixing time: rules restrict training documents, never validation ones; the plan follows."""

from __future__ import annotations

import numpy as np
import pytest

from corpus.mixing.domain_tokens import DomainTokens, SamplerError
from corpus.mixing.sampler import materialize, plan_mixture
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
    weights = {f"a{i:02d}": (1.0 if i % 2 else 0.0) for i in range(20)}
    out, s = apply_selection({"a": dom}, {"a": SelectionRule(column="weight/softdedup", mode="weight")}, {"a": weights})
    assert (
        all(int(i[1:]) % 2 for i in out["a"].index.train_ids) and s["a"]["kept_docs"] == 9
    )  # weight 1 always kept, 0 never


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
