"""Read raw sources (JSONL, Parquet, text, WARC) into document batches, quarantining bad input.

The raw stage calls :func:`read_source` for one source and writes each :class:`ReadBatch`
as one raw shard. Everything goes through a ``pyarrow.fs`` filesystem (local or S3), so
the same code reads both.

Guarantees:

* **Deterministic.** Files are read in sorted order, records in file order; a batch is cut
  every ``batch_docs`` records (batches may span files), so a re-run writes the same shards.
* **Streaming.** At most one record is held beyond a fixed read buffer: JSONL is read line by
  line through streaming gzip / zstd decompression, Parquet by record batches, WARC record by
  record, text files line by line (except ``split: file``, whose record is the whole file).
* **Conservation.** Every record is a kept document, a deliberately dropped one (``dropped``,
  with a reason) or a quarantined one (``quarantine``, with an error saying what is wrong and
  how to fix it). ``records == docs.height + dropped.height + quarantine.height``. Bad input
  never raises out of :func:`read_source`; only a location that does not exist does (that is
  a spec error, not bad data).

What counts as a record, and the choices made for awkward input:

* JSONL: each non-blank line (blank lines are skipped; ``offset`` is the 0-based line number).
  A line that is not a JSON object, or whose text field is missing, null or not a string, is
  quarantined. Text fields may be dotted paths (``meta.body``) into nested objects.
* Parquet: each row (``offset`` = row index). A file that cannot be opened or has no usable
  text column is one quarantine record with ``offset = -1``. A binary text column is decoded
  as UTF-8 row by row.
* WARC: each ``response`` record (``offset`` = its index among the response records);
  request, metadata and other records are skipped and are not records. Non-HTML payloads
  are dropped (``warc_not_html``), non-2xx responses too (``warc_http_status``); a record cut
  short is quarantined. HTML is decoded with the charset of the HTTP header or the page's
  ``<meta charset>`` or a detected one, whichever first fits the bytes (WHATWG aliases: latin-1
  means windows-1252); a page whose declared charset did not fit is counted in
  ``repairs["charset_mismatch"]``, and one that nothing fits is decoded as UTF-8 with
  replacement characters and counted in ``repairs["charset_fallback"]``.
* Text: documents per the source's ``split`` (``offset`` = document index in the file).
  ``.py`` files are ``text/x-python``, everything else ``text/plain``. A file with NUL bytes
  in its first 8 KiB is binary and is quarantined whole.
* Encodings (JSONL, text): a file is read as the source's ``encoding`` says (UTF-8 by default,
  a codec name, or ``auto``, detected per file), and a byte order mark always decides; see
  :mod:`corpus.charsets`. ``ReadBatch.encodings`` counts records by the codec used. Bytes the
  codec cannot decode quarantine the record (JSONL line, Parquet row, text document) as
  ``invalid_utf8`` (or ``invalid_encoding`` for another codec), the fix named in the error.
* NUL characters (U+0000) inside an otherwise valid text are removed, not quarantined: they
  are padding or conversion debris, never content, and many downstream tools treat them as
  string terminators. Each repaired record is counted in ``repairs["nul_removed"]``.
* A text empty after stripping is dropped with reason ``empty_text`` (JSONL, Parquet).
* A truncated or corrupt gzip / zstd stream keeps every record read before the break and
  adds one quarantine record (``truncated_stream``) at the line where it broke, holding the
  partial data.
* A document longer than the source's ``max_doc_chars`` is quarantined (``doc_too_long``).
* Empty files (no records at all) are listed in ``ReadBatch.empty_files`` of the batch that
  was being filled when they were read, so the raw stage can report them.
* A file of a local folder that a symbolic link leads outside the folder is not read: it is one
  quarantine record (``outside_location``, ``offset = -1``). The location itself may be a link;
  the spec's path policy checks where it leads.

Quarantine ``error`` strings start with a short error class (``invalid_json: ...``), which the
stage runner uses to count errors by kind.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from corpus import schema
from corpus.charsets import Utf8Stream
from corpus.local_listing import walk_local
from corpus.spec import SourceSpec

RAW_CAP = schema.RAW_CAP  # bytes of a bad record kept in the quarantine ``raw`` column
READ_CHUNK = 1 << 20  # bytes read from storage at a time
ZSTD_FEED = 64 * 1024  # compressed bytes handed to zstd at a time (bounds the output per call)
BINARY_SNIFF = 8192  # a text file with NUL bytes in this many leading bytes is binary
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

DEFAULT_GLOBS: dict[str, tuple[str, ...]] = {
    "jsonl": tuple(f"*.{ext}{comp}" for ext in ("jsonl", "ndjson", "json") for comp in ("", ".gz", ".zst", ".zstd")),
    "parquet": ("*.parquet",),
    "text": ("*.txt", "*.md", "*.py", "*.txt.gz", "*.txt.zst", "*.md.gz", "*.md.zst"),
    "warc": ("*.warc", "*.warc.gz", "*.warc.zst"),
}


@dataclass
class ReadBatch:
    """Up to ``batch_docs`` records of one source, split into kept, dropped and quarantined."""

    docs: pl.DataFrame  # schema.CORE columns, conformed
    dropped: pl.DataFrame  # CORE + drop_reason + drop_step
    quarantine: pl.DataFrame  # schema.QUARANTINE_COLUMNS
    records: int  # docs.height + dropped.height + quarantine.height
    empty_files: list[str] = field(default_factory=list)  # files read in this batch that held no record
    repairs: dict[str, int] = field(default_factory=dict)  # kept records repaired on the way, by kind
    encodings: dict[str, int] = field(default_factory=dict)  # jsonl/text: records by the codec their file was read with


# --- events: what a format reader says about each record ------------------------------------


class _Doc(NamedTuple):
    offset: int
    text: str
    url: str | None
    title: str | None
    content_type: str
    repairs: tuple[str, ...] = ()


class _Drop(NamedTuple):
    offset: int
    text: str
    url: str | None
    title: str | None
    content_type: str
    reason: str


class _Bad(NamedTuple):
    offset: int
    error: str
    raw: bytes | str


_Event = _Doc | _Drop | _Bad


def _raw_text(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw[:RAW_CAP]
    return raw[:RAW_CAP].decode("utf-8", "replace")


class _BatchBuilder:
    """Collects events column by column and turns them into a :class:`ReadBatch`."""

    def __init__(self, source: str, step: str):
        self.source = source
        self.step = step
        self._reset()

    def _reset(self) -> None:
        self.docs: dict[str, list[Any]] = {c: [] for c in schema.CORE}
        self.dropped: dict[str, list[Any]] = {c: [] for c in (*schema.CORE, schema.DROP_REASON)}
        self.bad: dict[str, list[Any]] = {c: [] for c in schema.QUARANTINE_COLUMNS}
        self.empty_files: list[str] = []
        self.repairs: dict[str, int] = {}
        self.encodings: dict[str, int] = {}
        self.records = 0

    def add(self, file: str, event: _Event, codec: str | None = None) -> None:
        self.records += 1
        if codec is not None:
            self.encodings[codec] = self.encodings.get(codec, 0) + 1
        if isinstance(event, _Doc):
            self._row(self.docs, file, event)
            for kind in event.repairs:
                self.repairs[kind] = self.repairs.get(kind, 0) + 1
        elif isinstance(event, _Drop):
            self._row(self.dropped, file, event)
            self.dropped[schema.DROP_REASON].append(event.reason)
        else:
            for col, value in zip(
                schema.QUARANTINE_COLUMNS,
                (self.source, file, event.offset, "raw", self.step, event.error, _raw_text(event.raw)),
                strict=True,
            ):
                self.bad[col].append(value)

    def _row(self, cols: dict[str, list[Any]], file: str, ev: _Doc | _Drop) -> None:
        cols[schema.ID].append(schema.document_id(self.source, file, ev.offset, ev.text))
        cols[schema.TEXT].append(ev.text)
        cols[schema.SOURCE].append(self.source)
        cols[schema.URL].append(ev.url)
        cols[schema.TITLE].append(ev.title)
        cols[schema.FILE].append(file)
        cols[schema.OFFSET].append(ev.offset)
        cols[schema.CONTENT_TYPE].append(ev.content_type)

    @property
    def has_content(self) -> bool:
        return bool(self.records or self.empty_files or self.repairs)

    def build(self) -> ReadBatch:
        docs = schema.conform(pl.DataFrame(self.docs, schema=schema.CORE))
        dropped_schema = {**schema.CORE, schema.DROP_REASON: pl.String()}
        dropped = schema.conform(pl.DataFrame(self.dropped, schema=dropped_schema)).with_columns(
            pl.lit(self.step, dtype=pl.String()).alias(schema.DROP_STEP)
        )
        quarantine = pl.DataFrame(self.bad, schema=schema.QUARANTINE_COLUMNS)
        batch = ReadBatch(docs, dropped, quarantine, self.records, self.empty_files, self.repairs, self.encodings)
        self._reset()
        return batch


# --- listing files ---------------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over '/'-separated paths: ``**/`` spans zero or more folders, ``*`` one name."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _matcher(source: SourceSpec) -> Any:
    """Patterns with a '/' match the path relative to the location; others match the file name."""
    patterns = (source.glob,) if source.glob else DEFAULT_GLOBS[source.format]
    compiled = [(("/" in p), _glob_regex(p)) for p in patterns]

    def matches(rel: str) -> bool:
        name = posixpath.basename(rel)
        return any(rx.match(rel if full else name) for full, rx in compiled)

    return matches


def _split_location(fs: pafs.FileSystem, base_path: str, source: SourceSpec) -> tuple[str, list[str] | None]:
    """(folder that relative names are relative to, [file] when the location is one file, else None)."""
    base = base_path.rstrip("/") or base_path
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(
            f"source {source.name!r}: location {base_path!r} does not exist; fix sources[].location in the spec "
            "or create the folder"
        )
    if info.type == pafs.FileType.File:
        return posixpath.dirname(base), [posixpath.basename(base)]
    return base, None


def list_source_files(source: SourceSpec, fs: pafs.FileSystem, base_path: str) -> list[str]:
    """The files of ``source`` under ``base_path``, sorted, relative to it (a single file: its name).

    Searched recursively; hidden files and folders (a name starting with '.') are skipped,
    which also skips the temporary files of writers still at work. The default glob depends
    on the format (see ``DEFAULT_GLOBS``); a location naming one file is read whatever its name.
    In a local folder, a symbolic link to a folder outside it is listed as itself, whatever the glob,
    and never entered (see :mod:`corpus.local_listing`); the reader quarantines it.
    """
    root, single = _split_location(fs, base_path, source)
    if single is not None:
        return single
    matches = _matcher(source)
    if isinstance(fs, pafs.LocalFileSystem):  # links out of the folder: listed as themselves, never entered
        return sorted(rel for rel, outside in walk_local(root) if outside or matches(rel))
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    out = []
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File:
            continue
        rel = posixpath.relpath(info.path, root)
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if matches(rel):
            out.append(rel)
    return sorted(out)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    source: SourceSpec
    fs: pafs.FileSystem
    root: str
    codecs: dict[str, str] = field(default_factory=dict)  # file -> the codec it was decoded with (jsonl, text)

    def path(self, rel: str) -> str:
        return posixpath.join(self.root, rel) if self.root else rel

    def utf8(self, rel: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """The decompressed bytes of ``rel`` as UTF-8 per the source's ``encoding`` (see corpus.charsets)."""
        stream = Utf8Stream(chunks, self.source.encoding)
        for chunk in stream:
            if stream.codec is not None:
                self.codecs[rel] = stream.codec
            yield chunk


