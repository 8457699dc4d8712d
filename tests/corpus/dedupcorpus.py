"""Sources with planted exact and near duplicates inside and across them, for the dedup-as-tasks tests."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from corpus import runner
from corpus.io import CorpusStore
from corpus.spec import PipelineSpec, parse_spec
from tests.reliability.helpers import prose

SOURCES = ("a", "b", "c")


def _perturb(text: str, rng: random.Random, rate: float = 0.04) -> str:
    words = text.split(" ")
    out = [w for w in words if rng.random() > rate]
    return " ".join(out) + " " + rng.choice(words)


def write_sources(root: Path, docs: int = 90, seed: int = 7) -> dict[str, Path]:
    """Three JSONL sources; about a third of each is copies of earlier documents (exact, case-changed, or edited)."""
    rng = random.Random(seed)
    pool: list[str] = []
    out = {}
    for s in SOURCES:
        lines = []
        for i in range(docs):
            r = rng.random()
            if pool and r < 0.12:
                text = rng.choice(pool)  # exact copy
            elif pool and r < 0.2:
                text = rng.choice(pool).upper()  # equal after normalization
            elif pool and r < 0.35:
                text = _perturb(rng.choice(pool), rng)  # near copy
            elif r < 0.38:
                text = ""  # no words: never a key
            else:
                text = prose(rng, 10)
            pool.append(text or prose(rng, 3))
            lines.append(json.dumps({"text": text, "url": f"https://example.org/{s}/{i}"}))
        folder = root / s
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part.jsonl").write_text("\n".join(lines) + "\n")
        out[s] = folder
    return out


def dedup_spec(
    src: Path,
    sources: tuple[str, ...] = SOURCES,
    op: str = "dedup_minhash@1",
    config: dict[str, Any] | None = None,
    shard_docs: int = 10,
) -> PipelineSpec:
    step: dict[str, Any] = {"op": op}
    if config:
        step["config"] = config
    return parse_spec(
        {
            "pipeline": "dd",
            "shard_docs": shard_docs,
            "sources": [{"name": s, "location": str(src / s), "format": "jsonl", "url_field": "url"} for s in sources],
            "stages": [{"name": "deduped", "steps": [step]}],
            "tokenizer": {"vocab_size": 300, "sample_docs": 50, "val_min_docs": 2},
        }
    )


def read_raw(spec: PipelineSpec, root: Path, src: Path) -> CorpusStore:
    import pyarrow.fs as pafs

    store = CorpusStore(root=str(root))
    for s in spec.source_names:
        runner.run_raw(spec, s, store, source_location=(pafs.LocalFileSystem(), str(src / s)))
    return store


def index_files(root: Path, pipeline: str = "dd", stage: str = "deduped") -> dict[str, bytes]:
    """The drop tables and the summary (timings removed) that the apply stage reads."""
    folder = root / pipeline / f"{stage}_index"
    out = {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}
    summary = json.loads((folder / runner.INDEX_SUMMARY).read_text())
    summary.pop("seconds", None)
    out[runner.INDEX_SUMMARY] = json.dumps(summary, sort_keys=True).encode()
    return out
