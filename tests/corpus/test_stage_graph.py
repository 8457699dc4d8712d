"""The stage graph: inputs, global stages, order and cycles from one module."""

from __future__ import annotations

import pytest

from corpus.spec import parse_spec
from corpus.stage_graph import StageGraphError, stage_graph


def _spec(stages, tokenizer=None):
    data = {
        "pipeline": "g",
        "sources": [{"name": "a", "format": "jsonl", "location": "data/a.jsonl"}],
        "stages": stages,
    }
    if tokenizer:
        data["tokenizer"] = tokenizer
    return parse_spec(data)


def test_order_follows_inputs_not_the_list():
    spec = _spec(
        [
            {"name": "late", "input": "early", "op": "normalize_text@1"},
            {"name": "early", "input": "raw", "op": "normalize_text@1"},
        ],
        tokenizer={"input": "late"},
    )
    g = stage_graph(spec)
    assert g.order() == ["raw", "early", "late", "tokenizer", "tokenized"]
    assert g.stage_order() == ["early", "late"]
    assert g.input_of("late") == "early"


def test_global_stage_has_an_index_between_its_input_and_itself():
    spec = _spec(
        [
            {"name": "clean", "op": "normalize_text@1"},
            {"name": "deduped", "op": "dedup_minhash@1"},
            {"name": "after", "op": "normalize_text@1"},
        ]
    )
    g = stage_graph(spec)
    assert g.global_stages == ["deduped"]
    assert g.is_global("deduped") and not g.is_global("clean")
    assert g.deps["deduped_index"] == ("clean",)
    assert g.deps["deduped"] == ("clean", "deduped_index")
    order = g.order()
    assert order.index("clean") < order.index("deduped_index") < order.index("deduped") < order.index("after")
    assert not g.is_partitioned("deduped_index") and not g.is_partitioned("tokenizer")
    assert g.is_partitioned("deduped") and g.is_partitioned("tokenized")


def test_cycle_is_named_and_order_refuses_it():
    spec = _spec(
        [
            {"name": "x", "input": "y", "op": "normalize_text@1"},
            {"name": "y", "input": "x", "op": "normalize_text@1"},
        ]
    )
    g = stage_graph(spec)
    assert g.cycle_from("x") == ["x", "y", "x"] and g.cycle_from("y") == ["y", "x", "y"]
    with pytest.raises(StageGraphError, match="cycle"):
        g.order()


def test_a_stage_reading_a_cycle_is_not_on_it():
    spec = _spec(
        [
            {"name": "x", "input": "y", "op": "normalize_text@1"},
            {"name": "y", "input": "x", "op": "normalize_text@1"},
            {"name": "z", "input": "x", "op": "normalize_text@1"},
        ]
    )
    assert stage_graph(spec).cycle_from("z") is None
