"""Demo corpus sources written offline from what every Python installation carries.

``write_demo_sources(dest)`` writes four source folders, one per domain:

* ``code/``: a deterministic subset (a few MB) of CPython's standard library ``.py`` files,
  as gzipped JSONL records ``{text, path, url}`` (url = the file on GitHub at this version).
* ``docs/``: the pydoc topics (``pydoc_data.topics``: the language reference's prose) as
  JSONL records ``{title, text, url}``.
* ``pages/``: HTML pages rendered by ``pydoc.HTMLDoc`` for a fixed list of standard modules,
  wrapped in site navigation and a footer (boilerplate for extraction to remove), stored as
  a WARC file with HTTP response records. Two pages are served again under a mirror URL
  (exact duplicates), two more with a changed footer and an added sentence (near
  duplicates), plus a robots.txt, an image and a 404 page (dropped by the reader) and a
  request record (skipped), so the WARC reader, extraction and dedup all have work.
* ``licenses/``: Debian's ``/usr/share/common-licenses`` texts as ``.txt`` files, where the
  folder exists; elsewhere the licence files that ship with Python and its installed
  packages (many near-identical MIT/Apache/BSD texts: work for dedup).

``scale=N`` adds N-1 further copies of every source. A copy is not a duplicate: each of its
documents is rebuilt from blocks (paragraphs; for pages, the documented members) drawn
deterministically from the whole source, so the corpus grows N-fold while dedup keeps most
of it. Everything is deterministic: a re-run writes identical bytes (fixed WARC dates and
record ids, gzip without timestamps, pages rendered in a child process with a fixed hash
seed so set orders cannot vary). Files whose bytes are unchanged are not rewritten, and
files of a larger earlier scale are removed. ``dest/demo_sources.json`` lists what was
written and what was skipped.

    python -m corpus.demo_sources DEST [--scale N]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import xxhash

from corpus.demo_pages import PAGE_MODULES, page_records, render_pages, seeded_rng, warc

CODE_TARGET_BYTES = 4_000_000  # source code per copy
CODE_MAX_FILE_BYTES = 200_000
CODE_SKIP_DIRS = frozenset(
    {
        "test",
        "tests",
        "idle_test",
        "site-packages",
        "__pycache__",
        "pydoc_data",
        "_bundled",
        "idlelib",
        "turtledemo",
        "lib2to3",
        "ensurepip",
        "encodings",
    }
)
LICENSES_DIR = Path("/usr/share/common-licenses")
MANIFEST = "demo_sources.json"


@dataclass
class _SourceReport:
    path: Path
    files: list[str] = field(default_factory=list)
    records: int = 0
    bytes: int = 0


class _Writer:
    """Writes files under ``dest`` atomically, leaves identical files alone, remembers what it wrote."""

    def __init__(self, dest: Path):
        self.dest = dest
        self.written: set[Path] = set()

    def write(self, rel: str, data: bytes, report: _SourceReport) -> None:
        path = self.dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.written.add(path)
        report.files.append(rel)
        report.bytes += len(data)
        if path.exists() and path.read_bytes() == data:
            return
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def remove_stale(self, folder: Path, suffixes: tuple[str, ...]) -> list[str]:
        """Delete files of an earlier (larger) run in one of our folders."""
        removed = []
        if not folder.is_dir():
            return removed
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name.endswith(suffixes) and path not in self.written:
                path.unlink()
                removed.append(str(path.relative_to(self.dest)))
        for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
            if not any(sub.iterdir()):
                sub.rmdir()
        return removed


def _jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as f:
        f.write(data)
    return buf.getvalue()


def _mixed(texts: list[str], blocks_of: Callable[[str], list[str]], copy: int, source: str, joiner: str) -> list[str]:
    """Copy ``copy`` of a source: document j rebuilt from as many blocks as it had, drawn from all documents."""
    pool = [b for t in texts for b in blocks_of(t)]
    out = []
    for j, text in enumerate(texts):
        rng = seeded_rng(source, copy, j)
        n = max(1, len(blocks_of(text)))
        out.append(joiner.join(rng.choice(pool) for _ in range(n)))
    return out


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


# --- code ----------------------------------------------------------------------------------


def _stdlib_files() -> list[tuple[str, str]]:
    """(path under Lib/, source) of the chosen standard library files, in a fixed order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    candidates = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if any(part in CODE_SKIP_DIRS or part.startswith("config-") for part in rel.parts[:-1]):
            continue
        if path.is_symlink() or not 0 < path.stat().st_size <= CODE_MAX_FILE_BYTES:
            continue
        candidates.append(rel.as_posix())
    # a hash order mixes packages, so the subset is not just the alphabetically first ones
    candidates.sort(key=lambda r: (xxhash.xxh64_hexdigest(r.encode()), r))
    chosen, size = [], 0
    for rel in candidates:
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        chosen.append((rel, text))
        size += len(text.encode("utf-8"))
        if size >= CODE_TARGET_BYTES:
            break
    return sorted(chosen)


