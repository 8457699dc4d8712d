"""Helpers of the reliability tests: prose corpora written by the test, committed-output snapshots,
and the comparison of two storage roots.

A *committed output* is what a reader can see: the manifests of every partition, the shards
they list, and the single-object outputs (dedup index, tokenizer). Files a manifest does not
list are invisible to readers, so a snapshot leaves them out on purpose.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from corpus.io import MANIFEST

WORDS = [
    "river",
    "valley",
    "farmers",
    "wheat",
    "barley",
    "terraces",
    "water",
    "houses",
    "town",
    "stone",
    "walls",
    "museum",
    "harbour",
    "fishing",
    "fleet",
    "families",
    "spring",
    "hills",
    "flowers",
    "walkers",
    "cities",
    "railway",
    "century",
    "school",
    "village",
    "classroom",
    "teacher",
    "market",
    "square",
    "traders",
    "cheese",
    "bread",
    "fruit",
    "tools",
    "winter",
    "nets",
    "stories",
    "evening",
    "bridge",
    "arches",
    "church",
    "tower",
    "fire",
    "library",
    "merchant",
    "books",
    "castle",
    "ruins",
    "path",
    "woods",
    "ferry",
    "passengers",
    "goods",
    "bay",
    "coast",
    "road",
    "islands",
    "letters",
    "archive",
    "floods",
    "dams",
    "forest",
    "timber",
    "festival",
    "harvest",
    "music",
    "dancing",
    "procession",
    "mill",
    "grain",
    "district",
    "birds",
    "marshes",
    "species",
    "dialect",
    "winds",
    "plain",
]
TEMPLATES = (
    "The {a} near the {b} was built by the {c} who lived in the {d} for many years.",
    "Every {a} the {b} of the {c} walked to the {d} and talked about the {e}.",
    "In the old days the {a} carried {b} and {c} across the {d} to the {e}.",
    "A small {a} beside the {b} tells the story of the {c} and the {d} of the region.",
    "Records in the {a} show that the {b} grew quickly after the {c} reached the {d}.",
)


def prose(rng: random.Random, sentences: int) -> str:
    """English-looking prose that passes the quality filters and is unique per seed."""
    out = []
    for _ in range(sentences):
        t = rng.choice(TEMPLATES)
        out.append(t.format(**{k: rng.choice(WORDS) for k in "abcde"}))
    return " ".join(out)


def write_prose_jsonl(path: Path, n: int, seed: int, *, sentences: int = 8) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"text": prose(rng, sentences), "url": f"https://example.org/{seed}/{i}"}) + "\n")


# --- snapshots -------------------------------------------------------------------------------


def _strip_timing(obj: Any) -> Any:
    """A manifest without wall-clock figures (they differ from run to run, nothing else may)."""
    if isinstance(obj, dict):
        return {k: _strip_timing(v) for k, v in obj.items() if k not in ("seconds",)}
    if isinstance(obj, list):
        return [_strip_timing(v) for v in obj]
    return obj


def committed_outputs(root: Path) -> dict[str, str]:
    """relative path -> digest of everything a reader can see under ``root``.

    Manifests (timing removed) and the shards they list, dedup index files and their
    summaries (timing removed), tokenizer files. Unlisted files are left out: a reader
    never opens them.
    """
    out: dict[str, str] = {}
    for manifest in sorted(root.rglob(MANIFEST)):
        folder = manifest.parent
        doc = json.loads(manifest.read_text())
        rel = str(manifest.relative_to(root))
        out[rel] = hashlib.sha256(json.dumps(_strip_timing(doc), sort_keys=True).encode()).hexdigest()
        for shard in doc["shards"]:
            p = folder / shard["name"]
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        rel = str(p.relative_to(root))
        if p.parent.name.endswith("_index") or p.parent.name == "tokenizer":
            data = p.read_bytes()
            if p.suffix == ".json" and p.parent.name.endswith("_index"):
                data = json.dumps(_strip_timing(json.loads(data)), sort_keys=True).encode()
            out[rel] = hashlib.sha256(data).hexdigest()
    return out


def visible_shards(root: Path) -> list[Path]:
    """Every shard file a directory listing shows (hidden temporary files excluded).

    Walks with os.walk, which skips folders that vanish while it looks (a finished build
    removes its working folders); Path.rglob would raise.
    """
    found = []
    for folder, _, files in os.walk(root):
        found += [Path(folder) / f for f in files if fnmatch.fnmatch(f, "part-*.parquet") and not f.startswith(".")]
    return sorted(found)


def unreadable_shards(root: Path) -> list[str]:
    """Visible shard files that are not complete Parquet files (should always be [])."""
    bad = []
    for p in visible_shards(root):
        try:
            pq.read_table(p)
        except Exception as exc:
            bad.append(f"{p}: {type(exc).__name__}: {exc}")
    return bad


def manifest_problems(root: Path) -> list[str]:
    """Manifests whose listed shards are missing or hold other row counts than the manifest says."""
    problems = []
    for manifest in sorted(root.rglob(MANIFEST)):
        doc = json.loads(manifest.read_text())
        for shard in doc["shards"]:
            p = manifest.parent / shard["name"]
            if not p.exists():
                problems.append(f"{p} is listed but missing")
                continue
            rows = pq.ParquetFile(p).metadata.num_rows
            if rows != shard["rows"] or p.stat().st_size != shard["bytes"]:
                problems.append(
                    f"{p}: {rows} rows / {p.stat().st_size} bytes, manifest says {shard['rows']} / {shard['bytes']}"
                )
    return problems
