"""Mixture policies against uniform on several domain suites, with paired seeds and intervals.

Suites and their named targets are in :mod:`benchmarks.mixing_data`. Per suite and seed,
every arm trains the built-in proxy with the same token budget per final run:

* ``uniform``, ``natural``: one run at those weights.
* ``excess_loss``: the feedback loop (``corpus.feedback.decide`` on the metrics records of
  each finished run; m0001 = uniform), DoReMi-style with a true reference: the per-domain
  loss of a reference proxy trained on the uniform mixture with twice the budget (one
  reference run per suite, its own seed), so the excess is headroom, not difficulty.
* ``regression``: the same loop with RegMix (m0001 uniform, one exploration version, then the fit).
* ``online``: one run with the in-run sampler rewarding learnable progress (ADO style);
  ``online_loss``: the same sampler rewarding raw training loss (ODM).

Loop arms report the version the loop recommends (best target among its versions; the
extra runs are ``search_runs``). Every comparison is paired by seed: mean difference to
uniform with its 95% interval (``corpus.stats``), "no difference shown" when it covers 0;
tokens-to-target is interpolated between evaluations of one cosine-scheduled run, read on a
fixed sample of windows spread over each validation stream (at these sizes a run trained for
fewer tokens on its own schedule ends above the longer run's mid-run point, so this reading
favours the policy; ``benchmarks/mixing_bound.py`` measures that gap).

Also measured in the same run: the proxy's noise (seed-to-seed spread of uniform's loss
beside the evaluation's standard error), trainer tokens/s and achieved FLOP/s beside a
torch matmul microbenchmark, and proxy transfer (DataDecide-style): 8 mixtures ranked by a
small proxy and by one with >= 4x the parameters and 4x the tokens, pairwise decision accuracy.

    python -m benchmarks.bench_mixing                        # the CPU size (~30-40 min on 2 shared cores)
    python -m benchmarks.bench_mixing --size tiny            # a smoke run
    python -m benchmarks.bench_mixing --device cuda --size gpu
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.mixing_arms import ARMS, SHIPPED, SuiteBench  # noqa: E402
from benchmarks.mixing_data import SUITES, build_domains, load_domains  # noqa: E402
from benchmarks.mixing_report import acceptance, print_summary, summarize_suite, transfer  # noqa: E402
from corpus.proxy.throughput import matmul_gflops  # noqa: E402
from corpus.spec import ProxySpec  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("CORPUS_SHARED_DATA", ROOT.parent / "shared" / "data"))

# sizes are fixed per preset before any result is seen; explicit flags override them
SIZES: dict[str, dict] = {
    "cpu": {"transfer_budget": 100_000},
    "tiny": {
        "seeds": 2,
        "budget": 16_384,
        "chars": 60_000,
        "val_tokens": 8_192,
        "n_evals": 3,
        "n_embd": 32,
        "seq_len": 64,
        "batch_size": 4,
        "suites": "six,noisy",
        "transfer_mixtures": 3,
        "matmul_seconds": 0.2,
    },
    "gpu": {
        "seeds": 2,
        "budget": 50_000_000,
        "chars": 3_000_000,
        "val_tokens": 200_000,
        "n_evals": 6,
        "n_layer": 8,
        "n_head": 8,
        "n_embd": 576,
        "seq_len": 256,
        "batch_size": 64,
        "lr": 1e-3,
        "max_epochs": 100.0,
        "suites": "six",
        "arms": "uniform,online",
        "transfer_mixtures": 0,
        "threads": "1",
    },
}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=list(SIZES), default="cpu")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--suites", default="six,heldout,noisy")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=300_000, help="training tokens per final run")
    ap.add_argument("--tokenizer", choices=["byte", "bpe"], default="byte")
    ap.add_argument("--vocab", type=int, default=2048, help="BPE vocabulary (tokenizer bpe)")
    ap.add_argument("--chars", type=int, default=400_000, help="characters per domain")
    ap.add_argument(
        "--val-tokens", type=int, default=50_000, help="validation tokens per domain (at most 25%% of a domain)"
    )
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument(
        "--n-evals", type=int, default=10, help="evaluations per run (the curve tokens-to-target is read off)"
    )
    ap.add_argument(
        "--curve-tokens",
        type=int,
        default=5_000,
        help="intermediate evaluations use evenly spaced windows of each val stream, about this many tokens",
    )
    ap.add_argument("--jobs", type=int, default=2, help="suites (and the transfer check) run in this many processes")
    ap.add_argument("--max-epochs", type=float, default=4.0)
    ap.add_argument(
        "--order",
        choices=["keyed", "shuffle"],
        default="keyed",
        help="training order of the fixed-mixture runs: keyed pairs the runs of one seed (common random numbers)",
    )
    ap.add_argument("--transfer-mixtures", type=int, default=8, help="0 skips the proxy-transfer check")
    ap.add_argument(
        "--transfer-budget",
        type=int,
        default=None,
        help="the transfer check's large-proxy tokens (the small proxy gets a quarter); default: --budget",
    )
    ap.add_argument("--transfer-seeds", type=int, default=2, help="seeds per mixture and proxy size in the transfer")
    ap.add_argument(
        "--threads", default="1", help="torch threads per process; auto: the faster of 1 and 2 in a short trial"
    )
    ap.add_argument("--matmul-seconds", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mixing.json")
    return ap


def parse_args(argv: list[str] | None, make_parser=parser) -> argparse.Namespace:
    """Arguments with the chosen ``--size`` preset as defaults (explicit flags override it)."""
    first, _ = make_parser().parse_known_args(argv)
    ap = make_parser()
    ap.set_defaults(**SIZES[first.size])
    return ap.parse_args(argv)


def pick_threads(args: argparse.Namespace, bench: SuiteBench) -> tuple[int, dict]:
    """1 or 2 torch threads, whichever trains faster here and now (a shared machine may favour 1)."""
    if args.threads != "auto":
        return int(args.threads), {}
    rates = {}
    for n in (1, 2):
        torch.set_num_threads(n)
        res = bench.trial(seed=999, tokens=min(args.budget, 40 * args.batch_size * args.seq_len))
        rates[n] = res.tokens_per_s
    best = max(rates, key=rates.get)
    return best, {str(k): round(v) for k, v in rates.items()}


def measure_matmul(device: str, seconds: float) -> dict:
    threads = torch.get_num_threads()
    out = {}
    for n in [1, 2] if device == "cpu" else [threads]:
        torch.set_num_threads(n)
        out[f"{n}_threads"] = round(matmul_gflops(device, seconds=seconds), 2)
    torch.set_num_threads(threads)
    return out


def _setup(args: argparse.Namespace) -> tuple[dict, int, dict, ProxySpec]:
    docs = load_domains(args.data, args.chars)
    domains, vocab, info = build_domains(docs, args.tokenizer, args.val_tokens, vocab=args.vocab)
    proxy = ProxySpec(
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        eval_tokens=args.val_tokens,
        device=args.device,
    )
    return domains, vocab, info, proxy


def run_task(task: str, args: argparse.Namespace, threads: int) -> tuple[str, dict]:
    """One suite's arms, or the transfer check (also in a worker process)."""
    torch.set_num_threads(threads)
    domains, vocab, _, proxy = _setup(args)
    kind, name = task.split(":", 1)
    bench = SuiteBench(SUITES[name], domains, vocab, proxy, args)
    if kind == "transfer":
        return task, transfer(bench, args)
    runs = bench.run_all([a.strip() for a in args.arms.split(",") if a.strip()], args.seeds)
    summary = summarize_suite(bench, runs, list(runs))
    print_summary(bench.suite, summary, args)
    return task, {"summary": summary, "runs": runs, "reference": bench.reference_info}


