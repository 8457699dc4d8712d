"""Statistics, proxy transfer and the acceptance object of the mixing benchmark."""

from __future__ import annotations

import argparse
import itertools
import math
import statistics

import numpy as np
from scipy import stats as scipy_stats

from benchmarks.mixing_arms import SuiteBench
from benchmarks.mixing_data import Suite
from corpus.stats import mean_interval, paired_interval, tokens_to_target

FEWER_TOKENS_GOAL = 0.70  # reach uniform's final target within 70% of the budget
EXCESS_GOAL_PCT = 0.5


def uniform_final_fractions(runs: list[dict], uniform: list[dict], budget: int) -> list[float | None]:
    """Per seed, the share of the budget at which a run's curve reaches uniform's final curve point (the same
    window sample, so the two are paired on the same tokens); None where it never does."""
    fractions = []
    for e, u in zip(runs, uniform, strict=True):
        t = tokens_to_target(e["curve"], u["curve"][-1][1])
        fractions.append(None if t is None else t / budget)
    return fractions


def reaches_goal(fractions: list[float | None]) -> bool:
    """Every seed reaches uniform's final target within ``FEWER_TOKENS_GOAL`` of the budget."""
    return all(f is not None and f <= FEWER_TOKENS_GOAL for f in fractions)


def summarize_suite(bench: SuiteBench, runs: dict[str, list[dict]], arms: list[str]) -> dict:
    """Per arm: target mean with interval, paired difference to uniform, tokens-to-target per seed."""
    out: dict = {}
    uni = runs.get("uniform")
    for arm in arms:
        targets = [e["target"] for e in runs[arm]]
        row: dict = {"target": mean_interval(targets).as_dict(), "search_runs": runs[arm][0]["search_runs"]}
        if "rounds" in runs[arm][0]:
            row["chosen_versions"] = [e["chosen_version"] for e in runs[arm]]
            row["last_version_target"] = mean_interval([e["rounds"][-1]["target"] for e in runs[arm]]).as_dict()
            row["stop_reasons"] = [e["rounds"][-1].get("stop_reason", "") for e in runs[arm]]
        if uni is not None:
            uni_targets = [u["target"] for u in uni]
            diff = paired_interval(targets, uni_targets)
            base = statistics.fmean(uni_targets)
            row["diff_vs_uniform"] = diff.as_dict() | {"verdict": diff.verdict()}
            row["excess_pct_vs_uniform"] = {
                "mean": 100 * diff.mean / base,
                "low": 100 * diff.low / base,
                "high": 100 * diff.high / base,
            }
            fractions = uniform_final_fractions(runs[arm], uni, bench.budget)
            row["tokens_to_uniform_final_fraction"] = fractions
            row["reaches_with_30pct_fewer_tokens_every_seed"] = reaches_goal(fractions)
        frozen = runs.get("online_frozen")
        if frozen is not None and arm in ("online", "online_loss"):  # the sampler's own effect, data path fixed
            d = paired_interval(targets, [f["target"] for f in frozen])
            row["diff_vs_online_frozen"] = d.as_dict() | {"verdict": d.verdict()}
        out[arm] = row
    if uni is not None:  # the proxy as an instrument: seed spread vs evaluation error, one fixed mixture
        domains = list(uni[0]["val_loss"])
        out["_noise"] = {
            "seed_sd": {
                d: statistics.stdev([u["val_loss"][d] for u in uni]) if len(uni) > 1 else None for d in domains
            },
            "eval_se": {d: statistics.fmean([u["val_loss_se"][d] for u in uni]) for d in domains},
            "target_seed_sd": statistics.stdev([u["target"] for u in uni]) if len(uni) > 1 else None,
        }
    return out


def _fmt_interval(d: dict) -> str:
    if d["n"] < 2:
        return f"{d['mean']:+.4f} (n=1)"
    return f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def print_summary(suite: Suite, summary: dict, args: argparse.Namespace) -> None:
    print(
        f"\nsuite {suite.name}: target = {suite.target.describe()}; {args.budget:,} tokens per run, {args.seeds} seeds"
    )
    head = (
        f"{'arm':<12} {'target (mean)':>13} {'diff vs uniform [95% CI]':>30} {'verdict':>20} "
        f"{'tokens to uniform final (x budget)':>36} {'extra runs':>10}"
    )
    print(head)
    print("-" * len(head))
    for arm, row in summary.items():
        if arm.startswith("_"):
            continue
        diff = row.get("diff_vs_uniform")
        frs = " ".join("never" if f is None else f"{f:.2f}" for f in row.get("tokens_to_uniform_final_fraction", []))
        print(
            f"{arm:<12} {row['target']['mean']:>13.4f} {_fmt_interval(diff) if diff else '':>30} "
            f"{(diff or {}).get('verdict', '') if arm != 'uniform' else '':>20} {frs:>36} {row['search_runs']:>10}"
        )
    noise = summary.get("_noise")
    if noise:
        print(
            "proxy noise (uniform): seed sd / eval SE per domain: "
            + ", ".join(f"{d} {noise['seed_sd'][d] or 0:.4f}/{noise['eval_se'][d]:.4f}" for d in noise["seed_sd"])
        )


def _agreement(a: list[float], b: list[float]) -> float | None:
    """Share of mixture pairs that ``a`` and ``b`` order the same way (lower is better in both)."""
    pairs = list(itertools.combinations(range(len(a)), 2))
    if not pairs:
        return None
    return sum((a[i] < a[j]) == (b[i] < b[j]) for i, j in pairs) / len(pairs)


