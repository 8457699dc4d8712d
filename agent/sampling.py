"""Samples spread over a whole source: files and records chosen at random (seeded), within a byte budget.

A sample taken from the first records in file order sees one book of a shelf, the first
files of a folder in alphabetical order, the first problems of a data set. Here the files
are drawn at random (all of them when there are no more than the sample size), each drawn
file is read up to its share of the byte budget, and the records are drawn from each file
by reservoir sampling over what was read, spread evenly over the files. The same source,
size and seed give the same sample.

Records are kept as the reader gives them (kept, reader-dropped and quarantined alike), so
the sample's quarantine counts are those of the records drawn. :class:`Coverage` says how
much of the source the sample saw.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl
import pyarrow.fs as pafs

from corpus import schema
from corpus.readers import ReadBatch, link_escape_test, list_source_files, read_source
from corpus.spec import SourceSpec

MIN_FILE_BYTES = 1 << 20  # each drawn file may be read at least this far, whatever the budget
MAX_RECORDS_PER_FILE = 200_000  # records drawn from at most this many of a file's first records


@dataclass
class Coverage:
    """How much of a source a sample saw."""

    files_total: int
    files_read: int
    files_read_to_end: int
    bytes_total: int
    bytes_seen: int
    records_seen: int
    records_sampled: int
    seed: int

    @property
    def file_share(self) -> float:
        return round(self.files_read / self.files_total, 4) if self.files_total else 0.0

    @property
    def byte_share(self) -> float:
        return round(min(1.0, self.bytes_seen / self.bytes_total), 4) if self.bytes_total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "file_share": self.file_share,
            "byte_share": self.byte_share,
            "how": "files and records drawn at random (seeded) over the whole source",
        }


def _file_sizes(fs: pafs.FileSystem, root: str, files: list[str], single: bool) -> dict[str, int]:
    paths = [root if single else f"{root.rstrip('/')}/{rel}" for rel in files]
    infos = fs.get_file_info(paths)
    return {rel: int(info.size or 0) for rel, info in zip(files, infos, strict=True)}


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def _read_file(
    source: SourceSpec, fs: pafs.FileSystem, path: str, rel: str, byte_cap: int
) -> tuple[ReadBatch, bool, int]:
    """The records of one file up to ``byte_cap`` bytes of text; (batch, read to its end, text bytes read)."""
    docs, dropped, bad, records, seen = [], [], [], 0, 0
    encodings: dict[str, int] = {}
    complete = True
    for batch in read_source(source, fs, path, batch_docs=64):
        for codec, k in getattr(batch, "encodings", {}).items():
            encodings[codec] = encodings.get(codec, 0) + k
        docs.append(batch.docs)
        dropped.append(batch.dropped)
        bad.append(batch.quarantine)
        records += batch.records
        seen += int(batch.docs[schema.TEXT].str.len_bytes().sum() or 0) if batch.docs.height else 0
        seen += int(batch.dropped[schema.TEXT].str.len_bytes().sum() or 0) if batch.dropped.height else 0
        seen += int(batch.quarantine["raw"].str.len_bytes().sum() or 0) if batch.quarantine.height else 0
        if seen >= byte_cap or records >= MAX_RECORDS_PER_FILE:
            complete = False
            break
    out = ReadBatch(_concat(docs), _concat(dropped), _concat(bad), records, encodings=encodings)
    return _with_file(out, source, rel), complete, seen


def _with_file(batch: ReadBatch, source: SourceSpec, rel: str) -> ReadBatch:
    """Rows read from one file opened on its own carry the file's name relative to the source (and its ids)."""

    def fix(frame: pl.DataFrame) -> pl.DataFrame:
        if not frame.height or schema.FILE not in frame.columns:
            return frame
        ids = [
            schema.document_id(source.name, rel, off, text)
            for off, text in zip(frame[schema.OFFSET].to_list(), frame[schema.TEXT].to_list(), strict=True)
        ]
        return frame.with_columns(pl.lit(rel).alias(schema.FILE), pl.Series(schema.ID, ids, dtype=pl.String()))

    quarantine = batch.quarantine
    if quarantine.height and "file" in quarantine.columns:
        quarantine = quarantine.with_columns(pl.lit(rel).alias("file"))
    return ReadBatch(fix(batch.docs), fix(batch.dropped), quarantine, batch.records, encodings=batch.encodings)


