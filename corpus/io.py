"""Read and write shards on ``file://`` or ``s3://`` with one code path (pyarrow.fs).

Layout of one stage output (a *partition*: one stage of one source)::

    {root}/{pipeline}/{stage}/{source}/part-00000.parquet   kept documents
    {root}/{pipeline}/{stage}/{source}/_manifest.json      the committed shard list + counts
    {root}/{pipeline}/_dropped/{stage}/{source}/...        dropped documents (with reason)
    {root}/{pipeline}/_quarantine/{stage}/{source}/...     records that failed (with error)

Every file is written atomically: locally to a temporary name then renamed, on S3 as a
single object PUT (an object is visible only when complete). The manifest is written
last and readers read only the shards it lists, so a crash mid-stage never exposes a
partial output, and shards that a previous run left behind are deleted after commit.
Parquet output is deterministic (same input, same bytes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

MANIFEST = "_manifest.json"
SHARD_PATTERN = "part-{:05d}.parquet"
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3, "write_statistics": True}


class StorageError(RuntimeError):
    pass


class PartitionNotFound(StorageError):
    pass


@dataclass(frozen=True)
class S3Options:
    """How to reach S3 (or any S3-compatible endpoint). Credentials come from the
    environment through the Dagster resource; never write them into a spec."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    max_attempts: int = 8  # retries with backoff on throttling and transient errors

    def filesystem(self) -> pafs.S3FileSystem:
        kwargs: dict[str, Any] = {
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=self.max_attempts),
            # an object smaller than a multipart part (shards, manifests, records) goes up as one PutObject
            # on close: one request instead of three, and a failed upload leaves nothing behind (not even
            # an incomplete multipart upload)
            "allow_delayed_open": True,
        }
        if self.region:
            kwargs["region"] = self.region
        if self.access_key_id:
            kwargs["access_key"] = self.access_key_id
            kwargs["secret_key"] = self.secret_access_key
            if self.session_token:
                kwargs["session_token"] = self.session_token
        if self.endpoint_url:
            scheme, _, rest = self.endpoint_url.partition("://")
            kwargs["endpoint_override"] = rest or scheme
            kwargs["scheme"] = scheme if rest else "https"
        return pafs.S3FileSystem(**kwargs)

    def __repr__(self) -> str:  # never print secrets
        return (
            f"S3Options(endpoint_url={self.endpoint_url!r}, region={self.region!r}, "
            f"credentials={'set' if self.access_key_id else 'default chain'})"
        )


def resolve_location(
    location: str, base_dir: Path | str | None = None, s3: S3Options | None = None
) -> tuple[pafs.FileSystem, str, str]:
    """(filesystem, path inside it, display uri) for a local path, ``file://`` or ``s3://`` location."""
    if location.startswith("s3://"):
        path = location[len("s3://") :].rstrip("/")
        return (s3 or S3Options()).filesystem(), path, "s3://" + path
    if location.startswith("file://"):
        location = location[len("file://") :]
    p = Path(location).expanduser()
    if not p.is_absolute():
        p = Path(base_dir or os.getcwd()) / p
    p = Path(os.path.normpath(p))
    return pafs.LocalFileSystem(), p.as_posix(), p.as_uri()


