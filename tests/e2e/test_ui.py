"""What a person sees in the Dagster UI, checked on a live ``dagster dev``.

The ``tiny`` pipeline is materialized through the GraphQL API (as the UI's Materialize
button does); the test then reads back asset nodes, partitions, metadata, checks and run
logs through GraphQL, and opens the asset graph and an asset's page in Debian's Chromium,
saving screenshots under benchmarks/results/screens (``CORPUS_E2E_SCREENSHOTS`` to put them elsewhere).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import DagsterServer, screenshots_dir
from tests.e2e.helpers import browser_page

pytestmark = pytest.mark.e2e

STAGES = ("raw", "normalized", "deduped_index", "deduped", "tokenizer", "tokenized")

NODES_QUERY = """query($group: AssetGroupSelector!) { assetNodes(group: $group) {
  assetKey { path } groupName description kinds isPartitioned partitionKeys
  owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
  automationCondition { label }
  assetChecksOrError { __typename ... on AssetChecks { checks { name description blocking } } } } }"""

ENTRIES = """metadataEntries { __typename label
      ... on IntMetadataEntry { intValue } ... on FloatMetadataEntry { floatValue }
      ... on TextMetadataEntry { text } ... on MarkdownMetadataEntry { mdStr }
      ... on TableMetadataEntry { table { records schema { columns { name } } } } }"""

METADATA_QUERY = (
    """query($key: AssetKeyInput!, $partitions: [String!]) { assetNodeOrError(assetKey: $key) {
  ... on AssetNode { latestMaterializationByPartition(partitions: $partitions) { partition runId """
    + ENTRIES
    + " } } } }"
)

UNPARTITIONED_METADATA_QUERY = (
    """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
  ... on AssetNode { assetMaterializations(limit: 1) { runId """
    + ENTRIES
    + " } } } }"
)

CHECK_QUERY = """query($key: AssetKeyInput!, $check: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $check, partition: $partition, limit: 1) {
    status partition evaluation { success description } } }"""


def metadata(server: DagsterServer, stage: str, partition: str | None) -> dict[str, Any]:
    """{label: entry} of the latest materialization of ``tiny/<stage>`` (of one partition)."""
    if partition is None:
        mats = server.gql(UNPARTITIONED_METADATA_QUERY, key={"path": ["tiny", stage]})["assetNodeOrError"][
            "assetMaterializations"
        ]
    else:
        data = server.gql(METADATA_QUERY, key={"path": ["tiny", stage]}, partitions=[partition])
        mats = data["assetNodeOrError"]["latestMaterializationByPartition"]
    assert mats and mats[0], f"tiny/{stage}[{partition}] has no materialization"
    return {e["label"]: e for e in mats[0]["metadataEntries"]}


def test_asset_graph_metadata_and_checks_through_graphql(
    dagster_server: DagsterServer, tiny_materialized: dict[str, list[str]]
):
    nodes = dagster_server.gql(NODES_QUERY, group={**dagster_server.repo_selector(), "groupName": "tiny"})["assetNodes"]
    by_stage = {n["assetKey"]["path"][1]: n for n in nodes}
    assert set(by_stage) == {*STAGES, "mixture", "proxy_eval"}, (
        "one asset group per pipeline, holding exactly its assets"
    )
    for stage, node in by_stage.items():
        assert node["description"], f"tiny/{stage} has no description"
        if stage in ("mixture", "proxy_eval"):
            continue
        assert node["kinds"], f"tiny/{stage} has no kinds"
        assert {"__typename": "TeamAssetOwner", "team": "data"} in node["owners"]
    assert by_stage["normalized"]["partitionKeys"] == ["docs", "code"]
    assert not by_stage["tokenizer"]["isPartitioned"] and not by_stage["deduped_index"]["isPartitioned"]
    assert by_stage["raw"]["automationCondition"] is None  # started by the new-data sensor
    assert (
        by_stage["tokenized"]["automationCondition"]["label"]
        == "eager on data changes, stopped by failed blocking checks"
    )

    checks = {c["name"]: c for c in by_stage["normalized"]["assetChecksOrError"]["checks"]}
    assert set(checks) == {"conservation", "non_empty", "schema"}
    assert all(c["blocking"] for c in checks.values())
    assert "in = kept + dropped" in checks["conservation"]["description"]
    for partition in ("docs", "code"):
        ex = dagster_server.gql(
            CHECK_QUERY, key={"path": ["tiny", "normalized"]}, check="conservation", partition=partition
        )
        ex = ex["assetCheckExecutions"][0]
        assert ex["status"] == "SUCCEEDED" and ex["partition"] == partition and ex["evaluation"]["success"] is True

    raw = metadata(dagster_server, "raw", "docs")
    assert raw["docs_in"]["intValue"] == 41 and raw["docs_kept"]["intValue"] == 41
    assert re.fullmatch(r"[0-9a-f]{64}", raw["source_fingerprint"]["text"])
    deduped = metadata(dagster_server, "deduped", "docs")
    outcomes = deduped["outcomes"]["table"]
    assert [c["name"] for c in outcomes["schema"]["columns"]] == ["outcome", "reason", "documents"]
    assert any('"kept"' in r for r in outcomes["records"])
    assert deduped["dropped/exact_duplicate"]["intValue"] >= 1  # the planted copy inside docs
    assert "### Kept" in deduped["sample"]["mdStr"] and "```text" in deduped["sample"]["mdStr"]
    assert metadata(dagster_server, "tokenizer", None)["vocab_size"]["intValue"] == 300
    index = metadata(dagster_server, "deduped_index", None)
    assert index["docs_in"]["intValue"] > 0 and "duplicates" in index

    # stage progress (per shard, throttled, the last one always) shows in the run's log
    messages = dagster_server.run_messages(tiny_materialized["raw -> normalized"][0])
    assert any(re.match(r"raw\[docs\]: shard \d+ read, 41 records", m) for m in messages), messages
    assert any(m.startswith("normalized[docs]: 3/3 shards, 41 docs") for m in messages), messages


def test_browser_shows_the_asset_graph_and_an_asset_page(
    dagster_server: DagsterServer, tiny_materialized: dict[str, list[str]]
):
    shots = screenshots_dir()
    with browser_page() as page:
        from playwright.sync_api import expect

        page.goto(f"{dagster_server.url}/locations/e2e/asset-groups/tiny", wait_until="networkidle")
        _dismiss_community_dialog(page)
        for stage in STAGES:
            expect(page.get_by_text(stage, exact=True).first).to_be_visible()
        page.screenshot(path=str(shots / "asset_graph.png"))

        page.goto(f"{dagster_server.url}/assets/tiny/deduped?view=partitions&partition=docs", wait_until="networkidle")
        _dismiss_community_dialog(page)
        for label in ("docs_in", "outcomes", "sample", "dropped/exact_duplicate"):
            expect(page.get_by_text(label, exact=True).first).to_be_visible()
        page.screenshot(path=str(shots / "asset_deduped_docs.png"), full_page=True)

        page.goto(f"{dagster_server.url}/assets/tiny/deduped?view=checks", wait_until="networkidle")
        _dismiss_community_dialog(page)
        expect(page.get_by_text("This is a blocking asset check.").first).to_be_visible()
        expect(page.get_by_text("non_empty", exact=True).first).to_be_visible()
        page.screenshot(path=str(shots / "asset_deduped_checks.png"))
    for name in ("asset_graph.png", "asset_deduped_docs.png", "asset_deduped_checks.png"):
        assert (shots / name).stat().st_size > 10_000, f"{name} looks empty"
    print(f"screenshots in {shots}")


def _dismiss_community_dialog(page: Any) -> None:
    """A fresh instance greets the first visit with a newsletter dialog; skip it when present."""
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