def read_source(
    source: SourceSpec, fs: pafs.FileSystem, base_path: str, *, batch_docs: int = 5000
) -> Iterator[ReadBatch]:
    """Read every file of ``source`` in order and yield batches of at most ``batch_docs`` records.

    Nothing is yielded for a location without matching files. Raises only when the location
    does not exist (FileNotFoundError naming it) or ``batch_docs`` is not positive.
    """
    if batch_docs < 1:
        raise ValueError(f"batch_docs must be at least 1, got {batch_docs}")
    files = list_source_files(source, fs, base_path)
    root, single = _split_location(fs, base_path, source)
    ctx = _Ctx(source, fs, root)
    builder = _BatchBuilder(source.name, f"read_{source.format}")
    reader = _READERS[source.format]
    outside = link_escape_test(fs, root) if single is None else None
    for rel in files:
        seen = 0
        events = [_outside_event(rel)] if outside is not None and outside(rel) else _guarded(reader, ctx, rel)
        for event in events:
            builder.add(rel, event, ctx.codecs.get(rel))
            seen += 1
            if builder.records >= batch_docs:
                yield builder.build()
        if seen == 0:
            builder.empty_files.append(rel)
    if builder.has_content:
        yield builder.build()


def link_escape_test(fs: pafs.FileSystem, root: str) -> Callable[[str], bool] | None:
    """For a local folder: a test of whether a file resolves (through symbolic links) outside it.

    The spec's path policy checks the location itself, symlinks resolved; a link *inside* the
    folder could still lead anywhere on the machine. Such a file is not read. Object stores
    have no links, so nothing is checked there.
    """
    if not isinstance(fs, pafs.LocalFileSystem):
        return None
    real_root = os.path.realpath(root)

    def outside(rel: str) -> bool:
        target = os.path.realpath(posixpath.join(root, rel))
        return os.path.commonpath([real_root, target]) != real_root

    return outside


