"""Arbitrary bytes in every format the readers take never raise and are conserved.

tests/corpus/test_readers.py property-tests JSONL (plain, gzip, cut gzip); this extends the
same property to zstd, WARC (plain and gzip), Parquet and every text split, and to bytes
mutated from a valid file of each format (a few flipped or cut bytes find other paths
through the parsers than pure noise does).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.readers import read_source
from corpus.spec import SourceSpec
from tests.reliability.badinput import _warc

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BATCH = 5


def _valid_files() -> dict[str, bytes]:
    rows = b"".join(json.dumps({"text": f"record {i} with some words"}).encode() + b"\n" for i in range(8))
    html = [
        (
            f"https://x.example/{i}",
            "200 OK",
            f"<html><body><p>page {i}</p></body></html>".encode(),
            [("Content-Type", "text/html")],
        )
        for i in range(4)
    ]
    table = io.BytesIO()
    pq.write_table(pa.table({"text": [f"row {i} of text" for i in range(8)]}), table)
    text = "\n\n".join(f"paragraph {i} line one\nline two" for i in range(6)).encode()
    return {
        "a.jsonl.zst": zstandard.ZstdCompressor().compress(rows),
        "a.warc": _warc(html, gz=False),
        "a.warc.gz": _warc(html, gz=True),
        "a.parquet": table.getvalue(),
        "a.txt": text,
        "a.txt.gz": gzip.compress(text, mtime=0),
    }


VALID = _valid_files()
FORMAT = {
    "a.jsonl.zst": "jsonl",
    "a.warc": "warc",
    "a.warc.gz": "warc",
    "a.parquet": "parquet",
    "a.txt": "text",
    "a.txt.gz": "text",
}


def check(folder: Path, name: str, data: bytes, split: str) -> None:
    (folder / name).write_bytes(data)
    fmt = FORMAT[name]
    source = SourceSpec(
        name="s",
        location="data/s",
        format=fmt,
        max_doc_chars=1000,
        chunk_chars=200,
        **({"split": split} if fmt == "text" else {}),
    )
    for batch in read_source(source, pafs.LocalFileSystem(), str(folder), batch_docs=BATCH):
        assert batch.records == batch.docs.height + batch.dropped.height + batch.quarantine.height
        assert batch.records <= BATCH
        assert batch.docs["text"].null_count() == 0
        assert all(e.split(":", 1)[0].isidentifier() for e in batch.quarantine["error"].to_list())


@SETTINGS
@given(
    name=st.sampled_from(sorted(VALID)),
    data=st.binary(max_size=4000),
    split=st.sampled_from(["file", "line", "paragraph", "chunk", "wikitext"]),
    magic=st.booleans(),
)
def test_random_bytes_in_every_format(
    tmp_path_factory: pytest.TempPathFactory, name: str, data: bytes, split: str, magic: bool
) -> None:
    if magic:  # start like the real thing, so the parser gets past its first check
        data = VALID[name][:8] + data
    check(tmp_path_factory.mktemp("noise"), name, data, split)


@SETTINGS
@given(
    name=st.sampled_from(sorted(VALID)), data=st.data(), split=st.sampled_from(["file", "line", "paragraph", "chunk"])
)
def test_mutated_valid_files_in_every_format(
    tmp_path_factory: pytest.TempPathFactory, name: str, data: st.DataObject, split: str
) -> None:
    blob = bytearray(VALID[name])
    for _ in range(data.draw(st.integers(1, 6), label="flips")):
        i = data.draw(st.integers(0, len(blob) - 1), label="at")
        blob[i] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.integers(1, len(blob)), label="cut")
    check(tmp_path_factory.mktemp("mutant"), name, bytes(blob[:cut]), split)
