"""WARC: each ``response`` record one record (``offset``: its index among the response records).

Request, metadata and other records are skipped and are not records. Non-HTML payloads are
dropped (``warc_not_html``), non-2xx responses too (``warc_http_status``); a record cut short
is quarantined. HTML is decoded by :func:`corpus.charsets.decode_html`.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from typing import Any

from corpus.charsets import decode_html
from corpus.readers.events import RAW_CAP, Bad, Doc, Drop, Event
from corpus.readers.http import decode_http_body
from corpus.readers.records import finish_text
from corpus.readers.scaffold import FormatReader, ReadContext, truncated
from corpus.readers.streams import READ_CHUNK, ChunkStream, StreamBroken

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
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


def _warc_event(record: Any, index: int, rel: str) -> Event:
    url = record.headers.get("WARC-Target-URI")
    where = f"{rel} record {index} ({url})"
    body = record.reader.read()
    if len(body) < record.content_length:
        return Bad(
            index,
            f"warc_truncated: {where}: the record ends after {len(body):,} of its {record.content_length:,} "
            "payload bytes; re-download the WARC file",
            body,
        )
    if not record.is_http:
        return Drop(
            index, body[:RAW_CAP].decode("utf-8", "replace"), url, None, "application/octet-stream", "warc_not_html"
        )
    headers = record.http_headers
    ctype = (record.http_content_type or "").lower()
    try:
        body = decode_http_body(body, headers)
    except (ValueError, OSError, zlib.error) as exc:
        return Bad(
            index,
            f"warc_bad_encoding: {where}: the HTTP body cannot be decoded ({exc}); the record is "
            "damaged or uses an unsupported encoding",
            body,
        )
    status = headers.status_code
    if status is not None and not 200 <= status < 300:
        text = body[:RAW_CAP].decode("utf-8", "replace")
        return Drop(index, text, url, None, ctype or "text/html", "warc_http_status")
    if ctype not in HTML_TYPES and not (not ctype and _looks_like_html(body)):
        return Drop(
            index,
            body[:RAW_CAP].decode("utf-8", "replace"),
            url,
            None,
            ctype or "application/octet-stream",
            "warc_not_html",
        )
    html, note = decode_html(body, record.http_charset)
    if _not_markup(html):  # declared HTML, but binary or without a single tag: not a page
        return Drop(index, html[:RAW_CAP], url, None, ctype or "text/html", "warc_not_html")
    html, repairs = finish_text(html)
    if note:
        repairs = (*repairs, note)
    if not html.strip():
        return Drop(index, html, url, None, "text/html", "empty_text")
    return Doc(index, html, url, None, "text/html", repairs)


class WarcReader(FormatReader):
    """Decompression happens before fastwarc sees the stream, so a cut gzip member is noticed (see ChunkStream)."""

    format = "warc"
    opens = "bytes"

    def records(self, ctx: ReadContext, rel: str, data: Iterator[bytes]) -> Iterator[Event]:
        from fastwarc.warc import ArchiveIterator, WarcRecordType

        chunks = ChunkStream(data)
        stream = io.BufferedReader(chunks, buffer_size=READ_CHUNK)
        records = ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True, auto_decode="none")
        index = 0
        last: Event | None = None
        for record in records:
            last = _warc_event(record, index, rel)
            yield last
            index += 1
        # a break inside the last record already quarantined it (warc_truncated); else report the break
        if chunks.broken is not None and not (isinstance(last, Bad) and last.offset == index - 1):
            raise chunks.broken

    def broken(self, ctx: ReadContext, rel: str, exc: StreamBroken, next_offset: int) -> Bad:
        detail = f"the stream broke after response record {next_offset - 1}, and the records before it were kept"
        return Bad(next_offset, truncated(rel, exc, detail), b"")

    def failed(self, rel: str, exc: BaseException, next_offset: int, opened: bool) -> Bad | None:
        if not opened:
            return None
        return Bad(
            next_offset,
            f"unreadable_warc: {rel}: reading stopped at response record {next_offset} ({exc}); the records "
            "before it were kept. Check that the file is a complete WARC file",
            b"",
        )
