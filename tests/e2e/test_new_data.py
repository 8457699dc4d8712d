"""A new file in a source's folder flows through the whole pipeline with the daemon running,
and no manual step: the new-data sensor runs ``raw[code]``, declarative automation runs
everything after it (the dedup index and the tokenizer once, then every source's
``deduped`` and ``tokenized`` on them)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.conftest import DagsterServer
from tests.e2e.helpers import wait_for

pytestmark = pytest.mark.e2e

STAGES = ("raw", "normalized", "deduped_index", "deduped", "tokenizer", "tokenized")
FLOW_TIMEOUT_S = 240

MATS_SINCE = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetMaterializations(limit: 20) { partition runId timestamp } } } }"""

RUN_TAGS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }"""


def finished_ticks(server: DagsterServer, sensor: str) -> list[dict[str, Any]]:
    return [t for t in server.sensor_ticks(sensor) if t["status"] in ("SKIPPED", "SUCCESS", "FAILURE")]


def automation_runs(server: DagsterServer, since: float) -> list[str]:
    """Runs requested by the automation sensor's ticks after ``since``."""
    return [r for t in server.sensor_ticks("tiny_automation", limit=100) if t["timestamp"] > since for r in t["runIds"]]


def materializations_since(server: DagsterServer, stage: str, since: float) -> list[dict[str, Any]]:
    data = server.gql(MATS_SINCE, key={"path": ["tiny", stage]})["assetNodeOrError"]["assetMaterializations"]
    return [m for m in data if float(m["timestamp"]) / 1000 > since]


def test_new_file_is_picked_up_and_flows_downstream(
    dagster_server: DagsterServer, tiny_materialized: dict[str, list[str]]
):
    server = dagster_server
    server.wait_daemon()
    server.start_sensor("tiny_automation")
    server.start_sensor("tiny_new_raw_data")
    # first ticks: the new-data sensor compares with the materializations (nothing changed),
    # automation records its start
    first = wait_for(
        "a finished tick of tiny_new_raw_data", lambda: finished_ticks(server, "tiny_new_raw_data"), 60, server
    )
    assert first[-1]["status"] == "SKIPPED" and not first[-1]["runIds"], first[-1]
    assert "no new or changed files in docs, code" in first[-1]["skipReason"]
    wait_for("a finished tick of tiny_automation", lambda: finished_ticks(server, "tiny_automation"), 60, server)

    dropped_at = time.time()
    # a new file in the code source (docs stays as the UI test reads it, whichever test runs first)
    (server.corpus["tiny"] / "code" / "added.jsonl").write_text(
        json.dumps({"text": "def greet(name):\n    return f'hello {name}'\n" * 8, "url": "added.py"}) + "\n"
    )

    def flowed() -> dict[str, list[dict[str, Any]]] | None:
        mats = {stage: materializations_since(server, stage, dropped_at) for stage in STAGES}
        return mats if len(mats["tokenized"]) >= 2 else None

    mats = wait_for("tokenized[docs] and tokenized[code] re-materialized", flowed, FLOW_TIMEOUT_S, server)
    # two more automation ticks: a second, redundant round of runs would start here
    mark = time.time()
    wait_for(
        "two more automation ticks",
        lambda: len([t for t in finished_ticks(server, "tiny_automation") if t["timestamp"] > mark]) >= 2,
        60,
        server,
    )
    server.wait_runs([r for r in automation_runs(server, since=dropped_at)], timeout=120)
    mats = {stage: materializations_since(server, stage, dropped_at) for stage in STAGES}
    partitions = {stage: sorted(m["partition"] or "" for m in ms) for stage, ms in mats.items()}
    assert partitions == {
        "raw": ["code"],  # only the source that changed is re-read
        "normalized": ["code"],
        "deduped_index": [""],  # the global index once, after normalized[code]
        "deduped": ["code", "docs"],  # every source once, on the new index
        "tokenizer": [""],
        "tokenized": ["code", "docs"],
    }, partitions
    raw_md = server.gql(
        """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
            latestMaterializationByPartition(partitions: ["code"]) {
              metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }""",
        key={"path": ["tiny", "raw"]},
    )["assetNodeOrError"]["latestMaterializationByPartition"][0]["metadataEntries"]
    assert {e["label"]: e.get("intValue") for e in raw_md}["docs_in"] == 13  # 12 modules + the new file

    runs = {m["runId"] for ms in mats.values() for m in ms}
    for run_id in runs:
        run = server.gql(RUN_TAGS, id=run_id)["runOrError"]
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert run["status"] == "SUCCESS"
        # launched by a sensor (new data) or by automation, never by hand
        assert tags.get("dagster/sensor_name") in ("tiny_new_raw_data", "tiny_automation"), tags
    raw_run = server.gql(RUN_TAGS, id=mats["raw"][0]["runId"])["runOrError"]
    raw_tags = {t["key"]: t["value"] for t in raw_run["tags"]}
    assert raw_tags["corpus/trigger"] == "new_raw_data" and raw_tags["corpus/source"] == "code"
