"""The one scaffold every format reader runs in, and the protocol a format implements.

A format says how a file is opened (:attr:`FormatReader.opens`) and what its records are
(:meth:`FormatReader.records`). :func:`read_file` does the rest for every format: it skips an
empty file, opens the stream (through the source's filesystem, decompressed, decoded to UTF-8
when the format reads text), turns a broken stream into one ``truncated_stream`` record after
the records read before the break, and turns any other failure into one quarantine record, so
bad input never raises out of a reader.
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow.fs as pafs

from corpus.charsets import Utf8Stream
from corpus.readers.events import Bad, Event
from corpus.readers.streams import StreamBroken, decompressed_chunks

if TYPE_CHECKING:  # only the source's fields are used: no import of the spec module at run time
    from corpus.spec import SourceSpec

Opens = Literal["text", "bytes", "file"]


@dataclass(frozen=True)
class ReadContext:
    """One source being read: its spec, filesystem and folder, and the codec each file was decoded with."""

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


def truncated(rel: str, exc: StreamBroken, detail: str) -> str:
    """The error of a ``truncated_stream`` record: the file, what broke, what was kept (``detail``) and the fix."""
    return f"truncated_stream: {rel}: {exc.message}; {detail}. Re-download or re-compress the file"


class FormatReader(ABC):
    """One file format behind :func:`read_file`.

    ``opens`` says what :meth:`records` is handed: ``"text"`` the decompressed bytes as UTF-8
    chunks (per the source's ``encoding``), ``"bytes"`` the decompressed bytes as chunks,
    ``"file"`` whatever :meth:`open` returns (by default a random-access file).
    """

    format: ClassVar[str]
    opens: ClassVar[Opens] = "text"

    @abstractmethod
    def records(self, ctx: ReadContext, rel: str, data: Any) -> Iterator[Event]:
        """The events of the file's records, in file order, each with its offset."""

    def open(self, ctx: ReadContext, rel: str) -> AbstractContextManager[Any]:
        """The data :meth:`records` reads, opened through the source's filesystem."""
        if self.opens == "file":
            return ctx.fs.open_input_file(ctx.path(rel))
        return _chunks(ctx, rel, utf8=self.opens == "text")

    def broken(self, ctx: ReadContext, rel: str, exc: StreamBroken, next_offset: int) -> Bad:
        """The record for a stream that broke at line ``exc.line`` (``next_offset``: the record it broke in)."""
        detail = f"it broke in line {exc.line + 1}, and the records before it were kept"
        return Bad(exc.line, truncated(rel, exc, detail), exc.partial)

    def failed(self, rel: str, exc: BaseException, next_offset: int, opened: bool) -> Bad | None:
        """The record for a failure this format knows (``opened``: it happened after :meth:`open`), else None."""
        return None


@contextmanager
def _chunks(ctx: ReadContext, rel: str, *, utf8: bool) -> Iterator[Iterator[bytes]]:
    with ctx.fs.open_input_stream(ctx.path(rel), compression=None) as stream:
        chunks = decompressed_chunks(stream)
        yield ctx.utf8(rel, chunks) if utf8 else chunks


def is_fatal(exc: BaseException) -> bool:
    return isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError)


def read_file(reader: FormatReader, ctx: ReadContext, rel: str) -> Iterator[Event]:
    """Run one format reader on one file; an empty file has no records, and nothing raises but fatal errors.

    The records before a break or failure are kept. A broken compressed stream becomes the
    format's ``truncated_stream`` record; a failure the format knows becomes its own record;
    anything else (a storage error halfway, a library bug) one ``unreadable_file`` record
    where it happened.
    """
    last = -1  # offset of the last record produced
    phase = "stat"
    try:
        if ctx.fs.get_file_info(ctx.path(rel)).size == 0:
            return
        phase = "open"
        with reader.open(ctx, rel) as data:
            phase = "read"
            try:
                for event in reader.records(ctx, rel, data):
                    last = event.offset
                    yield event
            except StreamBroken as exc:
                yield reader.broken(ctx, rel, exc, last + 1)
    except BaseException as exc:
        if is_fatal(exc):
            raise
        known = reader.failed(rel, exc, last + 1, phase == "read") if phase != "stat" else None
        yield known or Bad(
            last + 1 if last >= 0 else -1,
            f"unreadable_file: {rel}: reading stopped after record {last} with "
            f"{type(exc).__name__}: {exc}; the records before were kept. Check that the file is complete "
            "and readable, or remove it from the source",
            b"",
        )


def outside_event(rel: str) -> Bad:  # a file, or a folder (whatever it holds is not listed)
    return Bad(
        -1,
        f"outside_location: {rel} is reached through a symbolic link that leads outside the source's location, "
        "so it was not read; copy the file into the location, or make the folder that holds it a source of its own",
        b"",
    )
