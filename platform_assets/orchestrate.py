"""Materialize a whole pipeline through Dagster, the way a backfill would, from the command line.

The asset graph is cut into *segments*: runs of per-source (partitioned) assets between
the global ones (dedup index, tokenizer). A segment runs once per source, sources in
parallel on a process pool; global assets run once. Every run goes through the Dagster
instance (``$DAGSTER_HOME``, SQLite by default), so the UI shows them afterwards.
"""

from __future__ import annotations

import functools
import json
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import dagster as dg

from corpus import runner
from corpus.io import CorpusStore
from corpus.ops import registry
from corpus.spec import PathPolicy, PipelineSpec
from corpus.specfile import load_defs_folder
from platform_assets.run_outcome import cli_console_logger, failure_reason
from resources.storage import PROJECT_ROOT

DEFS_DIR = PROJECT_ROOT / "platform_assets" / "defs"
# runs launched from the command line log stage progress (INFO), not Dagster's step bookkeeping (DEBUG)
CLI_RUN_CONFIG: dict[str, Any] = {
    "loggers": {"console": {"config": {"log_level": os.environ.get("CORPUS_LOG_LEVEL", "INFO")}}}
}


def load_pipeline_specs(defs_dir: Path = DEFS_DIR) -> dict[str, PipelineSpec]:
    """The approved pipelines by name; SpecError (naming file and field) when any defs.yaml is refused."""
    return {name: spec for name, (_, spec) in load_defs_folder(defs_dir, PathPolicy.default(PROJECT_ROOT)).items()}


@dataclass(frozen=True)
class Segment:
    keys: tuple[str, ...]  # stage names (asset key = [pipeline, name])
    partitioned: bool


def build_segments(spec: PipelineSpec) -> list[Segment]:
    """Topological runs of per-source assets, split at the global ones."""
    segments: list[Segment] = []
    current: list[str] = ["raw"]
    for stage in spec.stages:
        if any(registry.get_operator(s.op).kind == "global" for s in stage.steps):
            segments.append(Segment(tuple(current), True))
            segments.append(Segment((f"{stage.name}_index",), False))
            current = [stage.name]
        else:
            current.append(stage.name)
    segments.append(Segment(tuple(current), True))
    segments.append(Segment(("tokenizer",), False))
    segments.append(Segment(("tokenized",), True))
    return segments


def _defs_for(spec: PipelineSpec, resources: dict[str, Any]) -> dg.Definitions:
    """The build-loop assets of ``spec``. Segments never include the learning loop, whose
    definitions import torch (about 180 MB and seconds of start-up in every worker)."""
    from platform_assets.components.pipeline import build_pipeline_defs

    build_loop = spec.model_copy(update={"mixture": None, "schedules": []})
    # the console logger of CLI runs leaves stack traces to the event log
    return dg.Definitions.merge(
        build_pipeline_defs(build_loop), dg.Definitions(resources=resources, loggers={"console": cli_console_logger})
    )


def run_segment(
    spec_json: str,
    keys: tuple[str, ...],
    partition: str | None,
    resource_config: dict[str, Any],
    instance_ref: Any | None = None,
) -> tuple[float, str | None]:
    """Materialize ``keys`` of one pipeline (for one partition) through Dagster; returns (seconds, why it
    failed or None).

    Runs in a worker process: resources are rebuilt from plain values."""
    warnings.filterwarnings("ignore", message=r".*is currently in (preview|beta)")  # as the CLI does
    spec, resources, defs = _worker_defs(spec_json, json.dumps(resource_config, sort_keys=True, default=str))
    instance = dg.DagsterInstance.from_ref(instance_ref) if instance_ref is not None else dg.DagsterInstance.get()
    t0 = time.perf_counter()
    failed = failure_reason(
        _run_inline(spec, keys, partition, resources, instance, defs, raise_on_error=False), spec.pipeline
    )
    return time.perf_counter() - t0, failed


