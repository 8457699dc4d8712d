"""The proxy as a measuring instrument: trainer throughput by setting, and uniform's seed noise.

Two parts, both on the uniform mixture only (no policy is run), so the benchmark's sizes can
be chosen from them before any policy comparison is seen:

* ``throughput``: tokens/s and achieved FLOP/s of the trainer for several (layers, width,
  sequence length, batch) settings with one torch thread, beside a torch matmul
  microbenchmark measured in the same process before and after;
* ``noise``: for a few candidate settings, each given the same training wall time (its
  budget from the measured throughput), the seed-to-seed spread of uniform's target on one
  suite, with the mean target (the learning bought by that time).

    python -m benchmarks.mixing_instrument                  # writes "instrument" into mixing.json
    python -m benchmarks.mixing_instrument --seconds 20 --seeds 3 --out /tmp/instrument.json
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.proxy.throughput import matmul_gflops  # noqa: E402
from corpus.proxy.train import TrainOptions, train  # noqa: E402
from corpus.stats import mean_interval  # noqa: E402

# (n_layer, n_embd, seq_len, batch_size); the first is the previous benchmark size
SETTINGS: list[tuple[int, int, int, int]] = [
    (2, 128, 64, 16),
    (2, 128, 64, 64),
    (2, 128, 128, 16),
    (2, 128, 128, 32),
    (2, 128, 256, 16),
    (2, 192, 128, 32),
    (2, 256, 128, 32),
    (4, 128, 128, 32),
]
# candidates of the noise study: (n_layer, n_embd, seq_len, batch_size, learning rate)
CANDIDATES: list[tuple[int, int, int, int, float]] = [
    (2, 128, 64, 16, 3e-3),
    (2, 128, 128, 16, 3e-3),
    (2, 128, 128, 32, 3e-3),
    (2, 192, 128, 32, 2e-3),
]


def _proxy(n_layer: int, n_embd: int, seq_len: int, batch: int, lr: float = 3e-3, seed: int = 0) -> dict:
    return {
        "n_layer": n_layer,
        "n_head": 4,
        "n_embd": n_embd,
        "seq_len": seq_len,
        "batch_size": batch,
        "learning_rate": lr,
        "eval_tokens": 1,
        "seed": seed,
        "online_sampler": False,
        "device": "cpu",
    }


def throughput(steps: int, matmul_seconds: float) -> dict:
    """Tokens/s and GFLOP/s of each setting (one thread), on random byte streams, beside the matmul rate."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    streams = {d: rng.integers(0, 257, 400_000).astype(np.uint16) for d in ("a", "b", "c")}
    before = matmul_gflops(seconds=matmul_seconds)
    rows = []
    for n_layer, n_embd, seq_len, batch in SETTINGS:
        p = _proxy(n_layer, n_embd, seq_len, batch)
        train(streams, {}, p, batch * seq_len * 3, vocab_size=257, options=TrainOptions(n_evals=1))  # warm up
        r = train(streams, {}, p, batch * seq_len * steps, vocab_size=257, options=TrainOptions(n_evals=1))
        rows.append(
            {
                "n_layer": n_layer,
                "n_embd": n_embd,
                "seq_len": seq_len,
                "batch_size": batch,
                "tokens_per_step": batch * seq_len,
                "params": r.n_params,
                "tokens_per_s": round(r.tokens_per_s, 1),
                "gflops": round(r.achieved_flops / 1e9, 2),
                "steps": steps,
            }
        )
        print(f"throughput {rows[-1]}", flush=True)
    after = matmul_gflops(seconds=matmul_seconds)
    ref = max(before, after)
    for row in rows:
        row["fraction_of_matmul"] = round(row["gflops"] / ref, 3)
    return {
        "threads": 1,
        "matmul_gflops_before": round(before, 2),
        "matmul_gflops_after": round(after, 2),
        "matmul": "fp32 1024x1024 torch.mm, 1 thread, same process",
        "settings": rows,
    }


