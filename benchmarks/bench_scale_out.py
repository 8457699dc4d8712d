"""Scale-out: dedup as tasks from 1x to 16x, incremental dedup, resume after SIGKILL, a three-node Ray cluster.

Corpus: real documents of ``../shared/data`` with planted copies (``bench_dedup.build_corpus``)
of ``16 * --unit-mb`` MB, shuffled; the k-x corpus is its first k/16 (any prefix holds
originals and copies alike), split over two sources, written as raw shards of
``--shard-docs`` documents. What is measured:

* **scaling** (1x, 2x, 4x, 8x, 16x, bucket partitions scaled with the corpus: 2 per 1x):
  CPU and wall seconds of the signature, bucket and merge phases (serial, in this process);
  bytes shuffled (signature files); the peak RSS of every index task, each run in a fresh
  process (a pool with one task per child), against a process that only imports the same
  modules; and, for contrast, the peak RSS of the single-process operator at each scale;
* **equality**: the drop tables of the tasks (serial and fresh processes) against the
  single-process operator's, byte for byte; token shards of the task form on a process pool
  against serial; the whole build loop on a three-node Ray cluster against serial;
* **incremental**: at 8x, a new source of 10% more text deduplicated against the stored index,
  against a full re-dedup of the union (``--repeats`` pairs, alternating; same survivors checked);
* **resume**: the four quality filters over one source, killed with SIGKILL after 5, 20 and 40
  of its shards, then re-run: how many finished shards are computed again;
* the two end-to-end figures are read from ``results/end_to_end.json`` (``bench_end_to_end.py``).

Writes ``benchmarks/results/scale_out.json`` (with the ``acceptance`` object and the capacity
model that ``docs/scale.md`` shows; ``python benchmarks/capacity.py`` renders it there).

    python benchmarks/bench_scale_out.py [--unit-mb 3] [--repeats 3] [--skip-ray]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCALES = (1, 2, 4, 8, 16)
PARTITIONS_PER_X = 2
KILL_POINTS = (5, 20, 40)
PROJECT_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers


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
    """Every committed output under ``root``: manifests without timings, the shards they list, index files, tokenizer."""

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

    return di._peak_rss_bytes()


def _single_process_peak(root: str, sources: tuple[str, ...], shard_docs: int) -> dict[str, Any]:
    from corpus import runner
    from corpus.dedup_index import _peak_rss_bytes
    from corpus.io import CorpusStore

    t0, c0 = time.perf_counter(), time.process_time()
    runner.run_global_index_in_process(dedup_spec(sources, shard_docs), "deduped", CorpusStore(root=root))
    return {"peak_rss": _peak_rss_bytes(), "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


def in_fresh_process(fn: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --------------------------------------------------------------------------- parts


def scaling(texts: list[str], work: Path, shard_docs: int) -> tuple[list[dict[str, Any]], bool]:
    from corpus import runner
    from corpus.io import CorpusStore

    rows, equal = [], True
    baseline = in_fresh_process(_baseline_rss)
    for k in SCALES:
        part = texts[: len(texts) * k // SCALES[-1]]
        mb = sum(len(t.encode()) for t in part) / 1e6
        base = work / f"x{k}"
        write_raw(CorpusStore(root=str(base / "raw")), "so", part, shard_docs)
        spec = dedup_spec(("a", "b"), shard_docs)
        partitions = PARTITIONS_PER_X * k
        # 1. timing, serial in this process
        shutil.copytree(base / "raw", base / "serial")
        c0 = time.process_time()
        summary = runner.run_global_index(
            spec, "deduped", CorpusStore(root=str(base / "serial")), partitions=partitions
        )
        cpu = time.process_time() - c0
        info = summary["index"]
        # 2. memory: every task in a fresh process
        shutil.copytree(base / "raw", base / "fresh")
        fresh = runner.run_global_index(
            spec,
            "deduped",
            CorpusStore(root=str(base / "fresh")),
            partitions=partitions,
            executor=FreshProcessExecutor(),
        )["index"]
        # 3. the single-process operator, in a fresh process, for contrast and as the reference bytes
        shutil.copytree(base / "raw", base / "single")
        single = in_fresh_process(_single_process_peak, str(base / "single"), ("a", "b"), shard_docs)
        same = index_digest(base / "serial") == index_digest(base / "single") == index_digest(base / "fresh")
        equal &= same
        row = {
            "scale": k,
            "documents": summary["docs_in"],
            "mb": mb,
            "partitions": partitions,
            "shards": info["shards_signed"],
            "duplicates": summary["duplicates"],
            "cluster_members": info["cluster_members"],
            "cpu_s": cpu,
            "wall_s": summary["seconds"],
            "seconds_signatures": info["seconds_signatures"],
            "seconds_buckets": info["seconds_buckets"],
            "seconds_merge": info["seconds_merge"],
            "bytes_shuffled": info["bytes_shuffled"],
            "index_bytes": info["index_bytes_read"],
            "max_signature_task_rss": fresh["max_signature_task_rss"],
            "max_bucket_task_rss": fresh["max_bucket_task_rss"],
            "task_baseline_rss": baseline,
            "single_process_peak_rss": single["peak_rss"],
            "single_process_cpu_s": single["cpu_s"],
            "equal_to_single_process": same,
        }
        rows.append(row)
        print(
            f"  {k:>2}x: {mb:6.1f} MB {row['documents']:>7,} docs  P={partitions:<3} cpu {cpu:6.1f} s  "
            f"task rss max {max(row['max_signature_task_rss'], row['max_bucket_task_rss']) / 2**20:6.0f} MiB "
            f"(baseline {baseline / 2**20:.0f})  single-process {single['peak_rss'] / 2**20:6.0f} MiB  same={same}",
            flush=True,
        )
        for sub in ("serial", "fresh", "single"):
            shutil.rmtree(base / sub)
    return rows, equal


def incremental(texts: list[str], work: Path, shard_docs: int, repeats: int) -> dict[str, Any]:
    from corpus import runner, stats
    from corpus.io import CorpusStore

    n8 = len(texts) * 8 // SCALES[-1]
    base_texts = texts[:n8]
    target = sum(len(t.encode()) for t in base_texts) * 0.10
    new, size = [], 0
    for t in texts[n8:]:
        if size >= target:
            break
        new.append(t)
        size += len(t.encode())
    raw = work / "inc_raw"
    write_raw(CorpusStore(root=str(raw)), "so", base_texts, shard_docs)
    write_raw(CorpusStore(root=str(raw)), "so", new, shard_docs, sources=("c",), offset=10**9)
    old_spec, union = dedup_spec(("a", "b"), shard_docs), dedup_spec(("a", "b", "c"), shard_docs)
    partitions = PARTITIONS_PER_X * 8
    full_s, inc_s, same = [], [], True
    for r in range(repeats):
        root = work / f"inc{r}"
        shutil.copytree(raw, root)
        store = CorpusStore(root=str(root))
        runner.run_global_index(old_spec, "deduped", store, partitions=partitions)  # the stored index of a, b
        c0 = time.process_time()
        grown = runner.run_global_index(union, "deduped", store)
        inc_s.append(time.process_time() - c0)
        assert grown["index"]["mode"] == "incremental"
        grown_digest = index_digest(root)
        shutil.rmtree(root / "so" / "deduped_index")
        c0 = time.process_time()
        runner.run_global_index(union, "deduped", store, partitions=partitions)
        full_s.append(time.process_time() - c0)
        same &= grown_digest == index_digest(root)
        shutil.rmtree(root)
        print(
            f"  incremental {r + 1}/{repeats}: +10% source {inc_s[-1]:.2f} cpu s, full re-dedup {full_s[-1]:.2f} cpu s",
            flush=True,
        )
    ratios = [i / f for i, f in zip(inc_s, full_s)]
    ci = stats.mean_interval(ratios)
    mean, lo, hi = ci.mean, ci.low, ci.high
    return {
        "new_mb": size / 1e6,
        "base_mb": sum(len(t.encode()) for t in base_texts) / 1e6,
        "incremental_cpu_s": inc_s,
        "full_cpu_s": full_s,
        "fraction_per_pair": ratios,
        "fraction_mean": mean,
        "fraction_ci95": [lo, hi],
        "same_survivors_as_full": same,
    }


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
            f"of which {points[-1]['recomputed']} were finished before the kill; identical={points[-1]['byte_identical']}",
            flush=True,
        )
    return {"shards": shards_total, "points": points}


def _run_and_kill(spec_file: Path, root: Path, after: int) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--victim", str(spec_file), str(root)], env=env, stdout=subprocess.PIPE
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
        f"  ray: {nodes} nodes, tasks on nodes {used}; serial {serial_s:.0f} s, cluster {ray_s:.0f} s; identical={same}",
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


# --------------------------------------------------------------------------- the capacity model


def capacity(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Least-squares slopes over the scales, and what they predict for 1B documents / 10 TB."""
    import numpy as np

    docs = np.array([r["documents"] for r in rows], dtype=float)
    mb = np.array([r["mb"] for r in rows], dtype=float)

    def slope(y: list[float], x: np.ndarray) -> float:
        return float(np.polyfit(x, np.array(y, dtype=float), 1)[0])

    sig_s_per_mb = slope([r["seconds_signatures"] for r in rows], mb)
    bucket_s_per_doc = slope([r["seconds_buckets"] for r in rows], docs)
    merge_s_per_member = slope(
        [r["seconds_merge"] for r in rows], np.array([r["cluster_members"] for r in rows], dtype=float)
    )
    shuffle_b_per_doc = slope([r["bytes_shuffled"] for r in rows], docs)
    index_b_per_doc = slope([r["index_bytes"] for r in rows], docs)
    single_rss_per_doc = slope([r["single_process_peak_rss"] for r in rows], docs)
    members_per_doc = slope([r["cluster_members"] for r in rows], docs)
    docs_per_partition = float(np.mean(docs / np.array([r["partitions"] for r in rows])))
    task_rss = max(max(r["max_signature_task_rss"], r["max_bucket_task_rss"]) for r in rows)
    bytes_per_doc = float(np.mean(mb * 1e6 / docs))
    target_docs, target_tb = 1e9, 10.0
    doc_for_tb = target_tb * 1e12 / bytes_per_doc
    cores = [8, 64, 512]

    def hours(n_docs: float, n_mb: float, n_cores: int) -> float:
        parallel = sig_s_per_mb * n_mb + bucket_s_per_doc * n_docs  # signatures and buckets spread over the cores
        serial = merge_s_per_member * members_per_doc * n_docs  # the merge is one task
        return (parallel / n_cores + serial) / 3600

    return {
        "slopes": {
            "signature_s_per_mb": sig_s_per_mb,
            "bucket_s_per_doc": bucket_s_per_doc,
            "merge_s_per_cluster_member": merge_s_per_member,
            "bytes_shuffled_per_doc": shuffle_b_per_doc,
            "index_bytes_per_doc": index_b_per_doc,
            "single_process_rss_per_doc": single_rss_per_doc,
            "cluster_members_per_doc": members_per_doc,
            "text_bytes_per_doc": bytes_per_doc,
        },
        "measured": {"docs_per_partition": docs_per_partition, "max_task_rss": task_rss},
        "predictions": [
            {
                "target": label,
                "documents": n_docs,
                "tb": n_docs * bytes_per_doc / 1e12,
                "cores": c,
                "hours": hours(n_docs, n_docs * bytes_per_doc / 1e6, c),
                "partitions": int(np.ceil(n_docs / docs_per_partition)),
                "bytes_shuffled_tb": shuffle_b_per_doc * n_docs / 1e12,
                "merge_members": members_per_doc * n_docs,
                "single_process_index_gb": single_rss_per_doc * n_docs / 1e9,
            }
            for label, n_docs in (("1B documents", target_docs), ("10 TB of text", doc_for_tb))
            for c in cores
        ],
    }


