"""Noise of paired differences between two mixtures, by learning rate and budget.

Suite ``six``, uniform against natural, seeds 0-4, keyed order, the mixing benchmark's settings
otherwise, over a grid of learning rate x training tokens. Per cell: uniform's target (mean,
seed SD), the paired difference natural - uniform (mean, SD of the per-seed differences, 95%
interval) and the CPU seconds per run. The smaller the SD of the differences per CPU second,
the smaller a policy effect the benchmark can show; this study chose the benchmark's learning
rate. Writes ``noise_study`` into ``benchmarks/results/mixing.json``.

    python -m benchmarks.mixing_noise               # run the grid (about 10 min on 2 cores)
    python -m benchmarks.mixing_noise --runs F.jsonl  # summarise runs recorded earlier
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics as st
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "mixing.json"
SEEDS = range(5)
MIXES = ("uniform", "natural")
CELLS = ((3e-3, 100_000), (1e-3, 100_000), (3e-3, 300_000), (1e-3, 300_000))
_STATE: dict[str, Any] = {}


def _init() -> None:
    import torch

    torch.set_num_threads(1)
    from benchmarks.bench_mixing import _setup, parse_args

    args = parse_args(["--suites", "six", "--arms", "uniform,natural", "--order", "keyed"])
    domains, vocab, _info, proxy = _setup(args)
    _STATE.update(args=args, domains=domains, vocab=vocab, proxy=proxy)


def one_run(lr: float, budget: int, seed: int, mix: str) -> dict[str, Any]:
    from benchmarks.mixing_arms import SuiteBench
    from benchmarks.mixing_data import SUITES

    args = _STATE["args"]
    args.budget, args.lr = budget, lr
    proxy = _STATE["proxy"].model_copy(update={"learning_rate": lr})
    bench = SuiteBench(SUITES["six"], _STATE["domains"], _STATE["vocab"], proxy, args)
    c0, t0 = time.process_time(), time.perf_counter()
    res = bench.run(bench.uniform if mix == "uniform" else bench.natural, seed)
    return {
        "lr": lr,
        "budget": budget,
        "seed": seed,
        "mix": mix,
        "target": bench.target_of(res.val_loss),
        "cpu_s": time.process_time() - c0,
        "wall_s": time.perf_counter() - t0,
    }


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from corpus.stats import paired_interval

    cells = []
    for lr, budget in sorted({(r["lr"], r["budget"]) for r in runs}, key=lambda c: (c[1], -c[0])):
        rs = [r for r in runs if r["lr"] == lr and r["budget"] == budget]
        u = {r["seed"]: r["target"] for r in rs if r["mix"] == "uniform"}
        n = {r["seed"]: r["target"] for r in rs if r["mix"] == "natural"}
        seeds = sorted(set(u) & set(n))
        diffs = [n[s] - u[s] for s in seeds]
        iv = paired_interval([n[s] for s in seeds], [u[s] for s in seeds])
        cpu = st.mean(r["cpu_s"] for r in rs)
        sd = st.stdev(diffs)
        cells.append(
            {
                "lr": lr,
                "budget_tokens": budget,
                "seeds": seeds,
                "uniform_mean": st.mean(u.values()),
                "uniform_sd": st.stdev(u.values()),
                "natural_minus_uniform": {"mean": iv.mean, "low": iv.low, "high": iv.high, "per_seed": diffs},
                "diff_sd": sd,
                "cpu_s_per_run": cpu,
                "precision_per_cpu_s": 1.0 / (sd**2 * 2 * cpu),
            }
        )
    return cells


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=Path, help="summarise these recorded runs (JSON lines) instead of running")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    if args.runs:
        runs = [json.loads(line) for line in args.runs.read_text().splitlines() if line.strip()]
        how = f"summarised from {args.runs.name} (runs of this grid recorded by the same code)"
    else:
        tasks = [(lr, b, s, m) for lr, b in CELLS for s in SEEDS for m in MIXES]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=ctx, initializer=_init) as pool:
            runs = list(pool.map(one_run, *zip(*tasks, strict=True)))
        how = f"ran {len(runs)} runs in {time.perf_counter() - t0:.0f} s (2 processes x 1 thread)"
    cells = summarise(runs)
    for c in cells:
        d = c["natural_minus_uniform"]
        print(
            f"lr {c['lr']:g} {c['budget_tokens']:>7,} tokens: "
            f"uniform {c['uniform_mean']:.4f} sd {c['uniform_sd']:.4f}; "
            f"natural - uniform {d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] sd {c['diff_sd']:.4f}; "
            f"{c['cpu_s_per_run']:.1f} CPU s/run"
        )
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc["noise_study"] = {
        "what": __doc__.split("\n\n")[1].replace("\n", " "),
        "command": "python -m benchmarks.mixing_noise",
        "how": how,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cells": cells,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