@dataclass
class CorpusStore:
    """A storage root (local folder or S3 prefix) with atomic writes and manifests."""

    root: str = "file://./data"
    base_dir: str | None = None  # what a relative local root is relative to (default: cwd)
    s3: S3Options | None = None
    _fs: pafs.FileSystem = field(init=False, repr=False)
    _base: str = field(init=False, repr=False)
    uri: str = field(init=False)

    def __post_init__(self) -> None:
        self._fs, self._base, self.uri = resolve_location(self.root, self.base_dir, self.s3)
        self.is_local = isinstance(self._fs, pafs.LocalFileSystem)

    # -- paths ---------------------------------------------------------------
    @property
    def filesystem(self) -> pafs.FileSystem:
        return self._fs

    def path(self, *parts: str) -> str:
        return posixpath.join(self._base, *[p.strip("/") for p in parts if p])

    def display(self, *parts: str) -> str:
        return posixpath.join(self.uri, *[p.strip("/") for p in parts if p])

    # -- files ---------------------------------------------------------------
    def exists(self, *parts: str) -> bool:
        return self._fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound

    def list_files(self, *parts: str, recursive: bool = False) -> list[str]:
        """Relative names (to ``parts``) of the files under a folder; [] if it does not exist."""
        base = self.path(*parts)
        sel = pafs.FileSelector(base, allow_not_found=True, recursive=recursive)
        out = []
        for info in self._fs.get_file_info(sel):
            if info.type == pafs.FileType.File:
                out.append(posixpath.relpath(info.path, base))
        return sorted(out)

    def write_bytes(self, rel: str, data: bytes) -> None:
        path = self.path(rel)
        if self.is_local:
            _write_local(path, data)
        else:
            # one PutObject (or, past the part size, a completed multipart upload): whole or not at all
            with self._fs.open_output_stream(path) as f:
                f.write(data)

    def read_bytes(self, rel: str) -> bytes:
        try:
            with self._fs.open_input_stream(self.path(rel)) as f:
                return f.read()
        except FileNotFoundError as exc:
            raise StorageError(f"not found: {self.display(rel)}") from exc

    def write_json(self, rel: str, obj: Any, *, compact: bool = False) -> None:
        """``compact``: no indentation (machine-read records; the C encoder, several times faster)."""
        layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 1}
        self.write_bytes(rel, json.dumps(obj, sort_keys=True, default=str, **layout).encode())

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read_bytes(rel))

    def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self._fs.delete_file(self.path(rel))

    def delete_dir(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self._fs.delete_dir(self.path(rel))

    # -- tables ----------------------------------------------------------------
    def write_table(self, rel: str, table: pa.Table | pl.DataFrame) -> int:
        """Write one Parquet file atomically; returns its size in bytes."""
        data = _parquet_bytes(table)
        self.write_bytes(rel, data)
        return len(data)

    def write_table_entry(self, rel: str, table: pa.Table | pl.DataFrame) -> dict[str, Any]:
        """Write one Parquet file atomically; returns its size and the SHA-256 of its bytes."""
        data = _parquet_bytes(table)
        self.write_bytes(rel, data)
        return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def read_table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(self.path(rel), filesystem=self._fs, columns=columns)
        except FileNotFoundError as exc:
            raise StorageError(f"not found: {self.display(rel)}") from exc

    def read_schema(self, rel: str) -> pa.Schema:
        """The Arrow schema of one Parquet file (its footer only)."""
        return pq.read_schema(self.path(rel), filesystem=self._fs)

    def iter_table_batches(
        self, rel: str, columns: list[str] | None = None, batch_rows: int = 4096
    ) -> Iterator[pl.DataFrame]:
        with self._fs.open_input_file(self.path(rel)) as f:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
                yield pl.from_arrow(batch)  # type: ignore[misc]

    # -- partitions (a stage output of one source) ------------------------------
    def content_digest(self, rel_dir: str) -> str:
        """A digest of the committed shards of a partition (names and contents): equal outputs, equal digests."""
        shards = [
            (s["name"], s.get("sha256") or f"{s['rows']}:{s['bytes']}") for s in self.read_manifest(rel_dir)["shards"]
        ]
        return hashlib.sha256(json.dumps(shards).encode()).hexdigest()[:24]

    def read_manifest(self, rel_dir: str) -> dict[str, Any]:
        if not self.exists(rel_dir, MANIFEST):
            raise PartitionNotFound(
                f"no committed output at {self.display(rel_dir)} (no {MANIFEST}); "
                "materialize the upstream asset for this partition first"
            )
        return self.read_json(posixpath.join(rel_dir, MANIFEST))

    def shard_paths(self, rel_dir: str) -> list[str]:
        manifest = self.read_manifest(rel_dir)
        return [posixpath.join(rel_dir, s["name"]) for s in manifest["shards"]]

    def iter_partition(
        self, rel_dir: str, columns: list[str] | None = None, batch_rows: int = 4096
    ) -> Iterator[pl.DataFrame]:
        for shard in self.shard_paths(rel_dir):
            yield from self.iter_table_batches(shard, columns=columns, batch_rows=batch_rows)

    def read_partition(self, rel_dir: str, columns: list[str] | None = None) -> pl.DataFrame:
        frames = [pl.from_arrow(self.read_table(s, columns=columns)) for s in self.shard_paths(rel_dir)]
        frames = [f for f in frames if isinstance(f, pl.DataFrame)]
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames, how="diagonal_relaxed")

    def partition_writer(self, rel_dir: str) -> PartitionWriter:
        return PartitionWriter(self, rel_dir)

    def retract(self, rel_dir: str) -> None:
        """Withdraw a partition's committed output before its shards are rewritten.

        Shards keep their names from run to run, so a re-run overwrites the very files the
        old manifest lists; were the run killed half-way, that manifest would describe a mix
        of old and new shards. With the manifest gone first, a reader sees the previous
        output or nothing, never a mix; the re-run's commit makes the partition visible again.
        """
        self.delete(posixpath.join(rel_dir, MANIFEST))


def _parquet_bytes(table: pa.Table | pl.DataFrame) -> bytes:
    if isinstance(table, pl.DataFrame):
        table = table.to_arrow()
    buf = io.BytesIO()
    pq.write_table(table, buf, **PARQUET_OPTIONS)
    return buf.getvalue()


def _write_local(path: str, data: bytes) -> None:
    """Write a local file atomically: a temporary name in the same folder, then a rename.

    The folder is created only when the first attempt finds it missing, not on every write.
    """
    parent = posixpath.dirname(path)
    tmp = posixpath.join(parent, f".{posixpath.basename(path)}.tmp-{uuid.uuid4().hex}")
    try:
        try:
            f = open(tmp, "wb")  # noqa: SIM115 (closed below, after the folder may have been made)
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
            f = open(tmp, "wb")  # noqa: SIM115
        with f:
            f.write(data)
        os.replace(tmp, path)  # rename: atomic on one filesystem
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class PartitionWriter:
    """Writes the shards of one partition, then commits them with a manifest.

    Shards are numbered by the caller (deterministically, e.g. one output shard per
    input shard), so a re-run writes the same names with the same bytes.
    """

    def __init__(self, store: CorpusStore, rel_dir: str):
        self.store = store
        self.rel_dir = rel_dir
        self.shards: list[dict[str, Any]] = []

    def write_shard(self, index: int, table: pa.Table | pl.DataFrame) -> dict[str, Any]:
        name = SHARD_PATTERN.format(index)
        rows = table.num_rows if isinstance(table, pa.Table) else table.height
        entry = {"name": name, "rows": rows, **self.store.write_table_entry(posixpath.join(self.rel_dir, name), table)}
        self.shards.append(entry)
        return entry

    def commit(self, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        shards = sorted(self.shards, key=lambda s: s["name"])
        manifest = {
            "shards": shards,
            "rows": sum(s["rows"] for s in shards),
            "bytes": sum(s["bytes"] for s in shards),
            "summary": summary or {},
        }
        self.store.write_json(posixpath.join(self.rel_dir, MANIFEST), manifest)
        keep = {s["name"] for s in shards} | {MANIFEST}
        for name in self.store.list_files(self.rel_dir):
            if name not in keep and "/" not in name:
                self.store.delete(posixpath.join(self.rel_dir, name))
        return manifest
