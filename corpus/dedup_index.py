"""Global dedup as tasks: signatures per shard, buckets per partition, one merge of clusters.

The distributed form of :mod:`corpus.ops.dedup` (``dedup_minhash@1``, ``dedup_exact@1``),
after datatrove's four MinHash stages, with the same survivors, reasons and
``duplicate_of`` as the single-process operator, byte for byte:

1. **signatures** (one task per input shard): the exact-text hash and the band hashes of
   every document, written as *key entries* ``(kind, h1, h2, rank, id)`` (kind -1 = exact
   text, j = band j) into one file per partition ``h1 mod P`` (per bucket task, see 2.);
2. **buckets** (one task per partition, :mod:`corpus.dedup_buckets`): entries with equal keys
   are grouped; every member is linked to the group's smallest ``(rank, id)``. Memory is that
   partition's entries, about 1/P of the corpus' keys, whatever the corpus size. In an
   increment, consecutive partitions share a task while their stored keys and new entries
   stay within ``task_rows`` (``IndexJob.groups``);
3. **merge** (one task): connected components over the links (and separately over the
   exact-text links, which decide ``exact_duplicate`` vs ``near_duplicate``); each
   component's smallest ``(rank, id)`` survives. It holds only documents that have a
   duplicate, never the whole corpus.

The index is a versioned asset that grows (``{stage}_index/_state``, see
:mod:`corpus.dedup_state`): per partition the distinct keys, each with the member new
documents link to (its *anchor*), as a base file plus delta files; the clusters found so far;
the input shards covered. When only new shards appear (new files, a new source listed last)
with the same operator config and source order, only their signatures are computed; each
bucket task looks its new entries up in the stored keys, links every new member of a stored
key to that key's anchor, and writes the keys it has not seen as one small delta file (or,
when compaction is due, base, deltas and new keys as one new base). The merge starts from
the stored clusters. The survivors equal a full run's over the union: the stored members of
a key are already connected to its anchor, so the new links connect exactly the documents a
full run's star over the whole group does. Anything else (a changed or removed shard, a new
config, reordered sources) rebuilds the index from scratch.

Every task writes a receipt (:mod:`corpus.resume`), so a killed build resumes with the
tasks it had not finished.
"""

from __future__ import annotations

import posixpath
import resource
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from corpus import schema
from corpus.dedup_state import CURRENT as CURRENT
from corpus.dedup_state import DOCS_PER_PARTITION as DOCS_PER_PARTITION
from corpus.dedup_state import STATE as STATE
from corpus.dedup_state import Compaction
from corpus.dedup_state import IndexState as IndexState
from corpus.dedup_state import incremental_base as incremental_base
from corpus.dedup_state import load_state as load_state
from corpus.dedup_state import new_shards as new_shards
from corpus.dedup_state import plan_partitions as plan_partitions
from corpus.dedup_state import state_root as state_root
from corpus.io import CorpusStore
from corpus.ops import dedup
from corpus.ops.registry import OpConfig

DISTRIBUTED_OPS = ("dedup_minhash@1", "dedup_exact@1")
EXACT_KIND = -1
KEY_COLS = ("kind", "h1", "h2")
NODE_COLS = ("rank", schema.ID)
ENTRY_SCHEMA = {"kind": pl.Int16, "h1": pl.UInt64, "h2": pl.UInt64, "rank": pl.Int32, schema.ID: pl.String}
EDGE_SCHEMA = {"exact": pl.Boolean, "u_rank": pl.Int32, "u_id": pl.String, "v_rank": pl.Int32, "v_id": pl.String}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class IndexJob:
    """What every task of one index build needs; pickled to the workers."""

    op: str
    config_json: str
    partitions: int
    work: str  # the build's working folder (signature files, edges, receipts), ``.../work-<fingerprint>``
    version_dir: str  # where this build's key files and clusters go
    compaction: Compaction = field(default_factory=Compaction)
    groups: tuple[int, ...] = ()  # first partition of each bucket task when tasks hold several; () one each

    @property
    def tag(self) -> str:
        """This build's fingerprint: in the names of the key files it writes, so no other build's collide."""
        return posixpath.basename(self.work).removeprefix("work-")[:16]

    def config(self) -> OpConfig:
        from corpus.ops import registry

        return registry.get_operator(self.op).parse_config(_json(self.config_json))

    @property
    def use_exact(self) -> bool:
        return self.op == "dedup_exact@1" or bool(getattr(self.config(), "remove_exact_duplicates", False))

    @property
    def use_bands(self) -> bool:
        return self.op == "dedup_minhash@1"

    @property
    def entries_per_doc(self) -> int:
        """Key entries a document contributes at most: its exact-text hash and/or one per band."""
        return int(self.use_exact) + (int(self.config().num_buckets) if self.use_bands else 0)


