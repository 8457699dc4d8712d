"""A failed blocking check stops everything downstream, and the UI says why.

In the ``gated`` pipeline the language stage keeps only German for ``docs`` (English
prose), so ``language[docs]`` keeps nothing and fails its blocking ``non_empty`` check;
``code`` passes through that stage. With automation on, ``normalized[code]`` follows,
``normalized[docs]`` never does.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import DagsterServer
from tests.e2e.test_new_data import finished_ticks, wait_for

pytestmark = pytest.mark.e2e

CHECK_EXECUTION = """query($key: AssetKeyInput!, $check: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $check, partition: $partition, limit: 1) {
    status partition evaluation { success description
      metadataEntries { label ... on IntMetadataEntry { intValue } } } } }"""

CHECK_SPEC = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetCheckOrError(checkName: "non_empty") { __typename ... on AssetCheck { description blocking } } } } }"""


def test_failed_blocking_check_stops_downstream_and_the_ui_says_why(dagster_server: DagsterServer):
    server = dagster_server
    server.wait_daemon()
    server.start_sensor("gated_automation")
    wait_for("a finished tick of gated_automation", lambda: finished_ticks(server, "gated_automation"), 60, server)

    docs = server.launch([["gated", "raw"], ["gated", "language"], ["gated", "normalized"]], "docs")
    code = server.launch([["gated", "raw"], ["gated", "language"]], "code")
    statuses = server.wait_runs([docs, code])
    assert statuses == {docs: "FAILURE", code: "SUCCESS"}

    # why, as the asset's Checks tab shows it: the failed evaluation and what the check means
    ex = server.gql(CHECK_EXECUTION, key={"path": ["gated", "language"]}, check="non_empty", partition="docs")
    ex = ex["assetCheckExecutions"][0]
    assert ex["status"] == "FAILED" and ex["partition"] == "docs"
    assert ex["evaluation"]["success"] is False
    assert ex["evaluation"]["description"].startswith("no document survived (41 in;")
    assert {m["label"]: m.get("intValue") for m in ex["evaluation"]["metadataEntries"]}["kept"] == 0
    spec = server.gql(CHECK_SPEC, key={"path": ["gated", "language"]})["assetNodeOrError"]["assetCheckOrError"]
    assert spec["blocking"] and spec["description"].startswith("The stage kept at least one document")
    messages = server.run_messages(docs)
    said = [m for m in messages if m.startswith("Asset check 'non_empty' on 'gated/language' did not pass.")]
    assert said and "no document survived" in said[0], "\n".join(messages)
    assert "Dependencies for step gated__normalized failed: ['gated__language']. Not executing." in messages
    # inside the run, the step after the failed check did not run
    assert "docs" not in server.materialized_partitions(["gated", "normalized"])

    # automation carries code forward and never builds on docs' failed check
    wait_for(
        "normalized[code] materialized by automation",
        lambda: "code" in server.materialized_partitions(["gated", "normalized"]),
        90,
        server,
    )
    mark = time.time()
    wait_for(
        "two more automation ticks",
        lambda: len([t for t in finished_ticks(server, "gated_automation") if t["timestamp"] > mark]) >= 2,
        60,
        server,
    )
    # every run automation ever requested is for code (a run for docs or a global stage would show here
    # as soon as its tick requested it), and each has finished before the materializations are read
    requested = [r for t in server.sensor_ticks("gated_automation", limit=100) for r in t["runIds"]]
    assert requested and all(server.run_tags(r).get("dagster/partition") == "code" for r in requested), requested
    server.wait_runs(requested)
    assert "docs" not in server.materialized_partitions(["gated", "normalized"])
    assert server.materialized_partitions(["gated", "deduped_index"]) == {}
    assert server.materialized_partitions(["gated", "deduped"]) == {}
