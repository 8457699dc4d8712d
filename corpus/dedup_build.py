"""Build (or grow) a global dedup index with the tasks of :mod:`corpus.dedup_index` on any executor.

``build_index`` decides between a full build and an incremental one (only new shards),
maps the signature tasks and then the bucket tasks over the executor (serial, a process
pool or Ray: every task reads and writes the store, results are small dicts), merges the
clusters, writes one drop table per source and commits the new index version. An
incremental build adds a delta key file to each partition that received new keys (see
:mod:`corpus.dedup_state` for the layout and when partitions are compacted).
"""

from __future__ import annotations

import dataclasses
import posixpath
import time
from collections.abc import Callable
from typing import Any

import polars as pl

from corpus import resume
from corpus.dedup_buckets import bucket_task
from corpus.dedup_index import (
    EDGE_SCHEMA,
    IndexJob,
    clusters_as_edges,
    drop_table,
    merge_clusters,
    reason_counts,
    signature_rel,
    signature_task,
    task_edges,
)
from corpus.dedup_state import (
    CURRENT,
    DOCS_PER_PARTITION,
    TASK_ROWS,
    Compaction,
    IndexState,
    group_members,
    incremental_base,
    load_state,
    new_shards,
    plan_groups,
    plan_partitions,
    state_root,
)
from corpus.io import CorpusStore
from corpus.ops.registry import OpConfig

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


def _identity(result: dict[str, Any]) -> dict[str, Any]:
    return result


class _Serial:
    name = "serial"

    def map(self, fn: Callable[..., Any], tasks: list[tuple[Any, ...]]) -> Any:
        for t in tasks:
            yield fn(*t)


