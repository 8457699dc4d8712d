"""A selection index's metadata: held-out figures, histogram table and chart, examples per band."""

from __future__ import annotations

import dagster as dg

from platform_assets.metadata import selection_metadata


def test_classifier_summary_becomes_metadata():
    info = {
        "kind": "classifier",
        "auc": 0.91,
        "precision": 0.8,
        "positives": 120,
        "cut": None,
        "files": {"x": b""},
        "histogram": {"edges": [0.0, 0.5, 1.0], "positives": [2, 18], "negatives": [25, 5]},
        "examples": {"0.0-0.5": ["menu | login"], "0.5-1.0": ["A paragraph of prose."]},
    }
    md = selection_metadata(info)
    assert md["selection/auc"] == 0.91 and md["selection/positives"] == 120 and "selection/cut" not in md
    table = md["score_histogram"]
    assert isinstance(table, dg.TableMetadataValue) and [r.data["negatives"] for r in table.records] == [25, 5]
    assert "####" in md["score_histogram_chart"].value and "menu / login" in md["examples_by_band"].value
    assert not any(k.startswith("selection/files") for k in md)
