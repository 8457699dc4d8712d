"""The command line's orchestration: asset-graph order, the instance's run queue and retries,
one parallelism plan, and no environment read at import time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from corpus import runner
from corpus.spec import PipelineSpec, parse_spec
from platform_assets import orchestrate
from platform_assets.orchestrate import build_segments, count_runs, materialize_pipeline
from platform_assets.resources import default_resources
from platform_assets.run_queue import TAG_BACKFILL, PlannedRun, RunLimits, RunOutcome, RunQueue
from resources import parallelism
from resources.compute import ComputeEngine
from resources.storage import CorpusStorage
from tests.reliability.helpers import write_prose_jsonl


def reordered_spec(base: Path) -> PipelineSpec:
    """Stages listed out of dependency order: ``late`` reads ``deduped``, listed after it."""
    for i, name in enumerate(("one", "two")):
        write_prose_jsonl(base / "src" / name / "a.jsonl", 40, seed=i + 1)
    return parse_spec(
        {
            "pipeline": "reordered",
            "sources": [{"name": n, "location": str(base / "src" / n), "format": "jsonl"} for n in ("one", "two")],
            "stages": [
                {"name": "late", "op": "normalize_text@1", "input": "deduped"},
                {"name": "deduped", "op": "dedup_exact@1", "input": "raw"},
            ],
            "tokenizer": {"vocab_size": 300, "val_min_docs": 2, "input": "late"},
        }
    )


def test_segments_follow_the_asset_graph_not_the_spec_list(tmp_path: Path) -> None:
    spec = reordered_spec(tmp_path)
    assert [(s.keys, s.partitioned) for s in build_segments(spec)] == [
        (("raw",), True),
        (("deduped_index",), False),
        (("deduped", "late"), True),
        (("tokenizer",), False),
        (("tokenized",), True),
    ]
    assert count_runs(spec) == 2 + 1 + 2 + 1 + 2


def test_a_pipeline_listed_out_of_order_materializes(tmp_path: Path) -> None:
    spec = reordered_spec(tmp_path)
    res = default_resources()
    res["storage"] = CorpusStorage(root=str(tmp_path / "store"))
    timings = materialize_pipeline(
        spec, resources=res, instance=dg.DagsterInstance.ephemeral(), parallel=1, progress=lambda _: None
    )
    assert timings["failed"] == {}
    store = res["storage"].store()
    for src in ("one", "two"):
        late = runner.read_report(store, "reordered", "late", src)
        assert late.docs_in == runner.read_report(store, "reordered", "deduped", src).kept > 0
        assert runner.read_report(store, "reordered", "tokenized", src).kept > 0


def test_the_log_level_is_read_when_runs_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUS_LOG_LEVEL", "WARNING")
    assert orchestrate.cli_run_config()["loggers"]["console"]["config"]["log_level"] == "WARNING"
    monkeypatch.delenv("CORPUS_LOG_LEVEL")
    assert orchestrate.cli_run_config()["loggers"]["console"]["config"]["log_level"] == "INFO"


# --------------------------------------------------------------------------- the parallelism plan


@pytest.mark.parametrize("cores", [1, 2, 3, 8, 16])
@pytest.mark.parametrize("runs", [None, 1, 2, 5, 64])
@pytest.mark.parametrize("workers", [None, 1, 3])
def test_the_layers_never_multiply_past_the_cores(cores: int, runs: int | None, workers: int | None) -> None:
    p = parallelism.plan(runs, partitions=6, shard_workers=workers, cores=cores)
    assert p.runs * p.shard_workers * p.threads <= cores
    assert p.runs >= 1 and p.shard_workers >= 1 and p.threads >= 1
    assert p.runs <= 6


def test_the_plan_splits_cores_between_runs_workers_and_threads() -> None:
    assert parallelism.plan(None, partitions=4, cores=8) == parallelism.Parallelism(8, 4, 2, 1)
    assert parallelism.plan(1, cores=8) == parallelism.Parallelism(8, 1, 8, 1)
    assert parallelism.plan(1, shard_workers=2, cores=8) == parallelism.Parallelism(8, 1, 2, 4)
    assert parallelism.plan(2, cores=8).thread_env()["POLARS_MAX_THREADS"] == "1"


def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallelism.RUNS_ENV, "many")
    with pytest.raises(ValueError, match=r"\$CORPUS_MAX_CONCURRENT_RUNS must be a whole number"):
        parallelism.plan()


def test_the_compute_engine_reads_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallelism, "usable_cores", lambda: 8)
    monkeypatch.delenv(parallelism.SHARD_WORKERS_ENV, raising=False)
    monkeypatch.setenv(parallelism.RUNS_ENV, "4")  # what the orchestration exports to its run workers
    assert ComputeEngine(backend="processes").executor().workers == 2
    monkeypatch.delenv(parallelism.RUNS_ENV)  # a run launched alone (e.g. from the UI) has the machine
    assert ComputeEngine(backend="processes").executor().workers == 8
    assert ComputeEngine(backend="processes", workers=3).executor().workers == 3


# --------------------------------------------------------------------------- the instance's rules


QUEUED = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {
            "max_concurrent_runs": 1,
            "tag_concurrency_limits": [
                {"key": "corpus/source", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
                {"key": "corpus/pipeline", "value": "big", "limit": 2},
            ],
        },
    },
    "run_retries": {"enabled": True, "max_retries": 2},
}


def planned(source: str = "a", **tags: str) -> PlannedRun:
    return PlannedRun(
        label=f"x [{source}]",
        job_name="j",
        keys=("raw",),
        partition=source,
        tags={"corpus/source": source, "corpus/pipeline": "big", **tags},
        run_config={},
        selection=True,
    )


def test_run_limits_come_from_the_instance(tmp_path: Path) -> None:
    with dg.instance_for_test(overrides=QUEUED, temp_dir=str(tmp_path)) as instance:
        limits = RunLimits.of(instance)
    assert limits.max_concurrent == 1 and limits.retries == 2 and len(limits.tag_limits) == 2
    assert limits.blocked(planned(), []) is None
    assert "max_concurrent_runs 1" in (limits.blocked(planned(), [{"corpus/source": "b"}]) or "")
    limits.max_concurrent = None
    assert "corpus/source=a (limit 1)" in (limits.blocked(planned("a"), [{"corpus/source": "a"}]) or "")
    assert limits.blocked(planned("a"), [{"corpus/source": "b"}]) is None
    big = [{"corpus/pipeline": "big"}, {"corpus/pipeline": "big"}]
    assert "corpus/pipeline=big (limit 2)" in (limits.blocked(planned("c"), big) or "")
    assert limits.retries_for(planned(**{"dagster/max_retries": "0"})) == 0
    with pytest.raises(ValueError, match="dagster/max_retries"):
        limits.retries_for(planned(**{"dagster/max_retries": "lots"}))
    (tmp_path / "plain").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "plain")) as default:  # queued, 10 at once
        assert RunLimits.of(default) == RunLimits(max_concurrent=10, tag_limits=[], retries=0)
    unqueued = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"}}
    (tmp_path / "unqueued").mkdir()
    with dg.instance_for_test(overrides=unqueued, temp_dir=str(tmp_path / "unqueued")) as plain:
        assert RunLimits.of(plain) == RunLimits(max_concurrent=None, tag_limits=[], retries=0)


def test_the_queue_waits_for_runs_of_other_launchers_and_retries_failures(tmp_path: Path) -> None:
    with dg.instance_for_test(overrides=QUEUED, temp_dir=str(tmp_path)) as instance:
        other = dg.DagsterRun(job_name="other", run_id="0" * 36, status=dg.DagsterRunStatus.STARTED)
        instance.add_run(other)
        released_at: list[float] = []

        def release() -> None:
            time.sleep(1.0)
            released_at.append(time.perf_counter())
            instance.delete_run(other.run_id)

        attempts: list[tuple[float, dict[str, str]]] = []

        def execute(run: PlannedRun) -> RunOutcome:
            attempts.append((time.perf_counter(), run.tags))
            return RunOutcome(run, 0.0, "boom" if run.attempt < 2 else None, f"run-{run.attempt}")

        messages: list[str] = []
        queue = RunQueue(
            instance,
            parallelism.plan(1),
            local=execute,
            spec_json="{}",
            resource_config_json="{}",
            pipeline="big",
            backfill_id="b1",
            progress=messages.append,
        )
        outcomes: list[RunOutcome] = []
        threading.Thread(target=release, daemon=True).start()
        queue.run_all([planned()], outcomes.append)
    assert any("waiting for the instance's run queue: 1 runs in progress" in m for m in messages)
    assert attempts[0][0] >= released_at[0]
    assert [t.get("dagster/retry_number") for _, t in attempts] == [None, "1", "2"]
    assert [t.get("corpus/retry_of") for _, t in attempts] == [None, "run-0", "run-1"]
    assert all(t[TAG_BACKFILL] == "b1" for _, t in attempts)
    assert len(outcomes) == 1 and outcomes[0].failed is None


@pytest.mark.slow
def test_runs_on_run_workers_are_recorded_tagged_and_retried(tmp_path: Path) -> None:
    from tests.reliability.test_empty_partition import REASON, make_spec

    spec = make_spec(tmp_path)
    res = default_resources()
    res["storage"] = CorpusStorage(root=str(tmp_path / "store"))
    retries = {"run_retries": {"enabled": True, "max_retries": 1}}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(overrides=retries, temp_dir=str(tmp_path / "home")) as instance:
        timings = materialize_pipeline(spec, resources=res, instance=instance, parallel=2, progress=lambda _: None)
        runs = instance.get_runs()
    assert timings["failed"]["tiny"].startswith(REASON)
    assert len(runs) == count_runs(spec) - 2 + 1  # tiny skips its 2 later runs; its failed run once more
    assert len({r.tags[TAG_BACKFILL] for r in runs}) == 1
    tiny = [r for r in runs if r.tags.get("corpus/source") == "tiny"]
    assert sorted(r.tags.get("dagster/retry_number", "0") for r in tiny) == ["0", "1"]
    assert all(r.status == dg.DagsterRunStatus.FAILURE for r in tiny)
    assert {r.tags.get("dagster/partition") for r in runs if r.tags.get("corpus/source")} == {"good", "tiny", "other"}