def build_index(
    store: CorpusStore,
    op: str,
    config: OpConfig,
    input_dirs: dict[str, str],
    index_dir: str,
    *,
    executor: Any = None,
    progress: Progress = _noop,
    partitions: int | None = None,
    docs_per_partition: int = DOCS_PER_PARTITION,
    incremental: bool = True,
    compaction: Compaction | None = None,
    task_rows: int = TASK_ROWS,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary as the single-process index writes it, figures about this build).

    ``input_dirs``: source -> committed partition of the stage's input, in spec order
    (the order is the survivor priority). ``partitions``: bucket partitions (default: one
    per ``docs_per_partition`` documents; an incremental build keeps the stored count).
    ``compaction``: when a grown partition's deltas are merged into its base (default
    ``Compaction()``). ``task_rows``: key rows an incremental bucket task may hold, its partitions'
    stored keys and new entries (consecutive partitions share a task up to it; a full build keeps
    one task per partition, so its memory per task stays that of a partition).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    executor = executor or _Serial()
    compaction = compaction or Compaction()
    config_json = config.model_dump_json()
    ranks = {source: i for i, source in enumerate(input_dirs)}
    shards = {
        s: [[e["name"], e["rows"], e["bytes"]] for e in store.read_manifest(rel)["shards"]]
        for s, rel in input_dirs.items()
    }
    total_docs = sum(e[1] for entries in shards.values() for e in entries)

    state = load_state(store, index_dir)
    base = incremental_base(state, op, config_json, ranks, shards) if incremental else None
    if base is not None and partitions is not None and partitions != base.partitions:
        base = None  # a new partition count needs every key re-partitioned
    n_parts = base.partitions if base is not None else plan_partitions(total_docs, partitions, docs_per_partition)
    todo = new_shards(base, shards)
    n_todo = sum(len(v) for v in todo.values())
    if base is not None and n_todo == 0:
        return _unchanged(store, base, ranks, index_dir, t0)
    version = (state.version + 1) if state is not None else 1
    root = state_root(index_dir)
    job = IndexJob(op, config_json, n_parts, work="", version_dir="", compaction=compaction)
    new_docs = sum(e[1] for entries in todo.values() for e in entries)
    groups = plan_groups(base, new_docs * job.entries_per_doc, task_rows) if base is not None else ()
    work_fp = resume.fingerprint(op, config_json, n_parts, base.version if base else 0, ranks, todo, groups)
    job = dataclasses.replace(
        job,
        work=posixpath.join(root, f"work-{work_fp}"),
        version_dir=posixpath.join(root, f"v{version:05d}"),
        groups=groups,
    )
    mode = "incremental" if base is not None else "full"
    progress(
        f"index: {mode} build v{version}, {n_todo} shard(s) to sign, {n_parts} partition(s), {total_docs:,} docs in all"
    )

    # 1. signatures of the shards the index does not cover yet
    t1, c1 = time.perf_counter(), time.process_time()
    tasks, receipts = [], []
    for source, entries in todo.items():
        positions = {tuple(e): i for i, e in enumerate(shards[source])}
        for entry in entries:
            no = positions[tuple(entry)]
            tasks.append((store, job, source, ranks[source], posixpath.join(input_dirs[source], entry[0]), no))
            receipts.append(
                (posixpath.join(job.work, "receipts", "sig", f"{source}-{no:05d}.json"), resume.fingerprint(entry))
            )
    counts: dict[str, int] = {}
    sigs = []
    for r in resume.resumable_map(executor, store, signature_task, tasks, receipts, _identity, _identity, counts):
        sigs.append(r)
        progress(f"index: signatures {len(sigs)}/{len(tasks)} shards")
    sigs.sort(key=lambda r: (ranks[r["source"]], r["shard"]))
    resumed = counts.get("resumed", 0)

    # 2. buckets: every partition that received new entries
    t2, c2 = time.perf_counter(), time.process_time()
    files: dict[int, list[str]] = {}
    for r in sigs:
        for p in r["parts"]:
            files.setdefault(p, []).append(signature_rel(job, r["source"], r["shard"], p))
    keys = dict(base.keys) if base is not None else {}
    members = group_members(groups, n_parts)
    btasks, breceipts = [], []
    for p in sorted(files):
        stored = {str(q): keys[str(q)] for q in members[p] if str(q) in keys}
        btasks.append((store, job, members[p], files[p], stored))
        fp = resume.fingerprint(members[p], files[p], stored, compaction.max_deltas, compaction.max_delta_fraction)
        breceipts.append((posixpath.join(job.work, "receipts", "bucket", f"p-{p:05d}.json"), fp))
    counts = {}
    buckets = []
    for r in resume.resumable_map(executor, store, bucket_task, btasks, breceipts, _identity, _identity, counts):
        buckets.append(r)
        progress(f"index: buckets {len(buckets)}/{len(btasks)} tasks")
    buckets.sort(key=lambda r: r["p"])
    resumed += counts.get("resumed", 0)
    for r in buckets:
        keys.update(r["files"])

    # 3. merge: new links plus the stored clusters
    t3, c3 = time.perf_counter(), time.process_time()
    edge_frames = [task_edges(store, r) for r in buckets]
    if base is not None and base.clusters:
        edge_frames.append(clusters_as_edges(pl.from_arrow(store.read_table(base.clusters))))  # type: ignore[arg-type]
    edges = (
        pl.concat([f.cast(EDGE_SCHEMA) for f in edge_frames if isinstance(f, pl.DataFrame)])
        if edge_frames
        else pl.DataFrame(schema=EDGE_SCHEMA)
    )
    use_bands = job.use_bands
    clusters = merge_clusters(edges, use_bands=use_bands)
    clusters_rel = posixpath.join(job.version_dir, "clusters.parquet")
    store.write_table(clusters_rel, clusters)

    t4, c4 = time.perf_counter(), time.process_time()
    per_source = _write_drop_tables(store, clusters, ranks, index_dir)
    new_state = IndexState(version, op, config_json, n_parts, ranks, shards, keys, clusters_rel, total_docs)
    state_rel = posixpath.join(job.version_dir, "state.json")
    store.write_json(state_rel, new_state.to_json())
    store.write_json(posixpath.join(root, CURRENT), {"state": state_rel, "version": version})
    _collect_garbage(store, root, {*new_state.files(), state_rel, posixpath.join(root, CURRENT)})
    t5, c5 = time.perf_counter(), time.process_time()

    summary = _summary(op, total_docs, clusters, per_source, t5 - t0)
    info = {
        "index_version": version,
        "mode": mode,
        "partitions": n_parts,
        "shards_signed": len(tasks),
        "partitions_bucketed": sum(r["touched"] for r in buckets),
        "bucket_tasks": len(btasks),
        "partitions_compacted": sum(int(r["compacted"]) for r in buckets),
        "delta_files": sum(len(v) - 1 for v in keys.values()),
        "keys_looked_up": int(sum(r["stored_keys"] for r in buckets)),
        "keys_added": int(sum(r["new_keys"] for r in buckets)),
        "links": int(sum(r["edges"] for r in buckets)),
        "tasks_resumed": resumed,
        "cluster_members": int(clusters.height),
        "bytes_shuffled": int(sum(r["bytes_written"] for r in sigs)),
        "index_bytes_read": int(sum(r["bytes_read"] for r in buckets)),
        "max_signature_task_rss": max((r["peak_rss"] for r in sigs), default=0),
        "max_bucket_task_rss": max((r["peak_rss"] for r in buckets), default=0),
        "seconds_plan": t1 - t0,
        "seconds_signatures": t2 - t1,
        "seconds_buckets": t3 - t2,
        "seconds_merge": t5 - t3,  # the merge and the commit
        "seconds_commit": t5 - t4,  # of which: drop tables, state, removal of unreferenced files
        # CPU seconds of this process per phase (the tasks' own when they run in it: a serial executor)
        "cpu_seconds_plan": c1 - c0,
        "cpu_seconds_signatures": c2 - c1,
        "cpu_seconds_buckets": c3 - c2,
        "cpu_seconds_merge": c4 - c3,
        "cpu_seconds_commit": c5 - c4,
    }
    return summary, info


