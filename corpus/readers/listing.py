"""Which files a source reads: default globs by format, glob matching, links out of a local folder."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from corpus.local_listing import walk_local

if TYPE_CHECKING:  # only the source's fields are used: no import of the spec module at run time
    from corpus.spec import SourceSpec

DEFAULT_GLOBS: dict[str, tuple[str, ...]] = {
    "jsonl": tuple(f"*.{ext}{comp}" for ext in ("jsonl", "ndjson", "json") for comp in ("", ".gz", ".zst", ".zstd")),
    "parquet": ("*.parquet",),
    "text": ("*.txt", "*.md", "*.py", "*.txt.gz", "*.txt.zst", "*.md.gz", "*.md.zst"),
    "warc": ("*.warc", "*.warc.gz", "*.warc.zst"),
}


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over '/'-separated paths: ``**/`` spans zero or more folders, ``*`` one name."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _matcher(source: SourceSpec) -> Callable[[str], bool]:
    """Patterns with a '/' match the path relative to the location; others match the file name."""
    patterns = (source.glob,) if source.glob else DEFAULT_GLOBS[source.format]
    compiled = [(("/" in p), _glob_regex(p)) for p in patterns]

    def matches(rel: str) -> bool:
        name = posixpath.basename(rel)
        return any(rx.match(rel if full else name) for full, rx in compiled)

    return matches


def split_location(fs: pafs.FileSystem, base_path: str, source: SourceSpec) -> tuple[str, list[str] | None]:
    """(folder that relative names are relative to, [file] when the location is one file, else None)."""
    base = base_path.rstrip("/") or base_path
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(
            f"source {source.name!r}: location {base_path!r} does not exist; fix sources[].location in the spec "
            "or create the folder"
        )
    if info.type == pafs.FileType.File:
        return posixpath.dirname(base), [posixpath.basename(base)]
    return base, None


def list_source_files(source: SourceSpec, fs: pafs.FileSystem, base_path: str) -> list[str]:
    """The files of ``source`` under ``base_path``, sorted, relative to it (a single file: its name).

    Searched recursively; hidden files and folders (a name starting with '.') are skipped,
    which also skips the temporary files of writers still at work. The default glob depends
    on the format (see ``DEFAULT_GLOBS``); a location naming one file is read whatever its name.
    In a local folder, a symbolic link to a folder outside it is listed as itself, whatever the glob,
    and never entered (see :mod:`corpus.local_listing`); the reader quarantines it.
    """
    root, single = split_location(fs, base_path, source)
    if single is not None:
        return single
    matches = _matcher(source)
    if isinstance(fs, pafs.LocalFileSystem):  # links out of the folder: listed as themselves, never entered
        return sorted(rel for rel, outside in walk_local(root) if outside or matches(rel))
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    out = []
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File:
            continue
        rel = posixpath.relpath(info.path, root)
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if matches(rel):
            out.append(rel)
    return sorted(out)


def link_escape_test(fs: pafs.FileSystem, root: str) -> Callable[[str], bool] | None:
    """For a local folder: a test of whether a file resolves (through symbolic links) outside it.

    The spec's path policy checks the location itself, symlinks resolved; a link *inside* the
    folder could still lead anywhere on the machine. Such a file is not read. Object stores
    have no links, so nothing is checked there.
    """
    if not isinstance(fs, pafs.LocalFileSystem):
        return None
    real_root = os.path.realpath(root)

    def outside(rel: str) -> bool:
        target = os.path.realpath(posixpath.join(root, rel))
        return os.path.commonpath([real_root, target]) != real_root

    return outside