def _outside_event(rel: str) -> _Bad:  # a file, or a folder (whatever it holds is not listed)
    return _Bad(
        -1,
        f"outside_location: {rel} is reached through a symbolic link that leads outside the source's location, "
        "so it was not read; copy the file into the location, or make the folder that holds it a source of its own",
        b"",
    )


def _is_fatal(exc: BaseException) -> bool:
    return isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError)


def _guarded(reader: Any, ctx: _Ctx, rel: str) -> Iterator[_Event]:
    """Run one format reader on one file; an unexpected failure becomes one quarantine record.

    The format readers handle every failure they know about themselves. This is the last
    line of defence for what they do not foresee (a storage error halfway, a library bug):
    the records already produced stay, and the failure is reported where it happened.
    """
    offset = -1
    try:
        if ctx.fs.get_file_info(ctx.path(rel)).size == 0:
            return
        for event in reader(ctx, rel):
            offset = event.offset
            yield event
    except BaseException as exc:
        if _is_fatal(exc):
            raise
        yield _Bad(
            offset + 1 if offset >= 0 else -1,
            f"unreadable_file: {rel}: reading stopped after record {offset} with "
            f"{type(exc).__name__}: {exc}; the records before were kept. Check that the file is complete "
            "and readable, or remove it from the source",
            b"",
        )


# --- byte streams: decompression and lines ---------------------------------------------------


class _StreamBroken(Exception):
    """A compressed stream ends early or is corrupt; everything before the break was delivered."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.line = -1
        self.partial = b""


def _decompressed_chunks(stream: Any) -> Iterator[bytes]:
    """The decompressed bytes of a file, detected by magic number (gzip, zstd or plain).

    Raises :class:`_StreamBroken` after the last good bytes when the stream is cut short or corrupt.
    """
    head = stream.read(READ_CHUNK)
    if head[:2] == GZIP_MAGIC:
        yield from _gunzip(head, stream)
    elif head[:4] == ZSTD_MAGIC:
        yield from _unzstd(head, stream)
    else:
        while head:
            yield head
            head = stream.read(READ_CHUNK)


def _gunzip(first: bytes, stream: Any) -> Iterator[bytes]:
    """Multi-member gzip with bounded output per step (zlib ``max_length``)."""
    pending, read_total = first, len(first)
    d: Any = None
    while True:
        if not pending:
            pending = stream.read(READ_CHUNK)
            read_total += len(pending)
            if not pending:
                if d is not None:
                    tail = d.flush()
                    if tail:
                        yield tail
                    raise _StreamBroken(
                        f"the gzip stream ends before its end marker after {read_total:,} compressed bytes "
                        "(the file is truncated)"
                    )
                return
        if d is None:
            if not pending.strip(b"\x00"):  # zero padding after the last member
                pending = b""
                continue
            d = zlib.decompressobj(wbits=31)
        try:
            out = d.decompress(pending, READ_CHUNK)
        except zlib.error as exc:
            raise _StreamBroken(
                f"the gzip data is corrupt within the first {read_total:,} compressed bytes ({exc})"
            ) from None
        if out:
            yield out
        if d.eof:
            pending, d = d.unused_data, None
        else:
            pending = d.unconsumed_tail


def _unzstd(first: bytes, stream: Any) -> Iterator[bytes]:
    """Multi-frame zstd, fed in small compressed pieces so one call's output stays bounded."""
    import zstandard

    buffer, read_total = first, len(first)
    d: Any = None
    while True:
        if not buffer:
            buffer = stream.read(READ_CHUNK)
            read_total += len(buffer)
            if not buffer:
                if d is not None:
                    raise _StreamBroken(
                        f"the zstd stream ends inside a frame after {read_total:,} compressed bytes (the file is truncated)"
                    )
                return
        if d is None:
            if not buffer.strip(b"\x00"):
                buffer = b""
                continue
            d = zstandard.ZstdDecompressor().decompressobj()
        piece, buffer = buffer[:ZSTD_FEED], buffer[ZSTD_FEED:]
        try:
            out = d.decompress(piece)
        except zstandard.ZstdError as exc:
            raise _StreamBroken(
                f"the zstd data is corrupt within the first {read_total:,} compressed bytes ({exc})"
            ) from None
        if out:
            yield out
        if d.eof:
            buffer, d = d.unused_data + buffer, None


