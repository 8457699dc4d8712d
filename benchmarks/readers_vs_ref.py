"""The readers against an earlier revision of them: same output, and reading time as a ratio.

Loads ``corpus/readers.py`` (the single-module readers) from a git revision into a temporary
module and reads the shared corpora (the WARC sample, GSM8K as JSONL plain / gzip / zstd,
WikiText and Shakespeare as text) with it and with :mod:`corpus.readers`, in the same run.
Every batch must be equal (documents, drops, quarantine, counts); the time of each round is
paired by round, the arm order alternating, and reported as the ratio new / reference with a
95% interval (``time_change``: the ratio minus one, with its verdict). A sanity check, not a
benchmark target.

    python benchmarks/readers_vs_ref.py --ref <revision> [--rounds 5] [--out result.json]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow.fs as pafs
import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpus import readers  # noqa: E402
from corpus.spec import SourceSpec  # noqa: E402
from corpus.stats import mean_interval, paired_interval  # noqa: E402


def load_reference(ref: str, into: Path) -> ModuleType:
    """``corpus/readers.py`` as it was at ``ref``, imported as a module of its own."""
    code = subprocess.run(
        ["git", "show", f"{ref}:corpus/readers.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    path = into / "readers_ref.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("readers_ref", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["readers_ref"] = module
    spec.loader.exec_module(module)
    return module


def corpora(data: Path, work: Path) -> list[SourceSpec]:
    """The sources read: each a folder of ``work`` holding copies of shared files."""
    gsm8k = (data / "math" / "gsm8k-train.jsonl").read_bytes()
    files: dict[str, dict[str, bytes | Path]] = {
        "web": {"crawl.warc.gz": data / "web" / "crawl-sample.warc.gz"},
        "math": {
            "plain.jsonl": gsm8k,
            "gz.jsonl.gz": gzip.compress(gsm8k, compresslevel=6),
            "zst.jsonl.zst": zstandard.ZstdCompressor(level=3).compress(gsm8k),
        },
        "wiki": {"wikitext.txt": data / "encyclopedia" / "wikitext2-valid.txt"},
        "plays": {"shakespeare.txt": data / "literature" / "tinyshakespeare.txt"},
    }
    for name, members in files.items():
        folder = work / name
        folder.mkdir(parents=True)
        for file, content in members.items():
            if isinstance(content, Path):
                shutil.copyfile(content, folder / file)
            else:
                (folder / file).write_bytes(content)
    return [
        SourceSpec(name="web", location=str(work / "web"), format="warc"),
        SourceSpec(name="math", location=str(work / "math"), format="jsonl", text_field=["question", "answer"]),
        SourceSpec(name="wiki", location=str(work / "wiki"), format="text", split="wikitext"),
        SourceSpec(name="plays", location=str(work / "plays"), format="text", split="paragraph"),
    ]


Reader = Callable[..., Iterator[Any]]


def read_all(read: Reader, source: SourceSpec) -> list[Any]:
    return list(read(source, pafs.LocalFileSystem(), source.location, batch_docs=2000))


def same(a: list[Any], b: list[Any]) -> str | None:
    """None when two reads are equal batch by batch, else what differs."""
    if len(a) != len(b):
        return f"{len(a)} batches against {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        for part in ("docs", "dropped", "quarantine"):
            if not getattr(x, part).equals(getattr(y, part)):
                return f"batch {i}: {part} differ"
        for part in ("records", "empty_files", "repairs", "encodings"):
            if getattr(x, part) != getattr(y, part):
                return f"batch {i}: {part} differ ({getattr(x, part)!r} against {getattr(y, part)!r})"
    return None


def timed(read: Reader, source: SourceSpec) -> float:
    start = time.perf_counter()
    for _ in read(source, pafs.LocalFileSystem(), source.location, batch_docs=2000):
        pass
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True, help="git revision whose corpus/readers.py is the reference")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (an interval needs two pairs)")
    with tempfile.TemporaryDirectory(prefix="readers-ref-") as tmp:
        ref = load_reference(args.ref, Path(tmp))
        sources = corpora(args.data, Path(tmp) / "data")
        arms: dict[str, Reader] = {"new": readers.read_source, "ref": ref.read_source}
        records: dict[str, int] = {}
        for source in sources:
            new, old = read_all(arms["new"], source), read_all(arms["ref"], source)
            diff = same(new, old)
            if diff:
                print(f"source {source.name}: the readers differ from {args.ref}: {diff}", file=sys.stderr)
                return 1
            records[source.name] = sum(b.records for b in new)
        times: dict[str, list[float]] = {"new": [], "ref": []}
        for round_ in range(args.rounds):
            order = ("new", "ref") if round_ % 2 == 0 else ("ref", "new")
            spent = dict.fromkeys(order, 0.0)
            for source in sources:
                for arm in order:
                    spent[arm] += timed(arms[arm], source)
            for arm in order:
                times[arm].append(spent[arm])
            print(f"round {round_ + 1}/{args.rounds}: new {spent['new']:.2f}s, ref {spent['ref']:.2f}s", flush=True)
    change = mean_interval([n / r - 1.0 for n, r in zip(times["new"], times["ref"], strict=True)])
    result = {
        "ref": args.ref,
        "rounds": args.rounds,
        "records": records,
        "identical_output": True,
        "seconds": times,
        "time_ratio_new_over_ref": {k: 1.0 + change.as_dict()[k] for k in ("mean", "low", "high")},
        "time_change": change.as_dict() | {"verdict": change.verdict(lower_is_better=True)},
        "time_difference_s": paired_interval(times["new"], times["ref"]).as_dict(),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
