"""The component builds its assets from the stage graph: a global step anywhere in a stage makes it global."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from corpus.spec import parse_spec
from corpus.stage_graph import stage_graph
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.resources import default_resources


def graph_of(spec):
    return dg.Definitions.merge(
        build_pipeline_defs(spec), dg.Definitions(resources=default_resources())
    ).resolve_asset_graph()


def spec_with(stages: list[dict], tmp_path: Path):
    return parse_spec(
        {
            "pipeline": "g",
            "sources": [{"name": "a", "location": str(tmp_path), "format": "jsonl"}],
            "stages": stages,
        }
    )


def test_a_global_step_that_is_not_first_gets_its_index_asset(tmp_path: Path) -> None:
    # validation allows a global step only alone; the component must still agree with the runner on such a stage
    spec = spec_with(
        [{"name": "cleaned", "steps": [{"op": "gopher_quality@1"}, {"op": "dedup_exact@1"}]}],
        tmp_path,
    )
    assert stage_graph(spec).is_global("cleaned")
    graph = graph_of(spec)
    index_key, stage_key = dg.AssetKey(["g", "cleaned_index"]), dg.AssetKey(["g", "cleaned"])
    assert index_key in graph.get(stage_key).parent_keys
    assert graph.get(index_key).partitions_def is None  # one index across all sources
    assert "dedup_exact@1" in (graph.get(index_key).description or "")


def test_assets_read_the_input_the_graph_names(tmp_path: Path) -> None:
    spec = spec_with(
        [
            {"name": "late", "op": "redact_pii@1", "input": "early"},
            {"name": "early", "op": "normalize_text@1", "input": "raw"},
        ],
        tmp_path,
    )
    graph = graph_of(spec)
    assert graph.get(dg.AssetKey(["g", "late"])).parent_keys == {dg.AssetKey(["g", "early"])}
    assert graph.get(dg.AssetKey(["g", "early"])).parent_keys == {dg.AssetKey(["g", "raw"])}
