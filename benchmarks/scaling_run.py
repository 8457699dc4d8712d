"""One scale of ``bench_scaling``: the child process that runs the build loop, and the parent
side that writes the sources, starts the child, samples its process tree and reads back its
figures (wall time, stage compute, the instance's runs, Dagster's overhead)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import PROJECT_ROOT
from proc_tree import TreeSampler, summarize_samples

DEMO_SPEC = PROJECT_ROOT / "platform_assets" / "defs" / "demo" / "defs.yaml"
BENCH = Path(__file__).resolve().parent / "bench_scaling.py"
THREAD_ENV = {
    "POLARS_MAX_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def child_main(args: argparse.Namespace) -> None:
    """Materialize the demo build loop on ``args.sources`` through Dagster; write figures as JSON."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("CORPUS_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(PROJECT_ROOT))
    import warnings

    warnings.filterwarnings("ignore", message=r".*is currently in (preview|beta)")
    import dagster as dg

    from corpus import runner
    from corpus.spec import PathPolicy, load_spec_file, validate_spec
    from platform_assets.orchestrate import materialize_pipeline
    from platform_assets.resources import default_resources
    from resources.compute import ComputeEngine
    from resources.storage import CorpusStorage

    work = Path(args.work)
    sources = Path(args.sources)
    demo = load_spec_file(DEMO_SPEC, PathPolicy.default(PROJECT_ROOT))
    relocated = [s.model_copy(update={"location": str(sources / Path(s.location).name)}) for s in demo.sources]
    spec = demo.model_copy(update={"sources": relocated, "shard_docs": args.shard_docs})
    problems = validate_spec(spec)
    if problems:
        raise SystemExit(f"demo spec relocated to {sources} is invalid: {problems}")

    home = Path(args.instance_dir or work) / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    config = "telemetry:\n  enabled: false\n"
    if args.postgres_db_url:  # a production-like instance: run and event storage in PostgreSQL
        config += f"storage:\n  postgres:\n    postgres_url: {args.postgres_db_url}\n"
    (home / "dagster.yaml").write_text(config)
    os.environ["DAGSTER_HOME"] = str(home)  # worker processes rebuild the instance from its ref
    instance = dg.DagsterInstance.get()
    resources = default_resources()
    resources["storage"] = CorpusStorage(root=str(work / "store"))
    resources["compute"] = ComputeEngine(backend=args.backend, workers=args.workers)

    if args.backend == "ray" and not os.environ.get("RAY_ADDRESS"):
        if args.parallel > 1:
            raise SystemExit(
                "--backend ray with --parallel > 1 needs a shared Ray: `ray start --head` and RAY_ADDRESS=auto"
            )
        import ray  # the runs execute in this process: a local Ray started here serves every stage

        ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False, log_to_driver=False)
    t0 = time.perf_counter()
    timings = materialize_pipeline(
        spec, resources=resources, instance=instance, parallel=args.parallel, progress=lambda _: None
    )
    wall = time.perf_counter() - t0

    store = resources["storage"].store()
    stages = ["raw", *[s.name for s in spec.stages], "tokenized"]
    compute: dict[str, float] = {}
    docs_in = bytes_in = 0
    for stage in stages:
        for src in spec.source_names:
            rep = runner.read_report(store, spec.pipeline, stage, src)
            compute[f"{stage}[{src}]"] = rep.seconds
            if stage == "raw":
                docs_in += rep.docs_in
                bytes_in += rep.bytes_in
    for stage in spec.stages:
        summary_rel = f"{runner.index_dir(spec.pipeline, stage.name)}/_summary.json"
        if store.exists(summary_rel):
            compute[f"{stage.name}_index"] = float(store.read_json(summary_rel)["seconds"])
    tok = instance.get_latest_materialization_event(dg.AssetKey([spec.pipeline, "tokenizer"]))
    if tok is not None and tok.asset_materialization is not None:
        compute["tokenizer"] = float(tok.asset_materialization.metadata["seconds"].value)
    runs = []
    for run in instance.get_runs():
        stats = instance.get_run_stats(run.run_id)
        if stats.start_time and stats.end_time:
            runs.append(
                {
                    "start": stats.start_time,
                    "end": stats.end_time,
                    "status": run.status.value,
                    "events": len(instance.all_logs(run.run_id)),
                    "assets": sorted(k.path[-1] for k in (run.asset_selection or [])),
                }
            )
    kept_tokens = sum(
        runner.read_report(store, spec.pipeline, "tokenized", s).extra.get("tokens_train", 0)
        + runner.read_report(store, spec.pipeline, "tokenized", s).extra.get("tokens_val", 0)
        for s in spec.source_names
    )
    out = {
        "wall_s": wall,
        "segments_s": timings,
        "docs_in": docs_in,
        "mb_in": bytes_in / 1e6,
        "tokens": kept_tokens,
        "compute_s": compute,
        "runs": runs,
        "shards_raw": sum(runner.read_report(store, spec.pipeline, "raw", s).shards for s in spec.source_names),
    }
    Path(args.out).write_text(json.dumps(out, indent=1))


