"""How far a fixed mixture can go on each suite of the mixing benchmark, and how its tokens-to-target reads.

Per suite, at the benchmark's proxy and budget:

* **search**: uniform, natural and ``--search`` random mixtures (Dirichlet(1) over the trained
  domains), each trained once with a search seed the comparison does not use;
* **candidates**: the best searched mixture and RegMix's pick over the search
  (:func:`corpus.mixing.regression.propose_regression`, the ``regression`` policy's own fit);
* **comparison**: each candidate and uniform trained with seeds ``0..seeds-1`` (the benchmark's
  seeds): paired difference to uniform with its 95% interval, and the fraction of the budget at
  which the candidate's curve reaches uniform's final target (read as the benchmark reads it);
* **own schedule**: each candidate trained for ``--fraction`` of the budget on a schedule of that
  length, against uniform's full run: the stricter reading of "the same loss with fewer tokens";
* **schedule check**: uniform trained for ``--fraction`` of the budget, against the full run's
  curve at that point (on the same window sample): which way the curve's reading leans.

A mixture picked by a search this wide, with seeds of its own, is what an oracle fixed-weight
policy could ship; where it does not reach the goal, no fixed-weight policy at this size is
shown to. In-run (online) policies change the mixture during training and are not bounded by it.

    python -m benchmarks.mixing_bound                 # CPU size (~30 min on 2 cores)
    python -m benchmarks.mixing_bound --size tiny     # a smoke run
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_mixing import _setup, parse_args, parser  # noqa: E402
from benchmarks.mixing_arms import SuiteBench  # noqa: E402
from benchmarks.mixing_data import SUITES  # noqa: E402
from benchmarks.mixing_report import FEWER_TOKENS_GOAL, reaches_goal, uniform_final_fractions  # noqa: E402
from corpus.mixing.configs import RegressionConfig  # noqa: E402
from corpus.mixing.history import RoundResult  # noqa: E402
from corpus.mixing.regression import propose_regression  # noqa: E402
from corpus.stats import paired_interval  # noqa: E402


def bound_parser() -> argparse.ArgumentParser:
    ap = parser()
    ap.description = __doc__.split("\n\n")[0]
    ap.add_argument("--search", type=int, default=10, help="random mixtures in the search (besides uniform, natural)")
    ap.add_argument("--search-seed", type=int, default=100, help="the search's training seed (not a comparison seed)")
    ap.add_argument("--fraction", type=float, default=FEWER_TOKENS_GOAL, help="budget share of the own-schedule runs")
    ap.set_defaults(out=ROOT / "benchmarks" / "results" / "mixing_bound.json", jobs=3)
    return ap


def parse_bound_args(argv: list[str] | None) -> argparse.Namespace:
    return parse_args(argv, bound_parser)


def _curve_at(curve: list, tokens: float) -> float:
    """The curve's value at ``tokens``, linear between evaluations."""
    xs, ys = zip(*curve, strict=True)
    return float(np.interp(tokens, xs, ys))


def _compare(values: list[float], uniform: list[float]) -> dict:
    d = paired_interval(values, uniform)
    base = statistics.fmean(uniform)
    return d.as_dict() | {"verdict": d.verdict(), "pct_of_uniform": 100 * d.mean / base}


def _search(bench: SuiteBench, args: argparse.Namespace) -> tuple[list[dict], dict[str, dict[str, float]]]:
    k = len(bench.names)
    rng = np.random.default_rng([2027, k])
    mixtures = [dict(bench.uniform), dict(bench.natural)]
    mixtures += [
        dict(zip(bench.names, (w / w.sum()).tolist(), strict=True)) for w in rng.dirichlet(np.ones(k), args.search)
    ]
    rows = []
    for i, w in enumerate(mixtures):
        res = bench.run(w, args.search_seed)
        rows.append({"weights": w, "target": bench.target_of(res.val_loss), "val_loss": res.val_loss})
        print(f"{bench.suite.name} search {i}: target {rows[-1]['target']:.4f}", flush=True)
    best = min(rows, key=lambda r: r["target"])
    history = [
        RoundResult(version=f"s{i:04d}", weights=r["weights"], val_loss=r["val_loss"]) for i, r in enumerate(rows)
    ]
    regmix = propose_regression(
        history, bench.names, bench.natural, RegressionConfig(min_history=2), seed=args.search_seed, target=bench.target
    )
    return rows, {"best_searched": dict(best["weights"]), "regmix": regmix}