def carried_over(path: Path) -> dict:
    """What a new result keeps of the file it replaces: the instrument study, and the replaced run's headline
    figures as ``previous_run``."""
    if not path.exists():
        return {}
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    kept = {"instrument": old["instrument"]} if "instrument" in old else {}
    if "acceptance" in old:
        summaries = {
            suite: {
                arm: {k: row[k] for k in ("target", "diff_vs_uniform", "excess_pct_vs_uniform") if k in row}
                for arm, row in res.get("summary", {}).items()
                if not arm.startswith("_")
            }
            for suite, res in (old.get("results") or {}).items()
        }
        earlier = [old["previous_run"], *old.get("earlier_runs", [])] if "previous_run" in old else []
        if earlier:
            kept["earlier_runs"] = earlier[:3]
        kept["previous_run"] = {
            "created_at": old.get("created_at"),
            "config": old.get("config"),
            "acceptance": old["acceptance"],
            "summary": summaries,
            "seconds": old.get("seconds"),
        }
    return kept


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.data / "README.md").exists():
        print(f"shared data not found at {args.data}; pass --data or set CORPUS_SHARED_DATA", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: CUDA is not available on this machine", file=sys.stderr)
        return 2
    started = time.perf_counter()
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS] + [s for s in suites if s not in SUITES]
    if unknown:
        raise SystemExit(
            f"unknown arm or suite {', '.join(unknown)}; arms: {', '.join(ARMS)}; suites: {', '.join(SUITES)}"
        )
    domains, vocab, info, proxy = _setup(args)
    print(f"tokenizer {args.tokenizer} (vocab {vocab}), {time.perf_counter() - started:.0f}s to load")
    for d, row in info.items():
        print(
            f"  {d:<13} train tokens {row['train_tokens']:>9,}  val tokens {row['val_tokens']:>7,} ({row['val_docs']} "
            "docs)"
        )
    first = SuiteBench(SUITES[suites[0]], domains, vocab, proxy, args)
    threads, thread_trial = pick_threads(args, first)
    jobs = max(1, min(args.jobs, len(suites) + (1 if args.transfer_mixtures else 0)))
    worker_threads = threads if jobs == 1 else 1  # several processes: one thread each
    torch.set_num_threads(worker_threads)
    matmul_before = measure_matmul(args.device, args.matmul_seconds)
    print(
        f"torch threads {worker_threads} x {jobs} process(es) (trial tokens/s by threads: "
        f"{thread_trial or 'not run'}); matmul GFLOP/s {matmul_before}",
        flush=True,
    )

    tasks = [f"suite:{s}" for s in suites] + ([f"transfer:{suites[0]}"] if args.transfer_mixtures else [])
    if jobs == 1:
        done = dict(run_task(t, args, worker_threads) for t in tasks)
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = dict(f.result() for f in [pool.submit(run_task, t, args, worker_threads) for t in tasks])
    results = {s: done[f"suite:{s}"] for s in suites}
    transfer_result = done.get(f"transfer:{suites[0]}")
    matmul_after = measure_matmul(args.device, args.matmul_seconds)
    acc = acceptance(
        results, args.seeds, transfer_result, matmul_before, matmul_after, [a for a in arms if a in SHIPPED]
    )
    out = {
        "benchmark": "mixing",
        "created_at": datetime.now(UTC).isoformat(),
        "acceptance": acc,
        "goal": "one policy reaches uniform's final target loss with >= 30% fewer tokens in every seed of every suite; "
        "no shipped policy worse than uniform by more than 0.5% of the target loss on any suite (mean over seeds)",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads_per_process": worker_threads,
            "processes": jobs,
            "thread_trial_tokens_per_s": thread_trial,
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "matmul_gflops_before": matmul_before,
            "matmul_gflops_after": matmul_after,
        },
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "proxy": proxy.model_dump(),
        "domains": info,
        "suites": {
            s: {"trained": SUITES[s].trained, "held_out": SUITES[s].held_out, "target": SUITES[s].target.describe()}
            for s in suites
        },
        "results": results,
        "transfer": transfer_result,
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.update(carried_over(args.out))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=1, default=float))
    tmp.replace(args.out)
    for s in suites:
        print_summary(SUITES[s], results[s]["summary"], args)
    print("\nacceptance:", json.dumps(acc, indent=1, default=float))
    print(f"wrote {args.out} ({out['seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
