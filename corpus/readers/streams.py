"""Byte streams of a file: decompression (gzip, zstd, detected by magic number) and lines.

A truncated or corrupt compressed stream delivers every byte before the break and then raises
:class:`StreamBroken`; the reader scaffold turns that into one ``truncated_stream`` record.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from corpus.readers.events import RAW_CAP

READ_CHUNK = 1 << 20  # bytes read from storage at a time
ZSTD_FEED = 64 * 1024  # compressed bytes handed to zstd at a time (bounds the output per call)
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class StreamBroken(Exception):
    """A compressed stream ends early or is corrupt; everything before the break was delivered."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.line = -1
        self.partial = b""


def decompressed_chunks(stream: Any) -> Iterator[bytes]:
    """The decompressed bytes of a file, detected by magic number (gzip, zstd or plain).

    Raises :class:`StreamBroken` after the last good bytes when the stream is cut short or corrupt.
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


def _pieces(first: bytes, stream: Any, read: list[int]) -> Iterator[bytes]:
    """The compressed bytes as read from storage, each read's last 8 bytes a piece of their own.

    At the end of a gzip file those 8 bytes are the member's checksum and length: fed alone, a
    checksum error loses no decoded byte (zlib drops the output of the call that raises).
    ``read[0]`` counts the bytes read from storage.
    """
    chunk = first
    while chunk:
        if len(chunk) > 8:
            yield chunk[:-8]
        yield chunk[-8:]
        chunk = stream.read(READ_CHUNK)
        read[0] += len(chunk)


def _gunzip(first: bytes, stream: Any) -> Iterator[bytes]:
    """Multi-member gzip with bounded output per step (zlib ``max_length``)."""
    read = [len(first)]
    pieces = _pieces(first, stream, read)
    pending = b""
    d: Any = None
    while True:
        if not pending:
            pending = next(pieces, b"")
            if not pending:
                if d is not None:
                    tail = d.flush()
                    if tail:
                        yield tail
                    raise StreamBroken(
                        f"the gzip stream ends before its end marker after {read[0]:,} compressed bytes "
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
            raise StreamBroken(
                f"the gzip data is corrupt within the first {read[0]:,} compressed bytes ({exc})"
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
                    raise StreamBroken(
                        f"the zstd stream ends inside a frame after {read_total:,} compressed bytes "
                        "(the file is truncated)"
                    )
                return
        if d is None:
            if not buffer.strip(b"\x00"):
                buffer = b""
                continue
            d = zstandard.ZstdDecompressor().decompressobj()
        piece, buffer = buffer[:ZSTD_FEED], buffer[ZSTD_FEED:]
        # a piece's last 4 bytes go in a call of their own: at the end of a file they are the frame's checksum,
        # and a checksum error loses the output of its call (else the end of the frame)
        head, tail = (piece[:-4], piece[-4:]) if len(piece) > 4 else (piece, b"")
        for k, part in enumerate((head, tail)):
            if not part or d.eof:
                continue
            try:
                out = d.decompress(part)
            except zstandard.ZstdError as exc:
                raise StreamBroken(
                    f"the zstd data is corrupt within the first {read_total:,} compressed bytes ({exc})"
                ) from None
            if k == 1:
                tail = b""
            if out:
                yield out
        if d.eof:
            buffer, d = d.unused_data + tail + buffer, None


def iter_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes, bool]]:
    """(0-based line number, line without its newline, too_long) for each line of a byte stream.

    A line longer than ``max_line_bytes`` is not held in memory: only its first ``RAW_CAP``
    bytes are kept and it comes out with ``too_long=True``. When the stream breaks, the
    :class:`StreamBroken` raised carries the line number and the partial line.
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
    except StreamBroken as exc:
        exc.line = index
        exc.partial = b"".join(carry)[:RAW_CAP]
        raise
    if carry:
        yield index, carry[0] if too_long else b"".join(carry), too_long


class ChunkStream(io.RawIOBase):
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
        self.broken: StreamBroken | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not len(self._buf):
            if self.broken is not None:
                return 0
            try:
                chunk = next(self._chunks, None)
            except StreamBroken as exc:
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
