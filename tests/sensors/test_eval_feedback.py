"""The eval_feedback sensor through build_sensor_context, reading a real metrics store.

Records go in as trainers write them (:class:`MetricsClient`, one JSON file each, under a metrics
root), and the sensor reads them back through the ``metrics`` resource, so the read path (listing,
parsing, malformed files named as problems) is the one production uses.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
import pytest

from corpus.io import CorpusStore
from corpus.metrics import MetricsRecord
from corpus.runner import stage_dir
from platform_assets.components.learning import build_learning_defs, versions_partitions
from platform_assets.resources import default_resources
from resources.metrics import METRICS_DIR, MetricsClient, MetricsStore
from resources.storage import CorpusStorage
from tests.platform_assets.smallcorpus import small_spec


class Metrics:
    """A metrics root: records are appended through the real client; the sensor reads them as a resource."""

    def __init__(self, root: Path):
        self.root = root
        self.resource = MetricsStore(root=str(root))
        self.client = MetricsClient(CorpusStore(root=str(root)))
        self.raw_names: list[str] = []

    def add(self, *records: MetricsRecord | str) -> Metrics:
        for rec in records:
            if isinstance(rec, MetricsRecord):
                self.client.append(rec)
            else:  # a file no client writes (hand-edited, cut short): stored as it is
                folder = self.root / METRICS_DIR / "small"
                folder.mkdir(parents=True, exist_ok=True)
                name = f"{time.time_ns():020d}-raw-{len(self.raw_names)}.json"
                (folder / name).write_text(rec)
                self.raw_names.append(name)
        return self


@pytest.fixture
def setup(tmp_path: Path, small_corpus: Path):
    spec = small_spec(small_corpus)
    root = tmp_path / "store"
    store = CorpusStore(root=str(root))
    # the sensor needs the tokenized manifests (token counts for natural weights), nothing else
    for i, src in enumerate(spec.source_names):
        w = store.partition_writer(stage_dir(spec.pipeline, "tokenized", src))
        w.commit(summary={"extra": {"tokens_train": 1000 * (i + 1)}})
    sensor = sensor_of(spec)
    return spec, sensor, CorpusStorage(root=str(root)), Metrics(tmp_path / "metrics")


def sensor_of(spec):
    defs = dg.Definitions.merge(build_learning_defs(spec), dg.Definitions(resources=default_resources()))
    return defs.resolve_sensor_def(f"{spec.pipeline}_eval_feedback")


def record(
    version: str, losses: dict[str, float], *, run: str = "r1", finished: bool = True, step: int = 10, **kw
) -> MetricsRecord:
    return MetricsRecord(
        run_id=f"{run}-{version}",
        pipeline="small",
        mixture_version=version,
        step=step,
        tokens_seen=1000,
        val_loss=losses,
        finished=finished,
        **kw,
    )


def tick(sensor, storage, metrics: Metrics, cursor=None, instance=None):
    instance = instance or dg.DagsterInstance.ephemeral()
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"metrics": metrics.resource, "storage": storage}
    ) as ctx:
        result = sensor(ctx)
        return result, ctx.cursor


def apply(instance: dg.DagsterInstance, result) -> str:
    """What the mixture run leaves behind: the version's planned weights."""
    (req,) = result.run_requests
    weights = req.run_config["ops"]["small__mixture"]["config"]["weights"]
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            dg.AssetKey(["small", "mixture"]),
            partition=req.partition_key,
            metadata={"weights": dg.MetadataValue.json(weights)},
        )
    )
    return req.partition_key


LOSSES = {"docs": 4.0, "pages": 5.0, "code": 3.0}


