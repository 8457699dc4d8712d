"""Demo sources: written offline, readable by the readers, byte-identical on a re-run, scalable."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from corpus import demo_sources
from corpus.readers import read_source
from corpus.spec import SourceSpec

SPECS = {
    "code": SourceSpec(name="code", location="x", format="jsonl", url_field="url"),
    "docs": SourceSpec(name="docs", location="x", format="jsonl", url_field="url", title_field="title"),
    "pages": SourceSpec(name="pages", location="x", format="warc"),
    "licenses": SourceSpec(name="licenses", location="x", format="text"),
}


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    dest = tmp_path_factory.mktemp("demo")
    return dest, demo_sources.write_demo_sources(dest)


def test_writes_every_source(demo: tuple[Path, dict[str, Path]]) -> None:
    dest, written = demo
    assert {"code", "docs", "pages"} <= set(written)
    assert all(path.is_dir() and path.parent == dest for path in written.values())
    manifest = json.loads((dest / demo_sources.MANIFEST).read_text())
    assert manifest["scale"] == 1
    code = [
        json.loads(line) for line in gzip.decompress((dest / "code" / "stdlib-000.jsonl.gz").read_bytes()).splitlines()
    ]
    assert sum(len(r["text"].encode()) for r in code) >= 3_000_000
    assert all(r["url"].endswith(".py") and r["path"].startswith("Lib/") for r in code)
    if demo_sources.LICENSES_DIR.is_dir():
        assert "licenses" in written and any((dest / "licenses").glob("*.txt"))
    else:
        assert "licenses" in manifest["skipped"]


def test_sources_read_back_through_the_readers(demo: tuple[Path, dict[str, Path]]) -> None:
    _, written = demo
    for name, folder in written.items():
        batches = list(read_source(SPECS[name], pafs.LocalFileSystem(), str(folder)))
        docs = sum(b.docs.height for b in batches)
        assert docs > 10 and sum(b.quarantine.height for b in batches) == 0, name
        if name == "code":
            assert set(batches[0].docs["content_type"].to_list()) == {"text/x-python"}
        if name == "pages":
            dropped = batches[0].dropped["drop_reason"].to_list()
            assert sorted(dropped) == ["warc_http_status", "warc_not_html", "warc_not_html"]
            texts = batches[0].docs["text"].to_list()
            assert len(texts) - len(set(texts)) == 2  # the mirrored exact duplicates
            assert all("<html" in t.lower() and "Demo Docs" in t for t in texts)


def test_rerun_writes_identical_bytes(demo: tuple[Path, dict[str, Path]]) -> None:
    dest, _ = demo
    before = digests(dest)
    demo_sources.write_demo_sources(dest)
    assert digests(dest) == before


def test_scale_grows_without_exact_copies_and_shrinks_back(tmp_path: Path, demo: tuple[Path, dict[str, Path]]) -> None:
    dest, _ = demo
    scaled = tmp_path / "scaled"
    demo_sources.write_demo_sources(scaled, scale=2)
    docs = [
        json.loads(line)["text"]
        for f in sorted((scaled / "docs").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    assert len(docs) == 2 * len((dest / "docs" / "topics-000.jsonl").read_text().splitlines())
    assert len(set(docs)) > 0.95 * len(docs)
    assert (scaled / "pages" / "pages-001.warc.gz").exists() and (scaled / "code" / "stdlib-001.jsonl.gz").exists()
    demo_sources.write_demo_sources(scaled, scale=1)  # back to scale 1: the extra copies are removed
    assert digests(scaled) == digests(dest)


def test_licenses_fall_back_to_python_licences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Debian's common-licenses, the licence texts Python and its packages ship are used."""
    monkeypatch.setattr(demo_sources, "LICENSES_DIR", tmp_path / "no-such-dir")
    monkeypatch.setattr(demo_sources, "CODE_TARGET_BYTES", 100_000)
    written = demo_sources.write_demo_sources(tmp_path / "out")
    files = sorted((tmp_path / "out" / "licenses").iterdir())
    assert "licenses" in written and len(files) >= 2
    assert (tmp_path / "out" / "licenses" / "python-LICENSE.txt").read_text().startswith("A. HISTORY OF THE SOFTWARE")


def test_command_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "corpus.demo_sources", str(tmp_path / "cli")], capture_output=True, text=True, check=True
    )
    assert "code" in proc.stdout and "pages" in proc.stdout
    with pytest.raises(ValueError, match="scale"):
        demo_sources.write_demo_sources(tmp_path / "x", scale=0)
