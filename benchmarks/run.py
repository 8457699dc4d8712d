"""``make bench``: run the benchmarks, then print one table of their headline figures.

Each benchmark is its own script (``benchmarks/bench_<name>.py``) run in a fresh process,
so its one-core pinning and thread settings cannot leak into the next. Each writes
``benchmarks/results/<name>.json``; the summary is read back from those files, so it also
shows results of benchmarks not run this time (with the time they were measured).

    python -m benchmarks.run                      # every benchmark at its default size
    python -m benchmarks.run --quick              # smaller sizes (a few minutes in all)
    python -m benchmarks.run --only dedup scaling # a subset, by name
    python -m benchmarks.run --skip mixing
    python -m benchmarks.run --summary            # just the table, from the existing results
    make bench ARGS="--only dedup"

``mixing`` trains proxy models; it runs with its own ``--quick`` setting unless
``--full-mixing`` is given (its default size takes about 15 minutes on 2 cores).
Benchmarks that need the shared corpora (../shared/data) are skipped when they are absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PROJECT_ROOT, RESULTS_DIR, SHARED_DATA, print_table

BENCH_DIR = Path(__file__).resolve().parent
QUICK_MIXING = ("--size", "tiny", "--out", str(RESULTS_DIR / "mixing_quick.json"))


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    default_args: tuple[str, ...]
    quick_args: tuple[str, ...]
    needs_shared_data: bool
    about: str


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "quality",
            "bench_quality.py",
            (),
            ("--mb", "5", "--datatrove-mb", "1", "--repeats", "1"),
            True,
            "quality filters vs datatrove: docs/s per core and decision agreement",
        ),
        Benchmark(
            "dedup",
            "bench_dedup.py",
            (),
            ("--mb", "5", "--repeats", "1", "--quality-sample", "500"),
            True,
            "MinHash dedup vs datatrove: speed, recall and precision on planted near-duplicates",
        ),
        Benchmark(
            "extract",
            "bench_extract.py",
            (),
            ("--repeats", "1"),
            True,
            "HTML extraction engines: F1 against gold snippets, pages/s",
        ),
        Benchmark(
            "load",
            "bench_load.py",
            (),
            ("--repeats", "1"),
            False,
            "code-location load time: dagster definitions validate, import, building the Definitions",
        ),
        Benchmark(
            "scaling",
            "bench_scaling.py",
            (),
            ("--quick",),
            False,
            "whole build loop through Dagster at 1x..8x: time per MB, peak memory, cores, Dagster overhead",
        ),
        Benchmark(
            "end_to_end",
            "bench_end_to_end.py",
            (),
            ("--mb", "12"),
            True,
            "read, 4 filters, MinHash, tokenize: ours through Dagster vs datatrove, MB/s per core",
        ),
        Benchmark(
            "scale_out",
            "bench_scale_out.py",
            (),
            ("--unit-mb", "0.7", "--repeats", "1", "--skip-ray"),
            True,
            "dedup as tasks 1x..16x, incremental dedup, resume after SIGKILL, three-node Ray; acceptance",
        ),
        # the quick mixing run writes its own file, so a full-size result (30-40 min) is kept
        Benchmark(
            "mixing",
            "bench_mixing.py",
            QUICK_MIXING,
            QUICK_MIXING,
            True,
            "mixture policies vs uniform with the proxy trainer",
        ),
    )
}


# --------------------------------------------------------------------------- running


def run_benchmark(bench: Benchmark, *, quick: bool) -> dict[str, Any]:
    """Run one benchmark script with the project's interpreter, streaming its output."""
    args = list(bench.quick_args if quick else bench.default_args)
    cmd = [sys.executable, str(BENCH_DIR / bench.script), *args]
    print(
        f"\n=== {bench.name}: {bench.about}\n$ {' '.join(['python', f'benchmarks/{bench.script}', *args])}", flush=True
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env).returncode
    seconds = time.perf_counter() - t0
    status = "ok" if rc == 0 else f"failed (exit {rc})"
    print(f"=== {bench.name}: {status} in {seconds:.0f}s", flush=True)
    return {
        "name": bench.name,
        "command": " ".join(["python", f"benchmarks/{bench.script}", *args]),
        "rc": rc,
        "seconds": seconds,
    }


# --------------------------------------------------------------------------- headline figures


def _get(data: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)  # type: ignore[arg-type]
        elif isinstance(data, list | tuple) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


def quality_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for name, f in (d.get("filters") or {}).items():
        rows.append(
            (
                f"{name}: docs/s vs datatrove (wall | per CPU-s)",
                f"{_fmt(_get(f, 'speedup_docs_per_s'), 'x', 1)} | {_fmt(_get(f, 'speedup_docs_per_cpu_s'), 'x', 1)}",
            )
        )
        rows.append(
            (
                f"{name}: agreement (decision | reason on drops)",
                f"{_fmt(_get(f, 'agreement', 'decision_agreement'), '', 4)} | "
                f"{_fmt(_get(f, 'agreement', 'same_reason_on_drops'), '', 4)}  on "
                f"{_fmt(_get(f, 'agreement', 'documents'))} docs",
            )
        )
    return rows


