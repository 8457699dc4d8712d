"""Build a global stage's index (dedup, model-based selection) across every source of a pipeline.

The index holds one drop table per source and a ``_summary.json`` written last (its
presence marks the index complete); the stage itself then applies the drop table per source
(corpus.stage_run). MinHash and exact dedup run as tasks on an executor (corpus.dedup_build);
other global operators see every document's batch in this process.
"""

from __future__ import annotations

import posixpath
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import polars as pl

from corpus import schema
from corpus.dedup_state import Compaction
from corpus.executor import Executor
from corpus.io import CorpusStore
from corpus.shard_task import resolve_steps
from corpus.spec import PipelineSpec
from corpus.stage_graph import stage_graph
from corpus.stage_report import INDEX_SUMMARY, Progress, Throttled, included_sources, index_dir, noop, stage_dir


def run_global_index(
    spec: PipelineSpec,
    stage_name: str,
    store: CorpusStore,
    *,
    progress: Progress = noop,
    sources: list[str] | None = None,
    executor: Executor | None = None,
    partitions: int | None = None,
    compaction: Compaction | None = None,
) -> dict[str, Any]:
    """Build the drop table of a global stage (dedup) across all sources; one file per source.

    ``sources`` (default: all) leaves the others out, e.g. sources that failed an earlier stage;
    their drop tables are removed, so a stale one is never applied.

    MinHash and exact dedup run as tasks on ``executor`` (signatures per shard, buckets per
    partition, one merge; see corpus.dedup_index) and grow the stored index incrementally;
    the summary's ``index`` entry describes that build (``compaction``: when its partitions' delta key
    files are merged, default ``Compaction()``). Other global operators run in this process.
    """
    from corpus import dedup_build, dedup_index

    stage = spec.stage(stage_name)
    op, cfg = resolve_steps(stage)[0]
    if op.key not in dedup_index.DISTRIBUTED_OPS:
        return run_global_index_in_process(spec, stage_name, store, progress=progress, sources=sources)
    names = included_sources(spec, sources)
    input_stage = stage_graph(spec).input_of(stage_name)
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
        progress=Throttled(progress),
        partitions=partitions,
        compaction=compaction,
    )
    summary["excluded_sources"] = [s for s in spec.source_names if s not in names]
    store.write_json(summary_rel, summary)
    return {**summary, "index": info}


def run_global_index_in_process(
    spec: PipelineSpec,
    stage_name: str,
    store: CorpusStore,
    *,
    progress: Progress = noop,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """The single-process form: the operator sees every document's batch in this process."""
    names = included_sources(spec, sources)
    stage = spec.stage(stage_name)
    op, cfg = resolve_steps(stage)[0]
    input_stage = stage_graph(spec).input_of(stage_name)
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
