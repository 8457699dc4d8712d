"""Run a stage of one source: the raw read, or a stage's shard tasks on an executor, then the commit.

A stage of one source is a list of independent :class:`~corpus.shard_task.ShardTask` (one
output shard per input shard, same index), so it runs serially, on a process pool or on
Ray with identical outputs; the partition is committed with a manifest after every shard
is written (see corpus.io), and a killed run resumes from its finished shards (corpus.resume).
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from dataclasses import asdict
from typing import Any

import polars as pl

from corpus import resume, schema
from corpus.executor import Executor, SerialExecutor
from corpus.io import CorpusStore, PartitionNotFound
from corpus.shard_task import ShardTask, finish_shard, process_shard, resolve_steps, text_bytes
from corpus.spec import PipelineSpec, StageSpec
from corpus.stage_graph import stage_graph
from corpus.stage_report import (
    INDEX_SUMMARY,
    Progress,
    ShardResult,
    StageReport,
    Throttled,
    dropped_dir,
    index_dir,
    noop,
    quarantine_dir,
    stage_dir,
)


def _summarize(stage: StageSpec, report: StageReport) -> None:
    for op, cfg in resolve_steps(stage):
        if op.summarize is not None:
            report.extra.update(op.summarize(report.extra, cfg))


def _retract(store: CorpusStore, pipeline: str, stage: str, source: str) -> None:
    """Withdraw the partition's committed outputs before rewriting their shards (see CorpusStore.retract)."""
    for rel in (
        stage_dir(pipeline, stage, source),
        dropped_dir(pipeline, stage, source),
        quarantine_dir(pipeline, stage, source),
    ):
        store.retract(rel)


def _commit(
    store: CorpusStore, pipeline: str, stage: str, source: str, results: list[ShardResult], report: StageReport
) -> None:
    """Commit the side outputs first, the kept output last: its manifest is what downstream reads."""
    for rel, attr in (
        (dropped_dir(pipeline, stage, source), "dropped_written"),
        (quarantine_dir(pipeline, stage, source), "quarantine_written"),
    ):
        w = store.partition_writer(rel)
        w.shards = [getattr(r, attr) for r in results if getattr(r, attr)]
        w.commit()
    w = store.partition_writer(stage_dir(pipeline, stage, source))
    w.shards = [r.written for r in results if r.written]
    w.commit(summary=report.to_json())


# --- the raw stage -----------------------------------------------------------


def run_raw(
    spec: PipelineSpec,
    source_name: str,
    store: CorpusStore,
    *,
    source_location: tuple[Any, str],
    progress: Progress = noop,
) -> StageReport:
    """Read a source into raw shards (one per ``spec.shard_docs`` records).

    ``source_location`` is (pyarrow filesystem, path) of the source, resolved by the caller
    (the storage resource knows the S3 endpoint and credentials).
    """
    from corpus.readers import read_source

    src = spec.source(source_name)
    fs, base_path = source_location
    report = StageReport(spec.pipeline, "raw", source_name)
    t0 = time.perf_counter()
    _retract(store, spec.pipeline, "raw", source_name)
    say = Throttled(progress)
    results = []
    empty_files: list[str] = []
    i = -1
    for batch in read_source(src, fs, base_path, batch_docs=spec.shard_docs):
        empty_files.extend(getattr(batch, "empty_files", []) or [])
        if batch.records == 0:  # only empty files: nothing to write
            continue
        i += 1
        res = ShardResult(index=i, docs_in=batch.records, bytes_in=text_bytes(batch.docs))
        if getattr(batch, "repairs", None):
            res.extra["repairs"] = dict(batch.repairs)
        if getattr(batch, "encodings", None):
            res.extra["encodings"] = dict(batch.encodings)
        dropped = batch.dropped
        if dropped.height and schema.DROP_STEP not in dropped.columns:
            dropped = dropped.with_columns(pl.lit(f"read_{src.format}").alias(schema.DROP_STEP))
        finish_shard(store, spec.pipeline, "raw", source_name, i, batch.docs, dropped, batch.quarantine, res)
        results.append(res)
        report.merge(res)
        report.seconds = time.perf_counter() - t0
        say(f"raw[{source_name}]: shard {i} read, {report.docs_in:,} records, {report.docs_per_second:,.0f} records/s")
    say.flush()
    if empty_files:
        report.extra["empty_files"] = len(empty_files)
        report.extra["empty_file_names"] = empty_files[:20]
    report.seconds = time.perf_counter() - t0
    _commit(store, spec.pipeline, "raw", source_name, results, report)
    return report


