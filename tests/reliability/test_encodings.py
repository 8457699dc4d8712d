"""Records in other encodings than UTF-8, and byte order marks, are read, not lost."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.fs as pafs
import pytest

from corpus.readers import ReadBatch, read_source
from corpus.spec import SourceSpec, SpecError, parse_spec

FS = pafs.LocalFileSystem()
LATIN = "Café naïve résumé, à la façon de Genève.\nZweite Zeile mit über und Straße, schön und grün.\n"


def source(fmt: str, **kw: Any) -> SourceSpec:
    return SourceSpec(name="src", location="data/src", format=fmt, **kw)


def read_all(src: SourceSpec, path: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int], int]:
    batches: list[ReadBatch] = list(read_source(src, FS, str(path)))
    docs = pl.concat([b.docs for b in batches])
    bad = pl.concat([b.quarantine for b in batches])
    encodings: dict[str, int] = {}
    for b in batches:
        for k, v in b.encodings.items():
            encodings[k] = encodings.get(k, 0) + v
    return docs, bad, encodings, sum(b.records for b in batches)


def test_a_jsonl_file_with_a_byte_order_mark_keeps_its_first_record(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"record number {i}"}) for i in range(3)]
    (tmp_path / "bom.jsonl").write_bytes(codecs.BOM_UTF8 + "\n".join(lines).encode() + b"\n")
    docs, bad, encodings, records = read_all(source("jsonl"), tmp_path)
    assert bad.height == 0, bad["error"].to_list()
    assert docs["text"].to_list() == ["record number 0", "record number 1", "record number 2"]
    assert encodings == {"utf-8": 3} and records == 3


@pytest.mark.parametrize("bom,codec", [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_a_utf16_file_with_its_mark_is_read_as_utf16(tmp_path: Path, bom: bytes, codec: str) -> None:
    (tmp_path / "a.txt").write_bytes(bom + LATIN.encode(codec))
    docs, bad, encodings, _ = read_all(source("text", split="line"), tmp_path)
    assert bad.height == 0
    assert docs["text"].to_list() == LATIN.strip().split("\n")
    assert encodings == {codec: 2}


@pytest.mark.parametrize("encoding", ["latin-1", "auto"])
@pytest.mark.parametrize("split", ["file", "line"])
def test_a_latin1_text_file_is_kept_with_its_encoding_declared_or_detected(
    tmp_path: Path, encoding: str, split: str
) -> None:
    (tmp_path / "old.txt").write_bytes(LATIN.encode("latin-1"))
    (tmp_path / "new.txt").write_text("Plain UTF-8 text, déjà vu.\n", encoding="utf-8")
    docs, bad, encodings, records = read_all(source("text", split=split, encoding=encoding), tmp_path)
    assert bad.height == 0, bad["error"].to_list()
    texts = docs.filter(pl.col("file") == "old.txt")["text"].to_list()
    assert "\n".join(texts).strip() == LATIN.strip()
    if encoding == "auto":  # detected per file: the UTF-8 file is still read as UTF-8
        assert [t.strip() for t in docs.filter(pl.col("file") == "new.txt")["text"]] == ["Plain UTF-8 text, déjà vu."]
        assert set(encodings) == {"cp1252", "utf-8"}
    else:
        assert set(encodings) == {"iso8859-1"}
    assert sum(encodings.values()) == records


def test_a_latin1_file_under_the_default_is_quarantined_with_the_fix_named(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_bytes(LATIN.encode("latin-1"))
    docs, bad, _, _ = read_all(source("text"), tmp_path)
    assert docs.height == 0 and bad.height == 1
    error = bad["error"][0]
    assert error.startswith("invalid_utf8:") and "set encoding of source 'src'" in error and "auto" in error


def test_jsonl_in_cp1252_gzip_compressed_with_a_bad_byte_quarantines_that_line_only(tmp_path: Path) -> None:
    good = [json.dumps({"text": "naïve “quoted” café"}, ensure_ascii=False) for _ in range(2)]
    body = "\n".join(good).encode("cp1252") + b"\n" + b'{"text": "bad \x81 byte"}\n'
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(body))
    docs, bad, encodings, records = read_all(source("jsonl", encoding="cp1252"), tmp_path)
    assert docs["text"].to_list() == ["naïve “quoted” café"] * 2
    assert bad.height == 1 and bad["offset"][0] == 2
    assert bad["error"][0].startswith("invalid_encoding:") and "cp1252" in bad["error"][0]
    assert encodings == {"cp1252": 3} and records == 3


def test_auto_leaves_binary_files_to_the_binary_check(tmp_path: Path) -> None:
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\xff\xfe" * 100 + bytes(range(256)))
    docs, bad, _, _ = read_all(source("text", encoding="auto"), tmp_path)
    assert docs.height == 0 and bad["error"][0].startswith("binary_file:")


@pytest.mark.parametrize("value", ["base64", "rot13", "no-such-codec", "../etc", "utf 8", ""])
def test_an_encoding_that_is_not_a_text_codec_is_a_spec_error(value: str) -> None:
    data = {"pipeline": "p", "sources": [{"name": "a", "location": "data/a", "format": "text", "encoding": value}]}
    with pytest.raises(SpecError) as exc:
        parse_spec(data)
    assert [i.field for i in exc.value.issues] == ["sources[0].encoding"]


@pytest.mark.parametrize("fmt", ["parquet", "warc"])
def test_encoding_on_parquet_or_warc_is_refused(fmt: str) -> None:
    from corpus.spec import load_spec

    data = {"pipeline": "p", "sources": [{"name": "a", "location": "data/a", "format": fmt, "encoding": "latin-1"}]}
    with pytest.raises(SpecError) as exc:
        load_spec(data)
    assert [i.field for i in exc.value.issues] == ["sources[0].encoding"]


def test_the_raw_stage_reports_records_by_encoding(tmp_path: Path) -> None:
    from corpus import runner
    from corpus.io import CorpusStore

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "old.txt").write_bytes(LATIN.encode("latin-1"))
    (tmp_path / "src" / "new.txt").write_text("Plain UTF-8 text, déjà vu.\nA second line.\n", encoding="utf-8")
    spec = parse_spec(
        {
            "pipeline": "enc",
            "sources": [
                {
                    "name": "src",
                    "location": str(tmp_path / "src"),
                    "format": "text",
                    "split": "line",
                    "encoding": "auto",
                }
            ],
        }
    )
    store = CorpusStore(root=str(tmp_path / "store"))
    report = runner.run_raw(spec, "src", store, source_location=(FS, str(tmp_path / "src")))
    assert report.kept == 4 and report.quarantined_total == 0
    assert runner.read_report(store, "enc", "raw", "src").extra["encodings"] == {"cp1252": 2, "utf-8": 2}
