"""Scheduled materializations, sensors that know what happened, data versions, verbatim samples,
column schemas and refused launches, on a live ``dagster dev`` and in Debian's Chromium.

* ``timed``: its schedule (every minute) materializes ``raw`` with no manual step; automation
  carries the rest; the schedule's next tick re-materializes ``raw`` with the same content and
  automation launches nothing downstream (data versions from shard contents).
* ``tiny``: the learning loop run from the command line (as ``make demo`` does) against the
  server's instance; switched on afterwards, ``tiny_eval_feedback`` launches no run.
* A launch with weights of an unknown domain and a made-up version partition are refused before
  any run or partition exists.

Screenshots (asset graph, a stage partition's metadata, the columns, the mixture plots, the
sensor page) go to benchmarks/results/screens.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import TRICKY_TEXT, DagsterServer, screenshots_dir
from tests.e2e.helpers import browser_page, wait_for

pytestmark = pytest.mark.e2e

TIMED_FLOW = ("normalized", "tokenizer", "tokenized")

MATS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetMaterializations(limit: 50) { partition runId timestamp } } } }"""


def mats(server: DagsterServer, pipeline: str, stage: str) -> list[dict[str, Any]]:
    return server.gql(MATS, key={"path": [pipeline, stage]})["assetNodeOrError"]["assetMaterializations"]


def finished_ticks(ticks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in ticks if t["status"] in ("SKIPPED", "SUCCESS", "FAILURE")]


def open_page(page: Any, server: DagsterServer, path: str) -> None:
    page.goto(f"{server.url}{path}", wait_until="networkidle")
    page.wait_for_timeout(1000)
    skip = page.get_by_role("button", name="Skip")  # a fresh instance greets the first visit with a dialog
    if skip.count():
        skip.first.click()


@pytest.fixture(scope="module")
def timed_flow(dagster_server: DagsterServer) -> dict[str, Any]:
    """The schedule's first tick and the automated flow after it, then its second tick (same content)."""
    server = dagster_server
    server.wait_daemon()
    server.start_sensor("timed_automation")
    server.start_schedule("timed_every_minute")
    try:
        first = wait_for(
            "raw[docs] and raw[code] materialized by the schedule",
            lambda: {m["partition"] for m in mats(server, "timed", "raw")} >= {"docs", "code"} or None,
            150,
            server,
        )
        assert first
        wait_for(
            "the automated flow after raw", lambda: len(mats(server, "timed", "tokenized")) >= 2 or None, 240, server
        )
        flow_counts = {s: len(mats(server, "timed", s)) for s in TIMED_FLOW}
        raw_before = len(mats(server, "timed", "raw"))
        wait_for(
            "the schedule's second tick re-materializing raw",
            lambda: len(mats(server, "timed", "raw")) >= raw_before + 2 or None,
            150,
            server,
        )
        settled = time.time()
        wait_for(
            "three automation ticks after the re-run",
            lambda: (
                len(
                    [t for t in finished_ticks(server.sensor_ticks("timed_automation", 50)) if t["timestamp"] > settled]
                )
                >= 3
            ),
            90,
            server,
        )
        after_ticks = [
            t for t in finished_ticks(server.sensor_ticks("timed_automation", 50)) if t["timestamp"] > settled
        ]
    finally:
        server.stop_schedule("timed_every_minute")
        server.stop_sensor("timed_automation")
    return {
        "flow_counts": flow_counts,
        "after": {s: len(mats(server, "timed", s)) for s in TIMED_FLOW},
        "after_ticks": after_ticks,
        "schedule_ticks": server.schedule_ticks("timed_every_minute"),
    }


def test_schedule_tick_materializes_its_target_and_automation_follows(
    dagster_server: DagsterServer, timed_flow: dict[str, Any]
):
    server = dagster_server
    raw_runs = {m["runId"] for m in mats(server, "timed", "raw")}
    for run_id in raw_runs:
        tags = server.run_tags(run_id)
        assert (
            tags["dagster/schedule_name"] == "timed_every_minute"
            and tags["corpus/launched_by"] == "schedule:timed_every_minute"
        )
        assert tags["corpus/source"] == tags["dagster/partition"] and tags["corpus/stage"] == "raw"
    assert all(timed_flow["flow_counts"][s] >= 1 for s in TIMED_FLOW), timed_flow["flow_counts"]
    succeeded = [t for t in timed_flow["schedule_ticks"] if t["status"] == "SUCCESS"]
    assert len(succeeded) >= 2 and all(len(t["runIds"]) == 2 for t in succeeded)  # one run per source per tick


def test_unchanged_rerun_sets_off_no_downstream_run(timed_flow: dict[str, Any]):
    assert timed_flow["after"] == timed_flow["flow_counts"], "automation re-ran stages on unchanged data"
    assert not [r for t in timed_flow["after_ticks"] for r in t["runIds"]], timed_flow["after_ticks"]