def run_stage(
    spec: PipelineSpec,
    stage_name: str,
    source: str,
    store: CorpusStore,
    *,
    executor: Executor | None = None,
    progress: Progress = noop,
) -> StageReport:
    """Run a (non-global, or the apply half of a global) stage for one source."""
    stage = spec.stage(stage_name)
    graph = stage_graph(spec)
    input_stage = graph.input_of(stage_name)
    manifest = store.read_manifest(stage_dir(spec.pipeline, input_stage, source))
    shard_names = [s["name"] for s in manifest["shards"]]
    drop_rel = None
    if graph.is_global(stage_name):
        drop_rel = posixpath.join(index_dir(spec.pipeline, stage_name), f"{source}.parquet")
        # the summary is written after every source's drop table: without it the index is incomplete
        if not store.exists(drop_rel) or not store.exists(index_dir(spec.pipeline, stage_name), INDEX_SUMMARY):
            raise PartitionNotFound(
                f"no dedup index at {store.display(drop_rel)}; materialize {spec.pipeline}/{stage_name}_index first"
            )
    spec_json = spec.model_dump_json()
    tasks = [
        (ShardTask(store, spec_json, stage_name, source, input_stage, name, i, drop_rel),)
        for i, name in enumerate(shard_names)
    ]
    report = StageReport(
        spec.pipeline, stage_name, source, passthrough=not (stage.sources is None or source in stage.sources)
    )
    t0 = time.perf_counter()
    _retract(store, spec.pipeline, stage_name, source)
    say = Throttled(progress)
    results = []
    receipts = _shard_receipts(store, spec, stage, source, manifest["shards"], drop_rel)
    counts: dict[str, int] = {}
    shard_results = resume.resumable_map(
        executor or SerialExecutor(), store, process_shard, tasks, receipts, asdict, _shard_from_json, counts
    )
    for res in shard_results:
        results.append(res)
        report.merge(res)
        report.seconds = time.perf_counter() - t0
        say(
            f"{stage_name}[{source}]: {len(results)}/{len(tasks)} shards, {report.docs_in:,} docs, "
            f"{report.docs_per_second:,.0f} docs/s"
        )
    say.flush()
    results.sort(key=lambda r: r.index)
    # merged again in shard order: the samples kept in the summary must not depend on which task finished first
    report = StageReport(spec.pipeline, stage_name, source, passthrough=report.passthrough)
    for res in results:
        report.merge(res)
    if not report.passthrough and drop_rel is None:
        _summarize(stage, report)
    report.seconds = time.perf_counter() - t0
    if counts.get("resumed"):
        progress(f"{stage_name}[{source}]: resumed {counts['resumed']} of {len(tasks)} shards from an interrupted run")
    _commit(store, spec.pipeline, stage_name, source, results, report)
    resume.clear(store, resume.receipt_dir(spec.pipeline, stage_name, source))
    return report


def _shard_receipts(
    store: CorpusStore,
    spec: PipelineSpec,
    stage: StageSpec,
    source: str,
    shards: list[dict[str, Any]],
    drop_rel: str | None,
) -> list[tuple[str, str]]:
    """(receipt path, fingerprint) per shard task: its input shard, the stage's steps and the index it applies."""
    index_fp = None
    if drop_rel is not None:  # the index summary changes with every rebuild (it holds timings): conservative
        index_fp = hashlib.sha256(
            store.read_bytes(posixpath.join(posixpath.dirname(drop_rel), INDEX_SUMMARY))
        ).hexdigest()
    stage_fp = resume.fingerprint(stage.model_dump(mode="json"), index_fp, source)
    rdir = resume.receipt_dir(spec.pipeline, stage.name, source)
    return [
        (posixpath.join(rdir, resume.receipt_name(i)), resume.fingerprint(stage_fp, s["name"], s["rows"], s["bytes"]))
        for i, s in enumerate(shards)
    ]


def _shard_from_json(data: dict[str, Any]) -> ShardResult:
    return ShardResult(**data)