@functools.lru_cache(maxsize=4)
def _worker_defs(spec_json: str, resource_config_json: str) -> tuple[PipelineSpec, dict[str, Any], dg.Definitions]:
    """Spec, resources and definitions of a worker, built once per worker process (about a
    second of CPU each time otherwise) and reused by every run the worker executes."""
    from platform_assets.resources import resources_from_config

    resources = resources_from_config(json.loads(resource_config_json))
    spec = PipelineSpec.model_validate_json(spec_json)
    return spec, resources, _defs_for(spec, resources)


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

    A source whose run fails (a blocking check, e.g. every document filtered out, or an error) is a
    result for that source: its later stages are not run, the other sources go on, and the global
    assets (dedup index, tokenizer) run over the sources still going. Raises :class:`BuildLoopError`
    when a global asset fails or no source is left.

    ``on_run_done`` is called with a label after each of the :func:`count_runs` runs (a
    progress bar advances on it)."""
    done = on_run_done or (lambda _: None)
    instance = instance or dg.DagsterInstance.get()
    parallel = parallel if parallel is not None else min(len(spec.sources), os.cpu_count() or 1)
    ref = instance.get_ref() if not instance.is_ephemeral else None
    if ref is None:
        parallel = 1  # an in-memory instance cannot be shared with worker processes
    spec_json = spec.model_dump_json()
    from platform_assets.resources import resources_to_config

    resource_config = resources_to_config(resources)
    timings: dict[str, Any] = {}
    failed: dict[str, str] = {}
    t_all = time.perf_counter()
    segments = build_segments(spec)
    # one pool for the whole pipeline: its workers pay the imports and definitions once
    pool: ProcessPoolExecutor | None = None
    defs = _defs_for(spec, resources)
    try:
        for n, seg in enumerate(segments, 1):
            label = " -> ".join(seg.keys)
            t0 = time.perf_counter()
            going = [s for s in spec.source_names if s not in failed]
            if not going:
                raise BuildLoopError(f"every source of {spec.pipeline!r} stopped before {label}", failed)
            for src in failed:  # the runs a stopped source does not need
                done(f"{label} [{src}] skipped")
            if not seg.partitioned:
                progress(
                    f"[{n}/{len(segments)}] {spec.pipeline}: {label} (all sources)"
                    if not failed
                    else f"[{n}/{len(segments)}] {spec.pipeline}: {label} ({', '.join(going)}; without {', '.join(failed)})"
                )
                result = _run_inline(
                    spec,
                    seg.keys,
                    None,
                    resources,
                    instance,
                    defs,
                    raise_on_error=False,
                    run_config=_exclude_config(spec, seg.keys, defs, list(failed)),
                )
                why = failure_reason(result, spec.pipeline)
                if why is not None:
                    raise BuildLoopError(f"{label} (all sources) failed: {why}", failed)
                done(label)
            elif parallel <= 1:
                for src in going:
                    progress(f"[{n}/{len(segments)}] {spec.pipeline}: {label} [{src}]")
                    why = failure_reason(
                        _run_inline(spec, seg.keys, src, resources, instance, defs, raise_on_error=False), spec.pipeline
                    )
                    _note(failed, src, why, progress)
                    done(f"{label} [{src}]")
            else:
                progress(f"[{n}/{len(segments)}] {spec.pipeline}: {label} [{', '.join(going)}] on {parallel} processes")
                pool = pool or ProcessPoolExecutor(max_workers=parallel, mp_context=get_context("spawn"))
                futs = {pool.submit(run_segment, spec_json, seg.keys, src, resource_config, ref): src for src in going}
                for fut in as_completed(futs):
                    secs, why = fut.result()
                    progress(f"      {label} [{futs[fut]}] {'done' if why is None else 'stopped'} in {secs:.1f}s")
                    _note(failed, futs[fut], why, progress)
                    done(f"{label} [{futs[fut]}]")
            timings[label] = time.perf_counter() - t0
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    timings["total"] = time.perf_counter() - t_all
    timings["failed"] = {s: failed[s] for s in spec.source_names if s in failed}
    return timings


class BuildLoopError(RuntimeError):
    """The build loop cannot go on: a global asset failed, or every source stopped (``failed`` says why each did)."""

    def __init__(self, message: str, failed: dict[str, str]):
        super().__init__(message)
        self.failed = dict(failed)


def _note(failed: dict[str, str], source: str, why: str | None, progress: Callable[[str], None]) -> None:
    if why is not None:
        failed[source] = why
        progress(f"      source {source!r} stopped: {why}; the other sources go on")


def _exclude_config(
    spec: PipelineSpec, keys: tuple[str, ...], defs: dg.Definitions, exclude: list[str]
) -> dict[str, Any]:
    """Run config telling the global assets ``keys`` to leave ``exclude`` out (see SourcesConfig)."""
    if not exclude:
        return CLI_RUN_CONFIG
    ops = {}
    for k in keys:
        node = defs.resolve_assets_def(dg.AssetKey([spec.pipeline, k])).node_def.name
        ops[node] = {"config": {"exclude_sources": exclude}}
    return {**CLI_RUN_CONFIG, "ops": ops}


def count_runs(spec: PipelineSpec) -> int:
    """Dagster runs :func:`materialize_pipeline` launches: one per source per partitioned segment."""
    return sum(len(spec.sources) if seg.partitioned else 1 for seg in build_segments(spec))


def _run_inline(
    spec: PipelineSpec,
    keys: tuple[str, ...],
    partition: str | None,
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    defs: dg.Definitions | None = None,
    *,
    raise_on_error: bool = True,
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """One Dagster run of ``keys`` (for one partition, or unpartitioned); raises if it fails, unless told not to.

    A stretch of per-source stages runs through ``<pipeline>_per_source`` with an asset
    selection, a global asset through its own job; both are tagged with the pipeline,
    stages, source and ``corpus/launched_by=cli``."""
    from platform_assets.jobs import job_name, per_source_job_name, run_tags

    defs = defs or _defs_for(spec, resources)
    if partition is None:
        job, selection = defs.resolve_job_def(job_name(spec, keys[0])), None
    else:
        job, selection = (
            defs.resolve_job_def(per_source_job_name(spec)),
            [dg.AssetKey([spec.pipeline, k]) for k in keys],
        )
    return job.execute_in_process(
        run_config=run_config or CLI_RUN_CONFIG,
        instance=instance,
        partition_key=partition,
        asset_selection=selection,
        tags=run_tags(spec, keys, source=partition, launched_by="cli"),
        raise_on_error=raise_on_error,
    )


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