def _iter_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes, bool]]:
    """(0-based line number, line without its newline, too_long) for each line of a byte stream.

    A line longer than ``max_line_bytes`` is not held in memory: only its first ``RAW_CAP``
    bytes are kept and it comes out with ``too_long=True``. When the stream breaks, the
    :class:`_StreamBroken` raised carries the line number and the partial line.
    """
    index = 0
    carry: list[bytes] = []
    carry_len = 0
    too_long = False
    try:
        for chunk in chunks:
            pieces = chunk.split(b"\n")
            if len(pieces) == 1:
                carry_len += len(chunk)
                if not too_long:
                    carry.append(chunk)
                    if carry_len > max_line_bytes:
                        carry, too_long = [b"".join(carry)[:RAW_CAP]], True
                continue
            head = pieces[0]
            if carry:
                line = carry[0] if too_long else b"".join((*carry, head))
                yield index, line, too_long or carry_len + len(head) > max_line_bytes
            else:
                yield index, head, len(head) > max_line_bytes
            index += 1
            for line in pieces[1:-1]:
                yield index, line, len(line) > max_line_bytes
                index += 1
            tail = pieces[-1]
            carry, carry_len, too_long = ([tail] if tail else []), len(tail), False
    except _StreamBroken as exc:
        exc.line = index
        exc.partial = b"".join(carry)[:RAW_CAP]
        raise
    if carry:
        yield index, carry[0] if too_long else b"".join(carry), too_long


def _broken_event(exc: _StreamBroken, rel: str, what: str) -> _Bad:
    return _Bad(
        exc.line,
        f"truncated_stream: {rel}: {exc.message}; it broke in {what} {exc.line + 1}, and the records before it "
        "were kept. Re-download or re-compress the file",
        exc.partial,
    )


# --- records common to JSONL and Parquet -----------------------------------------------------

_MISSING = object()


def _get_field(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]``, else a dotted path into nested objects (``meta.body``); _MISSING if absent."""
    if name in obj:
        return obj[name]
    if "." not in name:
        return _MISSING
    value: Any = obj
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _field_list(obj: dict[str, Any]) -> str:
    names = list(obj)[:12]
    more = ", ..." if len(obj) > 12 else ""
    return ", ".join(repr(n) for n in names) + more if names else "none"


def _text_from(obj: dict[str, Any], source: SourceSpec, where: str) -> str | _Bad:
    fields = [source.text_field] if isinstance(source.text_field, str) else list(source.text_field)
    parts = []
    for name in fields:
        value = _get_field(obj, name)
        if value is _MISSING:
            return _Bad(
                -1,
                f"missing_text_field: {where} has no field {name!r} (its fields: {_field_list(obj)}); "
                f"set text_field of source {source.name!r} to the field that holds the text",
                b"",
            )
        if isinstance(value, bytes | bytearray):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                return _Bad(
                    -1,
                    f"invalid_utf8: {where}: field {name!r} is not valid UTF-8 at byte {exc.start}; "
                    "re-encode the data as UTF-8",
                    b"",
                )
        if value is None:
            return _Bad(-1, f"null_text: {where}: field {name!r} is null; fill it or remove the record", b"")
        if not isinstance(value, str):
            return _Bad(
                -1,
                f"wrong_type: {where}: field {name!r} is {_type_name(value)} ({str(value)[:60]!r}), expected a string; "
                f"point text_field of source {source.name!r} at a text field",
                b"",
            )
        parts.append(value)
    return parts[0] if len(parts) == 1 else "\n\n".join(parts)


def _meta(obj: dict[str, Any], name: str | None) -> str | None:
    """An optional metadata field as a string: absent, null or nested values become null."""
    if not name:
        return None
    value = _get_field(obj, name)
    if value is _MISSING or value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


def _too_long(source: SourceSpec, where: str, n_chars: int) -> str:
    return (
        f"doc_too_long: {where}: the text has {n_chars:,} characters, more than max_doc_chars={source.max_doc_chars:,}; "
        f"raise max_doc_chars of source {source.name!r} (at most 50,000,000) or split the text "
        "(text sources: split: chunk)"
    )


def _finish_text(text: str) -> tuple[str, tuple[str, ...]]:
    if "\x00" in text:
        return text.replace("\x00", ""), ("nul_removed",)
    return text, ()


def _content_type_for(url: str | None) -> str:
    """JSONL/Parquet records are plain text, except code whose path or URL ends in ``.py``."""
    return "text/x-python" if url and url.endswith(".py") else "text/plain"


def _record_event(obj: dict[str, Any], offset: int, source: SourceSpec, where: str, raw: Any) -> _Event:
    text = _text_from(obj, source, where)
    if isinstance(text, _Bad):
        return _Bad(offset, text.error, raw() if callable(raw) else raw)
    text, repairs = _finish_text(text)
    url = _meta(obj, source.url_field)
    title = _meta(obj, source.title_field)
    ctype = _content_type_for(url)
    if not text.strip():
        return _Drop(offset, text, url, title, ctype, "empty_text")
    if len(text) > source.max_doc_chars:
        return _Bad(offset, _too_long(source, where, len(text)), text[:RAW_CAP])
    return _Doc(offset, text, url, title, ctype, repairs)


# --- JSONL -----------------------------------------------------------------------------------


def _bad_bytes(where: str, codec: str | None, source: SourceSpec, line: bytes, start: int) -> str:
    """The quarantine error of a record with bytes its file's codec cannot decode."""
    if codec in (None, "utf-8"):
        return (
            f"invalid_utf8: {where} is not valid UTF-8 at byte {start} ({line[start : start + 4]!r}); re-encode the "
            f"file as UTF-8, or set encoding of source {source.name!r} to the file's encoding (e.g. latin-1) or auto"
        )
    return (
        f"invalid_encoding: {where} has bytes that are not valid {codec}; set encoding of source {source.name!r} "
        "to the file's encoding, or re-encode the file as UTF-8"
    )


