"""Local atomic writes of CorpusStore and the compact task receipts of corpus.resume."""

from __future__ import annotations

import json

import pytest

from corpus import resume
from corpus.io import CorpusStore


def test_write_makes_missing_folders_again_after_they_are_removed(tmp_path):
    store = CorpusStore(root=str(tmp_path))
    store.write_bytes("a/b/c.bin", b"one")
    store.write_bytes("a/b/c.bin", b"two")  # overwrite in place
    assert (tmp_path / "a/b/c.bin").read_bytes() == b"two"
    store.delete_dir("a")
    assert not (tmp_path / "a").exists()
    store.write_bytes("a/b/c.bin", b"three")  # the folder is made again, not assumed from an earlier write
    assert (tmp_path / "a/b/c.bin").read_bytes() == b"three"
    assert sorted(p.name for p in (tmp_path / "a/b").iterdir()) == ["c.bin"], "no temporary file may be left"


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    store = CorpusStore(root=str(tmp_path))
    store.write_bytes("x/f.bin", b"old")
    with pytest.raises(TypeError):
        store.write_bytes("x/f.bin", "not bytes")  # type: ignore[arg-type]
    assert (tmp_path / "x/f.bin").read_bytes() == b"old"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["f.bin"]


def test_receipts_are_compact_and_older_indented_ones_still_load(tmp_path):
    store = CorpusStore(root=str(tmp_path))
    result = {"p": 3, "edges_inline": {"u_id": ["a", "b"], "v_id": ["c", "c"]}, "files": [["k.parquet", 2]]}
    resume.save(store, "r/task.json", "fp1", result)
    raw = (tmp_path / "r/task.json").read_bytes()
    assert b"\n" not in raw and b": " not in raw, "receipts are written without indentation"
    assert resume.load(store, "r/task.json", "fp1") == result
    assert resume.load(store, "r/task.json", "other") is None
    old = {"v": resume.RECEIPT_VERSION, "fingerprint": "fp2", "result": result}
    (tmp_path / "r/old.json").write_text(json.dumps(old, indent=1, sort_keys=True))
    assert resume.load(store, "r/old.json", "fp2") == result


def test_manifests_stay_indented(tmp_path):
    store = CorpusStore(root=str(tmp_path))
    store.write_json("m.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "m.json").read_text() == json.dumps({"a": [1, 2], "b": 1}, indent=1, sort_keys=True)