def _outside(source: SourceSpec, rel: str) -> ReadBatch:
    """A file reached through a link leading outside the location: not read, one quarantined record (as the reader)."""
    error = (
        f"outside_location: {rel} is reached through a symbolic link that leads outside the source's location, "
        "so it was not read; copy the file into the location, or make the folder that holds it a source of its own"
    )
    bad = pl.DataFrame(
        {
            "source": [source.name],
            "file": [rel],
            "offset": [-1],
            "stage": ["raw"],
            "step": [f"read_{source.format}"],
            "error": [error],
            "raw": [""],
        }
    )
    bad = bad.select([pl.col(c).cast(t) for c, t in schema.QUARANTINE_COLUMNS.items()])
    return ReadBatch(pl.DataFrame(), pl.DataFrame(), bad, 1)


def _take(frame: pl.DataFrame, rows: list[int]) -> pl.DataFrame:
    return frame[sorted(rows)] if rows and frame.height else frame.head(0)


def spread_read(
    source: SourceSpec, fs: pafs.FileSystem, base_path: str, n: int, *, max_bytes: int, seed: int = 0
) -> tuple[ReadBatch, Coverage, bool]:
    """``n`` records drawn over the whole source (module docstring); (batch, coverage, cut by the byte budget)."""
    files = list_source_files(source, fs, base_path)
    info = fs.get_file_info(base_path.rstrip("/") or base_path)
    single = info.type == pafs.FileType.File
    root = base_path if single else (base_path.rstrip("/") or base_path)
    sizes = _file_sizes(fs, root, files, single)
    rng = random.Random(f"{seed}:{source.name}")
    chosen = sorted(rng.sample(files, n)) if len(files) > n else list(files)
    cap = min(max_bytes, max(MIN_FILE_BYTES, max_bytes // max(1, len(chosen))))
    pools: list[tuple[ReadBatch, list[tuple[str, int]]]] = []
    bytes_seen = records_seen = to_end = 0
    outside = None if single else link_escape_test(fs, root)
    for rel in chosen:
        path = root if single else f"{root}/{rel}"
        if outside is not None and outside(rel):
            batch, complete, seen = _outside(source, rel), True, 0
        else:
            batch, complete, seen = _read_file(source, fs, path, rel, cap)
        to_end += complete
        bytes_seen += sizes.get(rel, 0) if complete else min(seen, sizes.get(rel, seen))
        records_seen += batch.records
        items = (
            [("d", i) for i in range(batch.docs.height)]
            + [("x", i) for i in range(batch.dropped.height)]
            + [("q", i) for i in range(batch.quarantine.height)]
        )
        rng.shuffle(items)
        pools.append((batch, items))
    # round robin over the files: each gives one record in turn until n are drawn or the byte budget is spent
    picked: list[dict[str, list[int]]] = [{"d": [], "x": [], "q": []} for _ in pools]
    sizes_of = [(b.docs[schema.TEXT].str.len_bytes().to_list() if b.docs.height else []) for b, _ in pools]
    total, depth, held, over = 0, 0, 0, False
    while total < n and not over and any(depth < len(items) for _, items in pools):
        for i, (_, items) in enumerate(pools):
            if depth >= len(items) or total >= n:
                continue
            kind, row = items[depth]
            size = sizes_of[i][row] if kind == "d" else 0
            if kind == "d" and total and held + size > max_bytes:
                over = True
                break
            picked[i][kind].append(row)
            held += size
            total += 1
        depth += 1
    docs = _concat([_take(b.docs, p["d"]) for (b, _), p in zip(pools, picked, strict=True)])
    dropped = _concat([_take(b.dropped, p["x"]) for (b, _), p in zip(pools, picked, strict=True)])
    bad = _concat([_take(b.quarantine, p["q"]) for (b, _), p in zip(pools, picked, strict=True)])
    if not docs.height:
        docs = schema.conform(pl.DataFrame(schema=schema.CORE))
    if not dropped.height:
        dropped = schema.conform(pl.DataFrame(schema={**schema.CORE, schema.DROP_REASON: pl.String()})).with_columns(
            pl.lit(None, dtype=pl.String()).alias(schema.DROP_STEP)
        )
    if not bad.height:
        bad = pl.DataFrame(schema=schema.QUARANTINE_COLUMNS)
    coverage = Coverage(len(files), len(chosen), to_end, sum(sizes.values()), bytes_seen, records_seen, total, seed)
    encodings: dict[str, int] = {}
    for b, _ in pools:
        for codec, k in b.encodings.items():
            encodings[codec] = encodings.get(codec, 0) + k
    return ReadBatch(docs, dropped, bad, total, encodings=encodings), coverage, over or to_end < len(chosen)
