"""Mixture policies against uniform on real domains, with the built-in proxy trainer.

Domains (from ../shared/data, plus the CPython standard library as code): GSM8K math,
WikiText-2 articles, Shakespeare (2,000-character passages), US inaugural speeches,
the UDHR in ~150 languages, stdlib Python files. One byte-level BPE is trained on them;
each domain gets a fixed validation split (corpus.tokenize.assign_split).

Arms, each trained with the same token budget per final run, over several seeds:

* ``uniform``, ``natural``: one run at those weights.
* ``excess_loss``, ``regression``: the feedback loop as the eval_feedback sensor runs it
  (corpus.feedback.decide on the metrics records of each finished run, m0001 = natural
  weights, up to ``--rounds-*`` versions). The arm's result is the version the loop
  would recommend: the best average validation loss among its versions (a selection on
  the validation split; the extra search runs are reported as ``search_runs``).
* ``online``: one run with the in-run online sampler (EXP3 style), starting uniform, over
  one epoch of every domain's training tokens.

Reported per arm: final average and worst-domain validation loss (mean, spread over
seeds, paired difference against uniform with the same seed) and the training tokens at
which the run's evaluation curve first reaches uniform's final average loss (linear
interpolation between evaluations). The curve comes from one cosine-scheduled run, so
mid-run points sit above what a shorter run would reach: tokens-to-target is conservative.

    python benchmarks/bench_mixing.py                 # default size, 3 seeds (~15 min on 2 idle cores)
    python benchmarks/bench_mixing.py --quick         # a smaller smoke run
"""

from __future__ import annotations

import argparse
import os
import sys

THREADS = "2"
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, THREADS)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sysconfig  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.feedback import FeedbackState, NewVersion, decide  # noqa: E402
from corpus.metrics import MetricsRecord  # noqa: E402
from corpus.mixing.policies import initial_weights  # noqa: E402
from corpus.mixing.sampler import DomainTokens, materialize, natural_weights, plan_mixture, validation_tokens  # noqa: E402
from corpus.proxy.train import TrainOptions, TrainResult, train  # noqa: E402
from corpus.schema import document_id  # noqa: E402
from corpus.spec import MixtureSpec, ProxySpec, TokenizerSpec  # noqa: E402
from corpus.tokenize import assign_split, token_shard_table, tokenize_batch, train_bpe  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("CORPUS_SHARED_DATA", ROOT.parent / "shared" / "data"))
PIPELINE = "bench_mixing"


# --- domains -------------------------------------------------------------------------------


def _cap(docs: list[tuple[str, str]], max_chars: int) -> list[tuple[str, str]]:
    out, total = [], 0
    for name, text in docs:
        if total >= max_chars:
            break
        out.append((name, text))
        total += len(text)
    return out


def _passages(text: str, sep: str, size: int) -> list[str]:
    """Consecutive pieces of ``text`` of at least ``size`` characters, cut at ``sep``."""
    out, buf = [], ""
    for piece in text.split(sep):
        buf = f"{buf}{sep}{piece}" if buf else piece
        if len(buf) >= size:
            out.append(buf)
            buf = ""
    if buf.strip():
        out.append(buf)
    return out


