"""A generated corpus of broken inputs in every supported format, and a demo-like spec over it.

Each source mixes good documents with the bad input of its format; ``EXPECTED_RAW_ERRORS``
says which quarantine error every broken record must get (file, offset, error class and a
fragment of the message), so the test can check that errors are clear, not only counted.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from tests.reliability.helpers import prose

TINY_DOCS = 200_000
HUGE_CHARS = 10_500_000


def _jsonl(rows: list[Any]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def _warc(records: list[tuple[str, str, bytes, list[tuple[str, str]]]], gz: bool) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    for uri, status, body, headers in records:
        http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
        rec = w.create_warc_record(
            uri,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict={
                "WARC-Date": "2024-01-01T00:00:00Z",
                "WARC-Record-ID": f"<urn:uuid:{abs(hash(uri)) % 10**12:012d}-0000-0000-0000-000000000000>",
            },
        )
        w.write_record(rec)
    return buf.getvalue()


def _page(rng: random.Random, title: str) -> bytes:
    paras = "".join(f"<p>{prose(rng, 6)}</p>" for _ in range(4))
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><nav>home | about</nav>"
        f"<article><h1>{title}</h1>{paras}</article><footer>(c) example</footer></body></html>"
    ).encode()


def write_bad_corpus(root: Path) -> dict[str, Path]:
    """Five sources (docs, tables, web, notes, tiny); returns their folders."""
    rng = random.Random(7)
    good = [{"text": prose(rng, 10), "url": f"https://example.org/doc/{i}"} for i in range(30)]
    folders = {name: root / name for name in ("docs", "tables", "web", "notes", "tiny")}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)

    # --- JSONL -------------------------------------------------------------------------------
    docs = folders["docs"]
    (docs / "a_good.jsonl").write_bytes(_jsonl(good[:10]))
    (docs / "b_types.jsonl").write_bytes(
        _jsonl(
            [
                good[10],
                b'{"text": broken json',  # line 2: invalid JSON
                b'{"text": "caf\xe9 is not UTF-8"}',  # line 3: invalid UTF-8
                {"text": 123},  # line 4: wrong type
                {"text": None},  # line 5: null
                {"content": "no text field here"},  # line 6: missing field
                [1, 2, 3],  # line 7: not an object
                {"text": ["a", "list"]},  # line 8: wrong type
                {"text": "   "},  # line 9: empty after stripping -> dropped
                {"text": good[11]["text"].replace(" ", " \x00", 3)},  # line 10: NUL characters -> repaired, kept
            ]
        )
    )
    (docs / "c_empty.jsonl").write_bytes(b"")
    gz = gzip.compress(_jsonl(good[12:22]), mtime=0)
    (docs / "d_cut.jsonl.gz").write_bytes(gz[: len(gz) * 2 // 3])
    zs = zstandard.ZstdCompressor().compress(_jsonl(good[22:30]))
    (docs / "e_cut.jsonl.zst").write_bytes(zs[: len(zs) * 2 // 3])
    huge = "\n\n".join(prose(rng, 6) for _ in range(HUGE_CHARS // 300 + 1))
    (docs / "f_huge.jsonl").write_text(json.dumps({"text": huge[:HUGE_CHARS]}) + "\n")

    # --- Parquet -----------------------------------------------------------------------------
    tables = folders["tables"]
    pq.write_table(
        pa.table({"text": [prose(rng, 10) for _ in range(12)], "url": [f"https://t.example/{i}" for i in range(12)]}),
        tables / "a_good.parquet",
    )
    pq.write_table(pa.table({"body": ["the text is in the wrong column"] * 3}), tables / "b_wrong_column.parquet")
    pq.write_table(pa.table({"text": [1, 2, 3]}), tables / "c_int_text.parquet")
    pq.write_table(
        pa.table({"text": pa.array([prose(rng, 10).encode(), b"bad \xff\xfe bytes", None], pa.binary())}),
        tables / "d_binary.parquet",
    )
    blob = io.BytesIO()
    pq.write_table(pa.table({"text": [prose(rng, 10) for _ in range(5)]}), blob)
    (tables / "e_truncated.parquet").write_bytes(blob.getvalue()[:-40])
    (tables / "f_empty.parquet").write_bytes(b"")

    # --- WARC --------------------------------------------------------------------------------
    web = folders["web"]
    html_headers = [("Content-Type", "text/html; charset=utf-8")]
    pages = [(f"https://web.example/{i}", "200 OK", _page(rng, f"Page {i}"), html_headers) for i in range(6)]
    others = [
        ("https://web.example/logo.png", "200 OK", b"\x89PNG\r\n\x1a\n" + bytes(200), [("Content-Type", "image/png")]),
        ("https://web.example/api", "200 OK", b'{"a": 1}', [("Content-Type", "application/json")]),
        ("https://web.example/missing", "404 Not Found", _page(rng, "Missing"), html_headers),
    ]
    (web / "a_mixed.warc.gz").write_bytes(_warc(pages[:3] + others, gz=True))
    cut = _warc(pages[3:], gz=False)
    (web / "b_cut.warc").write_bytes(cut[:-500])
    (web / "c_garbage.warc").write_bytes(b"this is not a WARC file at all\n" * 20)
    (web / "d_empty.warc.gz").write_bytes(b"")

    # --- text --------------------------------------------------------------------------------
    notes = folders["notes"]
    (notes / "a_good.txt").write_text("\n".join(prose(rng, 8) for _ in range(10)) + "\n")
    (notes / "b_bad_utf8.txt").write_bytes(
        prose(rng, 8).encode() + b"\n" + b"bad \xc3\x28 line\n" + prose(rng, 8).encode() + b"\n"
    )
    (notes / "c_binary.txt").write_bytes(b"\x00\x01\x02binary" * 50)
    tgz = gzip.compress(("\n".join(prose(rng, 8) for _ in range(40)) + "\n").encode(), mtime=0)
    (notes / "d_cut.txt.gz").write_bytes(tgz[: len(tgz) // 2])
    (notes / "e_empty.txt").write_bytes(b"")

    # --- many tiny documents -----------------------------------------------------------------
    words = ["river", "town", "market", "bridge", "harbour", "school", "forest", "mill"]
    lines = (f'{{"text": "The {words[i % 8]} {i} is near the {words[(i * 7) % 8]}."}}\n' for i in range(TINY_DOCS))
    (folders["tiny"] / "tiny.jsonl").write_text("".join(lines))
    return folders


def bad_spec_dict(folders: dict[str, Path]) -> dict[str, Any]:
    """The demo's stages (extract, normalize, language, quality, dedup, PII) + tokenizer over the broken sources."""
    return {
        "pipeline": "bad",
        "sources": [
            {"name": "docs", "location": str(folders["docs"]), "format": "jsonl", "url_field": "url"},
            {"name": "tables", "location": str(folders["tables"]), "format": "parquet", "url_field": "url"},
            {"name": "web", "location": str(folders["web"]), "format": "warc"},
            {"name": "notes", "location": str(folders["notes"]), "format": "text", "split": "line"},
            {"name": "tiny", "location": str(folders["tiny"]), "format": "jsonl"},
        ],
        "stages": [
            {"name": "extracted", "op": "extract_html@1", "sources": ["web"]},
            {"name": "normalized", "op": "normalize_text@1"},
            {"name": "language", "op": "language_filter@1", "config": {"languages": ["en"], "min_score": 0.5}},
            # one-line documents fail every prose filter: like the demo's code source, they skip this stage
            {
                "name": "quality",
                "steps": [{"op": "gopher_repetition@1"}, {"op": "gopher_quality@1"}, {"op": "fineweb_quality@1"}],
                "sources": ["docs", "tables", "web", "notes"],
            },
            {"name": "deduped", "op": "dedup_minhash@1"},
            {"name": "redacted", "op": "redact_pii@1"},
        ],
        "tokenizer": {"vocab_size": 300, "sample_docs": 50, "val_min_docs": 1},
        "shard_docs": 20_000,
    }


