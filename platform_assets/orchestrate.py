"""Materialize a whole pipeline through Dagster, the way a backfill would, from the command line.

The asset graph (``corpus.stage_graph``) is cut into *segments* in dependency order: runs of
per-source (partitioned) assets between the global ones (dedup index, tokenizer). A
partitioned segment is one Dagster run per source; a global asset is one run. The runs
go to the Dagster instance (``$DAGSTER_HOME``, SQLite by default) through
:mod:`platform_assets.run_queue`, which applies the instance's run queue limits, tags and
run retries, and executes the runs of a segment on as many run workers as
:mod:`resources.parallelism` allows; the UI shows every run afterwards.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from corpus import runner
from corpus.io import CorpusStore
from corpus.spec import PathPolicy, PipelineSpec
from corpus.specfile import load_defs_folder
from corpus.stage_graph import stage_graph
from platform_assets.jobs import job_name, per_source_job_name, run_tags
from platform_assets.run_outcome import failure_reason
from platform_assets.run_queue import PlannedRun, RunOutcome, RunQueue
from platform_assets.run_worker import build_loop_defs
from resources import parallelism
from resources.storage import PROJECT_ROOT

DEFS_DIR = PROJECT_ROOT / "platform_assets" / "defs"
LOG_LEVEL_ENV = "CORPUS_LOG_LEVEL"


def cli_run_config() -> dict[str, Any]:
    """Run config of command-line runs: they log stage progress (INFO, or ``$CORPUS_LOG_LEVEL``),
    not Dagster's step bookkeeping (DEBUG). Read when runs are built."""
    return {"loggers": {"console": {"config": {"log_level": os.environ.get(LOG_LEVEL_ENV, "INFO")}}}}


def load_pipeline_specs(defs_dir: Path = DEFS_DIR) -> dict[str, PipelineSpec]:
    """The approved pipelines by name; SpecError (naming file and field) when any defs.yaml is refused."""
    return {name: spec for name, (_, spec) in load_defs_folder(defs_dir, PathPolicy.default(PROJECT_ROOT)).items()}


@dataclass(frozen=True)
class Segment:
    keys: tuple[str, ...]  # asset names (asset key = [pipeline, name])
    partitioned: bool


def build_segments(spec: PipelineSpec) -> list[Segment]:
    """The build loop in asset-graph order: stretches of per-source assets, split at the global ones.

    An asset's *level* is the number of global assets on the longest path above it. Level
    ``k``'s per-source assets form one segment (in dependency order), followed by level
    ``k``'s global assets, one segment each; so every asset runs after all it reads,
    whatever the order the spec lists its stages in."""
    graph = stage_graph(spec)
    order = graph.order()
    level: dict[str, int] = {}
    for asset in order:
        ups = [level[d] + (0 if graph.is_partitioned(d) else 1) for d in graph.deps[asset]]
        level[asset] = max(ups, default=0)
    segments: list[Segment] = []
    for k in range(max(level.values()) + 1):
        per_source = tuple(a for a in order if level[a] == k and graph.is_partitioned(a))
        if per_source:
            segments.append(Segment(per_source, True))
        segments.extend(Segment((a,), False) for a in order if level[a] == k and not graph.is_partitioned(a))
    return segments


def count_runs(spec: PipelineSpec) -> int:
    """Dagster runs :func:`materialize_pipeline` launches (without retries): one per source per
    partitioned segment, one per global asset."""
    return sum(len(spec.sources) if seg.partitioned else 1 for seg in build_segments(spec))


class BuildLoopError(RuntimeError):
    """The build loop cannot go on: a global asset failed, or every source stopped (``failed`` says why each did)."""

    def __init__(self, message: str, failed: dict[str, str]):
        super().__init__(message)
        self.failed = dict(failed)


