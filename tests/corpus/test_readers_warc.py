"""WARC sources: responses, transfer and content encodings, truncated and garbage files."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest

from corpus import schema
from tests.corpus.test_readers import run, spec

# --- WARC ----------------------------------------------------------------------------------


def warc_bytes(
    records: list[tuple[str, str, bytes, list[tuple[str, str]]]], gz: bool = True, request: bool = True
) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    if request:
        req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        w.write_record(w.create_warc_record("http://a/", "request", payload=io.BytesIO(req), length=len(req)))
    for uri, status, body, headers in records:
        http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
        w.write_record(
            w.create_warc_record(uri, "response", payload=io.BytesIO(body), length=len(body), http_headers=http)
        )
    return buf.getvalue()


def html(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>T</title></head><body><p>{body}</p></body></html>"


def test_warc_responses(tmp_path: Path) -> None:
    records = [
        ("http://a/utf8", "200 OK", html("caf\u00e9 \u2713").encode(), [("Content-Type", "text/html; charset=utf-8")]),
        (
            "http://a/latin",
            "200 OK",
            html("Gr\u00fc\u00dfe").encode("latin-1"),
            [("Content-Type", "text/html; charset=ISO-8859-1")],
        ),
        (
            "http://a/meta",
            "200 OK",
            html("K\u00f6ln", '<meta charset="windows-1252">').encode("cp1252"),
            [("Content-Type", "text/html; charset=utf-8")],
        ),  # wrong header, right <meta>
        (
            "http://a/gz",
            "200 OK",
            gzip.compress(html("zipped").encode()),
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        ),
        ("http://a/img", "200 OK", b"\x89PNG\r\n", [("Content-Type", "image/png")]),
        ("http://a/404", "404 Not Found", html("missing").encode(), [("Content-Type", "text/html")]),
        ("http://a/nul", "200 OK", html("a\x00b").encode(), [("Content-Type", "text/html; charset=utf-8")]),
    ]
    (tmp_path / "c.warc.gz").write_bytes(warc_bytes(records))
    r = run(spec("warc"), tmp_path)
    assert r.records == 7  # the request record is not a record
    d = r.docs
    assert d["url"].to_list() == ["http://a/utf8", "http://a/latin", "http://a/meta", "http://a/gz", "http://a/nul"]
    assert d["offset"].to_list() == [0, 1, 2, 3, 6]
    assert set(d["content_type"].to_list()) == {"text/html"}
    texts = d["text"].to_list()
    assert (
        "caf\u00e9 \u2713" in texts[0]
        and "Gr\u00fc\u00dfe" in texts[1]
        and "K\u00f6ln" in texts[2]
        and "zipped" in texts[3]
    )
    assert "ab" in texts[4]
    assert r.repairs == {"charset_mismatch": 1, "nul_removed": 1}
    assert dict(zip(r.dropped["url"].to_list(), r.dropped[schema.DROP_REASON].to_list(), strict=True)) == {
        "http://a/img": "warc_not_html",
        "http://a/404": "warc_http_status",
    }


def chunked(data: bytes, trailer: bytes = b"") -> bytes:
    """``data`` in HTTP chunked transfer encoding, 10 bytes a chunk (``trailer``: header lines after the last)."""
    pieces = [data[i : i + 10] for i in range(0, len(data), 10)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n" + trailer + b"\r\n"


def test_warc_transfer_and_content_encodings(tmp_path: Path) -> None:
    import brotli

    page = html("encoded page").encode()
    te, ce = ("Transfer-Encoding", "chunked"), ("Content-Type", "text/html")
    raw_deflate = zlib.compressobj(wbits=-15)
    records = [
        ("http://a/chunked", "200 OK", chunked(page), [ce, te]),
        ("http://a/trailer", "200 OK", chunked(page, b"X-Checksum: 1\r\n"), [ce, te]),
        ("http://a/chunked-gzip", "200 OK", chunked(gzip.compress(page)), [ce, te, ("Content-Encoding", "gzip")]),
        ("http://a/deflate", "200 OK", zlib.compress(page), [ce, ("Content-Encoding", "deflate")]),
        (
            "http://a/raw-deflate",
            "200 OK",
            raw_deflate.compress(page) + raw_deflate.flush(),
            [ce, ("Content-Encoding", "deflate")],
        ),
        ("http://a/br", "200 OK", brotli.compress(page), [ce, ("Content-Encoding", "br")]),
        ("http://a/cut", "200 OK", chunked(page)[:25], [ce, te]),
        ("http://a/bad-gzip", "200 OK", b"not gzip at all", [ce, ("Content-Encoding", "gzip")]),
        ("http://a/compress", "200 OK", page, [ce, ("Content-Encoding", "compress")]),
    ]
    (tmp_path / "e.warc.gz").write_bytes(warc_bytes(records))
    r = run(spec("warc"), tmp_path)
    assert r.records == 9 and r.conserved()
    assert r.docs["offset"].to_list() == [0, 1, 2, 3, 4, 5]
    assert all(t == page.decode() for t in r.docs["text"].to_list())
    q = dict(zip(r.quarantine["offset"].to_list(), r.quarantine["error"].to_list(), strict=True))
    assert sorted(q) == [6, 7, 8]
    assert all(e.startswith("warc_bad_encoding: e.warc.gz record ") for e in q.values())
    assert "chunked body ends inside a chunk" in q[6] and "unsupported Content-Encoding 'compress'" in q[8]


@pytest.mark.parametrize("gz", [False, True])
def test_warc_truncated_record_is_quarantined(tmp_path: Path, gz: bool) -> None:
    records = [
        (f"http://a/{i}", "200 OK", html("text " * 200).encode(), [("Content-Type", "text/html")]) for i in range(3)
    ]
    blob = warc_bytes(records, gz=gz, request=False)
    (tmp_path / "t.warc.gz").write_bytes(blob[:-300])
    r = run(spec("warc"), tmp_path)
    assert r.docs.height == 2
    assert r.quarantine.height == 1 and r.quarantine["offset"][0] == 2
    # uncompressed: the record is short of its Content-Length; gzip: its member ends early
    assert r.quarantine["error"][0].startswith("truncated_stream:" if gz else "warc_truncated:")


def test_warc_garbage_file(tmp_path: Path) -> None:
    (tmp_path / "g.warc").write_bytes(b"this is not a warc file\n" * 10)
    r = run(spec("warc"), tmp_path)
    assert r.records == 1 and r.quarantine["error"][0].startswith("unreadable_warc:")


# --- property: arbitrary bytes never break the reader ---------------------------------------