def dedup_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    ours, dt = d.get("ours") or {}, d.get("datatrove") or {}
    return [
        (
            "speedup vs datatrove (wall | per CPU-s)",
            f"{_fmt(d.get('speedup'), 'x', 1)} | {_fmt(d.get('speedup_cpu'), 'x', 1)}"
            f"  on {_fmt(_get(d, 'corpus', 'mb'), ' MB', 0)}",
        ),
        (
            "recall J>=0.8 (ours | datatrove)",
            f"{_fmt(ours.get('recall_j_ge_0_8'), '', 3)} | {_fmt(dt.get('recall_j_ge_0_8'), '', 3)}",
        ),
        ("precision (ours | datatrove)", f"{_fmt(ours.get('precision'), '', 3)} | {_fmt(dt.get('precision'), '', 3)}"),
        (
            "merged J<0.5 (ours | datatrove)",
            f"{_fmt(ours.get('merged_j_lt_0_5'), '', 3)} | {_fmt(dt.get('merged_j_lt_0_5'), '', 3)}",
        ),
        ("ours MB/s (one core)", _fmt(ours.get("mb_per_s"), "", 1)),
    ]


def extract_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        (f"{r.get('config')}: F1 | pages/s", f"{_fmt(r.get('f1'), '', 3)} | {_fmt(r.get('pages_per_s'), '', 0)}")
        for r in d.get("results") or []
    ]
    rows.append(("default engine | best F1", f"{d.get('default_engine')} | {d.get('best_f1')}"))
    return rows


def load_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        (
            f"{r.get('what')}: median (min-max)",
            f"{_fmt(r.get('median_s'), ' s', 2)} ({_fmt(r.get('min_s'), '', 2)}-{_fmt(r.get('max_s'), ' s', 2)})",
        )
        for r in d.get("rows") or []
    ]
    rows.append(
        ("validate within target", f"{d.get('within_target')} (target {_fmt(d.get('target_validate_s'), ' s', 0)})")
    )
    return rows


def scaling_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    h = d.get("headline") or {}
    per_mb = h.get("seconds_per_mb") or {}
    rss = h.get("peak_rss_mb") or {}
    pss = h.get("peak_pss_mb") or {}
    cores = h.get("avg_cores_busy") or {}
    rows = [
        (
            "wall = fixed + slope * MB",
            f"{_fmt(h.get('fixed_seconds'), ' s', 1)} + {_fmt(h.get('seconds_per_mb_slope'), ' s/MB', 2)}"
            f" (r2 {_fmt(h.get('r2'), '', 3)}, log-log exponent {_fmt(h.get('loglog_exponent'), '', 2)})",
        ),
        (
            "core-seconds = fixed + slope * MB",
            f"{_fmt(h.get('cpu_fixed_seconds'), ' s', 1)} + {_fmt(h.get('cpu_seconds_per_mb_slope'), ' s/MB', 2)}"
            f" (r2 {_fmt(h.get('cpu_r2'), '', 3)})",
        ),
        ("s/MB per scale", "  ".join(f"{k} {_fmt(v, '', 2)}" for k, v in per_mb.items())),
        (
            "peak RSS | PSS of the tree, MB",
            "  ".join(f"{k} {_fmt(rss.get(k), '', 0)} | {_fmt(pss.get(k), '', 0)}" for k in rss),
        ),
        ("avg cores busy", "  ".join(f"{k} {_fmt(v, '', 2)}" for k, v in cores.items())),
        (
            "share of time with >= 2 processes runnable",
            "  ".join(f"{k} {_fmt(v, '', 2)}" for k, v in (h.get("share_time_ge_2_runnable") or {}).items()),
        ),
        (
            f"Dagster overhead at {h.get('overhead_scale')}x (SQLite on disk | tmpfs)",
            f"{_fmt(h.get('dagster_overhead_pct'), ' %', 1)} | {_fmt(h.get('dagster_overhead_pct_tmpfs'), ' %', 1)}",
        ),
    ]
    if (h.get("max_other_load_cores") or 0) > 0.25:
        rows.append(("measured under load: other work used up to", _fmt(h.get("max_other_load_cores"), " cores", 2)))
    return rows


def mixing_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    acc = d.get("acceptance") or {}
    rows = []
    for suite, res in (d.get("results") or {}).items():
        for arm, s in (res.get("summary") or {}).items():
            if arm.startswith("_") or arm == "uniform":
                continue
            diff = s.get("diff_vs_uniform") or {}
            frac = s.get("tokens_to_uniform_final_fraction") or []
            rows.append(
                (
                    f"{suite}/{arm}: target vs uniform (paired, 95% CI) | tokens to uniform's final",
                    f"{_fmt(diff.get('mean'), '', 4)} [{_fmt(diff.get('low'), '', 4)}, "
                    f"{_fmt(diff.get('high'), '', 4)}] {diff.get('verdict', '')} | "
                    + ", ".join("never" if f is None else f"{f:.0%}" for f in frac),
                )
            )
    for key in (
        "best_policy",
        "best_tokens_fraction_worst_case",
        "worst_policy_excess_pct",
        "decision_accuracy",
        "trainer_tokens_per_s",
        "trainer_gflops",
        "matmul_gflops",
    ):
        if key in acc:
            v = acc[key]
            rows.append((f"acceptance: {key}", v if isinstance(v, str) else _fmt(v, "", 3)))
    return rows