def _write_code(w: _Writer, scale: int) -> _SourceReport:
    report = _SourceReport(w.dest / "code")
    files = _stdlib_files()
    tag = "v{}.{}.{}".format(*sys.version_info[:3])
    texts = [t for _, t in files]
    for copy in range(scale):
        bodies = texts if copy == 0 else _mixed(texts, _paragraphs, copy, "code", "\n\n\n")
        prefix = "" if copy == 0 else f"copy-{copy:03d}/"
        records = [
            {
                "text": body,
                "path": f"Lib/{rel}",
                "url": f"https://github.com/python/cpython/blob/{tag}/{prefix}Lib/{rel}",
            }
            for (rel, _), body in zip(files, bodies, strict=True)
        ]
        report.records += len(records)
        w.write(f"code/stdlib-{copy:03d}.jsonl.gz", _gzip(_jsonl(records)), report)
    return report


# --- docs ----------------------------------------------------------------------------------


def _write_docs(w: _Writer, scale: int) -> _SourceReport:
    from pydoc_data.topics import topics

    report = _SourceReport(w.dest / "docs")
    names = sorted(topics)
    texts = [topics[n] for n in names]
    version = "{}.{}".format(*sys.version_info[:2])
    for copy in range(scale):
        bodies = texts if copy == 0 else _mixed(texts, _paragraphs, copy, "docs", "\n\n")
        suffix = "" if copy == 0 else f"?variant={copy}"
        records = [
            {"title": name, "text": body, "url": f"https://docs.python.org/{version}/reference/#{name}{suffix}"}
            for name, body in zip(names, bodies, strict=True)
        ]
        report.records += len(records)
        w.write(f"docs/topics-{copy:03d}.jsonl", _jsonl(records), report)
    return report


def _write_pages(w: _Writer, scale: int) -> _SourceReport:
    report = _SourceReport(w.dest / "pages")
    pages = render_pages(PAGE_MODULES)
    for copy in range(scale):
        records = page_records(pages, copy)
        report.records += len(records)
        w.write(f"pages/pages-{copy:03d}.warc.gz", warc(records, copy), report)
    return report


# --- licenses ------------------------------------------------------------------------------