def transfer(bench: SuiteBench, args: argparse.Namespace) -> dict:
    """DataDecide-style: rank mixtures with a small proxy and a >= 4x larger one; pairwise agreement.

    With several seeds per mixture the ranking uses each proxy's seed-mean target; beside it, the
    per-seed accuracies (small seed s against large seed s) give its spread, and the large proxy's
    agreement with itself across seeds is the ceiling that seed noise allows.
    """
    k = len(bench.names)
    seeds = max(1, getattr(args, "transfer_seeds", 1))
    rng = np.random.default_rng(2026)
    mixtures = [dict(bench.uniform), dict(bench.natural)]
    while len(mixtures) < args.transfer_mixtures:
        w = rng.dirichlet(np.ones(k))
        mixtures.append({d: float(x) for d, x in zip(bench.names, w / w.sum(), strict=True)})
    small = bench.proxy.model_copy(
        update={"n_layer": max(1, bench.proxy.n_layer), "n_embd": max(16, bench.proxy.n_embd // 2)}
    )
    large = bench.proxy.model_copy(update={"n_layer": bench.proxy.n_layer + 1})
    large_budget = getattr(args, "transfer_budget", None) or bench.budget
    small_budget = max(bench.proxy.batch_size * bench.proxy.seq_len, large_budget // 4)
    rows = []
    for i, w in enumerate(mixtures):
        small_t, large_t, params = [], [], (0, 0)
        for seed in range(seeds):
            rs = bench.run(w, seed, proxy=small, budget=small_budget, n_evals=1)
            rl = bench.run(w, seed, proxy=large, budget=large_budget, n_evals=1)
            small_t.append(bench.target_of(rs.val_loss))
            large_t.append(bench.target_of(rl.val_loss))
            params = (rs.n_params, rl.n_params)
        rows.append(
            {
                "weights": w,
                "small": statistics.fmean(small_t),
                "large": statistics.fmean(large_t),
                "small_by_seed": small_t,
                "large_by_seed": large_t,
                "small_params": params[0],
                "large_params": params[1],
            }
        )
        print(f"transfer mixture {i}: small {rows[-1]['small']:.4f}  large {rows[-1]['large']:.4f}", flush=True)
    small_mean, large_mean = [r["small"] for r in rows], [r["large"] for r in rows]
    by_seed = [
        _agreement([r["small_by_seed"][s] for r in rows], [r["large_by_seed"][s] for r in rows]) for s in range(seeds)
    ]
    large_self = [
        _agreement([r["large_by_seed"][a] for r in rows], [r["large_by_seed"][b] for r in rows])
        for a, b in itertools.combinations(range(seeds), 2)
    ]
    rho = scipy_stats.spearmanr(small_mean, large_mean).statistic if len(rows) > 2 else math.nan
    out = {
        "suite": bench.suite.name,
        "mixtures": len(rows),
        "seeds": seeds,
        "small": {"proxy": small.model_dump(), "budget": small_budget, "params": rows[0]["small_params"]},
        "large": {"proxy": large.model_dump(), "budget": large_budget, "params": rows[0]["large_params"]},
        "params_ratio": rows[0]["large_params"] / rows[0]["small_params"],
        "tokens_ratio": large_budget / small_budget,
        "decision_accuracy": _agreement(small_mean, large_mean),
        "decision_accuracy_by_seed": by_seed,
        "decision_accuracy_seed_interval": mean_interval(by_seed).as_dict() if len(by_seed) > 1 else None,
        "large_self_agreement_across_seeds": large_self,
        "spearman": float(rho),
        "pairs": len(rows) * (len(rows) - 1) // 2,
        "rows": rows,
    }
    print(
        f"transfer: {len(rows)} mixtures x {seeds} seeds, params x{out['params_ratio']:.1f}, tokens "
        f"x{out['tokens_ratio']:.1f}: decision accuracy {out['decision_accuracy']:.3f} (by seed {by_seed}; large "
        f"with itself across seeds {large_self}) over {out['pairs']} pairs, Spearman {rho:.3f}"
    )
    return out


def acceptance(
    results: dict, seeds: int, transfer_result: dict | None, mm_before: dict, mm_after: dict, shipped: list[str]
) -> dict:
    """The acceptance object of mixing.json (exactly the keys reviewers read)."""
    arms = [a for a in shipped if a != "uniform"]
    worst_fraction: dict[str, float | None] = {}
    for arm in arms:
        fr = [f for suite in results.values() for f in suite["summary"][arm]["tokens_to_uniform_final_fraction"]]
        worst_fraction[arm] = None if any(f is None for f in fr) else max(fr)
    reached = {a: f for a, f in worst_fraction.items() if f is not None}
    best = min(reached, key=reached.get) if reached else None
    excess = [suite["summary"][a]["excess_pct_vs_uniform"]["mean"] for suite in results.values() for a in arms]
    uniform_runs = [e for suite in results.values() for e in suite["runs"]["uniform"]]
    return {
        "suites": list(results),
        "seeds": seeds,
        "best_policy": best,
        "best_tokens_fraction_worst_case": reached.get(best) if best else None,
        "worst_policy_excess_pct": max(excess) if excess else None,
        "decision_accuracy": transfer_result["decision_accuracy"] if transfer_result else None,
        "trainer_tokens_per_s": statistics.median(e["tokens_per_s"] for e in uniform_runs),
        "matmul_gflops": max([*mm_before.values(), *mm_after.values()]),
        "trainer_gflops": statistics.median(e["achieved_gflops"] for e in uniform_runs),
    }
