"""Scaling of the whole build loop through Dagster: time, memory and cores at 1x..8x corpus size.

The demo pipeline (``platform_assets/defs/demo/defs.yaml``) runs end to end (raw ->
extracted -> normalized -> language -> quality -> dedup index -> deduped -> redacted ->
tokenizer -> tokenized) exactly as ``python -m platform_assets.cli materialize`` runs it:
:func:`platform_assets.orchestrate.materialize_pipeline`: its runs go through the Dagster
instance's run queue (``platform_assets.run_queue``), partitions (sources) in parallel on
run worker processes sized by ``resources.parallelism``, every run recorded by the instance. Each scale runs in a
fresh child process with its own temporary sources (``write_demo_sources(tmp, scale=N)``),
storage root and SQLite Dagster instance, so nothing is cached between scales.

Measured per scale:

* wall time of the pipeline (sources are written before the clock starts), per MB of raw
  text and per document; a least-squares line ``seconds = fixed + slope * MB`` over all
  scales and the log-log exponent (1.0 = linear);
* peak memory of the whole process tree (the child and every process it spawned),
  sampled from ``/proc`` every ``--interval`` seconds: sum of RSS, sum of PSS (shared pages
  counted once) and the largest single process;
* CPU: core-seconds of the tree / wall = average cores busy, and the share of the run with
  at least 1.5 cores busy; the rest of the machine's load over the same interval (other
  users' work) is recorded too, since it slows the figures down;
* Dagster's overhead at ``--overhead-scale``: the sum of run durations from the instance
  (run start to run end) against the sum of stage compute seconds (the stage reports,
  the dedup index and the tokenizer), and the time spent outside any run (process
  start-up, imports, building definitions).

Shards hold at most ``--shard-docs`` documents (the spec's ``shard_docs``); that is what
bounds memory. Each process is single-threaded (POLARS_MAX_THREADS=1 and friends) so
every core in use comes from the platform's own parallelism, not from a library's pool.

    python benchmarks/bench_scaling.py [--scales 1,2,4,8] [--parallel 2] [--backend serial] [--quick]

Writes ``benchmarks/results/scaling.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results
from scaling_run import child_main, run_scale


def fit_line(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least-squares ``y = intercept + slope * x``, its r^2, and the log-log exponent."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mlx, mly = sum(lx) / n, sum(ly) / n
    slxx = sum((x - mlx) ** 2 for x in lx)
    exponent = sum((x - mlx) * (y - mly) for x, y in zip(lx, ly, strict=True)) / slxx if slxx else 0.0
    return {
        "slope": slope,
        "intercept": intercept,
        "r2": 1 - ss_res / ss_tot if ss_tot else 1.0,
        "loglog_exponent": exponent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,2,4,8", help="comma-separated corpus multipliers (default 1,2,4,8)")
    parser.add_argument("--quick", action="store_true", help="scales 1,2 only (overhead measured at 2x)")
    parser.add_argument(
        "--parallel", type=int, default=None, help="sources materialized at once (default: usable cores)"
    )
    parser.add_argument(
        "--backend", choices=["serial", "processes", "ray"], default="serial", help="shard backend inside a stage"
    )
    parser.add_argument("--workers", type=int, default=0, help="processes backend: pool size (0 = all cores)")
    parser.add_argument(
        "--shard-docs", type=int, default=100, help="documents per raw shard (bounds memory; default 100)"
    )
    parser.add_argument(
        "--overhead-scale", type=int, default=4, help="scale whose Dagster overhead is the headline (default 4)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="1 (default): single-threaded libraries in every process; 0: library defaults",
    )
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between process-tree samples")
    parser.add_argument(
        "--instance",
        choices=["disk", "tmpfs"],
        default="disk",
        help="where the temporary Dagster instance (SQLite) lives for the sweep (default: the temp dir on disk)",
    )
    parser.add_argument(
        "--no-tmpfs-overhead",
        action="store_true",
        help="skip the extra run at --overhead-scale with the instance on tmpfs (Dagster's CPU cost without fsync)",
    )
    parser.add_argument(
        "--postgres-url",
        help="also measure the overhead scale with the Dagster instance in PostgreSQL "
        "(a server URL, e.g. postgresql://dagster:dagster@127.0.0.1:5432/postgres; needs dagster-postgres)",
    )
    parser.add_argument("--postgres-db-url", help=argparse.SUPPRESS)
    parser.add_argument(
        "--results-name", default="scaling", help="write benchmarks/results/<name>.json (default scaling)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--instance-dir", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--sources", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    cores = len(os.sched_getaffinity(0))
    args.parallel = args.parallel or cores
    scales = [1, 2] if args.quick else [int(s) for s in args.scales.split(",")]
    overhead_scale = (
        args.overhead_scale
        if args.overhead_scale in scales
        else max(s for s in scales if s <= max(args.overhead_scale, min(scales)))
    )

    print(
        f"scaling: demo build loop at {', '.join(f'{s}x' for s in scales)}; {args.parallel} sources at once, "
        f"backend {args.backend}, shards of {args.shard_docs} documents, {cores} cores",
        flush=True,
    )
    log = lambda m: print(m, flush=True)  # noqa: E731
    results = [run_scale(s, args, log, args.instance) for s in scales]
    tmpfs_run = None
    if args.instance == "disk" and not args.no_tmpfs_overhead and Path("/dev/shm").is_dir():
        log(f"  {overhead_scale}x again with the Dagster instance on tmpfs (Dagster's own CPU cost, without fsync)")
        tmpfs_run = run_scale(overhead_scale, args, log, "tmpfs")

    postgres_run = None
    if args.postgres_url:
        log(f"  {overhead_scale}x again with the Dagster instance in PostgreSQL (a production-like instance)")
        postgres_run = run_scale(overhead_scale, args, log, "postgres")
    rows = [result_row(r) for r in results] + [result_row(r) for r in (tmpfs_run, postgres_run) if r]
    fit = fit_line([r["mb_in"] for r in results], [r["wall_s"] for r in results]) if len(results) >= 2 else {}
    # core-seconds of the process tree: what the work costs, barely moved by other users' load
    cpu_fit = (
        fit_line([r["mb_in"] for r in results], [r["tree"]["cpu_seconds"] for r in results])
        if len(results) >= 2
        else {}
    )
    peaks = [r["tree"].get("peak_rss_mb") or 0.0 for r in results]
    head = next(r for r in results if r["scale"] == overhead_scale)
    headline = {
        "seconds_per_mb_slope": fit.get("slope"),
        "fixed_seconds": fit.get("intercept"),
        "r2": fit.get("r2"),
        "loglog_exponent": fit.get("loglog_exponent"),
        "cpu_seconds_per_mb_slope": cpu_fit.get("slope"),
        "cpu_fixed_seconds": cpu_fit.get("intercept"),
        "cpu_r2": cpu_fit.get("r2"),
        "seconds_per_mb": {f"{r['scale']}x": r["wall_s"] / r["mb_in"] for r in results},
        "ms_per_doc": {f"{r['scale']}x": 1000 * r["wall_s"] / r["docs_in"] for r in results},
        "peak_rss_mb_max": max(peaks),
        "peak_rss_mb": {f"{r['scale']}x": r["tree"].get("peak_rss_mb") for r in results},
        "peak_pss_mb": {f"{r['scale']}x": r["tree"].get("peak_pss_mb") for r in results},
        "peak_rss_growth_largest_over_smallest": peaks[-1] / peaks[0] if peaks[0] else None,
        "avg_cores_busy": {f"{r['scale']}x": r["tree"].get("avg_cores_busy") for r in results},
        "share_time_ge_2_runnable": {f"{r['scale']}x": r["tree"].get("share_time_ge_2_runnable") for r in results},
        "cpu_seconds": {f"{r['scale']}x": r["tree"].get("cpu_seconds") for r in results},
        "overhead_scale": overhead_scale,
        "dagster_overhead_pct": head["overhead"]["in_runs_overhead_pct"],
        "dagster_overhead_pct_tmpfs": tmpfs_run["overhead"]["in_runs_overhead_pct"] if tmpfs_run else None,
        "dagster_overhead_pct_postgres": postgres_run["overhead"]["in_runs_overhead_pct"] if postgres_run else None,
        "outside_runs_pct_of_wall": head["overhead"]["outside_runs_pct_of_wall"],
        "sqlite_commit_ms": head["sqlite_commit_ms"],
        "max_other_load_cores": max(
            r["tree"].get("other_load_cores") or 0.0 for r in [*results, *([tmpfs_run] if tmpfs_run else [])]
        ),
    }
    config = {
        "scales": scales,
        "parallel": args.parallel,
        "backend": args.backend,
        "workers": args.workers,
        "shard_docs": args.shard_docs,
        "threads_per_process": args.threads,
        "interval_s": args.interval,
        "instance": args.instance,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    payload = {
        "acceptance": acceptance(results),
        "config": config,
        "headline": headline,
        "rows": rows,
        "scales": results,
        "tmpfs_overhead_run": tmpfs_run,
        "postgres_overhead_run": postgres_run,
    }
    path = write_results(args.results_name, payload)
    print()
    print_table(rows, title="build loop scaling (wall = pipeline only; memory = whole process tree)")
    print()
    print(
        f"line fit: wall = {fit.get('intercept', 0):.1f}s + {fit.get('slope', 0):.2f}s/MB * MB  "
        f"(r2 {fit.get('r2', 0):.3f}, log-log exponent {fit.get('loglog_exponent', 0):.2f})"
    )
    print(
        f"CPU fit:  core-seconds = {cpu_fit.get('intercept', 0):.1f} + {cpu_fit.get('slope', 0):.2f}/MB * MB  "
        f"(r2 {cpu_fit.get('r2', 0):.3f}; the work itself, independent of how much of the machine others used)"
    )
    for r in [head, *[x for x in (tmpfs_run, postgres_run) if x]]:
        o = r["overhead"]
        print(
            f"Dagster overhead at {r['scale']}x, instance on {r['instance']} ({r['sqlite_commit_ms']:.2f} ms/commit): "
            f"{o['runs']} runs, {o['events']} events, {o['run_s']:.1f}s in runs vs {o['compute_s']:.1f}s stage compute "
            f"-> {o['in_runs_overhead_pct']:.1f}% in Dagster machinery; {o['outside_runs_s']:.1f}s "
            f"({o['outside_runs_pct_of_wall']:.1f}% of wall) outside runs (worker start-up, imports, definitions)"
        )
    if headline["max_other_load_cores"] > 0.25:
        print(
            f"note: measured under load: other work on this machine used up to {headline['max_other_load_cores']:.2f} "
            f"of {cores} cores during the runs"
        )
    print(f"results: {path}")


def acceptance(results: list[dict[str, Any]]) -> dict[str, float | None]:
    """The acceptance figures: Dagster's share of run time at 4x and 8x (instance on disk), and the
    peak RSS of the process tree at 8x in GB; None for a scale not measured."""
    by_scale = {r["scale"]: r for r in results if r["instance"] == "disk"}

    def pct(scale: int) -> float | None:
        r = by_scale.get(scale)
        return r["overhead"]["in_runs_overhead_pct"] if r else None

    eight = by_scale.get(8)
    peak = eight["tree"].get("peak_rss_mb") if eight else None
    return {
        "dagster_overhead_pct_4x": pct(4),
        "dagster_overhead_pct_8x": pct(8),
        "peak_rss_gb_8x": peak / 1000 if peak is not None else None,
    }


def result_row(r: dict[str, Any]) -> dict[str, Any]:
    tree = r["tree"]
    return {
        "scale": f"{r['scale']}x" + (" tmpfs" if r["instance"] == "tmpfs" else ""),
        "docs": r["docs_in"],
        "MB in": r["mb_in"],
        "shards": r["shards_raw"],
        "wall s": r["wall_s"],
        "CPU s": tree.get("cpu_seconds"),
        "s/MB": r["wall_s"] / r["mb_in"],
        "ms/doc": 1000 * r["wall_s"] / r["docs_in"],
        "peak RSS MB": tree.get("peak_rss_mb"),
        "peak PSS MB": tree.get("peak_pss_mb"),
        "max proc MB": tree.get("peak_single_process_rss_mb"),
        "cores busy": tree.get("avg_cores_busy"),
        "runnable": tree.get("avg_runnable_processes"),
        ">=2 runnable": tree.get("share_time_ge_2_runnable"),
        "Dagster %": r["overhead"]["in_runs_overhead_pct"],
        "other load": tree.get("other_load_cores"),
    }


if __name__ == "__main__":
    main()