def sqlite_commit_ms(folder: Path, commits: int = 50) -> float:
    """Milliseconds per SQLite commit in ``folder``: what each Dagster event costs there (fsync)."""
    import sqlite3

    path = folder / "commit-probe.db"
    con = sqlite3.connect(path)
    try:
        con.execute("create table t (x integer)")
        con.commit()
        t0 = time.perf_counter()
        for i in range(commits):
            con.execute("insert into t values (?)", (i,))
            con.commit()
        return 1000 * (time.perf_counter() - t0) / commits
    finally:
        con.close()
        path.unlink()


def instance_parent(where: str) -> str | None:
    """Folder for the Dagster instance: the system temp dir ('disk') or /dev/shm ('tmpfs')."""
    if where == "tmpfs":
        if not Path("/dev/shm").is_dir():
            raise SystemExit("--instance tmpfs needs /dev/shm")
        return "/dev/shm"
    return None


@contextlib.contextmanager
def fresh_postgres_db(base_url: str, name: str) -> Iterator[str]:
    """A new, empty database on the server of ``base_url`` (dropped afterwards); yields its URL."""
    import psycopg2  # installed with dagster-postgres

    con = psycopg2.connect(base_url)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cur.execute(f'CREATE DATABASE "{name}"')
        # SQLAlchemy 2.1 picks psycopg (3) for postgresql://; dagster-postgres brings psycopg2
        yield base_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1) + "/" + name
        with con.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        con.close()


def run_scale(
    scale: int, args: argparse.Namespace, log: Callable[[str], None], instance: str = "disk"
) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        pg_url = (
            stack.enter_context(fresh_postgres_db(args.postgres_url, f"bench_scaling_{scale}x"))
            if instance == "postgres"
            else None
        )
        return _run_scale(scale, args, log, instance, pg_url)


def _run_scale(
    scale: int, args: argparse.Namespace, log: Callable[[str], None], instance: str, pg_url: str | None
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-scaling-{scale}x-") as tmp,
        tempfile.TemporaryDirectory(prefix=f"bench-scaling-{scale}x-instance-", dir=instance_parent(instance)) as inst,
    ):
        work = Path(tmp)
        commit_ms = sqlite_commit_ms(Path(inst))
        sources = work / "sources"
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "corpus.demo_sources", str(sources), "--scale", str(scale)],
            cwd=PROJECT_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        log(
            f"  {scale}x: sources written in {time.perf_counter() - t0:.1f}s; running the build loop "
            f"(Dagster instance on {instance}: {commit_ms:.2f} ms per SQLite commit)"
        )
        out = work / "child.json"
        env = {
            **os.environ,
            **(THREAD_ENV if args.threads == 1 else {}),
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        }
        cmd = [
            sys.executable,
            str(BENCH),
            "--child",
            "--work",
            str(work),
            "--sources",
            str(sources),
            "--out",
            str(out),
            "--instance-dir",
            inst,
            "--parallel",
            str(args.parallel),
            "--backend",
            args.backend,
            "--workers",
            str(args.workers),
            "--shard-docs",
            str(args.shard_docs),
        ] + (["--postgres-db-url", pg_url] if pg_url else [])
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        sampler = TreeSampler(proc.pid, interval=args.interval)
        sampler.start()
        output, _ = proc.communicate()
        elapsed = time.perf_counter() - t0
        sampler.stop()
        if proc.returncode != 0:
            raise RuntimeError(f"the {scale}x run failed (exit {proc.returncode}):\n{output[-4000:]}")
        child = json.loads(out.read_text())
    res = {
        "scale": scale,
        "instance": instance,
        "sqlite_commit_ms": commit_ms,
        **child,
        "process_s": elapsed,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    res["tree"] = summarize_samples(sampler.samples, elapsed, len(os.sched_getaffinity(0)))
    res["overhead"] = dagster_overhead(child)
    return res


def dagster_overhead(child: dict[str, Any]) -> dict[str, Any]:
    """Time in Dagster's machinery vs in stage compute.

    ``run_s`` sums every run's duration as the instance recorded it; ``compute_s`` sums
    the stage compute the runs performed (stage reports, index, tokenizer). Their
    difference is what Dagster costs inside runs (step orchestration, event log writes,
    asset checks, resource set-up). ``outside_runs_s`` is the child's wall time not
    covered by any run: worker process start-up, imports and building definitions.
    """
    runs = child["runs"]
    run_s = sum(r["end"] - r["start"] for r in runs)
    compute_s = sum(child["compute_s"].values())
    covered, last_end = 0.0, -math.inf
    for r in sorted(runs, key=lambda r: r["start"]):
        start = max(r["start"], last_end)
        if r["end"] > start:
            covered += r["end"] - start
        last_end = max(last_end, r["end"])
    events = sum(r.get("events", 0) for r in runs)
    asset_partitions = sum(len(r.get("assets") or ()) or 1 for r in runs)
    return {
        "runs": len(runs),
        "events": events,
        "asset_partitions": asset_partitions,
        "events_per_asset_partition": events / asset_partitions if asset_partitions else None,
        "in_runs_overhead_s_per_run": (run_s - compute_s) / len(runs) if runs else None,
        "run_s": run_s,
        "compute_s": compute_s,
        "in_runs_overhead_s": run_s - compute_s,
        "in_runs_overhead_pct": 100.0 * (run_s - compute_s) / run_s if run_s > 0 else None,
        "outside_runs_s": max(0.0, child["wall_s"] - covered),
        "outside_runs_pct_of_wall": 100.0 * max(0.0, child["wall_s"] - covered) / child["wall_s"],
    }
