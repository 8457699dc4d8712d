"""Asset-graph snapshots and their differences, built from the definitions Dagster loads."""

from __future__ import annotations

import copy

from corpus.spec import parse_spec
from platform_assets.graph import asset_graph_snapshot, graph_diff, render_graph_diff_markdown
from tests.agent.helpers import notes_spec


def test_snapshot_has_keys_deps_partitions_code_versions_checks() -> None:
    snap = asset_graph_snapshot(parse_spec(notes_spec()))
    assert set(snap) == {
        f"notes_clean/{k}"
        for k in ("raw", "normalized", "quality", "deduped_index", "deduped", "redacted", "tokenizer", "tokenized")
    }
    assert snap["notes_clean/deduped"]["deps"] == ["notes_clean/deduped_index", "notes_clean/quality"]
    assert snap["notes_clean/deduped_index"]["partitions"] is None  # global across sources
    assert snap["notes_clean/quality"]["partitions"] == "static[notes]"
    assert snap["notes_clean/quality"]["code_version"].startswith("gopher_repetition@1+gopher_quality@1:")
    assert snap["notes_clean/raw"]["checks"] == ["conservation", "non_empty", "schema"]


def test_diff_names_what_changed() -> None:
    old_spec = notes_spec()
    new_spec = copy.deepcopy(old_spec)
    new_spec["stages"][1]["steps"][1]["config"] = {"min_doc_words": 20}  # a threshold: new code version
    new_spec["stages"].insert(0, {"name": "language", "op": "language_filter@1", "config": {"languages": ["en"]}})
    new_spec["sources"].append({"name": "more", "location": "data/sources/more", "format": "jsonl"})  # a partition
    del new_spec["stages"][-1]  # no redaction
    old, new = asset_graph_snapshot(parse_spec(old_spec)), asset_graph_snapshot(parse_spec(new_spec))
    diff = graph_diff(old, new)
    assert diff["added"] == ["notes_clean/language"] and diff["removed"] == ["notes_clean/redacted"]
    changed = diff["changed"]
    assert set(changed["notes_clean/quality"]) == {"code_version", "partitions"}
    assert changed["notes_clean/normalized"]["deps"] == {"old": ["notes_clean/raw"], "new": ["notes_clean/language"]}
    assert changed["notes_clean/raw"]["partitions"] == {"old": "static[notes]", "new": "static[notes, more]"}
    assert graph_diff(old, old) == {"added": [], "removed": [], "changed": {}}
    md = render_graph_diff_markdown(diff, new, old)
    assert "**Added** (1 assets)" in md and "| `notes_clean/language` | `notes_clean/raw` |" in md
    assert "**Removed** (1 assets)" in md and "**Changed**" in md and "| `notes_clean/raw` | partitions |" in md
    assert render_graph_diff_markdown(graph_diff(old, old)) == "No change to the asset graph.\n"


def test_several_pipelines_in_one_snapshot() -> None:
    a = parse_spec(notes_spec())
    b = parse_spec(notes_spec(pipeline="other"))
    snap = asset_graph_snapshot([a, b])
    assert {k.split("/")[0] for k in snap} == {"notes_clean", "other"}
    assert asset_graph_snapshot([]) == {}
