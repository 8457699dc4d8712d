"""The parts of ``bench_scale_out.py`` besides scaling and incremental dedup: corpus helpers, resume after
SIGKILL, tokenization on a process pool, and the three-node Ray cluster."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

SCALES = (1, 2, 4, 8, 16)
KILL_POINTS = (5, 20, 40)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().with_name("bench_scale_out.py")  # runs the resume victim (``--victim``)


def write_raw(
    store: Any, pipeline: str, texts: list[str], shard_docs: int, sources: tuple[str, ...] = ("a", "b"), offset: int = 0
) -> None:
    """Raw partitions written directly (id, text, source), one list per source by alternation."""
    import polars as pl

    from corpus import runner, schema

    for k, source in enumerate(sources):
        mine = texts[k :: len(sources)]
        writer = store.partition_writer(runner.stage_dir(pipeline, "raw", source))
        for i in range(0, len(mine), shard_docs):
            chunk = mine[i : i + shard_docs]
            ids = [hashlib.sha256(f"{source}/{offset + i + j}".encode()).hexdigest()[:32] for j in range(len(chunk))]
            writer.write_shard(
                i // shard_docs,
                schema.conform(pl.DataFrame({schema.ID: ids, schema.TEXT: chunk, schema.SOURCE: source})),
            )
        writer.commit()


def dedup_spec(sources: tuple[str, ...], shard_docs: int, stages: list[dict[str, Any]] | None = None) -> Any:
    from corpus.spec import parse_spec

    return parse_spec(
        {
            "pipeline": "so",
            "shard_docs": shard_docs,
            "sources": [{"name": s, "location": f"/nonexistent/{s}", "format": "jsonl"} for s in sources],
            "stages": stages if stages is not None else [{"name": "deduped", "op": "dedup_minhash@1"}],
            "tokenizer": {"vocab_size": 1024, "sample_docs": 500},
        }
    )


def index_digest(root: Path) -> dict[str, str]:
    folder = root / "so" / "deduped_index"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def tree_digest(root: Path) -> dict[str, str]:
    """Every committed output under ``root``: manifests without timings, their shards, index files, tokenizer."""

    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k != "seconds"}
        return [strip(v) for v in obj] if isinstance(obj, list) else obj

    out = {}
    for manifest in sorted(root.rglob("_manifest.json")):
        doc = json.loads(manifest.read_text())
        out[str(manifest.relative_to(root))] = hashlib.sha256(
            json.dumps(strip(doc), sort_keys=True).encode()
        ).hexdigest()
        for s in doc["shards"]:
            out[str((manifest.parent / s["name"]).relative_to(root))] = hashlib.sha256(
                (manifest.parent / s["name"]).read_bytes()
            ).hexdigest()
    for p in sorted(root.rglob("*")):
        if p.is_file() and (p.parent.name.endswith("_index") or p.parent.name == "tokenizer"):
            data = p.read_bytes()
            if p.suffix == ".json":
                data = json.dumps(strip(json.loads(data)), sort_keys=True).encode()
            out[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


class FreshProcessExecutor:
    """Every task in a new process (one at a time): its peak RSS is its own."""

    name = "fresh-processes"

    def map(self, fn: Any, tasks: list[tuple[Any, ...]]) -> Any:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
            for t in tasks:
                yield pool.submit(fn, *t).result()


def _baseline_rss() -> int:
    import corpus.dedup_index as di  # the imports of a task, nothing else

    return di.peak_rss_bytes()


def _single_process_peak(root: str, sources: tuple[str, ...], shard_docs: int) -> dict[str, Any]:
    from corpus import runner
    from corpus.dedup_index import peak_rss_bytes
    from corpus.io import CorpusStore

    t0, c0 = time.perf_counter(), time.process_time()
    runner.run_global_index_in_process(dedup_spec(sources, shard_docs), "deduped", CorpusStore(root=root))
    return {"peak_rss": peak_rss_bytes(), "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


def in_fresh_process(fn: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def resume(texts: list[str], work: Path) -> dict[str, Any]:
    from corpus import runner
    from corpus.io import CorpusStore

    part = texts[: len(texts) * 2 // SCALES[-1]]
    shard_docs = max(10, len(part) // 60)  # about 60 shards, whatever the size
    stages = [
        {
            "name": "quality",
            "steps": [
                {"op": "gopher_repetition@1"},
                {"op": "gopher_quality@1"},
                {"op": "c4_quality@1"},
                {"op": "fineweb_quality@1"},
            ],
        }
    ]
    spec = dedup_spec(("a",), shard_docs, stages)
    raw = work / "resume_raw"
    write_raw(CorpusStore(root=str(raw)), "so", part, shard_docs, sources=("a",))
    shutil.copytree(raw, work / "resume_ref")
    runner.run_stage(spec, "quality", "a", CorpusStore(root=str(work / "resume_ref")))
    expected = tree_digest(work / "resume_ref")
    spec_file = work / "resume_spec.json"
    spec_file.write_text(spec.model_dump_json())
    shards_total = len(list((raw / "so" / "raw" / "a").glob("part-*.parquet")))
    points = []
    for after in KILL_POINTS:
        root = work / f"resume{after}"
        shutil.copytree(raw, root)
        written = _run_and_kill(spec_file, root, after)
        t0 = time.time_ns()
        runner.run_stage(spec, "quality", "a", CorpusStore(root=str(root)))
        rewritten = {
            p.name for p in (root / "so" / "quality" / "a").glob("part-*.parquet") if p.stat().st_mtime_ns >= t0
        }
        points.append(
            {
                "killed_after_shards": len(written),
                "recomputed": len(rewritten & written),
                "computed_in_rerun": len(rewritten),
                "byte_identical": tree_digest(root) == expected,
            }
        )
        shutil.rmtree(root)
        print(
            f"  resume: killed after {len(written)} of {shards_total} shards; re-run computed {len(rewritten)}, "
            f"of which {points[-1]['recomputed']} were finished before the kill; "
            f"identical={points[-1]['byte_identical']}",
            flush=True,
        )
    return {"shards": shards_total, "points": points}


def _run_and_kill(spec_file: Path, root: Path, after: int) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(BENCH), "--victim", str(spec_file), str(root)], env=env, stdout=subprocess.PIPE
    )
    folder = root / "so" / "quality" / "a"
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"started"
        since = time.time_ns()

        def written() -> set[str]:
            out = set()
            for p in folder.glob("part-*.parquet") if folder.exists() else []:
                try:
                    if p.stat().st_mtime_ns >= since:
                        out.add(p.name)
                except FileNotFoundError:
                    pass
            return out

        while len(written()) < after:
            if proc.poll() is not None:
                raise RuntimeError(f"the victim finished before {after} shards")
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return written()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def ray_cluster(texts: list[str], work: Path, shard_docs: int) -> dict[str, Any]:
    from resources.ray_local import LocalRayCluster

    src = work / "ray_src"
    part = texts[: len(texts) // SCALES[-1]]
    for k, s in enumerate(("a", "b")):
        (src / s).mkdir(parents=True)
        with open(src / s / "docs.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in part[k::2])
    from corpus.spec import parse_spec

    spec = parse_spec(
        {
            "pipeline": "rc",
            "shard_docs": shard_docs,
            "sources": [{"name": s, "location": str(src / s), "format": "jsonl"} for s in ("a", "b")],
            "stages": [{"name": "quality", "op": "gopher_quality@1"}, {"name": "deduped", "op": "dedup_minhash@1"}],
            "tokenizer": {"vocab_size": 1024, "sample_docs": 500},
        }
    )
    spec_file = work / "ray_spec.json"
    spec_file.write_text(spec.model_dump_json())

    def build(root: Path, env: dict[str, str]) -> float:
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tests.reliability.crash_worker", str(spec_file), str(root)],
            check=False,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env},
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if done.returncode != 0:
            raise RuntimeError(f"build failed: {done.stderr[-2000:]}")
        return time.perf_counter() - t0

    serial_s = build(work / "ray_serial", {"CORPUS_COMPUTE_BACKEND": "serial"})
    with LocalRayCluster(workers=2, cpus_per_node=1, base_port=36_700) as cluster:
        nodes = cluster.alive_nodes()
        ray_s = build(work / "ray_cluster", {"CORPUS_COMPUTE_BACKEND": "ray", **cluster.client_env()})
        used = sorted(cluster.nodes_that_ran_tasks())
    same = tree_digest(work / "ray_serial") == tree_digest(work / "ray_cluster")
    print(
        f"  ray: {nodes} nodes, tasks on nodes {used}; serial {serial_s:.0f} s, cluster {ray_s:.0f} s; "
        f"identical={same}",
        flush=True,
    )
    return {
        "nodes": nodes,
        "nodes_that_ran_tasks": used,
        "serial_s": serial_s,
        "cluster_s": ray_s,
        "identical": same,
        "files_compared": len(tree_digest(work / "ray_serial")),
    }


def tokenization(texts: list[str], work: Path, shard_docs: int) -> bool:
    from corpus import runner
    from corpus.io import CorpusStore
    from resources.compute import ComputeEngine

    spec = dedup_spec(("a", "b"), shard_docs, stages=[])
    raw = work / "tok_raw"
    write_raw(CorpusStore(root=str(raw)), "so", texts[: len(texts) // SCALES[-1]], shard_docs)
    runner.run_tokenizer(spec, CorpusStore(root=str(raw)))
    digests = []
    for name, engine in (
        ("serial", ComputeEngine(backend="serial")),
        ("processes", ComputeEngine(backend="processes", workers=2)),
    ):
        shutil.copytree(raw, work / f"tok_{name}")
        for s in spec.source_names:
            runner.run_tokenized(spec, s, CorpusStore(root=str(work / f"tok_{name}")), executor=engine.executor())
        digests.append(tree_digest(work / f"tok_{name}"))
    return digests[0] == digests[1]
