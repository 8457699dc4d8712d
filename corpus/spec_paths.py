"""Where a spec's files may live: local folders under the allowed roots, S3 prefixes on the allow-list.

Every location and file path of a spec (sources, tokenizer files, the files operators read) goes
through :class:`PathPolicy` in validation. Symlinks are resolved first, so an escape through a
link is caught; ``CORPUS_ALLOWED_ROOTS`` lists extra folders and the S3 prefixes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_S3_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[\w.\-/=]*)?$")


@dataclass(frozen=True)
class PathPolicy:
    """Where sources may live. Relative paths are relative to ``project_root``.

    ``allowed_s3`` holds the S3 prefixes sources may be read from (``s3://bucket`` for a whole
    bucket); none by default. Both come from one allow-list, ``CORPUS_ALLOWED_ROOTS``.
    """

    project_root: Path
    allowed_roots: tuple[Path, ...]
    allow_s3: bool = True
    allowed_s3: tuple[str, ...] = ()

    @classmethod
    def default(cls, project_root: Path | str) -> PathPolicy:
        project_root = Path(project_root).resolve()
        roots = [project_root / "data", project_root.parent / "shared" / "data"]
        local, s3 = allowed_roots_from_env()
        return cls(project_root=project_root, allowed_roots=tuple(r.resolve() for r in [*roots, *local]), allowed_s3=s3)

    def check(self, location: str) -> str | None:
        """None when ``location`` is allowed, else why not."""
        if location.startswith("s3://"):
            if not self.allow_s3:
                return "s3:// locations are not allowed here"
            if not _S3_RE.match(location) or ".." in location:
                return f"{location!r} is not a valid s3://bucket/prefix"
            target = location.rstrip("/")
            if any(target == p or target.startswith(p + "/") for p in self.allowed_s3):
                return None
            allowed = ", ".join(self.allowed_s3) or "none"
            return (
                f"{location!r} is outside the allowed S3 prefixes ({allowed}); add s3://bucket/prefix to "
                "CORPUS_ALLOWED_ROOTS to allow one"
            )
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", location):
            scheme = location.split("://")[0]
            return (
                f"{scheme}:// locations are not allowed; write a path relative to the project "
                "(e.g. data/sources/web) or an s3://bucket/prefix"
            )
        if location.startswith("~"):
            return "home-relative paths are not allowed; write a path relative to the project"
        raw = Path(location)
        if raw.is_absolute():
            return "absolute paths are not allowed; write a path relative to the project (e.g. data/sources/web)"
        resolved = (self.project_root / raw).resolve()  # follows symlinks: an escape through a link is caught
        for root in self.allowed_roots:
            if resolved == root or root in resolved.parents:
                return None
        allowed = ", ".join(_rel(r, self.project_root) for r in self.allowed_roots)
        return (
            f"{location!r} resolves to {resolved}, outside the allowed roots ({allowed}); "
            "set CORPUS_ALLOWED_ROOTS to add one"
        )

    def resolve(self, location: str) -> str:
        if location.startswith("s3://"):
            return location
        return str((self.project_root / location).resolve())


def allowed_roots_from_env() -> tuple[list[Path], tuple[str, ...]]:
    """(local folders, S3 prefixes) listed in ``CORPUS_ALLOWED_ROOTS`` (``os.pathsep``-separated; the ':'
    of ``s3://`` does not separate). Raises ValueError for an S3 entry that is not s3://bucket[/prefix]."""
    extra = os.environ.get("CORPUS_ALLOWED_ROOTS", "")
    sep = re.escape(os.pathsep) + ("(?!//)" if os.pathsep == ":" else "")
    local: list[Path] = []
    s3: list[str] = []
    for entry in (e.strip() for e in re.split(sep, extra)):
        if not entry:
            continue
        if entry.startswith("s3://"):
            if not _S3_RE.match(entry) or ".." in entry:
                raise ValueError(f"CORPUS_ALLOWED_ROOTS: {entry!r} is not an s3://bucket/prefix")
            s3.append(entry.rstrip("/"))
        else:
            local.append(Path(entry).expanduser())
    return local, tuple(s3)


def _rel(p: Path, base: Path) -> str:
    try:
        return os.path.relpath(p, base)
    except ValueError:
        return str(p)
