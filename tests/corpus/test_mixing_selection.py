"""Selection at mixing time: rules restrict training documents, never validation ones; the plan follows."""

from __future__ import annotations

import numpy as np
import pytest

from corpus.mixing.sampler import DomainTokens, SamplerError, materialize, plan_mixture
from corpus.mixing.selection import SelectionRule, apply_selection


def _domain(name: str, n: int = 20) -> DomainTokens:
    ids = [f"{name}{i:02d}" for i in range(n)]
    arrays = [np.full(10, i, dtype=np.uint16) for i in range(n)]
    splits = ["val" if i < 2 else "train" for i in range(n)]
    return DomainTokens.from_arrays(name, ids, arrays, splits)


def test_top_fraction_keeps_the_best_training_documents_and_every_validation_one():
    dom = _domain("a")
    scores = {f"a{i:02d}": float(i) for i in range(20)}  # higher id, higher score
    out, summary = apply_selection({"a": dom}, {"a": SelectionRule(column="score/quality", mode="top_fraction", value=0.25)}, {"a": scores})
    idx = out["a"].index
    assert set(idx.train_ids) == {"a15", "a16", "a17", "a18", "a19"}  # 25% of 18 docs x 10 tokens -> 45 tokens -> 5 docs
    assert idx.val_ids == dom.index.val_ids
    assert summary["a"]["kept_docs"] == 5 and summary["a"]["rule"]["column"] == "score/quality"
    plan = plan_mixture(out, {"a": 1.0}, 100, max_epochs=10, seed=0)
    stream = materialize(plan, out)["a"]
    assert set(np.unique(stream).tolist()) <= {15, 16, 17, 18, 19}


def test_threshold_and_weight_modes():
    dom = _domain("a")
    scores = {f"a{i:02d}": i / 19 for i in range(20)}
    out, s = apply_selection({"a": dom}, {"a": SelectionRule(column="score/lm", mode="threshold", value=0.5)}, {"a": scores})
    assert min(int(i[1:]) for i in out["a"].index.train_ids) == 10 and s["a"]["kept_docs"] == 10
    weights = {f"a{i:02d}": (1.0 if i % 2 else 0.0) for i in range(20)}
    out, s = apply_selection({"a": dom}, {"a": SelectionRule(column="weight/softdedup", mode="weight")}, {"a": weights})
    assert all(int(i[1:]) % 2 for i in out["a"].index.train_ids) and s["a"]["kept_docs"] == 9  # weight 1 always kept, 0 never


def test_unscored_documents_and_bad_rules():
    dom = _domain("a")
    out, s = apply_selection({"a": dom}, {"a": SelectionRule(column="score/q", mode="top_fraction", value=1.0)}, {"a": {"a05": 1.0}})
    assert s["a"]["unscored_docs"] == 17 and "a05" in out["a"].index.train_ids
    with pytest.raises(ValueError, match="top_fraction needs value"):
        SelectionRule(column="score/q", mode="top_fraction")
    with pytest.raises(ValueError, match="pattern"):
        SelectionRule(column="text", mode="threshold", value=1.0)
    with pytest.raises(SamplerError, match="unknown domains"):
        apply_selection({"a": dom}, {"b": SelectionRule(column="score/q", value=0.5)}, {})
    with pytest.raises(SamplerError, match="keeps no training document"):
        apply_selection({"a": dom}, {"a": SelectionRule(column="score/q", mode="threshold", value=9.0)}, {"a": {"a05": 1.0}})
