"""Scaling of the whole build loop through Dagster: time, memory and cores at 1x..8x corpus size.

The demo pipeline (``platform_assets/defs/demo/defs.yaml``) runs end to end (raw ->
extracted -> normalized -> language -> quality -> dedup index -> deduped -> redacted ->
tokenizer -> tokenized) exactly as ``python -m platform_assets.cli materialize`` runs it:
:func:`platform_assets.orchestrate.materialize_pipeline`, partitions (sources) in parallel
on a spawn process pool, every run recorded by a Dagster instance. Each scale runs in a
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
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PROJECT_ROOT, print_table, write_results

DEMO_SPEC = PROJECT_ROOT / "platform_assets" / "defs" / "demo" / "defs.yaml"
THREAD_ENV = {
    "POLARS_MAX_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# --------------------------------------------------------------------------- process-tree sampling


@dataclass
class TreeSample:
    t: float
    pids: int
    rss: int  # bytes, summed over the tree
    pss: int | None  # bytes, summed over the tree (None where smaps_rollup is unreadable)
    max_rss: int  # bytes, the largest single process
    cpu: float  # cumulative core-seconds of the tree so far (processes that exited keep their last value)
    system_busy: float  # cumulative busy core-seconds of the whole machine
    active: int  # processes of the tree that used at least 10% of a core since the previous sample
    runnable: int  # processes of the tree running or waiting for a core at the sample (state R)


@dataclass
class TreeSampler:
    """Samples memory and CPU of a process and all its descendants from ``/proc``.

    Linux only: the benchmark measures what a data platform worker sees, which is Linux.
    The CPU time of a process is remembered after it exits (its last sample), so
    short-lived workers are counted up to the sampling interval.
    """

    root: int
    interval: float = 0.2
    samples: list[TreeSample] = field(default_factory=list)
    _cpu_seen: dict[tuple[int, int], float] = field(default_factory=dict)  # (pid, start time) -> core-seconds
    _last_t: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if not Path("/proc/self/stat").exists():
            raise RuntimeError("bench_scaling samples /proc and runs on Linux only")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _loop(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            sample = self.sample(time.perf_counter() - t0)
            if sample is not None:
                self.samples.append(sample)
            self._stop.wait(self.interval)

    def sample(self, t: float) -> TreeSample | None:
        stats = _all_stats()
        tree = _descendants(self.root, stats)
        if not tree:
            return None
        rss = pss = max_rss = active = runnable = 0
        pss_ok = True
        dt = max(t - self._last_t, 1e-6)
        self._last_t = t
        for pid in tree:
            st = stats[pid]
            before = self._cpu_seen.get((pid, st.start))
            if before is not None and st.cpu - before >= 0.1 * dt:
                active += 1
            runnable += st.state == "R"
            self._cpu_seen[(pid, st.start)] = st.cpu
            rss += st.rss
            max_rss = max(max_rss, st.rss)
            p = _pss(pid)
            if p is None:
                pss_ok = False
            else:
                pss += p
        return TreeSample(
            t,
            len(tree),
            rss,
            pss if pss_ok else None,
            max_rss,
            sum(self._cpu_seen.values()),
            _system_busy(),
            active,
            runnable,
        )


@dataclass(frozen=True)
class _Stat:
    ppid: int
    state: str
    cpu: float
    rss: int
    start: int


def _all_stats() -> dict[int, _Stat]:
    out: dict[int, _Stat] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read().decode("ascii", "replace")
        except OSError:  # exited between listing and reading
            continue
        rest = raw[raw.rfind(")") + 2 :].split()
        # fields after the command name: state(3) ppid(4) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24)
        out[int(entry.name)] = _Stat(
            ppid=int(rest[1]),
            state=rest[0],
            cpu=(int(rest[11]) + int(rest[12])) / CLK_TCK,
            rss=int(rest[21]) * PAGE,
            start=int(rest[19]),
        )
    return out


def _descendants(root: int, stats: dict[int, _Stat]) -> list[int]:
    if root not in stats:
        return []
    children: dict[int, list[int]] = {}
    for pid, st in stats.items():
        children.setdefault(st.ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _pss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _system_busy() -> float:
    with open("/proc/stat", "rb") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def summarize_samples(samples: list[TreeSample], wall: float, cores: int) -> dict[str, Any]:
    """Peak memory, average cores busy and how much of the run used more than one core."""
    if len(samples) < 2:
        return {"samples": len(samples)}
    busy_intervals = []
    for a, b in zip(samples, samples[1:]):
        dt = b.t - a.t
        if dt > 0:
            busy_intervals.append(((b.cpu - a.cpu) / dt, dt))
    total = sum(dt for _, dt in busy_intervals) or 1.0
    tree_cpu = samples[-1].cpu - samples[0].cpu
    system_cpu = samples[-1].system_busy - samples[0].system_busy
    span = samples[-1].t - samples[0].t or 1.0
    pss = [s.pss for s in samples if s.pss is not None]
    step = max(1, len(samples) // 600)
    timeline = [
        [round(s.t, 2), round(s.rss / 1e6), round(s.cpu, 2), s.active, s.runnable, s.pids] for s in samples[::step]
    ]
    return {
        "samples": len(samples),
        "timeline_columns": ["t_s", "rss_mb", "cpu_s", "active_processes", "runnable_processes", "processes"],
        "timeline": timeline,
        "peak_rss_mb": max(s.rss for s in samples) / 1e6,
        "peak_pss_mb": max(pss) / 1e6 if pss else None,
        "peak_single_process_rss_mb": max(s.max_rss for s in samples) / 1e6,
        "max_processes": max(s.pids for s in samples),
        "cpu_seconds": samples[-1].cpu,
        "avg_cores_busy": samples[-1].cpu / wall if wall > 0 else 0.0,
        "share_time_ge_1_5_cores": sum(dt for c, dt in busy_intervals if c >= 1.5) / total,
        "share_time_ge_2_active_processes": sum(1 for s in samples[1:] if s.active >= 2) / (len(samples) - 1),
        "avg_active_processes": sum(s.active for s in samples[1:]) / (len(samples) - 1),
        "share_time_ge_2_runnable": sum(1 for s in samples if s.runnable >= 2) / len(samples),
        "avg_runnable_processes": sum(s.runnable for s in samples) / len(samples),
        "peak_cores_busy": max(c for c, _ in busy_intervals),
        "other_load_cores": max(0.0, (system_cpu - tree_cpu) / span),
        "cores": cores,
    }


# --------------------------------------------------------------------------- the child: one pipeline run


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


# --------------------------------------------------------------------------- the parent: one child per scale


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
            str(Path(__file__).resolve()),
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
    return {
        "runs": len(runs),
        "events": sum(r.get("events", 0) for r in runs),
        "run_s": run_s,
        "compute_s": compute_s,
        "in_runs_overhead_s": run_s - compute_s,
        "in_runs_overhead_pct": 100.0 * (run_s - compute_s) / run_s if run_s > 0 else None,
        "outside_runs_s": max(0.0, child["wall_s"] - covered),
        "outside_runs_pct_of_wall": 100.0 * max(0.0, child["wall_s"] - covered) / child["wall_s"],
    }


def fit_line(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least-squares ``y = intercept + slope * x``, its r^2, and the log-log exponent."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mlx, mly = sum(lx) / n, sum(ly) / n
    slxx = sum((x - mlx) ** 2 for x in lx)
    exponent = sum((x - mlx) * (y - mly) for x, y in zip(lx, ly)) / slxx if slxx else 0.0
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