def load_domains(data: Path, scale: float) -> dict[str, list[tuple[str, str]]]:
    """(provenance, text) documents per domain, cut at a character budget per domain."""
    c = lambda n: int(n * scale)  # noqa: E731
    math_docs = []
    with (data / "math" / "gsm8k-train.jsonl").open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            row = json.loads(line)
            math_docs.append((f"gsm8k:{i}", f"Question: {row['question']}\nAnswer: {row['answer']}"))
    wiki_text = (data / "encyclopedia" / "wikitext2-valid.txt").read_text(encoding="utf-8")
    parts = re.split(r"^( = [^=].* = )$", wiki_text, flags=re.M)
    wiki = [(f"wikitext:{i}", (parts[i] + parts[i + 1]).strip()) for i in range(1, len(parts) - 1, 2)]
    shakespeare = (data / "literature" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    passages = [(f"shakespeare:{i}", p) for i, p in enumerate(_passages(shakespeare, "\n\n", 2000))]
    # errors="replace": 2005-Bush.txt carries one stray non-UTF-8 byte
    speeches = [(f"inaugural:{p.name}", p.read_text(encoding="utf-8", errors="replace")) for p in sorted((data / "speeches" / "inaugural").glob("*.txt"))]
    # passages, not whole files: the validation split then holds languages seen in training
    # (one document per language would hold out unseen languages, whose loss rises as others are learned)
    udhr = [
        (f"udhr:{p.name}:{i}", passage)
        for p in sorted((data / "multilingual" / "udhr").glob("*.txt"))
        for i, passage in enumerate(_passages(p.read_text(encoding="utf-8"), "\n", 1500))
    ]
    udhr.sort(key=lambda item: (int(item[0].rsplit(":", 1)[1]), item[0]))  # a character cap keeps every language
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = []
    for p in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("[a-z]*/*.py")):
        if "test" in p.parts[-2] or p.name.startswith("test"):
            continue
        try:
            code.append((f"stdlib:{p.relative_to(stdlib)}", p.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    return {
        "math": _cap(math_docs, c(1_200_000)),
        "encyclopedia": _cap(wiki, c(1_200_000)),
        "literature": _cap(passages, c(1_200_000)),
        "speeches": _cap(speeches, c(900_000)),
        "multilingual": _cap(udhr, c(900_000)),
        "code": _cap(code, c(2_000_000)),
    }


def build_domains(docs: dict[str, list[tuple[str, str]]], tok_spec: TokenizerSpec) -> tuple[dict[str, DomainTokens], int, dict]:
    sample = [t for d in docs.values() for _, t in d[: tok_spec.sample_docs]]
    tok = train_bpe(sample, tok_spec.vocab_size)
    domains, info = {}, {}
    for name, items in docs.items():
        ids = [document_id(name, prov, 0, text) for prov, text in items]
        arrays = tokenize_batch(tok, [t for _, t in items])
        splits = assign_split(ids, tok_spec.val_fraction, tok_spec.val_min_docs, tok_spec.val_max_docs)
        domains[name] = DomainTokens.from_tables(name, [token_shard_table(ids, name, splits, arrays, vocab_size=tok.get_vocab_size())])
        idx = domains[name].index
        info[name] = {
            "docs": len(items),
            "chars": sum(len(t) for _, t in items),
            "train_docs": len(idx.train_ids),
            "val_docs": len(idx.val_ids),
            "train_tokens": idx.available_tokens,
            "val_tokens": int(idx.val_tokens.sum()),
        }
    return domains, tok.get_vocab_size(), info


# --- runs ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, domains: dict[str, DomainTokens], vocab: int, proxy: ProxySpec, budget: int, max_epochs: float, n_evals: int):
        self.domains = domains
        self.names = list(domains)
        self.vocab = vocab
        self.proxy = proxy
        self.budget = budget
        self.max_epochs = max_epochs
        self.options = TrainOptions(n_evals=n_evals)
        self.val = validation_tokens(domains, proxy.eval_tokens)
        self.natural = natural_weights(domains)

    def run(self, weights: dict[str, float], seed: int, online: bool = False) -> tuple[TrainResult, dict]:
        proxy = self.proxy.model_copy(update={"seed": seed, "online_sampler": online})
        if online:  # the sampler draws from one epoch of every domain, starting from `weights`
            total = sum(d.index.available_tokens for d in self.domains.values())
            plan = plan_mixture(self.domains, self.natural, total, max_epochs=1.0, seed=seed)
        else:
            plan = plan_mixture(self.domains, weights, self.budget, max_epochs=self.max_epochs, seed=seed)
        streams = materialize(plan, self.domains)
        result = train(streams, self.val, proxy, self.budget, vocab_size=self.vocab, weights=weights, options=self.options)
        return result, {"capped": plan.capped, "effective_weights": plan.effective_weights, "notes": plan.notes}

    def loop(self, policy: str, policy_config: dict, rounds: int, seed: int) -> list[dict]:
        """The eval_feedback loop: decide -> train the new version -> metrics records -> decide ..."""
        spec = MixtureSpec(policy=policy, policy_config=policy_config, initial="natural", budget_tokens=self.budget, max_epochs=self.max_epochs, rounds=rounds, seed=seed, proxy=self.proxy)
        state = FeedbackState()
        records: list[MetricsRecord] = []
        out = []
        while True:
            decision = decide(records, state, spec, self.names, self.natural, pipeline=PIPELINE)
            state = decision.state
            if not isinstance(decision, NewVersion):
                out and out[-1].setdefault("stop_reason", decision.reason)
                return out
            result, plan_info = self.run(decision.weights, seed)
            run_id = f"{policy}-s{seed}-{decision.version}"
            for e in result.evals:
                records.append(MetricsRecord(run_id=run_id, pipeline=PIPELINE, mixture_version=decision.version, step=e.step, tokens_seen=e.tokens_seen, val_loss=e.val_loss, finished=e.finished, weights=decision.weights))
            out.append({"version": decision.version, "weights": decision.weights, "reason": decision.reason, **summarize(result), **plan_info})


def summarize(result: TrainResult) -> dict:
    return {
        "val_loss": result.val_loss,
        "average": result.average_loss,
        "worst": max(result.val_loss.values()),
        "worst_domain": max(result.val_loss, key=result.val_loss.get),
        "curve": [(e.tokens_seen, e.average) for e in result.evals],
        "tokens_seen": result.tokens_seen,
        "tokens_per_domain": result.tokens_per_domain,
        "seconds": round(result.seconds, 2),
        "final_sampler_weights": result.weight_trajectory[-1][1],
    }


def tokens_to_reach(curve: list[tuple[int, float]], target: float) -> float | None:
    """First training-token count at which the (linearly interpolated) curve is <= target."""
    prev_t, prev_l = 0, math.inf
    for t, loss in curve:
        if loss <= target:
            if not math.isfinite(prev_l):
                return float(t)
            return prev_t + (t - prev_t) * (prev_l - target) / (prev_l - loss)
        prev_t, prev_l = t, loss
    return None


def mean_sd(xs: list[float]) -> tuple[float, float]:
    return (statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=600_000, help="training tokens per final run")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every domain's character budget")
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--seq-len", type=int, default=64, help="short sequences, small batches: more steps per token")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--eval-tokens", type=int, default=4096)
    ap.add_argument("--n-evals", type=int, default=8)
    ap.add_argument("--max-epochs", type=float, default=4.0)
    ap.add_argument("--rounds-excess", type=int, default=3)
    ap.add_argument("--rounds-regression", type=int, default=5)
    ap.add_argument("--regression-min-history", type=int, default=3)
    ap.add_argument("--arms", default="uniform,natural,excess_loss,regression,online")
    ap.add_argument("--threads", type=int, default=int(THREADS))
    ap.add_argument("--quick", action="store_true", help="smaller data and budget, 2 seeds, fewer rounds")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mixing.json")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.budget, args.scale, args.eval_tokens, args.n_evals = 2, 60_000, 0.3, 2048, 4
        args.rounds_excess, args.rounds_regression, args.regression_min_history = 3, 4, 2
    if not (args.data / "README.md").exists():
        print(f"shared data not found at {args.data}; pass --data or set CORPUS_SHARED_DATA", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    started = time.perf_counter()

    tok_spec = TokenizerSpec(vocab_size=args.vocab)
    docs = load_domains(args.data, args.scale)
    domains, vocab, info = build_domains(docs, tok_spec)
    proxy = ProxySpec(eval_tokens=args.eval_tokens, seq_len=args.seq_len, batch_size=args.batch_size, learning_rate=args.lr, device="cpu")
    bench = Bench(domains, vocab, proxy, args.budget, args.max_epochs, args.n_evals)
    for d in info:
        info[d]["natural_weight"] = round(bench.natural[d], 4)
    print(f"domains ({time.perf_counter() - started:.0f}s to load and tokenize, vocab {vocab}):")
    for d, row in info.items():
        print(f"  {d:<13} docs {row['docs']:>5}  train tokens {row['train_tokens']:>8,}  val tokens {row['val_tokens']:>7,}  natural {row['natural_weight']:.3f}")

    per_seed: dict[str, list[dict]] = {a: [] for a in arms}
    uniform_w = initial_weights("uniform", bench.names, bench.natural)
    for seed in range(args.seeds):
        for arm in arms:
            t0 = time.perf_counter()
            if arm == "uniform":
                res, plan_info = bench.run(uniform_w, seed)
                entry = {**summarize(res), **plan_info, "weights": uniform_w, "search_runs": 0}
            elif arm == "natural":
                res, plan_info = bench.run(bench.natural, seed)
                entry = {**summarize(res), **plan_info, "weights": bench.natural, "search_runs": 0}
            elif arm == "online":
                res, plan_info = bench.run(uniform_w, seed, online=True)
                entry = {**summarize(res), "weights": uniform_w, "mean_sampler_weights": _mean_traj(res), "search_runs": 0}
            elif arm in ("excess_loss", "regression"):
                cfg = {"min_history": args.regression_min_history} if arm == "regression" else {}
                rounds = bench.loop(arm, cfg, args.rounds_excess if arm == "excess_loss" else args.rounds_regression, seed)
                best = min(rounds, key=lambda r: r["average"])
                entry = {**best, "chosen_version": best["version"], "rounds": rounds, "search_runs": len(rounds) - 1}
            else:
                raise SystemExit(f"unknown arm {arm!r}; arms: uniform, natural, excess_loss, regression, online")
            per_seed[arm].append(entry)
            print(f"seed {seed} {arm:<12} avg {entry['average']:.4f} worst {entry['worst']:.4f} ({entry['worst_domain']})  {time.perf_counter() - t0:.0f}s", flush=True)

    summary = {}
    for arm in arms:
        avgs = [e["average"] for e in per_seed[arm]]
        worsts = [e["worst"] for e in per_seed[arm]]
        row = {"average": mean_sd(avgs), "worst": mean_sd(worsts), "search_runs": per_seed[arm][0]["search_runs"]}
        if "rounds" in per_seed[arm][0]:  # what the loop ended on, whether or not it was the best
            row["last_version_average"] = mean_sd([e["rounds"][-1]["average"] for e in per_seed[arm]])
            row["chosen_versions"] = [e["chosen_version"] for e in per_seed[arm]]
        if "uniform" in arms:
            uni = per_seed["uniform"]
            row["paired_avg_diff_vs_uniform"] = mean_sd([e["average"] - u["average"] for e, u in zip(per_seed[arm], uni, strict=True)])
            row["paired_worst_diff_vs_uniform"] = mean_sd([e["worst"] - u["worst"] for e, u in zip(per_seed[arm], uni, strict=True)])
            fractions = []
            for e, u in zip(per_seed[arm], uni, strict=True):
                t = tokens_to_reach(e["curve"], u["average"])
                fractions.append(None if t is None else t / args.budget)
                e["tokens_to_uniform_final"] = t
            row["tokens_to_uniform_final_fraction"] = fractions
            row["reaches_with_25pct_fewer_tokens_every_seed"] = all(f is not None and f <= 0.75 for f in fractions)
        summary[arm] = row

    result = {
        "benchmark": "mixing",
        "created_at": datetime.now(UTC).isoformat(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__, "threads": args.threads, "cpus": os.cpu_count()},
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "proxy": proxy.model_dump(),
        "domains": info,
        "summary": summary,
        "target": "at least one policy reaches uniform's final average loss with 25% fewer tokens, consistently across seeds",
        "target_met_by": [a for a in arms if a != "uniform" and summary[a].get("reaches_with_25pct_fewer_tokens_every_seed")],
        "runs": per_seed,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, default=float))
    tmp.replace(args.out)
    print_table(summary, args)
    print(f"target ({result['target']}): {'met by ' + ', '.join(result['target_met_by']) if result['target_met_by'] else 'NOT met'}")
    print(f"wrote {args.out} ({result['seconds']:.0f}s)")
    return 0


def _mean_traj(res: TrainResult) -> dict[str, float]:
    traj = res.weight_trajectory
    return {d: statistics.fmean(w[d] for _, w in traj) for d in traj[0][1]}


def print_table(summary: dict, args: argparse.Namespace) -> None:
    print(f"\nbudget {args.budget:,} tokens per final run, {args.seeds} seeds (mean ± sd; diff = paired vs uniform, lower is better)")
    head = f"{'arm':<12} {'avg val loss':>16} {'diff avg':>16} {'worst domain':>16} {'diff worst':>16} {'tokens to uniform final (x budget)':>36} {'search runs':>11}"
    print(head)
    print("-" * len(head))
    for arm, row in summary.items():
        fr = row.get("tokens_to_uniform_final_fraction", [])
        frs = " ".join("—" if f is None else f"{f:.2f}" for f in fr)
        diff = row.get("paired_avg_diff_vs_uniform", (0.0, 0.0))
        diffw = row.get("paired_worst_diff_vs_uniform", (0.0, 0.0))
        print(
            f"{arm:<12} {row['average'][0]:>9.4f} ± {row['average'][1]:.3f} {diff[0]:>+9.4f} ± {diff[1]:.3f} "
            f"{row['worst'][0]:>9.4f} ± {row['worst'][1]:.3f} {diffw[0]:>+9.4f} ± {diffw[1]:.3f} {frs:>36} {row['search_runs']:>11}"
        )
    for arm, row in summary.items():
        if "last_version_average" in row:
            last = row["last_version_average"]
            print(f"{arm}: loop result = best version by average val loss ({', '.join(row['chosen_versions'])}); last version's average {last[0]:.4f} ± {last[1]:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