def test_bootstrap_then_new_record_requests_one_run(setup):
    _, sensor, storage, metrics = setup
    instance = dg.DagsterInstance.ephemeral()
    result, cursor = tick(sensor, storage, metrics, instance=instance)
    assert isinstance(result, dg.SensorResult)
    (req,) = result.run_requests
    assert req.partition_key == "m0001"
    assert not result.dynamic_partitions_requests  # versions are static partitions: nothing is added
    weights = req.run_config["ops"]["small__mixture"]["config"]["weights"]
    assert weights == pytest.approx({"docs": 1 / 6, "pages": 2 / 6, "code": 3 / 6})  # natural: token-proportional
    assert req.tags["corpus/launched_by"] == "sensor:small_eval_feedback" and req.tags["corpus/pipeline"] == "small"
    # the request not carried out yet: the same request again
    again, _ = tick(sensor, storage, metrics, cursor, instance=instance)
    assert again.run_requests[0].run_key == req.run_key
    apply(instance, result)
    waiting, _ = tick(sensor, storage, metrics, cursor, instance=instance)
    assert isinstance(waiting, dg.SkipReason) and "no new finished records" in waiting.skip_message

    metrics.add(record("m0001", LOSSES))  # a trainer reports m0001's result
    assert len(list((metrics.root / METRICS_DIR / "small").glob("*.json"))) == 1
    result, cursor2 = tick(sensor, storage, metrics, cursor, instance=instance)
    (req2,) = result.run_requests
    assert req2.partition_key == "m0002" and req2.run_key.startswith("m0002-")
    cfg = req2.run_config["ops"]["small__mixture"]["config"]
    assert cfg["weights"]["pages"] > weights["pages"]  # the worst domain gains weight under excess_loss
    assert cfg["source_runs"] == ["r1-m0001"]
    # a re-evaluated tick (same cursor, same records) asks for the same run_key: Dagster launches it once
    again, _ = tick(sensor, storage, metrics, cursor, instance=instance)
    assert again.run_requests[0].run_key == req2.run_key

    # m0002 exists now: waiting for its result, whatever the cursor (a reset one included)
    apply(instance, result)
    for c in (cursor2, None):
        result3, _ = tick(sensor, storage, metrics, c, instance=instance)
        assert isinstance(result3, dg.SkipReason) and "waiting for a finished run of m0002" in result3.skip_message


def test_malformed_records_skip_with_reason(setup):
    _, sensor, storage, metrics = setup
    instance = dg.DagsterInstance.ephemeral()
    first, cursor = tick(sensor, storage, metrics, instance=instance)
    apply(instance, first)
    metrics.add(
        record("m0001", {"docs": float("nan"), "pages": 5.0, "code": 3.0}, run="nan"),
        record("m0001", {"docs": 4.0, "pages": 5.0}, run="missing"),
        record("m0009", LOSSES, run="unknown"),
        json.dumps({"run_id": "x", "pipeline": "small"}),
        "{not json",
    )
    result, cursor2 = tick(sensor, storage, metrics, cursor, instance=instance)
    assert isinstance(result, dg.SkipReason)
    msg = result.skip_message
    assert (
        "non-finite validation loss" in msg
        and "missing domains: code" in msg
        and "unknown mixture version 'm0009'" in msg
    )
    assert all(name in msg for name in metrics.raw_names)  # unparseable files are named too
    # the cursor advanced: the same bad records are not reported again as new
    result2, _ = tick(sensor, storage, metrics, cursor2, instance=instance)
    assert "non-finite" not in result2.skip_message and "no new finished records" in result2.skip_message


@pytest.mark.parametrize("se", [None, 0.01])
def test_round_limit_stops_with_reason(setup, se):
    spec, sensor, storage, metrics = setup
    instance = dg.DagsterInstance.ephemeral()
    cursor = None
    versions = []
    for i in range(spec.mixture.rounds + 1):
        result, cursor = tick(sensor, storage, metrics, cursor, instance=instance)
        if isinstance(result, dg.SkipReason):
            break
        v = apply(instance, result)
        versions.append(v)
        kw = {"val_loss_se": {d: se for d in LOSSES}} if se else {}
        metrics.add(record(v, {d: x - 0.1 * i for d, x in LOSSES.items()}, **kw))
    assert versions == ["m0001", "m0002", "m0003"]
    # the tick that read m0003's result stopped the loop, said why, and named the version to train with:
    # the lowest one shown better than m0001, or m0001 itself when no difference can be shown
    assert isinstance(result, dg.SkipReason) and "round limit reached (rounds=3)" in result.skip_message
    if se:
        assert "version to train with: m0003 (m0003 is better than m0001 by 0.2000" in result.skip_message
    else:
        assert "version to train with: m0001 (no later version is shown better than m0001 (versions without" in (
            result.skip_message
        )
    # switched on later, or with a reset cursor: what happened is read back, nothing is requested again
    fresh, _ = tick(sensor, storage, metrics, None, instance=instance)
    assert isinstance(fresh, dg.SkipReason) and "round limit reached (rounds=3)" in fresh.skip_message