# --------------------------------------------------------------------------- main


def rerun_ray(texts: list[str]) -> None:
    """The Ray part again, merged into the existing results (the other parts' equality flags are kept)."""
    from _common import RESULTS_DIR, write_results

    data = json.loads((RESULTS_DIR / "scale_out.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="bench_scale_out_"))
    try:
        ray = ray_cluster(texts, work, 500)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    others = (
        all(r["equal_to_single_process"] for r in data["scaling"])
        and data["tokenization_processes_equal_serial"]
        and data["incremental"]["same_survivors_as_full"]
        and all(p["byte_identical"] for p in data["resume"]["points"])
    )
    data["ray_cluster"] = ray
    data["acceptance"]["ray_nodes"] = ray["nodes"]
    data["acceptance"]["distributed_equals_serial"] = others and ray["identical"]
    data["ray_rerun_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for key in ("benchmark", "measured_at", "machine"):
        data.pop(key, None)
    body = write_results("scale_out", data)
    print(f"updated {body}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit-mb", type=float, default=3.0, help="MB of text at 1x (default 3; 16x = 48 MB)")
    parser.add_argument("--shard-docs", type=int, default=1000, help="documents per raw shard (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="incremental / full pairs (default 3)")
    parser.add_argument("--skip-ray", action="store_true", help="leave out the three-node Ray cluster")
    parser.add_argument(
        "--only-ray",
        action="store_true",
        help="re-run only the three-node Ray part and update it (and the acceptance) in the existing results",
    )
    parser.add_argument("--victim", nargs=2, metavar=("SPEC", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.victim:
        from corpus import runner
        from corpus.io import CorpusStore
        from corpus.spec import PipelineSpec

        spec = PipelineSpec.model_validate_json(Path(args.victim[0]).read_text())
        print("started", flush=True)
        runner.run_stage(spec, "quality", "a", CorpusStore(root=args.victim[1]))
        return

    from _common import print_table, write_results
    from bench_dedup import build_corpus

    texts, _ = build_corpus(args.unit_mb * SCALES[-1], seed=0)
    if args.only_ray:
        rerun_ray(texts)
        return
    work = Path(tempfile.mkdtemp(prefix="bench_scale_out_"))
    t_all = time.perf_counter()
    try:
        print(f"corpus: {len(texts):,} documents at 16x", flush=True)
        rows, dedup_equal = scaling(texts, work, args.shard_docs)
        inc = incremental(texts, work, args.shard_docs, args.repeats)
        res = resume(texts, work)
        tok_equal = tokenization(texts, work, args.shard_docs)
        ray = None if args.skip_ray else ray_cluster(texts, work, 500)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    by_scale = {r["scale"]: r for r in rows}
    task_peak = {k: max(r["max_signature_task_rss"], r["max_bucket_task_rss"]) for k, r in by_scale.items()}
    e2e_path = Path(__file__).resolve().parent / "results" / "end_to_end.json"
    e2e = json.loads(e2e_path.read_text()) if e2e_path.exists() else None
    equal = (
        dedup_equal and tok_equal and inc["same_survivors_as_full"] and all(p["byte_identical"] for p in res["points"])
    )
    if ray is not None:
        equal = equal and ray["identical"]
    acceptance = {
        "ray_nodes": ray["nodes"] if ray else None,
        "distributed_equals_serial": equal,
        "index_peak_rss_ratio_8x_vs_1x": task_peak[8] / task_peak[1],
        "incremental_time_fraction": inc["fraction_mean"],
        "resume_recomputed_shards": max(p["recomputed"] for p in res["points"]),
        "end_to_end_speedup_vs_datatrove": e2e["speedup_mb_per_s_per_core"] if e2e else None,
        "end_to_end_mb_per_s_per_core": e2e["ours"]["mb_per_s_per_core"] if e2e else None,
    }
    model = capacity(rows)
    print_table(
        [
            {k: r[k] for k in ("scale", "documents", "mb", "partitions", "cpu_s", "bytes_shuffled", "cluster_members")}
            | {"task MiB": task_peak[r["scale"]] / 2**20, "single-process MiB": r["single_process_peak_rss"] / 2**20}
            for r in rows
        ],
        title="\ndedup as tasks, 1x..16x",
    )
    print_table([{"key": k, "value": v} for k, v in acceptance.items()], title="\nacceptance")
    write_results(
        "scale_out",
        {
            "acceptance": acceptance,
            "scaling": rows,
            "incremental": inc,
            "resume": res,
            "tokenization_processes_equal_serial": tok_equal,
            "ray_cluster": ray,
            "capacity_model": model,
            "end_to_end_source": str(e2e_path.relative_to(PROJECT_ROOT)) if e2e else None,
            "seconds": time.perf_counter() - t_all,
            "notes": {
                "rss": "peak RSS (ru_maxrss) of each task in its own fresh process; task_baseline_rss is a process that only imports "
                "the task's modules. index_peak_rss_ratio_8x_vs_1x compares the largest index task at 8x with the largest at 1x, "
                "partitions scaled with the corpus",
                "timing": "CPU seconds of this process for the serial phases (the machine is shared: wall seconds stretch with its load)",
            },
        },
    )


if __name__ == "__main__":
    main()
