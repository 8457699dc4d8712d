"""Declarative automation of the build loop, evaluated in-process on real materializations.

A pipeline whose language stage keeps only German for ``docs`` (English prose): its
blocking ``non_empty`` check fails there. Automation must then build nothing global on
top of it; once ``docs`` passes, updates flow through the dedup index, every source's
``deduped`` partition, the tokenizer and every ``tokenized`` partition, one step per tick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from corpus.spec import parse_spec, validate_spec
from platform_assets.automation import INTERVAL_ENV, sensor_interval_seconds
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage


def spec_dict(corpus: Path, doc_languages: list[str]) -> dict[str, Any]:
    return {
        "pipeline": "auto",
        "owners": ["team:data"],
        "sources": [
            {"name": "docs", "location": str(corpus / "docs"), "format": "jsonl"},
            {"name": "code", "location": str(corpus / "code"), "format": "jsonl"},
        ],
        "stages": [
            {
                "name": "language",
                "op": "language_filter@1",
                "config": {"languages": doc_languages},
                "sources": ["docs"],
            },
            {"name": "deduped", "op": "dedup_minhash@1"},
        ],
        "tokenizer": {"vocab_size": 300, "sample_docs": 50, "val_min_docs": 2, "val_fraction": 0.1},
        "shard_docs": 16,
    }


def K(name: str) -> dg.AssetKey:
    return dg.AssetKey(["auto", name])


class Harness:
    """Materialize with either spec into one instance; evaluate the German-spec automation."""

    def __init__(self, corpus: Path, store: Path):
        self.resources = {**default_resources(), "storage": CorpusStorage(root=str(store))}
        self.defs = {}
        for label, langs in (("gated", ["de"]), ("fixed", ["en"])):
            spec = parse_spec(spec_dict(corpus, langs))
            assert validate_spec(spec) == []
            self.defs[label] = dg.Definitions.merge(build_pipeline_defs(spec), dg.Definitions(resources=self.resources))
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: Any = None

    def run(self, names: list[str], partition: str | None, spec: str = "gated") -> dg.ExecuteInProcessResult:
        assets = list(self.defs[spec].assets or [])
        return dg.materialize(
            assets,
            selection=[K(n) for n in names],
            partition_key=partition,
            instance=self.instance,
            resources=self.resources,
            raise_on_error=False,
        )

    def materialize(self, names: list[str], partition: str | None, spec: str = "gated") -> bool:
        return self.run(names, partition, spec).success

    def tick(self) -> dict[str, set[str | None]]:
        """One automation tick: {stage: requested partitions} for every stage with a request."""
        res = dg.evaluate_automation_conditions(defs=self.defs["gated"], instance=self.instance, cursor=self.cursor)
        self.cursor = res.cursor
        out = {}
        for key in self.defs["gated"].resolve_asset_graph().get_all_asset_keys():
            parts = res.get_requested_partitions(key)
            if parts:
                out[key.path[-1]] = set(parts)
        return out


@pytest.fixture(scope="module")
def harness(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Harness:
    return Harness(small_corpus, tmp_path_factory.mktemp("auto_store"))


def test_failed_blocking_check_stops_global_assets_then_updates_flow(harness: Harness):
    assert harness.tick() == {}  # the first evaluation only records the starting state
    failed = harness.run(["raw", "language"], "docs")  # non_empty fails: German wanted, English found
    assert not failed.success
    verdicts = {(e.asset_key.path[-1], e.check_name): e.passed for e in failed.get_asset_check_evaluations()}
    assert verdicts[("language", "non_empty")] is False and verdicts[("language", "conservation")] is True
    assert harness.materialize(["raw", "language"], "code")  # code passes through the language stage
    # language[code] updated and passed, but language[docs] failed: the global index must not run
    assert harness.tick() == {}
    assert harness.tick() == {}

    # docs fixed (the reviewer merges a spec that keeps English): the index follows, then everything after it
    assert harness.materialize(["raw", "language"], "docs", spec="fixed")
    assert harness.tick() == {"deduped_index": {None}}
    assert harness.materialize(["deduped_index"], None, spec="fixed")
    assert harness.tick() == {"deduped": {"docs", "code"}}
    for src in ("docs", "code"):
        assert harness.materialize(["deduped"], src, spec="fixed")
    assert harness.tick() == {"tokenizer": {None}}
    assert harness.materialize(["tokenizer"], None, spec="fixed")
    assert harness.tick() == {"tokenized": {"docs", "code"}}
    for src in ("docs", "code"):
        assert harness.materialize(["tokenized"], src, spec="fixed")
    assert harness.tick() == {}

    # an unchanged re-run (same shards, same data version) sets nothing off downstream
    assert harness.materialize(["raw", "language"], "docs", spec="fixed")
    assert harness.tick() == {}
    assert harness.tick() == {}


def test_automation_sensor_covers_the_pipeline_and_starts_stopped(harness: Harness):
    repo = harness.defs["gated"].get_repository_def()
    sensors = {s.name: s for s in repo.sensor_defs}
    auto = sensors["auto_automation"]
    assert isinstance(auto, dg.AutomationConditionSensorDefinition)
    assert auto.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensors["auto_new_raw_data"].default_status == dg.DefaultSensorStatus.STOPPED
    # every conditioned asset is covered, so Dagster adds no default_automation_condition_sensor
    assert "default_automation_condition_sensor" not in sensors
    graph = harness.defs["gated"].resolve_asset_graph()
    targeted = auto.asset_selection.resolve(graph)
    assert targeted == {K(n) for n in ("language", "deduped_index", "deduped", "tokenizer", "tokenized")}
    assert graph.get(K("raw")).automation_condition is None  # raw is started by the new-data sensor


def test_sensor_interval_from_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert sensor_interval_seconds() == 30
    monkeypatch.setenv(INTERVAL_ENV, "5")
    assert sensor_interval_seconds() == 5
    monkeypatch.setenv(INTERVAL_ENV, "soon")
    with pytest.raises(ValueError, match=INTERVAL_ENV):
        sensor_interval_seconds()