def test_waits_for_build_loop(tmp_path, small_corpus):
    spec = small_spec(small_corpus)
    sensor = sensor_of(spec)
    result, _ = tick(sensor, CorpusStorage(root=str(tmp_path / "empty")), Metrics(tmp_path / "metrics"))
    assert isinstance(result, dg.SkipReason) and "waiting for the build loop" in result.skip_message


def test_version_partitions_are_the_rounds(small_corpus):
    # static: one key per version the spec allows (rounds), so the UI cannot add or launch another
    assert versions_partitions(small_spec(small_corpus)).get_partition_keys() == ["m0001", "m0002", "m0003"]


def test_a_result_of_other_weights_is_not_taken_for_the_version(setup):
    """A record of an earlier loop that used the same version name (other weights) is stale."""
    _, sensor, storage, metrics = setup
    instance = dg.DagsterInstance.ephemeral()
    result, cursor = tick(sensor, storage, metrics, instance=instance)
    apply(instance, result)
    weights = result.run_requests[0].run_config["ops"]["small__mixture"]["config"]["weights"]
    stale = record("m0001", LOSSES, run="old", weights={"docs": 0.8, "pages": 0.1, "code": 0.1})
    fresh = record("m0001", {d: x + 1 for d, x in LOSSES.items()}, run="new", weights=weights)
    both = Metrics(metrics.root.parent / "both").add(stale, fresh)
    result, _ = tick(sensor, storage, both, cursor, instance=instance)
    (req,) = result.run_requests
    assert req.run_config["ops"]["small__mixture"]["config"]["source_runs"] == ["new-m0001"]
    only_stale, _ = tick(sensor, storage, metrics.add(stale), cursor, instance=instance)
    assert isinstance(only_stale, dg.SkipReason) and "not on m0001's weights" in only_stale.skip_message


def test_a_version_whose_run_is_in_flight_is_not_requested_again(setup):
    """The partition was added and the run started, nothing materialized yet: a reset cursor waits for it."""
    _, sensor, storage, metrics = setup
    instance = dg.DagsterInstance.ephemeral()
    first, _ = tick(sensor, storage, metrics, instance=instance)
    (req,) = first.run_requests
    instance.add_run(
        dg.DagsterRun(
            job_name="small_mixture_round",
            run_config=req.run_config,
            status=dg.DagsterRunStatus.STARTED,
            tags={**req.tags, "dagster/partition": "m0001", "dagster/run_key": req.run_key},
        )
    )
    result, cursor = tick(
        sensor,
        storage,
        metrics.add(record("m0001", LOSSES, finished=False, step=5)),  # progress, not the result
        None,
        instance=instance,
    )
    assert isinstance(result, dg.SkipReason) and "no new finished records" in result.skip_message
    assert json.loads(cursor)["versions"] == ["m0001"]
    # its result arrives (trained on the queued run's weights): the next version follows
    weights = req.run_config["ops"]["small__mixture"]["config"]["weights"]
    result, _ = tick(
        sensor,
        storage,
        metrics.add(record("m0001", LOSSES, weights=weights)),  # appended beside the progress record
        cursor,
        instance=instance,
    )
    assert result.run_requests[0].partition_key == "m0002"


def test_mixture_run_config_is_typed_by_domain(setup):
    """An unknown or missing domain in the weights is refused by config validation, before a run exists."""
    spec, _, _, _ = setup
    defs = dg.Definitions.merge(build_learning_defs(spec), dg.Definitions(resources=default_resources()))
    job = defs.resolve_job_def("small_mixture_round")
    good = {"ops": {"small__mixture": {"config": {"weights": {"docs": 0.2, "pages": 0.3, "code": 0.5}}}}}
    assert dg.validate_run_config(job, good)
    for weights, words in (
        ({"docs": 0.5, "pages": 0.3, "code": 0.1, "music": 0.1}, "music"),
        ({"docs": 0.5, "pages": 0.5}, "code"),
    ):
        with pytest.raises(dg.DagsterInvalidConfigError, match=words):
            dg.validate_run_config(job, {"ops": {"small__mixture": {"config": {"weights": weights}}}})
