"""The bucket stage of the global dedup index (:mod:`corpus.dedup_index`): group key entries, link members.

One task holds one partition in a full build. In an increment, where each partition gets only
its small share of the new entries, a task holds several consecutive partitions
(``IndexJob.groups``, planned by :func:`corpus.dedup_state.plan_groups`): the lookup of the new
entries in the stored keys is one join over the group, since a key lives in one partition only,
and the key files are still written per partition, so the stored index has the same layout
whatever the grouping.
"""

from __future__ import annotations

import io
import posixpath
from typing import Any

import numpy as np
import polars as pl

from corpus import schema
from corpus.dedup_index import ENTRY_SCHEMA, EXACT_KIND, KEY_COLS, NODE_COLS, IndexJob, peak_rss_bytes
from corpus.io import CorpusStore

INLINE_EDGES = 1_000  # a bucket task returns up to this many links in its result instead of a file
_ENTRY_SCHEMA = pl.Schema(ENTRY_SCHEMA)


def bucket_task(
    store: CorpusStore, job: IndexJob, parts: list[int], entry_files: list[str], stored: dict[str, list[list[Any]]]
) -> dict[str, Any]:
    """Group the new entries of ``parts`` by key and link every member to its key's anchor.

    ``entry_files``: the signature files holding these partitions' new entries. ``stored``:
    partition -> its key files ``[[file, keys], ...]`` (base first, then deltas) in the index being
    grown; absent for a partition the index does not hold yet (every one in a full build). A key's
    anchor is its stored member when the key is stored, else the group's smallest ``(rank, id)``.
    Returns each touched partition's key files after this build: the stored ones plus a delta of the
    keys not seen before, or one new base.
    """
    keys = list(KEY_COLS)
    new, read = _read_entries(store, entry_files)
    olds = {p: _read_entries(store, [f for f, _ in stored.get(str(p), [])]) for p in parts}
    old = pl.concat([frame for frame, _ in olds.values()]) if len(parts) > 1 else olds[parts[0]][0]
    read_old = sum(n for _, n in olds.values())
    # one query up to the anchors, one for links and new keys: every eager step would be a query of its own.
    # Sorted by key, then (rank, id): a group's first row is its smallest member, carried down the group
    first = pl.any_horizontal(*[pl.col(c) != pl.col(c).shift(1) for c in keys]).fill_null(True)
    plan = (
        new.lazy()
        .sort(*KEY_COLS, *NODE_COLS)
        .with_columns(
            pl.struct(*keys, *NODE_COLS).is_duplicated().alias("_repeated"),
            pl.when(first).then(pl.col("rank")).forward_fill().alias("v_rank"),
            pl.when(first).then(pl.col(schema.ID)).forward_fill().alias("v_id"),
        )
    )
    if old.height:  # every stored key is in one file only: a plain left join finds its anchor
        # only the stored keys whose h1 a new entry has take part in the join (most of them do not)
        probe = old.lazy().filter(pl.col("h1").is_in(new["h1"].implode()))
        anchors = probe.rename({"rank": "a_rank", schema.ID: "a_id"})
        plan = plan.join(anchors, on=keys, how="left", maintain_order="left").with_columns(
            ((pl.col("rank") == pl.col("a_rank")) & (pl.col(schema.ID) == pl.col("a_id"))).alias("_clash"),
            pl.col("a_rank").is_null().alias("_new_key"),
            pl.coalesce("a_rank", "v_rank").alias("v_rank"),
            pl.coalesce("a_id", "v_id").alias("v_id"),
        )
    else:
        plan = plan.with_columns(pl.lit(True).alias("_new_key"), pl.lit(False).alias("_clash"))
    new = plan.collect()
    if new["_repeated"].any():
        _repeated_ids(new.filter(pl.col("_repeated"))[schema.ID], "appear more than once")
    if new["_clash"].any():
        _repeated_ids(new.filter(pl.col("_clash"))[schema.ID], "are already in the stored index")
    is_anchor = (pl.col("rank") == pl.col("v_rank")) & (pl.col(schema.ID) == pl.col("v_id"))
    edges, fresh = pl.collect_all(
        [
            new.lazy()
            .filter(~is_anchor)
            .select(
                (pl.col("kind") == EXACT_KIND).alias("exact"),
                pl.col("rank").alias("u_rank"),
                pl.col(schema.ID).alias("u_id"),
                "v_rank",
                "v_id",
            )
            .unique()
            .sort("exact", "u_rank", "u_id", "v_rank", "v_id"),
            new.lazy().filter(pl.col("_new_key") & is_anchor).select(*KEY_COLS, *NODE_COLS),
        ]
    )
    written, edges_rel, inline = 0, None, None
    if edges.height > INLINE_EDGES:
        edges_rel = posixpath.join(job.work, "edges", f"p-{parts[0]:05d}.parquet")
        written = store.write_table(edges_rel, edges)
    else:  # a few links travel in the result (and its receipt): no file to write and read back
        inline = edges.to_dict(as_series=False)
    if len(parts) == 1:
        touched, fresh_of = (parts if new.height else []), {parts[0]: fresh}
    else:  # which partitions received entries, and each one's new keys
        touched = np.unique(new["h1"].to_numpy() % np.uint64(job.partitions)).astype(int).tolist()
        split = fresh.with_columns((pl.col("h1") % job.partitions).cast(pl.Int32).alias("_p"))
        fresh_of = {int(p): f for (p,), f in split.partition_by("_p", as_dict=True, include_key=False).items()}
    files, compacted = {}, 0
    for p in touched:
        out, n, was_compacted = _grow(store, job, p, stored.get(str(p), []), olds[p][0], fresh_of.get(p))
        files[str(p)] = out
        written += n
        compacted += was_compacted
    return {
        "p": parts[0],
        "parts": list(parts),
        "touched": len(touched),
        "entries": new.height,
        "stored_keys": old.height,
        "new_keys": fresh.height,
        "edges": edges.height,
        "files": files,
        "compacted": compacted,
        "edges_rel": edges_rel,
        "edges_inline": inline,
        "bytes_read": read + read_old,
        "bytes_written": written,
        "peak_rss": peak_rss_bytes(),
    }