def _json(text: str) -> Any:
    import json

    return json.loads(text)


def peak_rss_bytes() -> int:
    """This process' peak resident memory: VmHWM (reset by exec, unlike ru_maxrss, which a spawned
    child inherits from its parent), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --------------------------------------------------------------------------- 1. signatures


def key_entries(df: pl.DataFrame, job: IndexJob, rank: int) -> pl.DataFrame:
    """The key entries of one shard's documents (exact-text hash and/or one per band)."""
    cfg = job.config()
    batch = df.select(schema.ID, schema.TEXT).with_columns(pl.lit(rank, dtype=pl.Int64).alias(dedup.SOURCE_RANK))
    frames: list[pl.DataFrame] = []
    for checked in dedup._checked_batches([batch], job.op):
        for chunk in dedup._byte_chunks(checked) if job.use_bands else [checked]:
            ids = chunk[schema.ID]
            if job.use_exact:
                norm = cfg.normalization if job.op == "dedup_exact@1" else cfg.exact
                exact = dedup._exact_hashes(*dedup._utf8_bytes(dedup._normalize(chunk[schema.TEXT], norm)))
                frames.append(_entries(EXACT_KIND, exact[:, 0], exact[:, 1], rank, ids))
            if job.use_bands:
                hasher = dedup.MinHasher.from_config(cfg)
                data, offsets = dedup._utf8_bytes(dedup._normalize(chunk[schema.TEXT], cfg.normalization, words=True))
                bands = hasher.band_hashes(data, offsets)
                for j in range(bands.shape[1]):
                    keep = bands[:, j] != 0  # 0: no shingles, never a key
                    frames.append(
                        _entries(j, bands[keep, j], np.zeros(int(keep.sum()), dtype=np.uint64), rank, ids.filter(keep))
                    )
    if not frames:
        return pl.DataFrame(schema=ENTRY_SCHEMA)
    return pl.concat(frames)


def _entries(kind: int, h1: np.ndarray, h2: np.ndarray, rank: int, ids: pl.Series) -> pl.DataFrame:
    n = len(h1)
    return pl.DataFrame(
        {
            "kind": np.full(n, kind, dtype=np.int16),
            "h1": h1,
            "h2": h2,
            "rank": np.full(n, rank, dtype=np.int32),
            schema.ID: ids,
        },
        schema=ENTRY_SCHEMA,
    )


def signature_task(
    store: CorpusStore, job: IndexJob, source: str, rank: int, shard_rel: str, shard_no: int
) -> dict[str, Any]:
    """Key entries of one input shard, one sorted file per bucket task (a partition, or the first
    partition of a group of them: ``job.groups``). Returns what was written."""
    df = pl.from_arrow(store.read_table(shard_rel, columns=[schema.ID, schema.TEXT]))
    assert isinstance(df, pl.DataFrame)
    entries = key_entries(df, job, rank)
    if job.groups:  # each partition's entries go to the file of its group's first partition
        starts = np.asarray(job.groups, dtype=np.int32)
        first = starts[np.searchsorted(starts, np.arange(job.partitions), side="right") - 1]
        p_col = pl.Series("_p", first[entries["h1"].to_numpy() % np.uint64(job.partitions)], dtype=pl.Int32)
    else:
        p_col = (pl.col("h1") % job.partitions).cast(pl.Int32).alias("_p")
    entries = entries.with_columns(p_col).sort("_p", *KEY_COLS, *NODE_COLS)
    parts: list[int] = []
    written = 0
    for (p,), part in entries.partition_by("_p", as_dict=True, maintain_order=True, include_key=False).items():
        written += store.write_table(signature_rel(job, source, shard_no, int(p)), part)
        parts.append(int(p))
    return {
        "source": source,
        "shard": shard_no,
        "docs": df.height,
        "entries": entries.height,
        "parts": parts,
        "bytes_written": written,
        "peak_rss": peak_rss_bytes(),
    }


