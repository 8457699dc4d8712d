"""A quality classifier stage through Dagster: the index asset trains it and shows its held-out figures."""

from __future__ import annotations

import json
import random

import dagster as dg

from corpus import runner
from platform_assets.components.pipeline import build_pipeline_defs
from resources.storage import CorpusStorage
from tests.corpus.test_selection_ops import _prose, _spam
from tests.platform_assets.test_build_loop import resources_for


def test_classifier_index_asset_metadata(tmp_path):
    rng = random.Random(0)
    for name, texts in (
        ("ref", [_prose(rng) for _ in range(60)]),
        ("web", [_prose(rng) for _ in range(30)] + [_spam(rng) for _ in range(70)]),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    from corpus.spec import parse_spec

    spec = parse_spec(
        {
            "pipeline": "q",
            "sources": [{"name": n, "location": str(tmp_path / n), "format": "jsonl"} for n in ("ref", "web")],
            "stages": [
                {
                    "name": "selected",
                    "op": "quality_classifier@2",
                    "config": {"reference_sources": ["ref"], "top_fraction": 0.3, "backend": "fasttext"},
                }
            ],
        }
    )
    defs = build_pipeline_defs(spec)
    assets = list(defs.assets)
    instance = dg.DagsterInstance.ephemeral()
    res = resources_for(tmp_path / "store")
    for part in ("ref", "web"):
        assert dg.materialize(
            assets, selection=[dg.AssetKey(["q", "raw"])], partition_key=part, resources=res, instance=instance
        ).success
    result = dg.materialize(assets, selection=[dg.AssetKey(["q", "selected_index"])], resources=res, instance=instance)
    assert result.success
    md = result.asset_materializations_for_node("q__selected_index")[0].metadata
    assert md["selection/auc"].value > 0.7 and md["selection/kept"].value == 30
    assert "score_histogram" in md and "examples_by_band" in md and "####" in md["score_histogram_chart"].value
    assert dg.materialize(
        assets, selection=[dg.AssetKey(["q", "selected"])], partition_key="web", resources=res, instance=instance
    ).success
    store = CorpusStorage(root=str(tmp_path / "store")).store()
    assert runner.read_report(store, "q", "selected", "web").dropped == {"low_quality_score": 70}
