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
* **incremental**: at 8x, a new source of 10% more text deduplicated against the stored index
  (delta key files), against a full re-dedup of the union, and against the same increment
  rewriting every touched partition's whole key file (compaction every time: the I/O of an
  index without deltas); ``--repeats`` rounds, the three in a rotating order, CPU seconds per
  phase of each (same survivors checked);
* **resume**: the four quality filters over one source, killed with SIGKILL after 5, 20 and 40
  of its shards, then re-run: how many finished shards are computed again;
* the two end-to-end figures are read from ``results/end_to_end.json`` (``bench_end_to_end.py``).

Writes ``benchmarks/results/scale_out.json`` (with the ``acceptance`` object and the capacity
model that ``docs/scale.md`` shows; ``python benchmarks/capacity.py`` renders it there).

    python benchmarks/bench_scale_out.py [--unit-mb 3] [--repeats 5] [--skip-ray] [--only ray|incremental]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capacity import capacity_model as capacity
from scale_out_parts import (
    KILL_POINTS as KILL_POINTS,
)
from scale_out_parts import (
    PROJECT_ROOT,
    SCALES,
    FreshProcessExecutor,
    _baseline_rss,
    _single_process_peak,
    dedup_spec,
    in_fresh_process,
    index_digest,
    ray_cluster,
    resume,
    tokenization,
    write_raw,
)
from scale_out_parts import tree_digest as tree_digest

PARTITIONS_PER_X = 2
PHASES = ("plan", "signatures", "buckets", "merge", "commit")
VARIANTS = ("deltas", "rewrite", "full")
NOTES = {
    "rss": "peak RSS (VmHWM) of each task in its own fresh process; task_baseline_rss is a process that only "
    "imports the task's modules. index_peak_rss_ratio_8x_vs_1x compares the largest index task at 8x with the "
    "largest at 1x, partitions scaled with the corpus",
    "timing": "CPU seconds of this process for the serial phases (the machine is shared: wall seconds stretch "
    "with its load)",
    "incremental": "incremental_time_fraction is the median over the rounds of (CPU s of the +10% increment "
    "with delta key files) / (CPU s of a full re-dedup of the union), both measured in the same round; "
    "fraction_min_max is its spread. rewrite_* is the same increment compacting every touched partition "
    "(reading and rewriting its whole key file), the I/O an index without delta files does",
}  # the increment with delta files, the increment rewriting key files, full


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


def _build(root: Path, sources: tuple[str, ...], variant: str, partitions: int) -> dict[str, Any]:
    """One index build over ``sources`` (the stored index of ``root`` grown, or a full build): its figures."""
    from corpus import dedup_build, runner
    from corpus.dedup_state import Compaction
    from corpus.io import CorpusStore
    from corpus.ops import registry

    op = "dedup_minhash@1"
    _, info = dedup_build.build_index(
        CorpusStore(root=str(root)),
        op,
        registry.get_operator(op).parse_config({}),
        {s: runner.stage_dir("so", "raw", s) for s in sources},
        runner.index_dir("so", "deduped"),
        partitions=partitions,
        incremental=variant != "full",
        compaction=Compaction(max_deltas=0) if variant == "rewrite" else Compaction(),
    )
    return info