def _python_licence_files() -> list[Path]:
    """Licence texts that ship with Python itself and with the installed packages (a fallback
    where Debian's common-licenses are absent): sorted, so the choice is deterministic."""
    import sysconfig

    found = [Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"]
    for key in ("purelib", "platlib"):
        site = Path(sysconfig.get_paths()[key])
        found += sorted(site.glob("*.dist-info/LICEN[CS]E*")) + sorted(site.glob("*.dist-info/licenses/LICEN[CS]E*"))
    return [p for p in dict.fromkeys(found) if p.is_file()]


def _licence_name(path: Path) -> str:
    """``<package-version>-LICENSE`` for a dist-info licence, ``python-LICENSE`` for Python's own."""
    dist = next((part for part in path.parts if part.endswith(".dist-info")), None)
    owner = dist[: -len(".dist-info")] if dist else "python"
    return f"{owner}-{path.stem if path.suffix in ('.txt', '.md', '.rst') else path.name}"


def _write_licenses(w: _Writer, scale: int) -> _SourceReport | str:
    texts: dict[str, str] = {}
    if LICENSES_DIR.is_dir():
        candidates = [(path.name, path) for path in sorted(LICENSES_DIR.iterdir())]
    else:  # not Debian: use the licences Python and its packages ship
        candidates = [(_licence_name(p), p) for p in _python_licence_files()]
    for name, path in candidates:
        try:
            texts[name] = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    if not texts:
        return f"no readable UTF-8 licence texts in {LICENSES_DIR} or shipped with Python"
    report = _SourceReport(w.dest / "licenses")
    names = list(texts)
    for copy in range(scale):
        bodies = (
            list(texts.values()) if copy == 0 else _mixed(list(texts.values()), _paragraphs, copy, "licenses", "\n\n")
        )
        folder = "licenses" if copy == 0 else f"licenses/copy-{copy:03d}"
        for name, body in zip(names, bodies, strict=True):
            w.write(f"{folder}/{name}.txt", body.encode("utf-8"), report)
            report.records += 1
    return report


# --- entry points --------------------------------------------------------------------------

_SUFFIXES = {"code": (".jsonl.gz",), "docs": (".jsonl",), "pages": (".warc.gz",), "licenses": (".txt",)}


def write_demo_sources(dest: Path, *, scale: int = 1) -> dict[str, Path]:
    """Write the demo source folders under ``dest``; returns {source name: folder} for those written.

    ``licenses`` is absent from the result where the licence texts are not installed; the
    reason is in ``dest/demo_sources.json`` (``skipped``), with file, record and byte counts.
    """
    if not 1 <= scale <= 1000:
        raise ValueError(f"scale must be between 1 and 1000, got {scale}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    w = _Writer(dest)
    reports: dict[str, _SourceReport] = {
        "code": _write_code(w, scale),
        "docs": _write_docs(w, scale),
        "pages": _write_pages(w, scale),
    }
    skipped: dict[str, str] = {}
    licenses = _write_licenses(w, scale)
    if isinstance(licenses, str):
        skipped["licenses"] = licenses
        (dest / "licenses").mkdir(exist_ok=True)  # an empty source reads as 0 records, not a missing location
    else:
        reports["licenses"] = licenses
    removed = [r for name, suffixes in _SUFFIXES.items() for r in w.remove_stale(dest / name, suffixes)]
    manifest = {
        "scale": scale,
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
        "sources": {
            name: {"path": name, "files": len(r.files), "records": r.records, "bytes": r.bytes}
            for name, r in reports.items()
        },
        "skipped": skipped,
    }
    w.write(MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"), _SourceReport(dest))
    if removed:
        print(f"removed {len(removed)} file(s) of an earlier run: {', '.join(removed[:5])}", file=sys.stderr)
    return {name: r.path for name, r in reports.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m corpus.demo_sources", description="Write the offline demo corpus sources."
    )
    parser.add_argument("dest", type=Path, help="folder to write code/, docs/, pages/ and licenses/ into")
    parser.add_argument(
        "--scale", type=int, default=1, help="copies of each source (perturbed, not duplicates); default 1"
    )
    args = parser.parse_args(argv)
    written = write_demo_sources(args.dest, scale=args.scale)
    manifest = json.loads((args.dest / MANIFEST).read_text(encoding="utf-8"))
    print(f"{'source':<10} {'files':>6} {'records':>8} {'MB':>8}  folder")
    for name, path in written.items():
        info = manifest["sources"][name]
        print(f"{name:<10} {info['files']:>6} {info['records']:>8} {info['bytes'] / 1e6:>8.2f}  {path}")
    for name, why in manifest["skipped"].items():
        print(f"{name:<10} skipped: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
