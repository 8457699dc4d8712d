"""What data the agent can see: locations checked by the spec's PathPolicy, formats guessed, samples read.

Every location goes through :class:`corpus.spec.PathPolicy` before anything is opened, the
same check a spec's ``sources[].location`` gets, so the agent cannot read outside the
allowed roots (no ``..`` escapes, symlinks resolved, no ``file://`` or other URLs). Local
paths are written relative to the project, as a spec writes them.

A source's format and reading options (text field, split) are guessed from file names and
the first bytes of the first file, so a proposal starts from a :class:`SourceSpec` that reads
the data correctly; the guess is shown to the model and the reviewer, who may correct it.
"""

from __future__ import annotations

import os
import posixpath
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow.fs as pafs

from agent.sampling import Coverage, spread_read
from corpus.local_listing import walk_local
from corpus.readers import ReadBatch, link_escape_test, list_source_files
from corpus.spec import NAME_RE, PathPolicy, SourceSpec
from corpus.spec_types import FIELD_RE

PEEK_BYTES = 64 * 1024
ENCODING_FILES = 24  # files drawn to detect a source's text encoding
MAX_LISTED_FILES = 20_000  # a folder with more files is summarized from the first ones
LARGE_TEXT_FILE = 256 * 1024  # one text file this large is cut into chunks, not read as one document
WIKITEXT_HEADING = re.compile(r"^ = [^=].* = $", re.M)
TEXT_PAIRS = (
    ("question", "answer"),
    ("prompt", "response"),
    ("prompt", "completion"),
    ("instruction", "output"),
    ("problem", "solution"),
)
TEXT_FIELD_NAMES = ("text", "content", "body", "document", "raw_content", "article")

_FORMAT_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".warc.gz", "warc"),
    (".warc.zst", "warc"),
    (".warc", "warc"),
    (".jsonl.gz", "jsonl"),
    (".jsonl.zst", "jsonl"),
    (".jsonl.zstd", "jsonl"),
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
    (".ndjson.gz", "jsonl"),
    (".json.gz", "jsonl"),
    (".json", "jsonl"),
    (".parquet", "parquet"),
    (".txt.gz", "text"),
    (".txt.zst", "text"),
    (".txt", "text"),
    (".md", "text"),
    (".md.gz", "text"),
    (".py", "text"),
)


class SourceError(ValueError):
    """A location the agent may not read, or cannot make sense of. The message says why and what to do."""


def slug(text: str, fallback: str = "source") -> str:
    """A valid spec name (lowercase, digits, '_', starts with a letter, at most 48) from any text."""
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not s or not s[0].isalpha():
        s = f"{fallback}_{s}" if s else fallback
    s = s[:48].rstrip("_")
    return s if NAME_RE.match(s) else fallback


def format_of(name: str) -> str | None:
    lower = name.lower()
    for suffix, fmt in _FORMAT_SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def _stem(name: str) -> str:
    base = posixpath.basename(name.rstrip("/"))
    for suffix, _ in _FORMAT_SUFFIXES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


# --- locations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """A checked location: what a spec writes, and where it is on a filesystem."""

    spec_location: str  # relative to the project, or s3://...
    fs: pafs.FileSystem
    path: str

    @property
    def display(self) -> str:
        return self.spec_location


def to_spec_location(location: str, policy: PathPolicy) -> str:
    """The spec form of a user-given location: absolute local paths become project-relative.

    Users type absolute paths on a command line; a spec must hold project-relative ones
    (so a checkout elsewhere still works). The result is checked by the policy like any
    spec location.
    """
    location = location.strip()
    if location.startswith("s3://") or re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", location):
        return location
    p = Path(location).expanduser()
    if p.is_absolute():
        rel = os.path.relpath(p, policy.project_root)
        return Path(rel).as_posix()
    return Path(location).as_posix()


def check_location(location: str, policy: PathPolicy) -> Location:
    """Resolve ``location`` for reading, or raise SourceError naming the rule it breaks."""
    if not isinstance(location, str) or not location.strip():
        raise SourceError(
            "empty location: give a path relative to the project (e.g. data/sources/web) or s3://bucket/prefix"
        )
    spec_loc = to_spec_location(location, policy)
    why = policy.check(spec_loc)
    if why:
        raise SourceError(f"location {location!r}: {why}")
    if spec_loc.startswith("s3://"):
        from corpus.io import resolve_location

        fs, path, _ = resolve_location(spec_loc, None, _s3_options())
        return Location(spec_loc, fs, path)
    resolved = policy.resolve(spec_loc)
    if not Path(resolved).exists():
        raise SourceError(f"location {spec_loc!r} does not exist (resolved to {resolved}); check the path")
    return Location(spec_loc, pafs.LocalFileSystem(), resolved)


