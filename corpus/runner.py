"""Run pipeline stages over shards: the compute behind every stage asset.

Dagster-free. A stage of one source is a list of independent *shard tasks* (one
output shard per input shard, same index), so a stage can run serially, on a
process pool or on Ray with identical outputs; the partition is committed with a
manifest after every shard is written (see corpus.io).

Conservation: every input document of a shard is accounted for as kept, dropped
(by reason, written to ``_dropped``) or quarantined (by error, written to
``_quarantine``). The counts travel in :class:`StageReport`, which the Dagster
layer turns into metadata and blocking checks.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from corpus import resume, schema
from corpus.io import CorpusStore, PartitionNotFound
from corpus.ops import registry
from corpus.spec import PipelineSpec, StageSpec

Progress = Callable[[str], None]
SAMPLE_SIZE = 3
SAMPLE_CHARS = 240
RAW_CAP = 64 * 1024
PROGRESS_EVERY_S = 5.0
INDEX_SUMMARY = "_summary.json"  # written last by a global stage's index: its presence marks the index complete


def _noop(_: str) -> None:
    pass


class _Throttled:
    """Passes on at most one progress message every ``every`` seconds, and the last one on flush.

    Under Dagster a message is an event-log write (a database commit), so a message per
    shard would make a stage's cost grow with its shard count rather than its data.
    """

    def __init__(self, progress: Progress, every: float = PROGRESS_EVERY_S):
        self.progress = progress
        self.every = every
        self._last = time.perf_counter()
        self._pending: str | None = None

    def __call__(self, message: str) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self._pending = None
            self.progress(message)
        else:
            self._pending = message

    def flush(self) -> None:
        if self._pending is not None:
            self.progress(self._pending)
            self._pending = None


# --- paths -------------------------------------------------------------------


def stage_dir(pipeline: str, stage: str, source: str) -> str:
    return posixpath.join(pipeline, stage, source)


def dropped_dir(pipeline: str, stage: str, source: str) -> str:
    return posixpath.join(pipeline, "_dropped", stage, source)


def quarantine_dir(pipeline: str, stage: str, source: str) -> str:
    return posixpath.join(pipeline, "_quarantine", stage, source)


def index_dir(pipeline: str, stage: str) -> str:
    return posixpath.join(pipeline, f"{stage}_index")


# --- reports -----------------------------------------------------------------


@dataclass
class StageReport:
    """What one stage did to one source. Every figure a user wants to see."""

    pipeline: str
    stage: str
    source: str
    docs_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)  # by error class
    bytes_in: int = 0  # UTF-8 bytes of text in
    bytes_out: int = 0  # UTF-8 bytes of text kept
    shards: int = 0
    seconds: float = 0.0
    passthrough: bool = False
    schema_problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # stage-specific figures (tokens, PII counts, ...)
    sample_kept: list[dict[str, Any]] = field(default_factory=list)
    sample_dropped: list[dict[str, Any]] = field(default_factory=list)
    sample_quarantined: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def conserved(self) -> bool:
        return self.docs_in == self.kept + self.dropped_total + self.quarantined_total

    @property
    def docs_per_second(self) -> float:
        return self.docs_in / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageReport:
        return cls(**data)

    def merge(self, shard: ShardResult) -> None:
        self.docs_in += shard.docs_in
        self.kept += shard.kept
        self.bytes_in += shard.bytes_in
        self.bytes_out += shard.bytes_out
        self.shards += 1
        for k, v in shard.dropped.items():
            self.dropped[k] = self.dropped.get(k, 0) + v
        for k, v in shard.quarantined.items():
            self.quarantined[k] = self.quarantined.get(k, 0) + v
        for k, v in shard.extra.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                self.extra[k] = self.extra.get(k, 0) + v
            elif isinstance(v, dict):
                agg = self.extra.setdefault(k, {})
                for kk, vv in v.items():
                    agg[kk] = agg.get(kk, 0) + vv
        self.schema_problems.extend(p for p in shard.schema_problems if p not in self.schema_problems)
        _extend_sample(self.sample_kept, shard.sample_kept)
        _extend_sample(self.sample_dropped, shard.sample_dropped, key="drop_reason")
        _extend_sample(self.sample_quarantined, shard.sample_quarantined)


def _extend_sample(dest: list[dict[str, Any]], new: list[dict[str, Any]], key: str | None = None) -> None:
    """Add rows up to the sample size; with ``key``, room for twice as many, and once the
    first SAMPLE_SIZE are in, only rows with a new ``key`` value (one example per drop reason)."""
    limit = SAMPLE_SIZE * (2 if key else 1)
    for row in new:
        if len(dest) >= limit:
            return
        if key and len(dest) >= SAMPLE_SIZE and any(r.get(key) == row.get(key) for r in dest):
            continue
        dest.append(row)


@dataclass
class ShardResult:
    index: int
    docs_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    written: dict[str, Any] | None = None  # manifest entry of the kept shard
    dropped_written: dict[str, Any] | None = None
    quarantine_written: dict[str, Any] | None = None
    schema_problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    sample_kept: list[dict[str, Any]] = field(default_factory=list)
    sample_dropped: list[dict[str, Any]] = field(default_factory=list)
    sample_quarantined: list[dict[str, Any]] = field(default_factory=list)


# --- executors ---------------------------------------------------------------


class SerialExecutor:
    """Runs shard tasks one after another in this process (the default)."""

    name = "serial"

    def map(self, fn: Callable[..., ShardResult], tasks: list[tuple[Any, ...]]) -> Iterator[ShardResult]:
        for t in tasks:
            yield fn(*t)


# --- helpers -----------------------------------------------------------------


def _text_bytes(df: pl.DataFrame) -> int:
    if df.height == 0 or schema.TEXT not in df.columns:
        return 0
    return int(df.select(pl.col(schema.TEXT).str.len_bytes().sum()).item() or 0)


def _sample_rows(df: pl.DataFrame, extra_cols: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    if df.height == 0:
        return []
    cols = [c for c in (schema.ID, schema.SOURCE, *extra_cols, schema.TEXT) if c in df.columns]
    rows = df.head(SAMPLE_SIZE).select(cols).to_dicts()
    for r in rows:
        if isinstance(r.get(schema.TEXT), str):
            t = r[schema.TEXT]
            r[schema.TEXT] = t[:SAMPLE_CHARS] + ("…" if len(t) > SAMPLE_CHARS else "")
    return rows


def _sample_dropped(df: pl.DataFrame) -> list[dict[str, Any]]:
    if df.height == 0:
        return []
    # one example per reason first, so the sample shows the variety of drops
    firsts = df.unique(subset=[schema.DROP_REASON], keep="first", maintain_order=True)
    extra = (schema.DROP_REASON, schema.DUPLICATE_OF) if schema.DUPLICATE_OF in df.columns else (schema.DROP_REASON,)
    rows = _sample_rows(firsts, extra)
    return rows


def _error_class(msg: str) -> str:
    head = msg.split(":", 1)[0].strip()
    return head if 0 < len(head) <= 60 else "error"


def schema_problems(df: pl.DataFrame) -> list[str]:
    """What is wrong with a kept-documents frame against the document schema ([] = fine)."""
    problems = []
    for col, dtype in schema.CORE.items():
        if col not in df.columns:
            problems.append(f"missing column {col!r}")
        elif df.schema[col] != dtype and df.height > 0 and df.schema[col] != pl.Null:
            problems.append(f"column {col!r} is {df.schema[col]}, expected {dtype}")
    if df.height and schema.TEXT in df.columns and df[schema.TEXT].null_count():
        problems.append(f"{df[schema.TEXT].null_count()} documents with null text")
    if df.height and schema.ID in df.columns and df[schema.ID].n_unique() != df.height:
        problems.append("duplicate ids in shard")
    return problems


def _quarantine_rows(df: pl.DataFrame, stage: str, step: str, errors: pl.Series) -> pl.DataFrame:
    return pl.DataFrame(
        {
            schema.SOURCE: df[schema.SOURCE] if schema.SOURCE in df.columns else [None] * df.height,
            schema.FILE: df[schema.FILE] if schema.FILE in df.columns else [None] * df.height,
            schema.OFFSET: df[schema.OFFSET] if schema.OFFSET in df.columns else [None] * df.height,
            "stage": [stage] * df.height,
            "step": [step] * df.height,
            "error": errors,
            "raw": df[schema.TEXT].str.slice(0, RAW_CAP) if schema.TEXT in df.columns else [None] * df.height,
        },
        schema=schema.QUARANTINE_COLUMNS,
    )


def apply_steps(
    df: pl.DataFrame, steps: list[tuple[registry.Operator, registry.OpConfig]], stage: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Run operators in order; move tagged rows out. Returns (kept, dropped, quarantined, extra figures)."""
    dropped: list[pl.DataFrame] = []
    quarantined: list[pl.DataFrame] = []
    extra: dict[str, Any] = {}
    for op, cfg in steps:
        if df.height == 0:
            break
        out = op.fn(df, cfg)
        if not isinstance(out, pl.DataFrame) or out.height != df.height:
            raise RuntimeError(f"operator {op.key} broke the contract: it must return the same rows in the same order")
        if op.stats is not None:
            for k, v in op.stats(out, cfg).items():
                extra[k] = _add_stat(extra.get(k), v)
        if schema.ERROR in out.columns:
            bad = out[schema.ERROR].is_not_null()
            if bad.any():
                rows = out.filter(bad)
                quarantined.append(_quarantine_rows(rows, stage, op.key, rows[schema.ERROR]))
            out = out.filter(~bad).drop(schema.ERROR)
        if schema.DROP in out.columns:
            gone = out[schema.DROP].is_not_null()
            if gone.any():
                rows = out.filter(gone).rename({schema.DROP: schema.DROP_REASON})
                dropped.append(rows.with_columns(pl.lit(op.key).alias(schema.DROP_STEP)))
            out = out.filter(~gone).drop(schema.DROP)
        for col in ("pii_email", "pii_ip", "pii_phone"):
            if col in out.columns:
                extra[col] = extra.get(col, 0) + int(out[col].sum() or 0)
        df = out
    if schema.LANGUAGE in df.columns and df.height:
        extra["languages"] = dict(Counter(df[schema.LANGUAGE].fill_null("unknown").to_list()).most_common(12))
    d = pl.concat(dropped, how="diagonal_relaxed") if dropped else pl.DataFrame()
    q = pl.concat(quarantined, how="vertical") if quarantined else schema.empty_quarantine()
    return df, d, q, extra