def _grow(
    store: CorpusStore, job: IndexJob, p: int, stored: list[list[Any]], old: pl.DataFrame, fresh: pl.DataFrame | None
) -> tuple[list[list[Any]], int, bool]:
    """One partition's key files after this build, the bytes written, and whether it was compacted."""
    fresh = fresh if fresh is not None else pl.DataFrame(schema={c: ENTRY_SCHEMA[c] for c in (*KEY_COLS, *NODE_COLS)})
    deltas, delta_rows = stored[1:], sum(n for _, n in stored[1:]) + fresh.height
    compacted = bool(stored) and job.compaction.due(len(deltas) + bool(fresh.height), delta_rows, stored[0][1])
    if not stored or compacted:
        base = pl.concat([old, fresh]).sort(*KEY_COLS) if compacted else fresh
        rel = posixpath.join(job.version_dir, "keys", f"p-{p:05d}.base-{job.tag}.parquet")
        return [[rel, base.height]], store.write_table(rel, base), compacted
    if fresh.height:
        rel = posixpath.join(job.version_dir, "keys", f"p-{p:05d}.delta-{job.tag}.parquet")
        return [*stored, [rel, fresh.height]], store.write_table(rel, fresh), False
    return list(stored), 0, False


def _read_entries(store: CorpusStore, files: list[str]) -> tuple[pl.DataFrame, int]:
    """Key entries of several small files and their bytes: whole-file reads decoded by polars (cheaper than a scan)."""
    blobs = [store.read_bytes(f) for f in files]
    frames = [pl.read_parquet(io.BytesIO(b)) for b in blobs]
    # a cast is a query of its own, even a no-op one: only where the schema differs
    frames = [f if f.schema == _ENTRY_SCHEMA else f.cast(ENTRY_SCHEMA) for f in frames]  # type: ignore[arg-type]
    return (pl.concat(frames) if frames else pl.DataFrame(schema=ENTRY_SCHEMA)), sum(len(b) for b in blobs)


def _repeated_ids(ids: pl.Series, what: str) -> None:
    shown = ids.unique().sort().head(3).to_list()
    raise ValueError(
        f"global dedup: document ids must be unique across all sources, but {shown} (and maybe more) {what}; "
        f"ids come from corpus.schema.document_id (source, file, offset, text), so the same record was "
        f"probably read twice (or new shards repeat documents the index already holds)"
    )