def _s3_options() -> Any:
    """S3 endpoint and credentials from the environment, the way the storage resource reads them."""
    from resources.storage import CorpusStorage

    return CorpusStorage().s3_options()


# --- guessing a source spec --------------------------------------------------------------------


@dataclass
class Listing:
    files: list[tuple[str, int]]  # (relative name, bytes)
    truncated: bool
    single_file: bool

    @property
    def total_bytes(self) -> int:
        return sum(s for _, s in self.files)


def list_files(loc: Location) -> Listing:
    info = loc.fs.get_file_info(loc.path)
    if info.type == pafs.FileType.File:
        return Listing([(posixpath.basename(loc.path), info.size or 0)], False, True)
    if info.type == pafs.FileType.NotFound:
        raise SourceError(f"location {loc.display!r} does not exist")
    out: list[tuple[str, int]] = []
    truncated = False
    if isinstance(
        loc.fs, pafs.LocalFileSystem
    ):  # the readers' rule: links out of the folder are neither read nor entered
        for rel, leads_out in walk_local(loc.path):
            if leads_out:
                continue
            out.append((rel, os.path.getsize(posixpath.join(loc.path, rel))))
            if len(out) >= MAX_LISTED_FILES:
                return Listing(sorted(out), True, False)
        return Listing(sorted(out), False, False)
    outside = link_escape_test(loc.fs, loc.path)
    for fi in loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=True, allow_not_found=True)):
        if fi.type != pafs.FileType.File:
            continue
        rel = posixpath.relpath(fi.path, loc.path)
        if any(part.startswith(".") for part in rel.split("/")) or (outside is not None and outside(rel)):
            continue
        out.append((rel, fi.size or 0))
        if len(out) >= MAX_LISTED_FILES:
            truncated = True
            break
    return Listing(sorted(out), truncated, False)


def _peek(loc: Location, rel: str | None) -> bytes:
    path = loc.path if rel is None else posixpath.join(loc.path, rel)
    with loc.fs.open_input_stream(path, compression="detect") as f:
        return f.read(PEEK_BYTES)


def guess_source(location: str, policy: PathPolicy, name: str | None = None) -> SourceSpec:
    """A SourceSpec that reads ``location``: format from the file names, options from the first file.

    Raises SourceError when the location is not allowed, does not exist or holds no
    readable file (the message lists what was found).
    """
    loc = check_location(location, policy)
    listing = list_files(loc)
    by_format = Counter(fmt for rel, _ in listing.files if (fmt := format_of(rel)))
    if not by_format:
        found = ", ".join(r for r, _ in listing.files[:5]) or "no files"
        raise SourceError(
            f"location {loc.display!r} holds no file in a readable format (found: {found}); "
            "formats: .jsonl[.gz|.zst], .parquet, .txt/.md/.py, .warc[.gz]"
        )
    fmt = by_format.most_common(1)[0][0]
    files = [rel for rel, _ in listing.files if format_of(rel) == fmt]
    first = None if listing.single_file else files[0]
    opts: dict[str, Any] = {}
    if fmt == "jsonl":
        opts = _jsonl_options(_peek(loc, first))
    elif fmt == "parquet":
        opts = _parquet_options(loc, first)
    elif fmt == "text":
        sizes = [s for rel, s in listing.files if format_of(rel) == "text"]
        opts = _text_options(_peek(loc, first), files, sizes)
    if fmt in ("jsonl", "text"):
        encoding = guess_encoding(loc, None if listing.single_file else files)
        if encoding is not None:
            opts["encoding"] = encoding
    if not listing.single_file and len(by_format) > 1:
        # a mixed folder: read only the chosen format's files
        exts = sorted({_suffix_of(rel) for rel in files})
        if len(exts) == 1:
            opts["glob"] = f"**/*{exts[0]}"
    src_name = slug(name or _stem(loc.spec_location))
    return SourceSpec(name=src_name, location=loc.spec_location, format=fmt, **opts)  # type: ignore[arg-type]


def guess_encoding(loc: Location, files: list[str] | None, seed: int = 0) -> str | None:
    """The ``encoding`` a source needs, or None for UTF-8: files drawn over the source, detected by charset-normalizer.

    One codec for every non-UTF-8 file drawn is written as that codec; files that differ
    (some UTF-8, some not, or several codecs) give ``auto``, detection per file when read.
    """
    from corpus.charsets import bom_codec, detect

    rels: list[str | None] = [None] if files is None else list(files)
    if len(rels) > ENCODING_FILES:
        rels = sorted(random.Random(seed).sample(rels, ENCODING_FILES))  # type: ignore[type-var]
    found: set[str] = set()
    for rel in rels:
        head = _peek(loc, rel)
        codec, _ = bom_codec(head)
        if codec is None:  # a byte order mark decides whatever the source says
            found.add(detect(head))
    non_utf8 = found - {"utf-8"}
    if not non_utf8:
        return None
    if len(found) == 1:
        return next(iter(found))
    return "auto"