# (file, offset) -> (error class, fragment of the message) of every record the raw stage must quarantine
EXPECTED_RAW_ERRORS: dict[str, dict[tuple[str, int], tuple[str, str]]] = {
    "docs": {
        ("b_types.jsonl", 1): ("invalid_json", "b_types.jsonl line 2 is not valid JSON"),
        ("b_types.jsonl", 2): ("invalid_utf8", "b_types.jsonl line 3 is not valid UTF-8 at byte"),
        ("b_types.jsonl", 3): ("wrong_type", "field 'text' is a number"),
        ("b_types.jsonl", 4): ("null_text", "field 'text' is null"),
        ("b_types.jsonl", 5): ("missing_text_field", "has no field 'text' (its fields: 'content')"),
        ("b_types.jsonl", 6): ("not_an_object", "is an array, not a JSON object"),
        ("b_types.jsonl", 7): ("wrong_type", "field 'text' is an array"),
        ("f_huge.jsonl", 0): ("doc_too_long", "more than max_doc_chars=1,000,000"),
    },
    "tables": {
        ("b_wrong_column.parquet", -1): ("parquet_schema", "has no column 'text' (columns: body)"),
        ("c_int_text.parquet", -1): ("parquet_schema", "column 'text' is int64, expected a string column"),
        ("d_binary.parquet", 1): ("invalid_utf8", "field 'text' is not valid UTF-8"),
        ("d_binary.parquet", 2): ("null_text", "field 'text' is null"),
        ("e_truncated.parquet", -1): ("unreadable_parquet", "cannot be opened as Parquet"),
    },
    "web": {
        ("b_cut.warc", 2): ("warc_truncated", "payload bytes; re-download the WARC file"),
        ("c_garbage.warc", 0): ("unreadable_warc", "Check that the file is a complete WARC file"),
    },
    "notes": {
        ("b_bad_utf8.txt", 1): ("invalid_utf8", "b_bad_utf8.txt line 2 is not valid UTF-8"),
        ("c_binary.txt", -1): ("binary_file", "has NUL bytes in its first"),
    },
    "tiny": {},
}
# files whose stream breaks: one truncated_stream record each, at the line where it broke
TRUNCATED_STREAMS = {
    "docs": {
        "d_cut.jsonl.gz": "gzip stream ends before its end marker",
        "e_cut.jsonl.zst": "zstd stream ends inside a frame",
    },
    "notes": {"d_cut.txt.gz": "gzip stream ends before its end marker"},
}
EXPECTED_RAW_DROPS = {"docs": {"empty_text": 1}, "web": {"warc_not_html": 2, "warc_http_status": 1}}
EMPTY_FILES = {
    "docs": ["c_empty.jsonl"],
    "tables": ["f_empty.parquet"],
    "web": ["d_empty.warc.gz"],
    "notes": ["e_empty.txt"],
}
