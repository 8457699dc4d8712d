"""HTTP payloads of WARC responses: the entity body without transfer and content encodings.

Content encodings are undone by zlib and brotli. Chunked transfer encoding is undone here:
the one installed decoder (warcio's ``ChunkedDataReader``) rejects trailers and a body that
ends right after the last-chunk line, both of which these readers accept.
"""

from __future__ import annotations

import zlib
from typing import Any


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


def decode_http_body(body: bytes, headers: Any) -> bytes:
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