def _suffix_of(rel: str) -> str:
    lower = rel.lower()
    for suffix, _ in _FORMAT_SUFFIXES:
        if lower.endswith(suffix):
            return rel[len(rel) - len(suffix) :]
    return posixpath.splitext(rel)[1]


def _field_name(key: str) -> bool:
    return bool(FIELD_RE.match(key)) and key == key.strip()


def _jsonl_options(head: bytes) -> dict[str, Any]:
    record: dict[str, Any] | None = None
    for line in head.splitlines():
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            record = obj
            break
    if record is None:
        return {}
    # only keys a spec can name (a key like `body (raw)` is no record field name there)
    strings = {k: v for k, v in record.items() if isinstance(v, str) and _field_name(k)}
    opts: dict[str, Any] = {}
    for a, b in TEXT_PAIRS:
        if a in strings and b in strings:
            opts["text_field"] = [a, b]
            break
    else:
        for k in TEXT_FIELD_NAMES:
            if k in strings:
                opts["text_field"] = k
                break
        else:
            if strings:
                opts["text_field"] = max(strings, key=lambda k: len(strings[k]))
    if isinstance(record.get("url"), str):
        opts["url_field"] = "url"
    if isinstance(record.get("title"), str):
        opts["title_field"] = "title"
    return opts


def _parquet_options(loc: Location, first: str | None) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = loc.path if first is None else posixpath.join(loc.path, first)
    with loc.fs.open_input_file(path) as f:
        schema = pq.ParquetFile(f).schema_arrow
    strings = [
        fld.name
        for fld in schema
        if (pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type)) and _field_name(fld.name)
    ]
    opts: dict[str, Any] = {}
    for k in TEXT_FIELD_NAMES:
        if k in strings:
            opts["text_field"] = k
            break
    else:
        if strings:
            opts["text_field"] = strings[0]
    if "url" in strings:
        opts["url_field"] = "url"
    if "title" in strings:
        opts["title_field"] = "title"
    return opts


def _text_options(head: bytes, files: list[str], sizes: list[int]) -> dict[str, Any]:
    text = head.decode("utf-8", "replace")
    if files and all(f.endswith(".py") for f in files):
        return {"split": "file"}
    headings = WIKITEXT_HEADING.findall(text)
    if len(headings) >= 2 or (headings and any(mark in text for mark in ("<unk>", " @-@ ", " @,@ "))):
        return {"split": "wikitext"}
    if len(files) <= 3 and max(sizes or [0]) >= LARGE_TEXT_FILE:
        return {"split": "chunk", "chunk_chars": 4000}
    return {"split": "file"}


# --- reading samples ---------------------------------------------------------------------------


@dataclass
class Sample:
    """Records drawn over the whole source (see :mod:`agent.sampling`), read by the reader the raw stage uses."""

    source: SourceSpec
    batch: ReadBatch
    truncated_by_bytes: bool = False
    seconds: float = 0.0
    coverage: Coverage | None = None

    @property
    def docs(self) -> pl.DataFrame:
        return self.batch.docs


def read_sample(source: SourceSpec, policy: PathPolicy, n: int, *, max_bytes: int = 32 << 20, seed: int = 0) -> Sample:
    """``n`` records of ``source`` (kept, dropped and quarantined) drawn over its files and records with ``seed``.

    At most ``max_bytes`` of text is read, shared among the files drawn.
    """
    loc = check_location(source.location, policy)
    t0 = time.perf_counter()
    batch, coverage, truncated = spread_read(source, loc.fs, loc.path, max(1, n), max_bytes=max_bytes, seed=seed)
    if coverage.files_total == 0:
        raise SourceError(
            f"source {source.name!r} at {source.location!r}: no file matches (format {source.format}"
            f"{', glob ' + source.glob if source.glob else ''}); check format and glob"
        )
    return Sample(source, batch, truncated, time.perf_counter() - t0, coverage)


def source_files(source: SourceSpec, policy: PathPolicy) -> list[str]:
    loc = check_location(source.location, policy)
    return list_source_files(source, loc.fs, loc.path)


def describe_location(loc: Location) -> dict[str, Any]:
    """Files, bytes and formats under a location (for list_sources)."""
    listing = list_files(loc)
    formats = Counter(format_of(rel) or "other" for rel, _ in listing.files)
    return {
        "location": loc.spec_location,
        "files": len(listing.files),
        "bytes": listing.total_bytes,
        "formats": dict(formats.most_common()),
        "examples": [rel for rel, _ in listing.files[:5]],
        "listing_truncated": listing.truncated,
    }