def test_sample_renders_verbatim_and_stages_show_their_columns(
    dagster_server: DagsterServer, timed_flow: dict[str, Any]
):
    server = dagster_server
    schema = server.gql(
        """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
            metadataEntries { label __typename
            ... on TableSchemaMetadataEntry { schema { columns { name description } } } } } } }""",
        key={"path": ["timed", "normalized"]},
    )["assetNodeOrError"]["metadataEntries"]
    columns = {
        c["name"]: c["description"]
        for e in schema
        if e["label"] == "dagster/column_schema"
        for c in e["schema"]["columns"]
    }
    assert columns.get("text") == "the document text" and "id" in columns
    shots = screenshots_dir()
    with browser_page() as page:
        open_page(page, server, "/assets/timed/raw?view=partitions&partition=docs")
        block = page.locator("code", has_text="__name__").first
        block.wait_for()
        assert block.inner_text().rstrip("\n") == TRICKY_TEXT  # underscores, stars, newlines and pipes as written
        page.screenshot(path=str(shots / "stage_partition_metadata.png"))
        block.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "stage_partition_sample.png"))

        open_page(page, server, "/assets/timed/normalized")
        page.get_by_text("the document text").first.wait_for()
        page.screenshot(path=str(shots / "stage_columns.png"), full_page=True)

        open_page(page, server, "/locations/e2e/asset-groups/timed")
        page.get_by_text("normalized", exact=True).first.wait_for()
        page.screenshot(path=str(shots / "asset_graph_timed.png"))


@pytest.fixture(scope="module")
def demo_loop(dagster_server: DagsterServer, tiny_materialized: dict[str, list[str]]) -> dict[str, Any]:
    """The learning loop of ``tiny`` run from the command line's code path, on the server's instance."""
    import dagster as dg

    from platform_assets.learning_demo import run_learning_loop
    from platform_assets.resources import default_resources
    from resources.storage import CorpusStorage

    server = dagster_server
    resources = {**default_resources(), "storage": CorpusStorage(root=str(server.store))}
    log: list[str] = []
    with dg.DagsterInstance.from_config(str(server.home)) as instance:
        state = run_learning_loop(_tiny_spec(server), resources, instance, log=log.append)
    return {"versions": [v.version for v in state.versions], "log": log}


def _tiny_spec(server: DagsterServer) -> Any:
    from corpus.spec import parse_spec
    from tests.e2e.conftest import tiny_spec

    return parse_spec(tiny_spec(server.corpus["tiny"]))


def test_feedback_sensor_switched_on_after_the_demo_launches_nothing(
    dagster_server: DagsterServer, demo_loop: dict[str, Any]
):
    server = dagster_server
    assert demo_loop["versions"] == ["m0001", "m0002"] and "round limit reached" in demo_loop["log"][-1]
    runs_before = set(server.run_ids())
    server.wait_daemon()
    server.start_sensor("tiny_eval_feedback")
    try:
        ticks = wait_for(
            "two ticks of tiny_eval_feedback",
            lambda: (lambda t: t if len(t) >= 2 else None)(finished_ticks(server.sensor_ticks("tiny_eval_feedback"))),
            90,
            server,
        )
    finally:
        server.stop_sensor("tiny_eval_feedback")
    assert all(t["status"] == "SKIPPED" and not t["runIds"] for t in ticks), ticks
    assert all("round limit reached (rounds=2)" in t["skipReason"] for t in ticks), ticks
    assert set(server.run_ids()) == runs_before, "the sensor launched runs after the demo"
    demo_runs = {m["runId"] for m in mats(server, "tiny", "mixture")}
    for run_id in demo_runs:
        tags = server.run_tags(run_id)
        assert tags["corpus/launched_by"] == "cli" and "dagster/sensor_name" not in tags  # honest provenance
    shots = screenshots_dir()
    with browser_page() as page:
        open_page(page, server, "/locations/e2e/sensors/tiny_eval_feedback")
        page.get_by_text("Latest tick").first.wait_for()
        page.get_by_text('"evaluated":["m0001","m0002"]').first.wait_for()  # the compact cursor, on the sensor's page
        page.screenshot(path=str(shots / "sensor_eval_feedback.png"))
        open_page(page, server, "/assets/tiny/mixture")
        plots = page.get_by_role("button", name="Plots")
        plots.first.scroll_into_view_if_needed()
        plots.first.click()
        page.get_by_text("weight/docs").first.wait_for()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "mixture_plots.png"), full_page=True)


def test_bad_weights_and_unknown_versions_are_refused_before_any_run(
    dagster_server: DagsterServer, demo_loop: dict[str, Any]
):
    server = dagster_server
    runs_before = set(server.run_ids())
    bad = {"ops": {"tiny__mixture": {"config": {"weights": {"docs": 0.5, "code": 0.3, "music": 0.2}}}}}
    data = server.gql(
        """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
            ... on RunConfigValidationInvalid { errors { message } } ... on Error { message } } }""",
        params={
            "selector": {**server.repo_selector(), "pipelineName": "tiny_mixture_round"},
            "runConfigData": bad,
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "m0002"}]},
        },
    )["launchRun"]
    assert data["__typename"] == "RunConfigValidationInvalid", data
    assert any("music" in e["message"] for e in data["errors"]), data
    # no version partition can be added by hand: the versions are the spec's rounds
    added = server.gql(
        """mutation($r: RepositorySelector!) {
            addDynamicPartition(repositorySelector: $r, partitionsDefName: "tiny_mixture_versions",
            partitionKey: "bogus") { __typename } }""",
        r=server.repo_selector(),
    )["addDynamicPartition"]
    assert added["__typename"] != "AddDynamicPartitionSuccess", added
    keys = server.gql(
        """{ assetNodeOrError(assetKey: {path: ["tiny", "mixture"]}) { ... on AssetNode { partitionKeys } } }"""
    )
    assert keys["assetNodeOrError"]["partitionKeys"] == ["m0001", "m0002"]
    assert set(server.run_ids()) == runs_before