def _write_drop_tables(
    store: CorpusStore, clusters: pl.DataFrame, ranks: dict[str, int], index_dir: str
) -> dict[str, dict[str, int]]:
    per_source = {}
    for source, rank in ranks.items():
        table = drop_table(clusters, rank)
        store.write_table(posixpath.join(index_dir, f"{source}.parquet"), table)
        per_source[source] = reason_counts(table)
    return per_source


def _summary(
    op: str, docs: int, clusters: pl.DataFrame, per_source: dict[str, dict[str, int]], seconds: float
) -> dict[str, Any]:
    dropped = clusters.filter(pl.col("drop").is_not_null())
    return {
        "operator": op,
        "docs_in": docs,
        "duplicates": int(dropped.height),
        "per_source": per_source,
        "cross_source": int(dropped.filter(pl.col("rank") != pl.col("root_rank")).height),
        "seconds": seconds,
    }


def _unchanged(
    store: CorpusStore, base: IndexState, ranks: dict[str, int], index_dir: str, t0: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored index covers every input shard: rewrite the drop tables from its clusters, keep its version."""
    clusters = pl.from_arrow(store.read_table(base.clusters))
    assert isinstance(clusters, pl.DataFrame)
    per_source = _write_drop_tables(store, clusters, ranks, index_dir)
    seconds = time.perf_counter() - t0
    info = {
        "index_version": base.version,
        "mode": "unchanged",
        "partitions": base.partitions,
        "shards_signed": 0,
        "partitions_bucketed": 0,
        "bucket_tasks": 0,
        "partitions_compacted": 0,
        "delta_files": sum(len(v) - 1 for v in base.keys.values()),
        "keys_looked_up": 0,
        "keys_added": 0,
        "tasks_resumed": 0,
        "cluster_members": int(clusters.height),
        "bytes_shuffled": 0,
        "index_bytes_read": 0,
        "seconds_plan": 0.0,
        "seconds_signatures": 0.0,
        "seconds_buckets": 0.0,
        "seconds_merge": seconds,
        "seconds_commit": seconds,
    }
    return _summary(base.op, base.docs, clusters, per_source, seconds), info


def _collect_garbage(store: CorpusStore, root: str, keep: set[str]) -> None:
    """Delete every file of earlier versions and builds that the new state does not reference."""
    for name in store.list_files(root, recursive=True):
        rel = posixpath.join(root, name)
        if rel not in keep:
            store.delete(rel)
    if store.is_local:  # object stores have no folders; local ones would pile up empty
        import pyarrow.fs as pafs

        infos = store.filesystem.get_file_info(
            pafs.FileSelector(store.path(root), allow_not_found=True, recursive=True)
        )
        for info in sorted((i for i in infos if i.type == pafs.FileType.Directory), key=lambda i: -len(i.path)):
            if not store.filesystem.get_file_info(pafs.FileSelector(info.path, allow_not_found=True)):
                store.filesystem.delete_dir(info.path)