def _noise_run(task: tuple[tuple, int, int, str]) -> dict:
    """One uniform run of a candidate on the suite, in a worker process (one thread)."""
    (n_layer, n_embd, seq_len, batch, lr), budget, seed, data = task
    torch.set_num_threads(1)
    from benchmarks.bench_mixing import _setup, parse_args
    from benchmarks.mixing_arms import SuiteBench
    from benchmarks.mixing_data import SUITES

    args = parse_args(
        [
            "--data",
            data,
            "--n-layer",
            str(n_layer),
            "--n-embd",
            str(n_embd),
            "--seq-len",
            str(seq_len),
            "--batch-size",
            str(batch),
            "--lr",
            str(lr),
            "--budget",
            str(budget),
            "--n-evals",
            "1",
        ]
    )
    domains, vocab, _, proxy = _setup(args)
    bench = SuiteBench(SUITES["six"], domains, vocab, proxy, args)
    t0 = time.perf_counter()
    res = bench.run(bench.uniform, seed)
    return {
        "candidate": [n_layer, n_embd, seq_len, batch, lr],
        "seed": seed,
        "budget": budget,
        "target": bench.target_of(res.val_loss),
        "tokens_per_s": round(res.tokens_per_s, 1),
        "train_seconds": round(res.train_seconds, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def noise(rates: dict[tuple, float], seconds: float, seeds: int, jobs: int, data: str) -> dict:
    """Uniform's target on suite ``six`` per candidate, each with ``seconds`` of training at its measured rate."""
    tasks = []
    budgets = {}
    for cand in CANDIDATES:
        per_step = cand[2] * cand[3]
        rate = rates[cand[:4]]
        budgets[cand] = max(per_step, int(rate * seconds) // per_step * per_step)
        tasks += [(cand, budgets[cand], s, data) for s in range(seeds)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = list(pool.map(_noise_run, tasks))
    out = []
    for cand in CANDIDATES:
        rows = [r for r in runs if tuple(r["candidate"]) == cand]
        targets = [r["target"] for r in rows]
        ci = mean_interval(targets)
        out.append(
            {
                "n_layer": cand[0],
                "n_embd": cand[1],
                "seq_len": cand[2],
                "batch_size": cand[3],
                "learning_rate": cand[4],
                "budget_tokens": budgets[cand],
                "steps": budgets[cand] // (cand[2] * cand[3]),
                "target_mean": ci.mean,
                "target_interval": [ci.low, ci.high],
                "target_seed_sd": statistics.stdev(targets) if len(targets) > 1 else None,
                "targets": targets,
                "median_tokens_per_s": statistics.median(r["tokens_per_s"] for r in rows),
                "median_run_seconds": statistics.median(r["seconds"] for r in rows),
            }
        )
        print(f"noise {out[-1]}", flush=True)
    return {
        "suite": "six",
        "mixture": "uniform",
        "train_seconds_per_run": seconds,
        "seeds": seeds,
        "note": "budgets from the throughput part's rate; the SD of n seeds has a relative error near 1/sqrt(2(n-1))",
        "candidates": out,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=25, help="timed steps per throughput setting")
    ap.add_argument("--seconds", type=float, default=30.0, help="training wall time per noise-study run")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--matmul-seconds", type=float, default=2.0)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mixing.json")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    tp = throughput(args.steps, args.matmul_seconds)
    rates = {(r["n_layer"], r["n_embd"], r["seq_len"], r["batch_size"]): r["tokens_per_s"] for r in tp["settings"]}
    study = {
        "created_at": datetime.now(UTC).isoformat(),
        "command": "python -m benchmarks.mixing_instrument " + " ".join(argv if argv is not None else sys.argv[1:]),
        "load_average_at_start": os.getloadavg(),
        "throughput": tp,
    }
    study["noise"] = noise(rates, args.seconds, args.seeds, args.jobs, args.data) if args.seeds else None
    study["load_average_at_end"] = os.getloadavg()
    study["seconds"] = round(time.perf_counter() - started, 1)
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc["instrument"] = study
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=float))
    tmp.replace(args.out)
    print(f"wrote instrument study into {args.out} ({study['seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
