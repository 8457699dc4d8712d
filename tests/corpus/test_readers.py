"""Source readers: every format, every kind of bad input, and conservation of records."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import schema
from corpus.readers import ReadBatch, list_source_files, read_source
from corpus.readers.events import Bad, Doc, Event
from corpus.readers.scaffold import FormatReader, ReadContext, read_file
from corpus.readers.streams import iter_lines
from corpus.spec import SourceSpec

FS = pafs.LocalFileSystem()


def spec(fmt: str = "jsonl", **kw: Any) -> SourceSpec:
    return SourceSpec(name="src", location="data/src", format=fmt, **kw)


def read(source: SourceSpec, path: Path, batch_docs: int = 5000) -> list[ReadBatch]:
    return list(read_source(source, FS, str(path), batch_docs=batch_docs))


class Result:
    """All batches of one read, concatenated."""

    def __init__(self, batches: list[ReadBatch]):
        self.batches = batches
        self.docs = pl.concat([b.docs for b in batches]) if batches else schema.empty_documents()
        self.dropped = pl.concat([b.dropped for b in batches]) if batches else pl.DataFrame()
        self.quarantine = pl.concat([b.quarantine for b in batches]) if batches else schema.empty_quarantine()
        self.records = sum(b.records for b in batches)
        self.empty_files = [f for b in batches for f in b.empty_files]
        self.repairs: dict[str, int] = {}
        for b in batches:
            for k, v in b.repairs.items():
                self.repairs[k] = self.repairs.get(k, 0) + v

    def conserved(self) -> bool:
        return all(b.records == b.docs.height + b.dropped.height + b.quarantine.height for b in self.batches)

    def error(self, offset: int) -> str:
        rows = self.quarantine.filter(pl.col(schema.OFFSET) == offset)
        assert rows.height == 1, self.quarantine
        return rows["error"][0]


def run(source: SourceSpec, path: Path, batch_docs: int = 5000) -> Result:
    result = Result(read(source, path, batch_docs))
    assert result.conserved()
    return result


def jsonl_bytes(rows: list[Any]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


ROWS = [{"text": f"document number {i}", "url": f"https://example.org/{i}", "title": f"T{i}"} for i in range(3)]


# --- JSONL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,compress",
    [
        ("a.jsonl", lambda b: b),
        ("a.jsonl.gz", gzip.compress),
        ("a.jsonl.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_jsonl_formats(tmp_path: Path, name: str, compress: Any) -> None:
    data = jsonl_bytes([ROWS[0], b"", ROWS[1], b"   ", ROWS[2]])  # blank lines are not records
    (tmp_path / name).write_bytes(compress(data))
    r = run(spec(url_field="url", title_field="title"), tmp_path)
    assert r.records == 3 and r.quarantine.height == 0 and r.dropped.height == 0
    d = r.docs
    assert d.columns[: len(schema.CORE)] == list(schema.CORE)
    assert d["text"].to_list() == [row["text"] for row in ROWS]
    assert d["offset"].to_list() == [0, 2, 4]  # line numbers, blank lines counted
    assert d["file"].to_list() == [name] * 3
    assert d["source"].to_list() == ["src"] * 3
    assert d["url"].to_list() == [row["url"] for row in ROWS]
    assert d["title"].to_list() == ["T0", "T1", "T2"]
    assert d["content_type"].to_list() == ["text/plain"] * 3
    assert d["id"][0] == schema.document_id("src", name, 0, ROWS[0]["text"])


def test_jsonl_multi_member_gzip_and_multi_frame_zstd(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(ROWS[:2])) + gzip.compress(jsonl_bytes(ROWS[2:])))
    z = zstandard.ZstdCompressor()
    (tmp_path / "b.jsonl.zst").write_bytes(z.compress(jsonl_bytes(ROWS[:1])) + z.compress(jsonl_bytes(ROWS[1:])))
    r = run(spec(), tmp_path)
    assert r.docs.height == 6 and r.quarantine.height == 0


def test_text_field_list_dotted_and_code_content_type(tmp_path: Path) -> None:
    rows = [
        {"question": "What is 2+2?", "answer": "4", "meta": {"path": "Lib/x.py"}},
        {"question": "Q", "answer": "A", "meta": {"path": "README"}},
    ]
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(rows))
    r = run(spec(text_field=["question", "answer"], url_field="meta.path"), tmp_path)
    assert r.docs["text"].to_list() == ["What is 2+2?\n\n4", "Q\n\nA"]
    assert r.docs["url"].to_list() == ["Lib/x.py", "README"]
    assert r.docs["content_type"].to_list() == ["text/x-python", "text/plain"]


def test_batches_are_cut_every_batch_docs_records_across_files(tmp_path: Path) -> None:
    for f in ("a.jsonl", "b.jsonl"):
        (tmp_path / f).write_bytes(jsonl_bytes([{"text": f"{f} {i}"} for i in range(6)]))
    batches = read(spec(), tmp_path, batch_docs=5)
    assert [b.records for b in batches] == [5, 5, 2]
    assert batches[1].docs["file"].to_list() == ["a.jsonl"] + ["b.jsonl"] * 4
    again = read(spec(), tmp_path, batch_docs=5)
    assert all(x.docs.equals(y.docs) for x, y in zip(batches, again, strict=True))


def test_bad_jsonl_lines_are_quarantined_with_clear_errors(tmp_path: Path) -> None:
    lines = [
        {"text": "good one"},  # 0
        b'{"text": "unterminated',  # 1
        b"[1, 2, 3]",  # 2
        {"text": 42},  # 3
        {"body": "no text field"},  # 4
        {"text": None},  # 5
        b'{"text": "caf\xe9"}',  # 6: Latin-1 byte
        {"text": "nul\u0000inside"},  # 7: repaired
        b'{"text": "raw nul \x00 byte"}',  # 8: control character in JSON
        {"text": "   "},  # 9: dropped
        {"text": "x" * 1500},  # 10: too long
        {"text": "good two"},  # 11
    ]
    (tmp_path / "bad.jsonl").write_bytes(jsonl_bytes(lines))
    r = run(spec(max_doc_chars=1000), tmp_path)
    assert r.records == 12
    assert r.docs["offset"].to_list() == [0, 7, 11]
    assert r.docs["text"][1] == "nulinside" and r.repairs == {"nul_removed": 1}
    assert r.dropped["offset"].to_list() == [9]
    assert r.dropped[schema.DROP_REASON].to_list() == ["empty_text"]
    assert r.dropped[schema.DROP_STEP].to_list() == ["read_jsonl"]
    q = r.quarantine
    assert q["offset"].to_list() == [1, 2, 3, 4, 5, 6, 8, 10]
    assert set(q["stage"].to_list()) == {"raw"} and set(q["step"].to_list()) == {"read_jsonl"}
    assert set(q["file"].to_list()) == {"bad.jsonl"}
    assert r.error(1).startswith("invalid_json: bad.jsonl line 2")
    assert r.error(2).startswith("not_an_object:") and "jq" in r.error(2)
    assert r.error(3).startswith("wrong_type:") and "'text'" in r.error(3)
    missing = r.error(4)
    assert missing.startswith("missing_text_field:") and "'text'" in missing and "'body'" in missing
    assert "set text_field of source 'src'" in missing
    assert r.error(5).startswith("null_text:")
    assert r.error(6).startswith("invalid_utf8:") and "byte" in r.error(6)
    assert r.error(8).startswith("invalid_json:")
    assert r.error(10).startswith("doc_too_long:") and "max_doc_chars=1,000" in r.error(10)
    assert q.filter(pl.col("offset") == 1)["raw"][0] == '{"text": "unterminated'
    assert "\ufffd" in q.filter(pl.col("offset") == 6)["raw"][0]


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_truncated_stream_keeps_records_before_the_break(tmp_path: Path, kind: str) -> None:
    rng = random.Random(0)  # varied text: several compressed blocks, so a cut leaves whole records
    rows = [{"text": f"record {i} " + " ".join(f"{rng.getrandbits(32):x}" for _ in range(40))} for i in range(2000)]
    data = jsonl_bytes(rows)
    blob = gzip.compress(data) if kind == "gz" else zstandard.ZstdCompressor().compress(data)
    (tmp_path / f"t.jsonl.{kind}").write_bytes(blob[: len(blob) // 2])
    r = run(spec(), tmp_path)
    kept = r.docs.height
    assert 0 < kept < 2000
    assert r.docs["offset"].to_list() == list(range(kept))
    assert r.docs["text"].to_list() == [row["text"] for row in rows[:kept]]
    assert r.quarantine.height == 1 and r.dropped.height == 0
    err = r.quarantine["error"][0]
    assert err.startswith("truncated_stream:") and "truncated" in err and f"line {kept + 1}" in err
    assert r.quarantine["offset"][0] == kept
    assert r.records == kept + 1


def test_corrupt_gzip_never_raises(tmp_path: Path) -> None:
    blob = bytearray(gzip.compress(jsonl_bytes([{"text": "word " * 50}] * 200)))
    blob[len(blob) // 2 : len(blob) // 2 + 16] = b"\xff" * 16
    (tmp_path / "c.jsonl.gz").write_bytes(bytes(blob))
    r = run(spec(), tmp_path)
    assert r.quarantine.height == 1 and r.quarantine["error"][0].startswith("truncated_stream:")
    assert r.docs.height < 200


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_a_checksum_error_keeps_the_records_decoded_before_it(tmp_path: Path, kind: str) -> None:
    """The checksum is checked after the data it covers: every line decoded before the check is kept."""
    rows = [{"text": f"record {i}"} for i in range(1000)]
    data = jsonl_bytes(rows)
    if kind == "gz":
        blob = bytearray(gzip.compress(data))
        blob[-8] ^= 0xFF  # the CRC-32 in the member's trailer
    else:
        blob = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(data))
        blob[-1] ^= 0xFF  # the frame's content checksum
    (tmp_path / f"crc.jsonl.{kind}").write_bytes(bytes(blob))
    r = run(spec(), tmp_path)
    assert r.docs["text"].to_list() == [row["text"] for row in rows]
    assert r.quarantine.height == 1 and r.quarantine["offset"][0] == 1000
    err = r.quarantine["error"][0]
    name = "gzip" if kind == "gz" else "zstd"
    assert err.startswith(f"truncated_stream: crc.jsonl.{kind}: the {name} data is corrupt") and "line 1001" in err
    assert r.records == 1001 and r.conserved()


class _LineFormat(FormatReader):
    """A minimal format on the shared scaffold: one document per line, failing at line ``fail_at``."""

    format = "lines"
    opens = "text"

    def __init__(self, fail_at: int = -1):
        self.fail_at = fail_at

    def records(self, ctx: ReadContext, rel: str, data: Iterator[bytes]) -> Iterator[Event]:
        for index, line, _ in iter_lines(data, 1 << 20):
            if index == self.fail_at:
                raise RuntimeError("storage went away")
            yield Doc(index, line.decode(), None, None, "text/plain")


def test_the_scaffold_opens_decompresses_and_quarantines_for_any_format(tmp_path: Path) -> None:
    lines = [f"line {i} {random.Random(i).getrandbits(64):x}" for i in range(30000)]
    blob = gzip.compress("\n".join(lines).encode())
    (tmp_path / "a.txt.gz").write_bytes(blob)
    (tmp_path / "cut.txt.gz").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "empty.txt").write_bytes(b"")
    ctx = ReadContext(spec("text"), FS, str(tmp_path))
    assert [e.text for e in read_file(_LineFormat(), ctx, "a.txt.gz")] == lines
    assert ctx.codecs["a.txt.gz"] == "utf-8"
    assert list(read_file(_LineFormat(), ctx, "empty.txt")) == []
    failed = list(read_file(_LineFormat(fail_at=2), ctx, "a.txt.gz"))
    assert [e.offset for e in failed] == [0, 1, 2] and isinstance(failed[-1], Bad)
    assert failed[-1].error.startswith(
        "unreadable_file: a.txt.gz: reading stopped after record 1 with RuntimeError: storage went away"
    )
    cut = list(read_file(_LineFormat(), ctx, "cut.txt.gz"))
    kept, last = cut[:-1], cut[-1]
    assert 0 < len(kept) < len(lines) and [e.text for e in kept] == lines[: len(kept)]
    assert isinstance(last, Bad) and last.offset == len(kept)
    assert last.error.startswith("truncated_stream: cut.txt.gz: the gzip stream ends before its end marker")
    assert f"it broke in line {len(kept) + 1}, and the records before it were kept" in last.error


def test_empty_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"")
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "c.jsonl").write_bytes(b"\n\n  \n")
    (tmp_path / "d.jsonl").write_bytes(jsonl_bytes(ROWS[:1]))
    r = run(spec(), tmp_path)
    assert r.records == 1 and r.docs.height == 1
    assert r.empty_files == ["a.jsonl", "b.jsonl.gz", "c.jsonl"]


def test_only_empty_files_still_yield_a_batch(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"")
    batches = read(spec(), tmp_path)
    assert len(batches) == 1 and batches[0].records == 0 and batches[0].empty_files == ["a.jsonl"]


# --- listing -------------------------------------------------------------------------------


def test_list_source_files_default_globs_recursive_sorted(tmp_path: Path) -> None:
    for rel in ("b.jsonl", "a/z.jsonl.gz", "a/y.json", "notes.txt", ".hidden.jsonl", ".git/x.jsonl", "a/.tmp.jsonl"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert list_source_files(spec(), FS, str(tmp_path)) == ["a/y.json", "a/z.jsonl.gz", "b.jsonl"]
    assert list_source_files(spec("text"), FS, str(tmp_path)) == ["notes.txt"]
    assert list_source_files(spec(glob="a/*.json*"), FS, str(tmp_path)) == ["a/y.json", "a/z.jsonl.gz"]
    assert list_source_files(spec(glob="**/z.*"), FS, str(tmp_path)) == ["a/z.jsonl.gz"]
    assert list_source_files(spec(glob="*.jsonl"), FS, str(tmp_path)) == ["b.jsonl"]  # a name pattern, any depth
    assert list_source_files(spec(), FS, str(tmp_path / "notes.txt")) == ["notes.txt"]  # a single file: any name


def test_missing_location_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"sources\[\]\.location"):
        read(spec(), tmp_path / "nope")


def test_single_file_location(tmp_path: Path) -> None:
    (tmp_path / "one.jsonl").write_bytes(jsonl_bytes(ROWS))
    r = run(spec(), tmp_path / "one.jsonl")
    assert r.docs.height == 3 and r.docs["file"].to_list() == ["one.jsonl"] * 3


# --- Parquet -------------------------------------------------------------------------------


def test_parquet_rows_types_and_row_groups(tmp_path: Path) -> None:
    table = pa.table(
        {
            "text": pa.array([f"row {i}" for i in range(10)], pa.large_string()),
            "link": [f"u{i}" for i in range(10)],
        }
    )
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=3)
    r = run(spec("parquet", url_field="link"), tmp_path)
    assert r.docs["text"].to_list() == [f"row {i}" for i in range(10)]
    assert r.docs["offset"].to_list() == list(range(10))
    assert r.docs["url"].to_list() == [f"u{i}" for i in range(10)]


def test_parquet_bad_rows(tmp_path: Path) -> None:
    table = pa.table({"text": pa.array([b"fine", b"bad \xff byte", None, b"", b"nul\x00x"], pa.binary())})
    pq.write_table(table, tmp_path / "a.parquet")
    r = run(spec("parquet"), tmp_path)
    assert r.docs["text"].to_list() == ["fine", "nulx"] and r.repairs == {"nul_removed": 1}
    assert r.dropped["offset"].to_list() == [3]
    assert r.error(1).startswith("invalid_utf8:") and r.error(2).startswith("null_text:")


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda p: pq.write_table(pa.table({"text": [1, 2]}), p), "is int64, expected a string column"),
        (lambda p: pq.write_table(pa.table({"body": ["a"]}), p), "has no column 'text'"),
        (lambda p: p.write_bytes(b"this is not parquet at all"), "cannot be opened as Parquet"),
    ],
)
def test_parquet_unusable_file_is_one_quarantine_record(tmp_path: Path, make: Any, expected: str) -> None:
    make(tmp_path / "a.parquet")
    pq.write_table(pa.table({"text": ["ok"]}), tmp_path / "b.parquet")
    r = run(spec("parquet"), tmp_path)
    assert r.docs["text"].to_list() == ["ok"]
    assert r.quarantine.height == 1
    assert r.quarantine["offset"][0] == -1 and r.quarantine["file"][0] == "a.parquet"
    assert expected in r.quarantine["error"][0]


# --- text ----------------------------------------------------------------------------------

PROSE = "First paragraph line one.\nline two.\n\n\nSecond paragraph.\n\nThird paragraph here.\n"


def test_text_split_file_line_paragraph(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("\ufeff" + PROSE, encoding="utf-8")
    (tmp_path / "m.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    whole = run(spec("text"), tmp_path)
    assert whole.docs["text"].to_list() == [PROSE, "def f():\n    return 1\n"]  # BOM removed
    assert whole.docs["content_type"].to_list() == ["text/plain", "text/x-python"]
    lines = run(spec("text", split="line"), tmp_path / "a.txt")
    assert lines.docs["text"].to_list() == [
        "First paragraph line one.",
        "line two.",
        "Second paragraph.",
        "Third paragraph here.",
    ]
    assert lines.docs["offset"].to_list() == [0, 1, 2, 3]
    paras = run(spec("text", split="paragraph"), tmp_path / "a.txt")
    assert paras.docs["text"].to_list() == [
        "First paragraph line one.\nline two.",
        "Second paragraph.",
        "Third paragraph here.",
    ]


def test_text_split_chunk_cuts_at_paragraph_ends(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * (10 + 7 * (i % 5)) for i in range(60)]
    long_para = "\n".join("a long line of the giant paragraph " * 2 for _ in range(30))
    (tmp_path / "a.txt").write_text("\n\n".join(paragraphs) + "\n\n" + long_para + "\n", encoding="utf-8")
    r = run(spec("text", split="chunk", chunk_chars=300), tmp_path)
    texts = r.docs["text"].to_list()
    assert all(len(t) <= 300 for t in texts)
    found = [p for t in texts for p in t.split("\n\n") if p.startswith("Paragraph")]
    assert found == paragraphs  # whole paragraphs, in order, never cut
    assert sum(len(t) for t in texts if "giant" in t) >= len(long_para) - 60


def test_text_split_wikitext(tmp_path: Path) -> None:
    wiki = " \n = Alpha = \n \n Alpha text . \n \n = = Section = = \n More alpha . \n \n = Beta = \n \n Beta text . \n"
    (tmp_path / "w.txt").write_text(wiki, encoding="utf-8")
    r = run(spec("text", split="wikitext"), tmp_path)
    assert r.docs["title"].to_list() == ["Alpha", "Beta"]
    assert r.docs["text"][0].startswith(" = Alpha = ") and "= = Section = =" in r.docs["text"][0]
    assert r.docs["text"][1] == " = Beta = \n \n Beta text . "


def test_text_bad_input(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"\x89PNG\x00\x00\x00binary")
    (tmp_path / "latin.txt").write_bytes("Gr\xfc\xdfe aus K\xf6ln".encode("latin-1") + b"\n\ngood paragraph\n")
    r = run(spec("text"), tmp_path)
    assert r.docs.height == 0 and r.quarantine.height == 2
    errors = dict(zip(r.quarantine["file"].to_list(), r.quarantine["error"].to_list(), strict=True))
    assert errors["bin.txt"].startswith("binary_file:")
    assert errors["latin.txt"].startswith("invalid_utf8:")
    # with split: paragraph only the broken paragraph is quarantined
    p = run(spec("text", split="paragraph"), tmp_path / "latin.txt")
    assert p.docs["text"].to_list() == ["good paragraph"] and p.quarantine["offset"].to_list() == [0]


def test_text_too_long_document(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("y" * 2000, encoding="utf-8")
    r = run(spec("text", max_doc_chars=1000), tmp_path)
    assert r.docs.height == 0 and r.quarantine["error"][0].startswith("doc_too_long:")
    assert len(r.quarantine["raw"][0]) == 2000


def test_text_truncated_gzip_paragraphs(tmp_path: Path) -> None:
    text = "\n\n".join(f"paragraph {i} " + "filler " * 30 for i in range(500))
    blob = gzip.compress(text.encode())
    (tmp_path / "a.txt.gz").write_bytes(blob[: len(blob) // 2])
    r = run(spec("text", split="paragraph"), tmp_path)
    assert r.docs.height > 0 and r.quarantine.height == 1
    assert r.quarantine["error"][0].startswith("truncated_stream:")
    assert r.quarantine["offset"][0] == r.docs.height


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), compress=st.sampled_from(["plain", "gzip", "gzip_cut", "gzip_magic"]))
def test_random_bytes_never_raise_and_are_conserved(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, compress: str
) -> None:
    folder = tmp_path_factory.mktemp("rand")
    if compress == "plain":
        (folder / "r.jsonl").write_bytes(data)
    elif compress == "gzip":
        (folder / "r.jsonl.gz").write_bytes(gzip.compress(data))
    elif compress == "gzip_cut":
        blob = gzip.compress(data)
        (folder / "r.jsonl.gz").write_bytes(blob[: max(2, len(blob) * 2 // 3)])
    else:
        (folder / "r.jsonl.gz").write_bytes(b"\x1f\x8b" + data)
    batches = read(spec(max_doc_chars=1000), folder, batch_docs=7)
    for b in batches:
        assert b.records == b.docs.height + b.dropped.height + b.quarantine.height
        assert b.records <= 7
        assert b.docs["text"].null_count() == 0