def end_to_end_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    ours, theirs = d.get("ours") or {}, d.get("datatrove") or {}
    return [
        (
            "MB/s per core: ours (Dagster) | datatrove",
            f"{_fmt(ours.get('mb_per_s_per_core'), '', 3)} | {_fmt(theirs.get('mb_per_s_per_core'), '', 3)}",
        ),
        (
            "speedup per core: wall | CPU",
            f"{_fmt(d.get('speedup_mb_per_s_per_core'), 'x', 1)} | {_fmt(d.get('speedup_mb_per_cpu_s'), 'x', 1)}",
        ),
    ]


def scale_out_rows(d: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f"acceptance: {k}", _fmt(v, "", 3) if isinstance(v, float) else str(v))
        for k, v in (d.get("acceptance") or {}).items()
    ]


HEADLINES: dict[str, Callable[[dict[str, Any]], list[tuple[str, str]]]] = {
    "end_to_end": end_to_end_rows,
    "scale_out": scale_out_rows,
    "quality": quality_rows,
    "dedup": dedup_rows,
    "extract": extract_rows,
    "load": load_rows,
    "scaling": scaling_rows,
    "mixing": mixing_rows,
}


def summary_rows(names: list[str]) -> list[dict[str, Any]]:
    """One row per headline figure of every result file present, in benchmark order."""
    rows: list[dict[str, Any]] = []
    files = [(n, n) for n in names]
    if "mixing" in names and (RESULTS_DIR / "mixing_quick.json").exists():
        files.insert(names.index("mixing") + 1, ("mixing", "mixing_quick"))
    for name, stem in files:
        path = RESULTS_DIR / f"{stem}.json"
        if not path.exists():
            rows.append(
                {
                    "benchmark": name,
                    "figure": "(no results yet)",
                    "value": f'run: make bench ARGS="--only {name}"',
                    "measured": "",
                }
            )
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            figures = HEADLINES[name](data)
        except (json.JSONDecodeError, TypeError, AttributeError, KeyError) as exc:
            rows.append(
                {"benchmark": name, "figure": "(unreadable results)", "value": f"{path.name}: {exc}", "measured": ""}
            )
            continue
        measured = str(data.get("measured_at") or data.get("created_at") or "")[:16]
        for i, (figure, value) in enumerate(figures):
            label = stem.replace("_", " (") + ")" if stem != name else name
            rows.append(
                {
                    "benchmark": label if i == 0 else "",
                    "figure": figure,
                    "value": value,
                    "measured": measured if i == 0 else "",
                }
            )
    return rows


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.split("\n\n")[0],
        epilog=f"benchmarks: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=list(BENCHMARKS), help="run these benchmarks only")
    parser.add_argument(
        "--skip", nargs="+", metavar="NAME", choices=list(BENCHMARKS), default=[], help="leave these out"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes for every benchmark")
    parser.add_argument(
        "--full-mixing",
        action="store_true",
        help="run bench_mixing at its default size (about 15 min) instead of --quick",
    )
    parser.add_argument("--summary", action="store_true", help="print the table from existing results; run nothing")
    args = parser.parse_args(argv)

    selected = [n for n in (args.only or list(BENCHMARKS)) if n not in args.skip]
    runs: list[dict[str, Any]] = []
    if not args.summary:
        for name in selected:
            bench = BENCHMARKS[name]
            if bench.needs_shared_data and not (SHARED_DATA / "README.md").exists():
                print(f"\n=== {name}: skipped, the shared corpora are not at {SHARED_DATA} (set CORPUS_SHARED_DATA)")
                runs.append({"name": name, "command": "", "rc": None, "seconds": 0.0})
                continue
            if name == "mixing" and args.full_mixing:
                bench = dataclasses.replace(bench, default_args=(), quick_args=())
            runs.append(run_benchmark(bench, quick=args.quick))

    print()
    print_table(
        summary_rows(selected),
        ["benchmark", "figure", "value", "measured"],
        title="benchmark summary (from benchmarks/results/*.json)",
    )
    failed = [r for r in runs if r["rc"] not in (0, None)]
    if runs:
        print(
            "\nruns: "
            + ", ".join(
                f"{r['name']} {'skipped' if r['rc'] is None else ('ok' if r['rc'] == 0 else 'FAILED')}"
                f" {r['seconds']:.0f}s"
                for r in runs
            )
        )
    if failed:
        print("failed: " + "; ".join(f"{r['name']} ({r['command']})" for r in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