def incremental(texts: list[str], work: Path, shard_docs: int, repeats: int) -> dict[str, Any]:
    from corpus import stats
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
    partitions = PARTITIONS_PER_X * 8
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    phases: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    infos: dict[str, dict[str, Any]] = {}
    same = True
    for r in range(repeats):
        root = work / f"inc{r}"
        shutil.copytree(raw, root)
        index = root / "so" / "deduped_index"
        _build(root, ("a", "b"), "full", partitions)  # the stored index of a, b
        shutil.copytree(index, work / "inc_base")
        digests = {}
        for variant in VARIANTS[r % 3 :] + VARIANTS[: r % 3]:  # rotate the order: no variant always runs first
            shutil.rmtree(index)
            if variant != "full":
                shutil.copytree(work / "inc_base", index)
            c0 = time.process_time()
            info = _build(root, ("a", "b", "c"), variant, partitions)
            cpu[variant].append(time.process_time() - c0)
            assert info["mode"] == ("full" if variant == "full" else "incremental"), info
            phases[variant].append({p: info[f"cpu_seconds_{p}"] for p in PHASES})
            infos[variant] = info
            digests[variant] = index_digest(root)
        same &= digests["deltas"] == digests["rewrite"] == digests["full"]
        shutil.rmtree(root)
        shutil.rmtree(work / "inc_base")
        print(
            f"  incremental {r + 1}/{repeats}: +10% source {cpu['deltas'][-1]:.2f} cpu s (rewriting key files "
            f"{cpu['rewrite'][-1]:.2f}), full re-dedup {cpu['full'][-1]:.2f} cpu s, "
            f"fraction {cpu['deltas'][-1] / cpu['full'][-1]:.3f}",
            flush=True,
        )
    ratios = [i / f for i, f in zip(cpu["deltas"], cpu["full"], strict=True)]
    rewrite_ratios = [i / f for i, f in zip(cpu["rewrite"], cpu["full"], strict=True)]
    ci = stats.mean_interval(ratios)
    keep = (
        "partitions_bucketed",
        "bucket_tasks",
        "partitions_compacted",
        "delta_files",
        "keys_looked_up",
        "keys_added",
        "links",
    )
    return {
        "new_mb": size / 1e6,
        "base_mb": sum(len(t.encode()) for t in base_texts) / 1e6,
        "partitions": partitions,
        "incremental_cpu_s": cpu["deltas"],
        "rewrite_cpu_s": cpu["rewrite"],
        "full_cpu_s": cpu["full"],
        "fraction_per_pair": ratios,
        "fraction_median": statistics.median(ratios),
        "fraction_min_max": [min(ratios), max(ratios)],
        "fraction_mean": ci.mean,
        "fraction_ci95": [ci.low, ci.high],
        "rewrite_fraction_per_pair": rewrite_ratios,
        "rewrite_fraction_median": statistics.median(rewrite_ratios),
        "median_cpu_s_per_phase": {
            v: {p: statistics.median(x[p] for x in phases[v]) for p in PHASES} for v in VARIANTS
        },
        "last_build": {v: {k: infos[v][k] for k in keep} for v in VARIANTS},
        "same_survivors_as_full": same,
    }


# --------------------------------------------------------------------------- main


def rerun(part: str, texts: list[str], args: argparse.Namespace) -> None:
    """One part again, merged into the existing results (the other parts' figures are kept as they were)."""
    from _common import RESULTS_DIR, write_results

    data = json.loads((RESULTS_DIR / "scale_out.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="bench_scale_out_"))
    try:
        if part == "ray":
            data["ray_cluster"] = ray_cluster(texts, work, 500)
            data["acceptance"]["ray_nodes"] = data["ray_cluster"]["nodes"]
        else:
            data["incremental"] = incremental(texts, work, args.shard_docs, args.repeats)
            data["acceptance"]["incremental_time_fraction"] = data["incremental"]["fraction_median"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data["acceptance"]["distributed_equals_serial"] = (
        all(r["equal_to_single_process"] for r in data["scaling"])
        and data["tokenization_processes_equal_serial"]
        and data["incremental"]["same_survivors_as_full"]
        and all(p["byte_identical"] for p in data["resume"]["points"])
        and (data.get("ray_cluster") or {}).get("identical", True)
    )
    data.setdefault("reruns", {})[part] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for key in ("benchmark", "measured_at", "machine"):
        data.pop(key, None)
    print(f"updated {write_results('scale_out', data)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit-mb", type=float, default=3.0, help="MB of text at 1x (default 3; 16x = 48 MB)")
    parser.add_argument("--shard-docs", type=int, default=1000, help="documents per raw shard (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="incremental rounds (default 5; at least 3)")
    parser.add_argument("--skip-ray", action="store_true", help="leave out the three-node Ray cluster")
    parser.add_argument(
        "--only",
        choices=("ray", "incremental"),
        help="re-run only this part and update it (and the acceptance) in the existing results",
    )
    parser.add_argument("--only-ray", action="store_true", help="the same as --only ray")
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
    if args.repeats < 3:
        parser.error("--repeats must be at least 3 (the fraction is reported as a median with its spread)")
    if args.only or args.only_ray:
        rerun(args.only or "ray", texts, args)
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
        "incremental_time_fraction": inc["fraction_median"],
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
            "notes": NOTES,
        },
    )


if __name__ == "__main__":
    main()