def _add_stat(old: Any, new: Any) -> Any:
    if old is None:
        return new
    if isinstance(new, dict):
        return {**old, **{k: old.get(k, 0) + v for k, v in new.items()}}
    return old + new


def _summarize(stage: StageSpec, report: StageReport) -> None:
    for op, cfg in _resolve_steps(stage):
        if op.summarize is not None:
            report.extra.update(op.summarize(report.extra, cfg))


def _finish_shard(
    store: CorpusStore,
    pipeline: str,
    stage: str,
    source: str,
    index: int,
    kept: pl.DataFrame,
    dropped: pl.DataFrame,
    quarantined: pl.DataFrame,
    result: ShardResult,
) -> ShardResult:
    from corpus.io import SHARD_PATTERN

    kept = schema.conform(kept) if kept.height or kept.columns else schema.empty_documents()
    result.kept = kept.height
    result.bytes_out = _text_bytes(kept)
    result.schema_problems = schema_problems(kept)
    result.written = {
        "name": SHARD_PATTERN.format(index),
        "rows": kept.height,
        **store.write_table_entry(
            posixpath.join(stage_dir(pipeline, stage, source), SHARD_PATTERN.format(index)), kept
        ),
    }
    if dropped.height:
        result.dropped = dict(Counter(dropped[schema.DROP_REASON].to_list()))
        size = store.write_table(
            posixpath.join(dropped_dir(pipeline, stage, source), SHARD_PATTERN.format(index)), dropped
        )
        result.dropped_written = {"name": SHARD_PATTERN.format(index), "rows": dropped.height, "bytes": size}
        result.sample_dropped = _sample_dropped(dropped)
    if quarantined.height:
        result.quarantined = dict(Counter(_error_class(e) for e in quarantined["error"].to_list()))
        size = store.write_table(
            posixpath.join(quarantine_dir(pipeline, stage, source), SHARD_PATTERN.format(index)), quarantined
        )
        result.quarantine_written = {"name": SHARD_PATTERN.format(index), "rows": quarantined.height, "bytes": size}
        result.sample_quarantined = (
            quarantined.head(SAMPLE_SIZE).with_columns(pl.col("raw").str.slice(0, SAMPLE_CHARS)).to_dicts()
        )
    result.sample_kept = _sample_rows(kept)
    return result


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
    progress: Progress = _noop,
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
    say = _Throttled(progress)
    results = []
    empty_files: list[str] = []
    i = -1
    for batch in read_source(src, fs, base_path, batch_docs=spec.shard_docs):
        empty_files.extend(getattr(batch, "empty_files", []) or [])
        if batch.records == 0:  # only empty files: nothing to write
            continue
        i += 1
        res = ShardResult(index=i, docs_in=batch.records, bytes_in=_text_bytes(batch.docs))
        if getattr(batch, "repairs", None):
            res.extra["repairs"] = dict(batch.repairs)
        if getattr(batch, "encodings", None):
            res.extra["encodings"] = dict(batch.encodings)
        dropped = batch.dropped
        if dropped.height and schema.DROP_STEP not in dropped.columns:
            dropped = dropped.with_columns(pl.lit(f"read_{src.format}").alias(schema.DROP_STEP))
        _finish_shard(store, spec.pipeline, "raw", source_name, i, batch.docs, dropped, batch.quarantine, res)
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


