"""Listing a local source folder without looking through links that lead out of it.

A symbolic link inside an allowed folder may lead anywhere on the machine. A link to a file is
listed under its own name (the readers refuse to read it when it leads out); a link to a folder
outside is listed as one entry, the link itself, and never entered, so no name from outside the
folder is ever listed. Links to folders inside are followed once (a loop of links ends there).
"""

from __future__ import annotations

import os
from collections.abc import Iterator


def walk_local(root: str) -> Iterator[tuple[str, bool]]:
    """(path relative to ``root`` with '/', leads_outside) for each file under ``root``, sorted per folder.

    Hidden names (starting with '.') are skipped; broken links are not files and are skipped.
    """
    real_root = os.path.realpath(root)
    entered = {real_root}
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                inside = target == real_root or os.path.commonpath([real_root, target]) == real_root
                if os.path.isdir(target):
                    if not inside:
                        yield rel, True
                    elif target not in entered:
                        entered.add(target)
                        stack.append(rel)
                elif os.path.isfile(target):
                    yield rel, not inside
            elif entry.is_dir(follow_symlinks=False):
                stack.append(rel)
            elif entry.is_file(follow_symlinks=False):
                yield rel, False