def _json_error(line: bytes, exc: Exception, where: str, codec: str | None, source: SourceSpec) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return _bad_bytes(where, codec, source, line, u.start)
    return (
        f"invalid_json: {where} is not valid JSON ({exc}); each line must be one complete JSON object "
        "(JSON Lines); fix or remove the line"
    )


def _read_jsonl(ctx: _Ctx, rel: str) -> Iterator[_Event]:
    source = ctx.source
    max_line = 12 * source.max_doc_chars + (1 << 20)  # a JSON string escapes a character in at most 12 bytes
    with ctx.fs.open_input_stream(ctx.path(rel), compression=None) as stream:
        try:
            for index, line, too_long in _iter_lines(ctx.utf8(rel, _decompressed_chunks(stream)), max_line):
                where = f"{rel} line {index + 1}"
                if too_long:
                    yield _Bad(
                        index,
                        f"line_too_long: {where} is longer than {max_line:,} bytes, more than a record "
                        f"with max_doc_chars={source.max_doc_chars:,} can take; raise max_doc_chars of source "
                        f"{source.name!r} or split the record",
                        line,
                    )
                    continue
                if not line or line.isspace():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    yield _Bad(index, _json_error(line, exc, where, ctx.codecs.get(rel), source), line)
                    continue
                if not isinstance(obj, dict):
                    yield _Bad(
                        index,
                        f"not_an_object: {where} is {_type_name(obj)}, not a JSON object; JSON Lines "
                        "needs one object per line (a JSON array file converts with: jq -c '.[]')",
                        line,
                    )
                    continue
                yield _record_event(obj, index, source, where, line)
        except _StreamBroken as exc:
            yield _broken_event(exc, rel, "line")


# --- Parquet ---------------------------------------------------------------------------------


def _is_text_type(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
    )


def _parquet_columns(arrow_schema: pa.Schema, source: SourceSpec, rel: str) -> list[str] | str:
    """The top-level columns to read, or why the file cannot serve as this source."""
    names = arrow_schema.names
    fields = [source.text_field] if isinstance(source.text_field, str) else list(source.text_field)
    wanted: list[str] = []
    for name in fields:
        top = name if name in names else name.split(".")[0]
        if top not in names:
            return (
                f"parquet_schema: {rel} has no column {name!r} (columns: {', '.join(names[:20])}); "
                f"set text_field of source {source.name!r} to the column that holds the text"
            )
        if top == name and not _is_text_type(arrow_schema.field(name).type):
            return (
                f"parquet_schema: {rel}: column {name!r} is {arrow_schema.field(name).type}, expected a string column; "
                f"set text_field of source {source.name!r} to the column that holds the text"
            )
        wanted.append(top)
    for name in (source.url_field, source.title_field):
        if name:
            top = name if name in names else name.split(".")[0]
            if top in names:
                wanted.append(top)
    return list(dict.fromkeys(wanted))


def _read_parquet(ctx: _Ctx, rel: str) -> Iterator[_Event]:
    source = ctx.source
    try:
        handle = ctx.fs.open_input_file(ctx.path(rel))
        pf = pq.ParquetFile(handle)
    except (OSError, ValueError, pa.ArrowException) as exc:
        yield _Bad(
            -1,
            f"unreadable_parquet: {rel} cannot be opened as Parquet ({exc}); check that it is a complete "
            "Parquet file, or remove it from the source",
            b"",
        )
        return
    with handle:
        columns = _parquet_columns(pf.schema_arrow, source, rel)
        if isinstance(columns, str):
            yield _Bad(-1, columns, str(pf.schema_arrow)[:RAW_CAP])
            return
        offset = 0
        try:
            for batch in pf.iter_batches(batch_size=1024, columns=columns, use_threads=False):
                values = [batch.column(c).to_pylist() for c in columns]
                for row_values in zip(*values, strict=True):
                    row = dict(zip(columns, row_values, strict=True))
                    yield _record_event(row, offset, source, f"{rel} row {offset}", lambda r=row: _row_raw(r))
                    offset += 1
        except (OSError, ValueError, pa.ArrowException) as exc:
            yield _Bad(
                offset,
                f"unreadable_parquet: {rel}: reading failed at row {offset} ({exc}); the {offset:,} rows "
                "before it were kept. Rewrite the file",
                b"",
            )


def _row_raw(row: dict[str, Any]) -> str:
    return orjson.dumps(row, default=repr).decode("utf-8")[:RAW_CAP]


# --- text ------------------------------------------------------------------------------------

_WIKI_TITLE = re.compile(r"^ = ([^=].*?) = $")