# --- transform stages --------------------------------------------------------


def _resolve_steps(stage: StageSpec) -> list[tuple[registry.Operator, registry.OpConfig]]:
    steps = []
    for step in stage.steps:
        op = registry.get_operator(step.op)
        op.check_dependencies()
        steps.append((op, op.parse_config(step.config)))
    return steps


def process_shard(
    store: CorpusStore,
    spec_json: str,
    stage_name: str,
    source: str,
    input_stage: str,
    shard_name: str,
    index: int,
    drop_table_rel: str | None = None,
) -> ShardResult:
    """One shard of one stage of one source: read, apply, write. Pure given its inputs."""
    spec = PipelineSpec.model_validate_json(spec_json)
    stage = spec.stage(stage_name)
    inp = store.read_table(posixpath.join(stage_dir(spec.pipeline, input_stage, source), shard_name))
    df = pl.from_arrow(inp)
    assert isinstance(df, pl.DataFrame)
    res = ShardResult(index=index, docs_in=df.height, bytes_in=_text_bytes(df))
    applies = stage.sources is None or source in stage.sources
    if not applies:
        kept, dropped, quarantined, extra = df, pl.DataFrame(), schema.empty_quarantine(), {}
    elif drop_table_rel is not None:
        kept, dropped, quarantined, extra = _apply_drop_table(store, df, drop_table_rel, stage)
    else:
        kept, dropped, quarantined, extra = apply_steps(df, _resolve_steps(stage), stage_name)
    res.extra = extra
    return _finish_shard(store, spec.pipeline, stage_name, source, index, kept, dropped, quarantined, res)