def materialize_pipeline(
    spec: PipelineSpec,
    *,
    resources: dict[str, Any],
    instance: dg.DagsterInstance | None = None,
    parallel: int | None = None,
    progress: Callable[[str], None] = print,
    on_run_done: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Materialize every build-loop asset of ``spec``; returns timing figures, and under ``failed`` the
    sources that stopped, each with why (``{source: reason}``).

    ``parallel``: Dagster runs at once (default ``$CORPUS_MAX_CONCURRENT_RUNS``, else the
    usable cores), capped by the sources and by :func:`resources.parallelism.plan`; an
    in-memory instance runs one at a time (it cannot be shared with worker processes).

    A source whose run fails (a blocking check, e.g. every document filtered out, or an error) is a
    result for that source: its later stages are not run, the other sources go on, and the global
    assets (dedup index, tokenizer) run over the sources still going. Raises :class:`BuildLoopError`
    when a global asset fails or no source is left.

    ``on_run_done`` is called with a label after each of the :func:`count_runs` runs (a
    progress bar advances on it)."""
    from platform_assets.resources import resources_to_config

    done = on_run_done or (lambda _: None)
    instance = instance or dg.DagsterInstance.get()
    plan = parallelism.plan(parallel, partitions=len(spec.sources))
    if instance.is_ephemeral:
        plan = parallelism.plan(1)
    defs = build_loop_defs(spec, resources)
    run_config = cli_run_config()
    queue = RunQueue(
        instance,
        plan,
        local=lambda run: _run_here(spec, run, resources, instance, defs, plan),
        spec_json=spec.model_dump_json(),
        resource_config_json=json.dumps(resources_to_config(resources), sort_keys=True, default=str),
        pipeline=spec.pipeline,
        backfill_id=uuid.uuid4().hex[:12],
        progress=progress,
    )
    timings: dict[str, Any] = {}
    failed: dict[str, str] = {}
    t_all = time.perf_counter()
    segments = build_segments(spec)
    try:
        for n, seg in enumerate(segments, 1):
            label = " -> ".join(seg.keys)
            t0 = time.perf_counter()
            going = [s for s in spec.source_names if s not in failed]
            if not going:
                raise BuildLoopError(f"every source of {spec.pipeline!r} stopped before {label}", failed)
            for src in failed:  # the runs a stopped source does not need
                done(f"{label} [{src}] skipped")
            head = f"[{n}/{len(segments)}] {spec.pipeline}: {label}"
            if not seg.partitioned:
                progress(
                    f"{head} (all sources)"
                    if not failed
                    else f"{head} ({', '.join(going)}; without {', '.join(failed)})"
                )
                run = _planned(
                    spec, seg.keys, None, label, _exclude_config(spec, seg.keys, defs, list(failed), run_config)
                )
                outcomes: list[RunOutcome] = []
                queue.run_all([run], outcomes.append)
                if outcomes[0].failed is not None:
                    raise BuildLoopError(f"{label} (all sources) failed: {outcomes[0].failed}", failed)
                done(label)
            else:
                if queue.remote:
                    progress(f"{head} [{', '.join(going)}] on {plan.describe()}")

                def finished(out: RunOutcome, label: str = label) -> None:
                    src = out.run.partition or ""
                    if queue.remote:
                        progress(
                            f"      {label} [{src}] {'done' if out.failed is None else 'stopped'} in {out.seconds:.1f}s"
                        )
                    _note(failed, src, out.failed, progress)
                    done(f"{label} [{src}]")

                runs = [_planned(spec, seg.keys, src, f"{label} [{src}]", run_config) for src in going]
                announce = None if queue.remote else (lambda run, head=head: progress(f"{head} [{run.partition}]"))
                queue.run_all(runs, finished, on_start=announce)
            timings[label] = time.perf_counter() - t0
    finally:
        queue.close()
    timings["total"] = time.perf_counter() - t_all
    timings["failed"] = {s: failed[s] for s in spec.source_names if s in failed}
    timings["parallelism"] = plan.describe()
    return timings


def _planned(
    spec: PipelineSpec, keys: tuple[str, ...], partition: str | None, label: str, run_config: dict[str, Any]
) -> PlannedRun:
    """A run of ``keys``: a stretch of per-source stages for one source through ``<pipeline>_per_source``
    with an asset selection, or a global asset through its own job; tagged with the pipeline,
    stages, source and ``corpus/launched_by=cli``."""
    return PlannedRun(
        label=label,
        job_name=job_name(spec, keys[0]) if partition is None else per_source_job_name(spec),
        keys=keys,
        partition=partition,
        tags=run_tags(spec, keys, source=partition, launched_by="cli"),
        run_config=run_config,
        selection=partition is not None,
    )


def _run_here(
    spec: PipelineSpec,
    run: PlannedRun,
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    plan: parallelism.Parallelism,
) -> RunOutcome:
    """Execute ``run`` in this process, through ``instance``, with this process's resources."""
    job = defs.resolve_job_def(run.job_name)
    selection = [dg.AssetKey([spec.pipeline, k]) for k in run.keys] if run.selection else None
    t0 = time.perf_counter()
    with _environ(parallelism.exported(plan)):
        result = job.execute_in_process(
            run_config=run.run_config,
            instance=instance,
            partition_key=run.partition,
            asset_selection=selection,
            tags=run.tags,
            raise_on_error=False,
        )
    return RunOutcome(run, time.perf_counter() - t0, failure_reason(result, spec.pipeline), result.run_id)


class _environ:
    """Variables set for the length of a block (what the compute engine reads while a run executes here)."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for k, v in self.env.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc: object) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _note(failed: dict[str, str], source: str, why: str | None, progress: Callable[[str], None]) -> None:
    if why is not None:
        failed[source] = why
        progress(f"      source {source!r} stopped: {why}; the other sources go on")


def _exclude_config(
    spec: PipelineSpec, keys: tuple[str, ...], defs: dg.Definitions, exclude: list[str], run_config: dict[str, Any]
) -> dict[str, Any]:
    """Run config telling the global assets ``keys`` to leave ``exclude`` out (see SourcesConfig)."""
    if not exclude:
        return run_config
    ops = {}
    for k in keys:
        node = defs.resolve_assets_def(dg.AssetKey([spec.pipeline, k])).node_def.name
        ops[node] = {"config": {"exclude_sources": exclude}}
    return {**run_config, "ops": ops}


def stage_names(spec: PipelineSpec) -> list[str]:
    return ["raw", *[s.name for s in spec.stages], "tokenized"]


def summary_rows(spec: PipelineSpec, store: CorpusStore) -> list[dict[str, Any]]:
    """One row per stage and source from the committed manifests."""
    rows = []
    for stage in stage_names(spec):
        for src in spec.source_names:
            try:
                rep = runner.read_report(store, spec.pipeline, stage, src)
            except Exception as exc:
                rows.append({"stage": stage, "source": src, "error": str(exc).splitlines()[0]})
                continue
            top = sorted(rep.dropped.items(), key=lambda x: -x[1])[:2]
            rows.append(
                {
                    "stage": stage,
                    "source": src,
                    "in": rep.docs_in,
                    "kept": rep.kept,
                    "dropped": rep.dropped_total,
                    "quarantined": rep.quarantined_total,
                    "top_reasons": ", ".join(f"{r} {n}" for r, n in top),
                    "mb_out": rep.bytes_out / 1e6,
                    "tokens": rep.extra.get("tokens_train", 0) + rep.extra.get("tokens_val", 0),
                    "seconds": rep.seconds,
                    "passthrough": rep.passthrough,
                    "conserved": rep.conserved,
                }
            )
    return rows