class _Pending:
    """A text document under construction from lines; stops growing past its character limit."""

    __slots__ = ("chars", "error", "kept", "limit", "parts", "sep", "title")

    def __init__(self, limit: int, sep: str = "\n"):
        self.parts: list[str] = []
        self.chars = 0  # characters of the whole document
        self.kept = 0  # characters held in ``parts``
        self.limit = limit
        self.error: str | None = None
        self.title: str | None = None
        self.sep = sep

    def add(self, text: str, error: str | None = None) -> None:
        self.chars += len(text) + (len(self.sep) if self.parts else 0)
        # past the limit the document will be quarantined: keep only what ``raw`` shows of it
        if self.chars <= self.limit or self.kept < RAW_CAP:
            self.parts.append(text)
            self.kept += len(text)
        if error and not self.error:
            self.error = error

    @property
    def empty(self) -> bool:
        return not any(p.strip() for p in self.parts)

    def text(self) -> str:
        parts = self.parts
        start, end = 0, len(parts)
        while start < end and not parts[start].strip():
            start += 1
        while end > start and not parts[end - 1].strip():
            end -= 1
        return self.sep.join(parts[start:end])


class _Line(NamedTuple):
    number: int  # 0-based line number in the file
    text: str
    error: str | None


def _decode_lines(
    lines: Iterable[tuple[int, bytes, bool]],
    rel: str,
    source: SourceSpec,
    max_line: int,
    codec: Callable[[], str | None] = lambda: None,
) -> Iterator[_Line]:
    """Decode each line as UTF-8 (a bad one is decoded with replacement and carries an error)."""
    for number, raw, too_long in lines:
        error = None
        if too_long:
            error = (
                f"doc_too_long: {rel} line {number + 1} is longer than {max_line:,} bytes, more than "
                f"max_doc_chars={source.max_doc_chars:,} can hold; raise max_doc_chars of source {source.name!r} "
                "(at most 50,000,000) or split the file into shorter lines"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", "replace")
            error = error or _bad_bytes(f"{rel} line {number + 1}", codec(), source, raw, exc.start)
        if number == 0 and text.startswith("\ufeff"):
            text = text[1:]
        if text.endswith("\r"):
            text = text[:-1]
        if "\x00" in text:
            text = text.replace("\x00", "")
        yield _Line(number, text, error)


def _split_lines(lines: Iterable[_Line], source: SourceSpec) -> Iterator[_Pending]:
    for line in lines:
        if line.text.strip():
            doc = _Pending(source.max_doc_chars)
            doc.add(line.text, line.error)
            yield doc


def _split_paragraphs(lines: Iterable[_Line], source: SourceSpec) -> Iterator[_Pending]:
    doc = _Pending(source.max_doc_chars)
    for line in lines:
        if line.text.strip():
            doc.add(line.text, line.error)
        elif not doc.empty:
            yield doc
            doc = _Pending(source.max_doc_chars)
    if not doc.empty:
        yield doc


def _split_wikitext(lines: Iterable[_Line], source: SourceSpec) -> Iterator[_Pending]:
    """One document per WikiText article: a line `` = Title = `` (one '=') starts the next one."""
    doc = _Pending(source.max_doc_chars)
    for line in lines:
        heading = _WIKI_TITLE.match(line.text)
        if heading and not doc.empty:
            yield doc
            doc = _Pending(source.max_doc_chars)
        if heading and doc.title is None:
            doc.title = heading.group(1).strip()
        doc.add(line.text, line.error)
    if not doc.empty:
        yield doc


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s")
LONG_PARAGRAPH_FACTOR = 2  # a paragraph up to this many chunk_chars stays whole in one chunk


def _cut_paragraph(text: str, size: int) -> Iterator[str]:
    """Pieces of at most ``size`` characters, cut at a sentence end, else a line end, else a space, else anywhere."""
    while len(text) > size:
        ends = [m.end() for m in _SENTENCE_END.finditer(text, size // 2, size + 1) if m.end() <= size]
        cut = ends[-1] if ends else -1
        if cut < 0:
            cut = text.rfind("\n", size // 2, size + 1)
        if cut < 0:
            cut = text.rfind(" ", size // 2, size + 1)
        if cut <= 0:
            cut = size
        yield text[:cut].rstrip()
        text = text[cut:].lstrip("\n ")
    if text:
        yield text


def _split_chunks(lines: Iterable[_Line], source: SourceSpec) -> Iterator[_Pending]:
    """Documents of about ``chunk_chars``: whole paragraphs packed together, cut at paragraph ends.

    A paragraph stays whole up to ``LONG_PARAGRAPH_FACTOR`` times ``chunk_chars`` (its chunk is
    then longer); a longer one is cut at sentence ends (else line ends, else spaces), so memory
    stays bounded whatever the file looks like.
    """
    size = source.chunk_chars
    hard = LONG_PARAGRAPH_FACTOR * size
    chunk = _Pending(source.max_doc_chars, sep="\n\n")

    def pieces() -> Iterator[tuple[str, str | None]]:
        para: list[str] = []
        para_chars = 0
        para_error: str | None = None
        long = False  # the paragraph grew past ``hard``: all of it is cut to ``size``

        def finish() -> Iterator[tuple[str, str | None]]:
            text = "\n".join(para)
            for piece in _cut_paragraph(text, size) if long else (text,):
                yield piece, para_error

        for line in lines:
            if not line.text.strip():
                if para:
                    yield from finish()
                para, para_chars, para_error, long = [], 0, None, False
                continue
            para.append(line.text)
            para_chars += len(line.text) + (1 if len(para) > 1 else 0)
            para_error = para_error or line.error
            if para_chars > hard:
                long = True
                cut = list(_cut_paragraph("\n".join(para), size))
                for piece in cut[:-1]:
                    yield piece, para_error
                para, para_chars = cut[-1:], len(cut[-1]) if cut else 0
        if para:
            yield from finish()

    for text, error in pieces():
        if chunk.parts and chunk.chars + 2 + len(text) > size:
            yield chunk
            chunk = _Pending(source.max_doc_chars, sep="\n\n")
        chunk.add(text, error)
    if not chunk.empty:
        yield chunk


_SPLITTERS = {
    "line": _split_lines,
    "paragraph": _split_paragraphs,
    "wikitext": _split_wikitext,
    "chunk": _split_chunks,
}


def _pending_event(doc: _Pending, index: int, rel: str, source: SourceSpec, ctype: str) -> _Event:
    text = doc.text()
    if doc.error:
        return _Bad(index, doc.error, text)
    if doc.chars > source.max_doc_chars:
        return _Bad(index, _too_long(source, f"{rel} document {index}", doc.chars), text)
    return _Doc(index, text, None, doc.title, ctype)


def _text_content_type(rel: str) -> str:
    name = rel.removesuffix(".gz").removesuffix(".zst")
    return "text/x-python" if name.endswith(".py") else "text/plain"


def _read_text(ctx: _Ctx, rel: str) -> Iterator[_Event]:
    source = ctx.source
    ctype = _text_content_type(rel)
    with ctx.fs.open_input_stream(ctx.path(rel), compression=None) as stream:
        chunks = ctx.utf8(rel, _decompressed_chunks(stream))
        try:
            first = next(chunks, b"")
        except _StreamBroken as exc:
            yield _Bad(
                0,
                f"truncated_stream: {rel}: {exc.message}; nothing could be read. Re-download or re-compress the file",
                b"",
            )
            return
        if b"\x00" in first[:BINARY_SNIFF]:
            yield _Bad(
                -1,
                f"binary_file: {rel} has NUL bytes in its first {BINARY_SNIFF:,} bytes, so it is not text; "
                "remove it from the source or narrow the source's glob",
                first[:512],
            )
            return
        chunks = chain([first], chunks)
        if source.split == "file":
            event = _whole_file(chunks, rel, source, ctype, ctx.codecs.get(rel))
            if event is not None:
                yield event
            return
        max_line = 4 * source.max_doc_chars + 4
        lines = _decode_lines(_iter_lines(chunks, max_line), rel, source, max_line, lambda: ctx.codecs.get(rel))
        index = 0
        try:
            for doc in _SPLITTERS[source.split](lines, source):
                yield _pending_event(doc, index, rel, source, ctype)
                index += 1
        except _StreamBroken as exc:
            yield _Bad(
                index,
                f"truncated_stream: {rel}: {exc.message}; it broke in line {exc.line + 1}, inside "
                f"document {index}; the documents before it were kept. Re-download or re-compress the file",
                exc.partial,
            )


def _whole_file(chunks: Iterable[bytes], rel: str, source: SourceSpec, ctype: str, codec: str | None) -> _Event | None:
    """``split: file``: the file is one document (read up to what max_doc_chars can hold)."""
    limit = 4 * source.max_doc_chars + 4
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                data = b"".join(parts)
                return _Bad(
                    0,
                    _too_long(source, rel, len(data.decode("utf-8", "replace"))) + " (counted up to where "
                    "reading stopped)",
                    data[:RAW_CAP],
                )
    except _StreamBroken as exc:
        return _Bad(
            0,
            f"truncated_stream: {rel}: {exc.message}; the file is one document (split: file), so it was "
            "not kept. Re-download or re-compress the file",
            b"".join(parts)[:RAW_CAP],
        )
    data = b"".join(parts)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _Bad(0, _bad_bytes(rel, codec, source, data, exc.start), data)
    text = text.removeprefix("\ufeff")
    text, repairs = _finish_text(text)
    if not text.strip():
        return None
    if len(text) > source.max_doc_chars:
        return _Bad(0, _too_long(source, rel, len(text)), text[:RAW_CAP])
    return _Doc(0, text, None, None, ctype, repairs)


# --- WARC ------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
# WHATWG encoding labels that browsers map to a superset (pages labelled latin-1 are really cp1252)
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "l1": "cp1252",
    "x-sjis": "shift_jis",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "iso-8859-9": "cp1254",
    "windows-874": "cp874",
    "utf8": "utf-8",
}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    return _CHARSET_ALIASES.get(label, label)


def decode_html(payload: bytes, declared: str | None) -> tuple[str, str | None]:
    """(HTML text, note) decoded with the first charset that fits the bytes.

    Tried in order: the HTTP header's charset, the page's ``<meta charset>``, a detected
    charset (resiliparse), UTF-8. Real crawls often declare the wrong charset in the header,
    so a declared charset that does not decode the bytes is passed over (note
    ``charset_mismatch``); when nothing fits, the page is decoded as UTF-8 with replacement
    characters (note ``charset_fallback``). The note is None when the declared charset fits.
    """
    meta = _META_CHARSET.search(payload[:4096])
    candidates = [_codec(declared), _codec(meta.group(1).decode("ascii", "replace") if meta else None)]
    first = next((c for c in candidates if c), None)
    for codec in candidates:
        if codec:
            try:
                return payload.decode(codec), None if codec == first else "charset_mismatch"
            except (LookupError, UnicodeDecodeError):
                continue
    try:
        from resiliparse.parse.encoding import detect_encoding

        detected = _codec(detect_encoding(payload))
        text = payload.decode(detected or "utf-8")
        return text, None if first is None else "charset_mismatch"
    except (ImportError, LookupError, UnicodeDecodeError):
        pass
    try:
        return payload.decode("utf-8"), None if first is None else "charset_mismatch"
    except UnicodeDecodeError:
        return payload.decode("utf-8", "replace"), "charset_fallback"


def _dechunk(body: bytes) -> bytes:
    """Undo HTTP chunked transfer encoding."""
    out, pos = [], 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("chunked body ends inside a chunk header")
        size = int(body[pos:end].split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return b"".join(out)
        start = end + 2
        if start + size > len(body):
            raise ValueError("chunked body ends inside a chunk")
        out.append(body[start : start + size])
        pos = start + size + 2


def _decode_http_body(body: bytes, headers: Any) -> bytes:
    """The entity body without transfer and content encodings (chunked, gzip, deflate, br)."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        body = _dechunk(body)
    encoding = (headers.get("Content-Encoding") or "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(body, wbits=47)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, wbits=-15)
    if encoding == "br":
        return _unbrotli(body)
    if encoding not in ("", "identity", "none"):
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    return body


def _unbrotli(body: bytes) -> bytes:
    try:
        import brotli
    except ImportError:
        import io

        from fastwarc.stream_io import BrotliReader  # fastwarc bundles a brotli decoder

        return BrotliReader(io.BytesIO(body)).read()
    try:
        return brotli.decompress(body)
    except brotli.error as exc:
        raise ValueError(f"brotli: {exc}") from None


_TAG_START = re.compile(r"<[A-Za-z!/?]")
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")


def _not_markup(html: str) -> str | None:
    """Why a payload declared HTML is not a web page (binary, or text with no tag at all), else None."""
    head = html[:65536]
    if not head.strip():
        return None
    if len(_BINARY_CHARS.findall(head)) > 0.05 * len(head):
        return "binary"
    if not _TAG_START.search(head):
        return "no markup"
    return None


def _looks_like_html(payload: bytes) -> bool:
    head = payload[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _warc_event(record: Any, index: int, rel: str) -> _Event:
    url = record.headers.get("WARC-Target-URI")
    where = f"{rel} record {index} ({url})"
    body = record.reader.read()
    if len(body) < record.content_length:
        return _Bad(
            index,
            f"warc_truncated: {where}: the record ends after {len(body):,} of its {record.content_length:,} "
            "payload bytes; re-download the WARC file",
            body,
        )
    if not record.is_http:
        return _Drop(
            index, body[:RAW_CAP].decode("utf-8", "replace"), url, None, "application/octet-stream", "warc_not_html"
        )
    headers = record.http_headers
    ctype = (record.http_content_type or "").lower()
    try:
        body = _decode_http_body(body, headers)
    except (ValueError, OSError, zlib.error) as exc:
        return _Bad(
            index,
            f"warc_bad_encoding: {where}: the HTTP body cannot be decoded ({exc}); the record is "
            "damaged or uses an unsupported encoding",
            body,
        )
    status = headers.status_code
    if status is not None and not 200 <= status < 300:
        text = body[:RAW_CAP].decode("utf-8", "replace")
        return _Drop(index, text, url, None, ctype or "text/html", "warc_http_status")
    if ctype not in HTML_TYPES and not (not ctype and _looks_like_html(body)):
        return _Drop(
            index,
            body[:RAW_CAP].decode("utf-8", "replace"),
            url,
            None,
            ctype or "application/octet-stream",
            "warc_not_html",
        )
    html, note = decode_html(body, record.http_charset)
    if _not_markup(html):  # declared HTML, but binary or without a single tag: not a page
        return _Drop(index, html[:RAW_CAP], url, None, ctype or "text/html", "warc_not_html")
    html, repairs = _finish_text(html)
    if note:
        repairs = (*repairs, note)
    if not html.strip():
        return _Drop(index, html, url, None, "text/html", "empty_text")
    return _Doc(index, html, url, None, "text/html", repairs)


class _ChunkStream(io.RawIOBase):
    """A read-only file object over decompressed chunks, so fastwarc sees a plain WARC stream.

    Decompressing here rather than inside fastwarc means a truncated or corrupt gzip member
    is noticed (fastwarc would silently stop at it). The break is kept in ``broken`` and the
    stream ends there, so the records before it are still parsed.
    """

    def __init__(self, chunks: Iterator[bytes]):
        super().__init__()
        self._chunks = chunks
        self._buf = memoryview(b"")
        self._pos = 0
        self.broken: _StreamBroken | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not len(self._buf):
            if self.broken is not None:
                return 0
            try:
                chunk = next(self._chunks, None)
            except _StreamBroken as exc:
                self.broken = exc
                return 0
            if chunk is None:
                return 0
            self._buf = memoryview(chunk)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos


def _read_warc(ctx: _Ctx, rel: str) -> Iterator[_Event]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    index = 0
    last: _Event | None = None
    with ctx.fs.open_input_stream(ctx.path(rel), compression=None) as raw:
        chunks = _ChunkStream(_decompressed_chunks(raw))
        stream = io.BufferedReader(chunks, buffer_size=READ_CHUNK)
        records = ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True, auto_decode="none")
        try:
            for record in records:
                last = _warc_event(record, index, rel)
                yield last
                index += 1
            # a break inside the last record already quarantined it (warc_truncated); else report the break
            if chunks.broken is not None and not (isinstance(last, _Bad) and last.offset == index - 1):
                yield _Bad(
                    index,
                    f"truncated_stream: {rel}: {chunks.broken.message}; the stream broke after response "
                    f"record {index - 1}, and the records before it were kept. Re-download or re-compress the file",
                    b"",
                )
        except BaseException as exc:
            if _is_fatal(exc):
                raise
            yield _Bad(
                index,
                f"unreadable_warc: {rel}: reading stopped at response record {index} ({exc}); the records "
                "before it were kept. Check that the file is a complete WARC file",
                b"",
            )


_READERS = {"jsonl": _read_jsonl, "parquet": _read_parquet, "text": _read_text, "warc": _read_warc}

__all__ = ["DEFAULT_GLOBS", "ReadBatch", "decode_html", "list_source_files", "read_source"]