def _apply_drop_table(
    store: CorpusStore, df: pl.DataFrame, rel: str, stage: StageSpec
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    table = pl.from_arrow(store.read_table(rel))
    assert isinstance(table, pl.DataFrame)
    scores = [c for c in table.columns if c.startswith(("score/", "weight/"))]
    joined = df.drop([c for c in scores if c in df.columns]).join(
        table.select(schema.ID, schema.DROP, schema.DUPLICATE_OF, *scores),
        on=schema.ID,
        how="left",
        maintain_order="left",
    )
    gone = joined[schema.DROP].is_not_null()
    kept = joined.filter(~gone).drop(schema.DROP, schema.DUPLICATE_OF)
    dropped = (
        joined.filter(gone)
        .rename({schema.DROP: schema.DROP_REASON})
        .with_columns(pl.lit(stage.steps[0].op).alias(schema.DROP_STEP))
    )
    return kept, dropped, schema.empty_quarantine(), {}


def run_stage(
    spec: PipelineSpec,
    stage_name: str,
    source: str,
    store: CorpusStore,
    *,
    executor: Any = None,
    progress: Progress = _noop,
) -> StageReport:
    """Run a (non-global, or the apply half of a global) stage for one source."""
    stage = spec.stage(stage_name)
    idx = [s.name for s in spec.stages].index(stage_name)
    input_stage = spec.stage_input(idx)
    manifest = store.read_manifest(stage_dir(spec.pipeline, input_stage, source))
    shard_names = [s["name"] for s in manifest["shards"]]
    drop_rel = None
    if any(registry.get_operator(s.op).kind == "global" for s in stage.steps):
        drop_rel = posixpath.join(index_dir(spec.pipeline, stage_name), f"{source}.parquet")
        # the summary is written after every source's drop table: without it the index is incomplete
        if not store.exists(drop_rel) or not store.exists(index_dir(spec.pipeline, stage_name), INDEX_SUMMARY):
            raise PartitionNotFound(
                f"no dedup index at {store.display(drop_rel)}; materialize {spec.pipeline}/{stage_name}_index first"
            )
    spec_json = spec.model_dump_json()
    tasks = [
        (store, spec_json, stage_name, source, input_stage, name, i, drop_rel) for i, name in enumerate(shard_names)
    ]
    report = StageReport(
        spec.pipeline, stage_name, source, passthrough=not (stage.sources is None or source in stage.sources)
    )
    t0 = time.perf_counter()
    _retract(store, spec.pipeline, stage_name, source)
    say = _Throttled(progress)
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


def run_global_index(
    spec: PipelineSpec,
    stage_name: str,
    store: CorpusStore,
    *,
    progress: Progress = _noop,
    sources: list[str] | None = None,
    executor: Any = None,
    partitions: int | None = None,
) -> dict[str, Any]:
    """Build the drop table of a global stage (dedup) across all sources; one file per source.

    ``sources`` (default: all) leaves the others out, e.g. sources that failed an earlier stage;
    their drop tables are removed, so a stale one is never applied.

    MinHash and exact dedup run as tasks on ``executor`` (signatures per shard, buckets per
    partition, one merge; see corpus.dedup_index) and grow the stored index incrementally;
    the summary's ``index`` entry describes that build. Other global operators run in this process.
    """
    from corpus import dedup_build, dedup_index

    stage = spec.stage(stage_name)
    op, cfg = _resolve_steps(stage)[0]
    if op.key not in dedup_index.DISTRIBUTED_OPS:
        return run_global_index_in_process(spec, stage_name, store, progress=progress, sources=sources)
    names = _included(spec, sources)
    input_stage = spec.stage_input([s.name for s in spec.stages].index(stage_name))
    summary_rel = posixpath.join(index_dir(spec.pipeline, stage_name), INDEX_SUMMARY)
    store.delete(summary_rel)  # the index is incomplete until it is rewritten
    for source in set(spec.source_names) - set(names):
        store.delete(posixpath.join(index_dir(spec.pipeline, stage_name), f"{source}.parquet"))
    inputs = {s: stage_dir(spec.pipeline, input_stage, s) for s in names}
    summary, info = dedup_build.build_index(
        store,
        op.key,
        cfg,
        inputs,
        index_dir(spec.pipeline, stage_name),
        executor=executor,
        progress=_Throttled(progress),
        partitions=partitions,
    )
    summary["excluded_sources"] = [s for s in spec.source_names if s not in names]
    store.write_json(summary_rel, summary)
    return {**summary, "index": info}


def run_global_index_in_process(
    spec: PipelineSpec,
    stage_name: str,
    store: CorpusStore,
    *,
    progress: Progress = _noop,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """The single-process form: the operator sees every document's batch in this process."""
    names = _included(spec, sources)
    stage = spec.stage(stage_name)
    op, cfg = _resolve_steps(stage)[0]
    idx = [s.name for s in spec.stages].index(stage_name)
    input_stage = spec.stage_input(idx)
    rank = {name: i for i, name in enumerate(spec.source_names)}
    counts = {"docs_in": 0}
    t0 = time.perf_counter()
    store.delete(
        posixpath.join(index_dir(spec.pipeline, stage_name), INDEX_SUMMARY)
    )  # the index is incomplete until it is rewritten

    for source in set(spec.source_names) - set(names):
        store.delete(posixpath.join(index_dir(spec.pipeline, stage_name), f"{source}.parquet"))

    def batches() -> Iterator[pl.DataFrame]:
        for source in names:
            rel = stage_dir(spec.pipeline, input_stage, source)
            for b in store.iter_partition(rel, columns=[schema.ID, schema.TEXT, schema.SOURCE]):
                counts["docs_in"] += b.height
                yield b.with_columns(pl.lit(rank[source], dtype=pl.Int32).alias("source_rank"))
            progress(f"{stage_name}_index: read {source}, {counts['docs_in']:,} docs so far")

    table = op.fn(batches(), cfg)
    info: dict[str, Any] = {}
    if isinstance(table, tuple):  # (drop table, JSON info with optional files) from model-based selection
        table, info = table
        for name, data in (info.pop("files", None) or {}).items():
            store.write_bytes(posixpath.join(index_dir(spec.pipeline, stage_name), name), data)
    if not isinstance(table, pl.DataFrame) or not {schema.ID, schema.DROP, schema.DUPLICATE_OF} <= set(table.columns):
        raise RuntimeError(f"operator {op.key} broke the global contract: expected columns id, _drop, duplicate_of")
    # which source each dropped id belongs to: ids embed the source in their hash, so look them up
    id_source = pl.concat(
        [
            store.read_partition(stage_dir(spec.pipeline, input_stage, s), columns=[schema.ID]).with_columns(
                pl.lit(s).alias("_src")
            )
            for s in names
        ]
    )
    table = table.join(id_source, on=schema.ID, how="left")
    per_source: dict[str, dict[str, int]] = {}
    for source in names:
        part = table.filter(pl.col("_src") == source).drop("_src").sort(schema.ID)
        store.write_table(posixpath.join(index_dir(spec.pipeline, stage_name), f"{source}.parquet"), part)
        per_source[source] = (
            dict(Counter(r for r in part[schema.DROP].to_list() if r is not None)) if part.height else {}
        )
    summary = {
        "operator": op.key,
        "docs_in": counts["docs_in"],
        "duplicates": int(table[schema.DROP].is_not_null().sum()),
        "per_source": per_source,
        "cross_source": int(
            table.join(
                id_source.rename({schema.ID: schema.DUPLICATE_OF, "_src": "_dup_src"}),
                on=schema.DUPLICATE_OF,
                how="left",
            )
            .filter(pl.col("_src") != pl.col("_dup_src"))
            .height
        ),
        "seconds": time.perf_counter() - t0,
        "excluded_sources": [s for s in spec.source_names if s not in names],
    }
    if info:
        summary["model"] = info
    store.write_json(posixpath.join(index_dir(spec.pipeline, stage_name), INDEX_SUMMARY), summary)
    return summary


# --- tokenizer and token shards ----------------------------------------------


def _included(spec: PipelineSpec, sources: list[str] | None) -> list[str]:
    """``sources`` in the spec's order (all when None); an unknown name is an error."""
    if sources is None:
        return spec.source_names
    unknown = sorted(set(sources) - set(spec.source_names))
    if unknown:
        raise ValueError(f"unknown sources {unknown}; the pipeline's sources: {', '.join(spec.source_names)}")
    return [s for s in spec.source_names if s in sources]


def tokenizer_rel(pipeline: str) -> str:
    return posixpath.join(pipeline, "tokenizer", "tokenizer.json")


def run_tokenizer(
    spec: PipelineSpec,
    store: CorpusStore,
    *,
    tokenizer_file: bytes | None = None,
    progress: Progress = _noop,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """Train a byte-level BPE on a per-source sample of the clean corpus (or install a given file).

    ``sources`` (default: all) are the sources sampled."""
    names = _included(spec, sources)
    from corpus import tokenize

    t0 = time.perf_counter()
    tk = spec.tokenizer
    if tk.kind == "file":
        if tokenizer_file is None:
            raise ValueError("tokenizer kind 'file' needs the tokenizer.json content")
        tok = tokenize.load_tokenizer(tokenizer_file.decode())
        sample_docs = 0
    else:

        def sample() -> Iterator[str]:
            for source in names:
                n = 0
                for b in store.iter_partition(
                    stage_dir(spec.pipeline, spec.tokenizer_input, source), columns=[schema.TEXT]
                ):
                    for text in b[schema.TEXT].to_list():
                        if n >= tk.sample_docs:
                            break
                        n += 1
                        yield text
                    if n >= tk.sample_docs:
                        break
                progress(f"tokenizer: sampled {n:,} documents of {source}")

        texts = list(sample())
        sample_docs = len(texts)
        tok = tokenize.train_bpe(texts, tk.vocab_size)
    data = tok.to_str().encode()
    store.write_bytes(tokenizer_rel(spec.pipeline), data)
    return {
        "vocab_size": tok.get_vocab_size(),
        "kind": tk.kind,
        "sample_docs": sample_docs,
        "sha256": hashlib.sha256(data).hexdigest()[:16],
        "seconds": time.perf_counter() - t0,
    }


def run_tokenized(
    spec: PipelineSpec, source: str, store: CorpusStore, *, executor: Any = None, progress: Progress = _noop
) -> StageReport:
    """Tokenize one source's documents into token shards with a fixed validation split.

    One task per shard on ``executor`` (see corpus.tokenize_shards): a pass over the ids
    fixes the split, then every shard is encoded on its own; a killed run resumes from the
    shards it finished.
    """
    from corpus import tokenize, tokenize_shards

    executor = executor or SerialExecutor()
    tok_rel = tokenizer_rel(spec.pipeline)
    data = store.read_bytes(tok_rel)
    vocab = tokenize.load_tokenizer(data.decode()).get_vocab_size()
    digest = hashlib.sha256(data).hexdigest()
    in_rel = stage_dir(spec.pipeline, spec.tokenizer_input, source)
    shards = store.read_manifest(in_rel)["shards"]
    tk = spec.tokenizer
    keyed = list(
        executor.map(
            tokenize_shards.split_keys_task,
            [(store, posixpath.join(in_rel, s["name"]), tk.val_max_docs) for s in shards],
        )
    )
    _, threshold = tokenize_shards.split_threshold(keyed, tk.val_fraction, tk.val_min_docs, tk.val_max_docs)
    report = StageReport(spec.pipeline, "tokenized", source)
    t0 = time.perf_counter()
    out_rel = stage_dir(spec.pipeline, "tokenized", source)
    writer = store.partition_writer(out_rel)
    store.retract(writer.rel_dir)
    rdir = resume.receipt_dir(spec.pipeline, "tokenized", source)
    tasks = [
        (store, tok_rel, digest, posixpath.join(in_rel, s["name"]), out_rel, i, threshold) for i, s in enumerate(shards)
    ]
    receipts = [
        (
            posixpath.join(rdir, resume.receipt_name(i)),
            resume.fingerprint(digest, threshold, s["name"], s["rows"], s["bytes"]),
        )
        for i, s in enumerate(shards)
    ]
    tokens = {"train": 0, "val": 0}
    docs = {"train": 0, "val": 0}
    say = _Throttled(progress)
    results = []
    for r in resume.resumable_map(executor, store, tokenize_shards.encode_task, tasks, receipts, dict, dict):
        results.append(r)
        for split in tokens:
            tokens[split] += r["tokens"][split]
            docs[split] += r["docs_by_split"][split]
        report.docs_in += r["docs"]
        report.kept += r["docs"]
        report.bytes_in += r["bytes_in"]
        report.shards += 1
        report.seconds = time.perf_counter() - t0
        say(
            f"tokenized[{source}]: {report.shards}/{len(tasks)} shards, {report.docs_in:,} docs, {sum(tokens.values()):,} tokens"
        )
    say.flush()
    writer.shards = [r["entry"] for r in sorted(results, key=lambda r: r["index"])]
    report.extra = {
        "tokens_train": tokens["train"],
        "tokens_val": tokens["val"],
        "docs_train": docs["train"],
        "docs_val": docs["val"],
        "vocab_size": vocab,
    }
    report.seconds = time.perf_counter() - t0
    writer.commit(summary=report.to_json())
    resume.clear(store, rdir)
    return report


def read_report(store: CorpusStore, pipeline: str, stage: str, source: str) -> StageReport:
    summary = store.read_manifest(stage_dir(pipeline, stage, source)).get("summary") or {}
    return StageReport.from_json(summary)


def spec_fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def stage_code_version(stage: StageSpec | None, extra: Iterable[str] = ()) -> str:
    """Operator versions + a hash of their configs: a changed config marks the asset stale."""
    if stage is None:
        parts = list(extra)
        return "+".join(parts) if parts else "1"
    ops = "+".join(s.op for s in stage.steps)
    cfg = spec_fingerprint([[s.op, s.config] for s in stage.steps] + [stage.sources, *extra])
    return f"{ops}:{cfg}"
