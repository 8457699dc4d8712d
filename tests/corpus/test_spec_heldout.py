"""A mixture's held-out sources: evaluated for a weighted target, never trained on."""

from __future__ import annotations

import pytest

from corpus.spec import SpecError, load_spec


def _spec(tmp_path, **mixture):
    return {
        "pipeline": "h",
        "sources": [{"name": n, "location": str(tmp_path / n), "format": "jsonl"} for n in ("a", "b", "c")],
        "mixture": mixture,
    }


def test_held_out_sources_leave_the_trained_ones(tmp_path):
    spec = load_spec(_spec(tmp_path, heldout=["c"], target={"kind": "weighted", "weights": {"a": 1, "c": 3}}))
    assert spec.trained_sources == ["a", "b"] and spec.source_names == ["a", "b", "c"]
    assert load_spec(_spec(tmp_path)).trained_sources == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("mixture", "message"),
    [
        ({"heldout": ["zz"]}, "mixture.heldout[0]: unknown source 'zz'"),
        ({"heldout": ["c"]}, "mixture.heldout[0]: held-out source 'c' counts in no target"),
        (
            {"heldout": ["c", "c"], "target": {"kind": "weighted", "weights": {"c": 1}}},
            "mixture.heldout[1]: 'c' is listed twice",
        ),
        (
            {"heldout": ["a", "b", "c"], "target": {"kind": "weighted", "weights": {"a": 1, "b": 1, "c": 1}}},
            "mixture.heldout: every source is held out",
        ),
        (
            {"heldout": ["c"], "target": {"kind": "weighted", "weights": {"c": 1}}, "initial": {"a": 0.5, "c": 0.5}},
            "mixture.initial",
        ),
        (
            {
                "heldout": ["c"],
                "target": {"kind": "weighted", "weights": {"c": 1}},
                "selection": {"c": {"stage": "x", "column": "score/q", "mode": "weight"}},
            },
            "mixture.selection.c: 'c' is held out",
        ),
        (
            {"heldout": ["c"], "target": {"kind": "weighted", "weights": {"c": 1}}, "policy_config": {"floor": 0.6}},
            "floor of 0.6 per domain is impossible with 2 trained sources",
        ),
    ],
)
def test_bad_held_out_sources_name_the_field(tmp_path, mixture, message):
    with pytest.raises(SpecError) as err:
        load_spec(_spec(tmp_path, **mixture))
    assert message in str(err.value)
