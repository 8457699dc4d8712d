"""Text files: documents per the source's ``split`` (``offset``: the document index in the file).

``.py`` files are ``text/x-python``, everything else ``text/plain``. A file with NUL bytes in
its first 8 KiB is binary and is quarantined whole. ``split: file`` makes the whole file one
document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING

from corpus.readers.events import RAW_CAP, Bad, Doc, Event
from corpus.readers.records import bad_bytes, finish_text, too_long
from corpus.readers.scaffold import FormatReader, ReadContext, truncated
from corpus.readers.streams import StreamBroken, iter_lines
from corpus.readers.textsplit import SPLITTERS, Pending, decode_lines

if TYPE_CHECKING:  # only the source's fields are used: no import of the spec module at run time
    from corpus.spec import SourceSpec

BINARY_SNIFF = 8192  # a text file with NUL bytes in this many leading bytes is binary


def _pending_event(doc: Pending, index: int, rel: str, source: SourceSpec, ctype: str) -> Event:
    text = doc.text()
    if doc.error:
        return Bad(index, doc.error, text)
    if doc.chars > source.max_doc_chars:
        return Bad(index, too_long(source, f"{rel} document {index}", doc.chars), text)
    return Doc(index, text, None, doc.title, ctype)


def _text_content_type(rel: str) -> str:
    name = rel.removesuffix(".gz").removesuffix(".zst")
    return "text/x-python" if name.endswith(".py") else "text/plain"


def _whole_file(chunks: Iterable[bytes], rel: str, source: SourceSpec, ctype: str, codec: str | None) -> Event | None:
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
                return Bad(
                    0,
                    too_long(source, rel, len(data.decode("utf-8", "replace"))) + " (counted up to where "
                    "reading stopped)",
                    data[:RAW_CAP],
                )
    except StreamBroken as exc:  # the document is lost; its bytes so far go to the quarantine record
        exc.line, exc.partial = 0, b"".join(parts)[:RAW_CAP]
        raise
    data = b"".join(parts)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Bad(0, bad_bytes(rel, codec, source, data, exc.start), data)
    text = text.removeprefix("\ufeff")
    text, repairs = finish_text(text)
    if not text.strip():
        return None
    if len(text) > source.max_doc_chars:
        return Bad(0, too_long(source, rel, len(text)), text[:RAW_CAP])
    return Doc(0, text, None, None, ctype, repairs)


class TextReader(FormatReader):
    """Plain text, Markdown and Python files, split into documents."""

    format = "text"
    opens = "text"

    def records(self, ctx: ReadContext, rel: str, data: Iterator[bytes]) -> Iterator[Event]:
        source = ctx.source
        ctype = _text_content_type(rel)
        first = next(data, b"")
        if b"\x00" in first[:BINARY_SNIFF]:
            yield Bad(
                -1,
                f"binary_file: {rel} has NUL bytes in its first {BINARY_SNIFF:,} bytes, so it is not text; "
                "remove it from the source or narrow the source's glob",
                first[:512],
            )
            return
        chunks = chain([first], data)
        if source.split == "file":
            event = _whole_file(chunks, rel, source, ctype, ctx.codecs.get(rel))
            if event is not None:
                yield event
            return
        max_line = 4 * source.max_doc_chars + 4
        lines = decode_lines(iter_lines(chunks, max_line), rel, source, max_line, lambda: ctx.codecs.get(rel))
        for index, doc in enumerate(SPLITTERS[source.split](lines, source)):
            yield _pending_event(doc, index, rel, source, ctype)

    def broken(self, ctx: ReadContext, rel: str, exc: StreamBroken, next_offset: int) -> Bad:
        if exc.line < 0:  # before the first byte
            return Bad(0, truncated(rel, exc, "nothing could be read"), b"")
        if ctx.source.split == "file":
            detail = "the file is one document (split: file), so it was not kept"
            return Bad(0, truncated(rel, exc, detail), exc.partial)
        detail = f"it broke in line {exc.line + 1}, inside document {next_offset}; the documents before it were kept"
        return Bad(next_offset, truncated(rel, exc, detail), exc.partial)