def bound_suite(name: str, args: argparse.Namespace) -> tuple[str, dict]:
    torch.set_num_threads(int(args.threads) if args.threads != "auto" else 1)
    started = time.perf_counter()
    domains, vocab, _, proxy = _setup(args)
    bench = SuiteBench(SUITES[name], domains, vocab, proxy, args)
    rows, candidates = _search(bench, args)
    short = max(bench.proxy.batch_size * bench.proxy.seq_len, round(args.fraction * args.budget))
    uni = [bench.summarize(bench.run(bench.uniform, s), bench.uniform) for s in range(args.seeds)]
    uni_t = [u["target"] for u in uni]
    uni_short = [bench.summarize(bench.run(bench.uniform, s, budget=short), bench.uniform) for s in range(args.seeds)]
    out: dict = {
        "search": {"seed": args.search_seed, "runs": rows},
        "uniform_targets": uni_t,
        "schedule_check": {
            "fraction": short / args.budget,
            "own_schedule_minus_full_curve": [
                u_s["curve"][-1][1] - _curve_at(u["curve"], u_s["tokens_seen"])
                for u_s, u in zip(uni_short, uni, strict=True)
            ],
            "own_schedule_minus_full_final": [u_s["target"] - t for u_s, t in zip(uni_short, uni_t, strict=True)],
        },
        "candidates": {},
    }
    sc = out["schedule_check"]
    sc["mean_own_minus_curve"] = statistics.fmean(sc["own_schedule_minus_full_curve"])
    for label, w in candidates.items():
        full = [bench.summarize(bench.run(w, s), w) for s in range(args.seeds)]
        own = [bench.run(w, s, budget=short) for s in range(args.seeds)]
        fractions = uniform_final_fractions(full, uni, args.budget)
        own_t = [bench.target_of(r.val_loss) for r in own]
        out["candidates"][label] = {
            "weights": w,
            "targets": [e["target"] for e in full],
            "diff_vs_uniform": _compare([e["target"] for e in full], uni_t),
            "tokens_to_uniform_final_fraction": fractions,
            "reaches_goal_every_seed": reaches_goal(fractions),
            "own_schedule": {
                "budget": short,
                "targets": own_t,
                "minus_uniform_full": _compare(own_t, uni_t),
                "reaches_uniform_full_every_seed": all(t <= u for t, u in zip(own_t, uni_t, strict=True)),
            },
        }
        c = out["candidates"][label]
        print(
            f"{name} {label}: diff {c['diff_vs_uniform']['mean']:+.4f} [{c['diff_vs_uniform']['low']:+.4f}, "
            f"{c['diff_vs_uniform']['high']:+.4f}], fractions {fractions}, own schedule at {short / args.budget:.2f}: "
            f"{c['own_schedule']['minus_uniform_full']['mean']:+.4f} vs uniform's full run",
            flush=True,
        )
    out["seconds"] = round(time.perf_counter() - started, 1)
    return name, out


def main(argv: list[str] | None = None) -> int:
    args = parse_bound_args(argv)
    if not args.data.exists():
        print(f"no shared data at {args.data}; set CORPUS_SHARED_DATA or pass --data", file=sys.stderr)
        return 2
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    started = time.perf_counter()
    if args.jobs > 1 and len(suites) > 1:
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(suites))) as pool:
            results = dict(pool.map(bound_suite, suites, [args] * len(suites)))
    else:
        results = dict(bound_suite(s, args) for s in suites)
    summary = {
        name: {
            "best_candidate_worst_fraction": min(
                (
                    max(c["tokens_to_uniform_final_fraction"])
                    for c in r["candidates"].values()
                    if None not in c["tokens_to_uniform_final_fraction"]
                ),
                default=None,
            ),
            "best_candidate_pct_vs_uniform": min(
                c["diff_vs_uniform"]["pct_of_uniform"] for c in r["candidates"].values()
            ),
            "schedule_own_minus_curve": r["schedule_check"]["mean_own_minus_curve"],
        }
        for name, r in results.items()
    }
    report = {
        "benchmark": "mixing_bound",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.mixing_bound " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "goal_fraction": FEWER_TOKENS_GOAL,
        "summary": summary,
        "suites": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