def signature_rel(job: IndexJob, source: str, shard_no: int, p: int) -> str:
    return posixpath.join(job.work, "sig", f"{source}.{shard_no:05d}.p{p:05d}.parquet")


# --------------------------------------------------------------------------- 3. merge


def task_edges(store: CorpusStore, result: dict[str, Any]) -> pl.DataFrame:
    """The links a bucket task found: from its result, or from the file it wrote when there were many."""
    if result.get("edges_rel"):
        df = pl.from_arrow(store.read_table(result["edges_rel"]))
        assert isinstance(df, pl.DataFrame)
        return df.cast(EDGE_SCHEMA)  # type: ignore[arg-type]
    return pl.DataFrame(result.get("edges_inline") or {}, schema=EDGE_SCHEMA)


def merge_clusters(edges: pl.DataFrame, *, use_bands: bool) -> pl.DataFrame:
    """Cluster members from links: one row per document that has a duplicate.

    Columns: rank, id, root_rank, root_id (its cluster's survivor), x_rank, x_id (the
    smallest member with the same exact text), drop (reason or null for the survivor).
    """
    out_schema = {
        "rank": pl.Int32,
        schema.ID: pl.String,
        "root_rank": pl.Int32,
        "root_id": pl.String,
        "x_rank": pl.Int32,
        "x_id": pl.String,
        "drop": pl.String,
    }
    if edges.height == 0:
        return pl.DataFrame(schema=out_schema)
    nodes = (
        pl.concat([edges.select(rank="u_rank", id="u_id"), edges.select(rank="v_rank", id="v_id")])
        .unique()
        .sort(*NODE_COLS)
        .with_row_index("_i")
    )
    n = nodes.height
    on = list(NODE_COLS)
    u = edges.join(nodes, left_on=["u_rank", "u_id"], right_on=on, how="left", maintain_order="left")["_i"].to_numpy()
    v = edges.join(nodes, left_on=["v_rank", "v_id"], right_on=on, how="left", maintain_order="left")["_i"].to_numpy()
    exact = edges["exact"].to_numpy()
    root = _component_min(u, v, n)
    xroot = _component_min(u[exact], v[exact], n)
    idx = np.arange(n)
    same_text = xroot == xroot[root]
    near = dedup.REASON_NEAR if use_bands else dedup.REASON_EXACT
    reason = np.where(root == idx, None, np.where(same_text, dedup.REASON_EXACT, near))
    ranks = nodes["rank"].to_numpy()
    ids = nodes[schema.ID]
    return pl.DataFrame(
        {
            "rank": ranks,
            schema.ID: ids,
            "root_rank": ranks[root],
            "root_id": ids.gather(root),
            "x_rank": ranks[xroot],
            "x_id": ids.gather(xroot),
            "drop": pl.Series(reason.tolist(), dtype=pl.String),
        },
        schema=out_schema,
    )


def _component_min(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """For every node, the smallest node index of its connected component (indices are priorities)."""
    graph = coo_matrix((np.ones(u.size, dtype=np.int8), (u, v)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    best = np.full(labels.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(best, labels, np.arange(n))
    return best[labels]


def clusters_as_edges(clusters: pl.DataFrame) -> pl.DataFrame:
    """Stored clusters as links (member -> survivor, member -> exact representative): same components."""
    near = clusters.select(
        pl.lit(False).alias("exact"), u_rank="rank", u_id=schema.ID, v_rank="root_rank", v_id="root_id"
    )
    exact = clusters.select(pl.lit(True).alias("exact"), u_rank="rank", u_id=schema.ID, v_rank="x_rank", v_id="x_id")
    both = pl.concat([near, exact]).filter((pl.col("u_rank") != pl.col("v_rank")) | (pl.col("u_id") != pl.col("v_id")))
    return both.cast(EDGE_SCHEMA)  # type: ignore[arg-type]


def drop_table(clusters: pl.DataFrame, rank: int) -> pl.DataFrame:
    """One source's drop table as ``dedup_*`` returns it: id, _drop, duplicate_of, sorted by id."""
    mine = clusters.filter((pl.col("rank") == rank) & pl.col("drop").is_not_null())
    return mine.select(
        pl.col(schema.ID), pl.col("drop").alias(schema.DROP), pl.col("root_id").alias(schema.DUPLICATE_OF)
    ).sort(schema.ID)


def reason_counts(table: pl.DataFrame) -> dict[str, int]:
    return dict(Counter(table[schema.DROP].to_list())) if table.height else {}
