"""The whole text pipeline, ours through Dagster against datatrove's LocalPipelineExecutor, one core each.

Same input, same steps on both sides: read JSONL, the four quality filters (Gopher repetition,
Gopher quality, C4, FineWeb), MinHash dedup (word 5-grams, 14 bands x 8), tokenization into
token shards with one tokenizer file made locally (a byte-level BPE trained here on a sample).

Corpus: the real documents of ``../shared/data`` with planted exact and near copies up to
``--mb`` MB (``bench_dedup.build_corpus``), written as JSONL files with ``id`` and ``text``.

* datatrove 0.10.1: ``JsonlReader -> 4 filters -> JsonlWriter``; ``JsonlReader ->
  MinhashDedupSignature``; ``MinhashDedupBuckets`` (14 tasks, one after another);
  ``MinhashDedupCluster``; ``JsonlReader -> MinhashDedupFilter -> DocumentTokenizer``. Every
  executor has ``tasks=1`` (buckets: one per band) and ``workers=1``.
* ours: a pipeline spec with a ``quality`` stage (the four operators) and a ``deduped`` stage
  (``dedup_minhash@1``), tokenizer ``kind: file`` (the same file), materialized with
  ``platform_assets.orchestrate.materialize_pipeline`` through a SQLite Dagster instance on
  disk, serial compute backend, one process.

The process is pinned to one core first, so MB/s is per core. Each side's wall and CPU
seconds; ours also per stage (each stage's own seconds from its report; the rest is Dagster
and orchestration). Ours runs twice per repeat: with the Dagster instance (SQLite) on disk, as
``make demo`` has it, and on tmpfs (``/dev/shm``), which shows the share of the instance's
commits. The headline figures are the on-disk run's wall seconds. Runs alternate.

    python benchmarks/bench_end_to_end.py [--mb 50] [--repeats 1]

Writes ``benchmarks/results/end_to_end.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pin_to_one_core

pin_to_one_core()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# after the pinning, so that the thread pools these modules start see one core
from _common import print_table, timed, utf8_bytes, write_results  # noqa: E402
from bench_dedup import _patch_datatrove_xxhash, build_corpus  # noqa: E402

FILES = 8
SHARD_DOCS = 5000
VOCAB = 4096


def write_corpus(texts: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(texts) // FILES)
    for f in range(FILES):
        with open(folder / f"part-{f:02d}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(
                json.dumps({"id": str(i), "text": texts[i]}, ensure_ascii=False) + "\n"
                for i in range(f * per, min(len(texts), (f + 1) * per))
            )


def make_tokenizer(texts: list[str], path: Path) -> None:
    from corpus import tokenize

    tok = tokenize.train_bpe(texts[:: max(1, len(texts) // 2000)], VOCAB)
    path.write_text(tok.to_str(), encoding="utf-8")


# --------------------------------------------------------------------------- datatrove


def run_datatrove(src: Path, tokenizer: Path, work: Path) -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter

    _patch_datatrove_xxhash()
    config = MinhashConfig()
    logs = work / "logs"
    stages = {
        "read+filters+write": LocalPipelineExecutor(
            [
                JsonlReader(str(src)),
                GopherRepetitionFilter(),
                GopherQualityFilter(),
                C4QualityFilter(),
                FineWebQualityFilter(),
                JsonlWriter(str(work / "filtered"), compression=None),
            ],
            tasks=1,
            workers=1,
            logging_dir=str(logs / "filter"),
        ),
        "minhash signatures": LocalPipelineExecutor(
            [
                JsonlReader(str(work / "filtered")),
                MinhashDedupSignature(output_folder=str(work / "sigs"), config=config),
            ],
            tasks=1,
            workers=1,
            logging_dir=str(logs / "sigs"),
        ),
        "minhash buckets": LocalPipelineExecutor(
            [MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=config)],
            tasks=config.num_buckets,
            workers=1,
            logging_dir=str(logs / "buckets"),
        ),
        "minhash cluster": LocalPipelineExecutor(
            [
                MinhashDedupCluster(
                    input_folder=str(work / "buckets"), output_folder=str(work / "remove"), config=config
                )
            ],
            tasks=1,
            workers=1,
            logging_dir=str(logs / "cluster"),
        ),
        "read+dedup filter+tokenize": LocalPipelineExecutor(
            [
                JsonlReader(str(work / "filtered")),
                MinhashDedupFilter(input_folder=str(work / "remove")),
                DocumentTokenizer(
                    output_folder=str(work / "tokens"), tokenizer_name_or_path=str(tokenizer), eos_token="<|endoftext|>"
                ),
            ],
            tasks=1,
            workers=1,
            logging_dir=str(logs / "tokens"),
        ),
    }
    per_stage: dict[str, float] = {}
    cpu = 0.0
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, executor in stages.items():
            timing, _ = timed(executor.run)
            per_stage[name] = timing.wall
            cpu += timing.cpu
            print(f"    datatrove {name}: {timing.wall:.1f} s", flush=True)
    kept = sum(f.read_bytes().count(b"\n") for f in (work / "filtered").glob("*.jsonl"))
    removed = sum(f.stat().st_size // 4 for f in (work / "remove").glob("*.remove"))
    tokens = sum(f.stat().st_size // 2 for f in (work / "tokens").rglob("*.ds"))
    return {
        "wall_s": sum(per_stage.values()),
        "cpu_s": cpu,
        "per_stage_s": per_stage,
        "docs_after_filters": kept,
        "docs_after_dedup": kept - removed,
        "tokens": tokens,
    }


# --------------------------------------------------------------------------- ours


def run_ours(src: Path, tokenizer: Path, work: Path, instance_dir: Path | None = None) -> dict[str, Any]:
    os.environ.setdefault("CORPUS_LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message=r".*is currently in (preview|beta)")
    import dagster as dg

    from corpus import runner
    from corpus.spec import parse_spec
    from platform_assets.orchestrate import materialize_pipeline
    from platform_assets.resources import default_resources
    from resources.compute import ComputeEngine
    from resources.storage import CorpusStorage

    spec = parse_spec(
        {
            "pipeline": "e2e",
            "shard_docs": SHARD_DOCS,
            "sources": [{"name": "web", "location": str(src), "format": "jsonl"}],
            "stages": [
                {
                    "name": "quality",
                    "steps": [
                        {"op": "gopher_repetition@1"},
                        {"op": "gopher_quality@1"},
                        {"op": "c4_quality@1"},
                        {"op": "fineweb_quality@1"},
                    ],
                },
                {"name": "deduped", "op": "dedup_minhash@1"},
            ],
            "tokenizer": {"kind": "file", "path": str(tokenizer)},
        }
    )
    home = (instance_dir or work) / "dagster_home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    resources = default_resources()
    resources["storage"] = CorpusStorage(root=str(work / "store"))
    resources["compute"] = ComputeEngine(backend="serial")
    timing, segments = timed(
        lambda: materialize_pipeline(
            spec, resources=resources, instance=dg.DagsterInstance.get(), parallel=1, progress=lambda _: None
        )
    )
    store = resources["storage"].store()
    stage_s = {
        name: runner.read_report(store, "e2e", name, "web").seconds
        for name in ("raw", "quality", "deduped", "tokenized")
    }
    stage_s["deduped_index"] = store.read_json(f"{runner.index_dir('e2e', 'deduped')}/{runner.INDEX_SUMMARY}")[
        "seconds"
    ]
    tokenized = runner.read_report(store, "e2e", "tokenized", "web")
    per_stage = {
        "read (raw)": stage_s["raw"],
        "quality filters": stage_s["quality"],
        "dedup index": stage_s["deduped_index"],
        "dedup apply": stage_s["deduped"],
        "tokenize": stage_s["tokenized"],
    }
    per_stage["dagster + orchestration"] = timing.wall - sum(per_stage.values())
    return {
        "wall_s": timing.wall,
        "cpu_s": timing.cpu,
        "per_stage_s": per_stage,
        "segments_s": segments,
        "docs_after_filters": runner.read_report(store, "e2e", "quality", "web").kept,
        "docs_after_dedup": tokenized.docs_in,
        "tokens": tokenized.extra["tokens_train"] + tokenized.extra["tokens_val"],
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="MB of text (default 50)")
    parser.add_argument("--repeats", type=int, default=1, help="ours / datatrove runs, alternating (default 1)")
    args = parser.parse_args()

    texts, _ = build_corpus(args.mb)
    mb = utf8_bytes(texts) / 1e6
    print(
        f"corpus: {len(texts):,} documents, {mb:.1f} MB; one core (affinity {sorted(os.sched_getaffinity(0))})",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench_e2e_"))
    try:
        write_corpus(texts, tmp / "src")
        make_tokenizer(texts, tmp / "tokenizer.json")
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "ours_instance_on_tmpfs": [], "datatrove": []}
        shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp

        def ours_tmpfs(src: Path, tok: Path, work: Path) -> dict[str, Any]:
            try:
                return run_ours(src, tok, work, instance_dir=shm / f"bench_e2e_{os.getpid()}")
            finally:
                shutil.rmtree(shm / f"bench_e2e_{os.getpid()}", ignore_errors=True)

        for r in range(args.repeats):
            for name, fn in (("ours", run_ours), ("datatrove", run_datatrove), ("ours_instance_on_tmpfs", ours_tmpfs)):
                work = tmp / f"{name}{r}"
                work.mkdir()
                print(f"  run {r + 1}/{args.repeats}: {name} ...", flush=True)
                t0 = time.perf_counter()
                runs[name].append(fn(tmp / "src", tmp / "tokenizer.json", work))
                print(f"  run {r + 1}/{args.repeats}: {name} {time.perf_counter() - t0:.1f} s", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def summary(name: str) -> dict[str, Any]:
        walls = [r["wall_s"] for r in runs[name]]
        best = runs[name][walls.index(statistics.median_low(walls))]
        return {
            **best,
            "wall_s_runs": walls,
            "mb_per_s_per_core": mb / best["wall_s"],
            "mb_per_cpu_s": mb / best["cpu_s"],
        }

    ours, theirs, ours_tmpfs_run = summary("ours"), summary("datatrove"), summary("ours_instance_on_tmpfs")
    speedup = ours["mb_per_s_per_core"] / theirs["mb_per_s_per_core"]
    rows = [
        {
            "engine": n,
            "wall s": s["wall_s"],
            "cpu s": s["cpu_s"],
            "MB/s per core": s["mb_per_s_per_core"],
            "kept after filters": s["docs_after_filters"],
            "after dedup": s["docs_after_dedup"],
            "tokens": s["tokens"],
        }
        for n, s in (
            ("ours (Dagster, instance on disk)", ours),
            ("ours (instance on tmpfs)", ours_tmpfs_run),
            ("datatrove", theirs),
        )
    ]
    print_table(rows, title=f"\nend to end on {mb:.1f} MB, one core: ours / datatrove = {speedup:.2f}x")
    print_table(
        [{"stage": k, "seconds": v, "share": v / ours["wall_s"]} for k, v in ours["per_stage_s"].items()],
        title="\nours, where the time goes",
    )
    write_results(
        "end_to_end",
        {
            "corpus": {"documents": len(texts), "mb": mb, "files": FILES},
            "ours": ours,
            "ours_instance_on_tmpfs": ours_tmpfs_run,
            "datatrove": theirs,
            "speedup_mb_per_s_per_core": speedup,
            "speedup_mb_per_cpu_s": ours["mb_per_cpu_s"] / theirs["mb_per_cpu_s"],
            "speedup_instance_on_tmpfs": ours_tmpfs_run["mb_per_s_per_core"] / theirs["mb_per_s_per_core"],
            "note": "ours' C4 filter drops the documents its rules flag; datatrove's C4QualityFilter removes lines "
            "and keeps more documents, so the kept counts differ after the filters",
            "repeats": args.repeats,
            "timing": "one core (sched_setaffinity), wall seconds; median-low run of --repeats when > 1, "
            "runs alternate",
        },
    )


if __name__ == "__main__":
    main()
