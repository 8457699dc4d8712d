"""The selection benchmark's duplicate-heavy part: random against soft-dedup sampling at equal tokens.

Arms, per seed (each seed draws its own sample, so the seed spread includes the draw):

* ``random``: every document equally likely, duplicates included (a seeded permutation);
* ``softdedup_domain`` (the acceptance arm): drawn by soft-dedup weight without replacement
  inside each source, every source keeping its token share of the pool, as a mixture keeps a
  domain's share and the weight only decides which of its documents are sampled;
* ``softdedup_sample``: drawn by weight without replacement over the whole pool (the sources'
  shares move with the weights);
* ``softdedup`` (full runs only): the ablation's weighted sampler, with replacement.

The acceptance arm is also trained at shorter budgets (:data:`BUDGET_FRACTIONS` of the full one), each run
with its own learning-rate schedule and the same seed, sample and proxy; the acceptance key is read off that
sweep (:mod:`selection_sweep`). The full-budget run's window order is the same in every budget, so a shorter
run sees exactly the first batches of the full one and differs from it only in its schedule.

Each arm x seed runs alone, in up to two worker processes with one torch thread each; the runs are joined into one
:class:`corpus.proxy.ablation.AblationResult` with the same paired comparisons as a single run.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
from selection_suites import (
    domain_weighted_sample,
    source_shares,
    stream_redundancy,
    take_tokens,
    target_overlap,
    weighted_sample,
)
from selection_sweep import largest, sweep_steps, sweep_summary

DUP_DESIGN = {
    "chosen": "before the run that measured it",
    "suite": (
        "the same 1,750 base passages (Shakespeare, WikiText-2, GSM8K; 60 held-out target passages per source drawn "
        "first, never copied, not in the pool); 10% of them popular, the r-th most copied with round(480 / r) "
        "lightly perturbed copies (Zipf's rank law: a few passages copied hundreds of times, most a few times)"
    ),
    "why": (
        "the earlier copy counts (1 + Geometric(1/15), at most 60) have a light tail: the 200k-token random stream "
        "(about 11% of the pool) sees even the most copied passage only about 7 times; web duplicate counts are "
        "heavy-tailed (Lee et al. 2022), which is where reweighting changes what a stream holds; the total number "
        "of copies stays close to the earlier suite's"
    ),
    "acceptance_arm": (
        "softdedup_domain: the weight decides which documents of a source are sampled, not the source's share, as "
        "the mixture sampler applies a weight rule inside a domain whose share the mixture fixes"
    ),
    "proxy": (
        "the noisy suite's model, tokenizer and its training text, at 4x its budget (800k tokens: at 200k the "
        "proxy's curve was too steep to resolve a token fraction, every shorter run ending far above the full "
        "run's curve); 1 torch thread"
    ),
    "key": (
        "largest over seeds of the smallest budget fraction (runs of the acceptance arm at 0.5 to 0.9 of the "
        "budget, each with its own schedule, and the full run) whose final loss reaches random's final loss at the "
        "full budget, interpolated between the two budgets around the first crossing; null if a seed never does"
    ),
    "key_before": (
        "largest over seeds of the point on the full-budget run's evaluation curve where it reaches random's final "
        "loss (kept as curve_fractions: it compares a run before its learning rate decayed with a decayed one)"
    ),
}
SOFTDEDUP_ARM = "softdedup_domain"  # the acceptance arm (chosen before the run)
BUDGET_FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9)  # the acceptance arm's shorter budgets (chosen before the run)
GLOBAL_ARM = "softdedup_sample"
WITH_REPLACEMENT_ARM = "softdedup"


def curve_fraction(dup_res) -> float | None:
    """The largest fraction of the full run's evaluation curve any seed needed to reach random's final loss."""
    return largest(dup_res.comparisons[SOFTDEDUP_ARM].tokens_fraction)


def dup_acceptance(dup_res, sweep: dict | None = None) -> dict:
    """The acceptance key: from the budget sweep when there is one, else from the full run's curves."""
    value = sweep["largest_fraction"] if sweep is not None else curve_fraction(dup_res)
    return {"softdedup_tokens_fraction": value}


def combine_seeds(parts: list, baseline: str):
    """One AblationResult from runs of the same budget and proxy, each over some arms and seeds.

    Every arm needs the same seeds in the same order across the parts that hold it; the paired
    comparisons with ``baseline`` are redone over all of them.
    """
    from corpus.proxy.ablation import AblationResult, ArmResult, compare_arms

    first = parts[0]
    budget = first.budget_tokens
    held: dict[str, list] = {}
    for p in parts:
        for name in p.arms:
            held.setdefault(name, []).append(p)
    seeds = [s for p in held[baseline] for s in p.seeds]
    arms = {}
    for name, ps in held.items():
        if [s for p in ps for s in p.seeds] != seeds:
            raise ValueError(f"arm {name!r} was run on other seeds than the baseline {baseline!r}")
        runs = [p.arms[name] for p in ps]
        a0 = runs[0]
        arms[name] = ArmResult(
            name=name,
            losses={t: [v for r in runs for v in r.losses[t]] for t in a0.losses},
            curves=[c for r in runs for c in r.curves],
            docs=a0.docs,
            tokens=a0.tokens,
            passes=[x for r in runs for x in r.passes],
            seconds=sum(r.seconds for r in runs),
        )
    return AblationResult(
        arms=arms,
        comparisons=compare_arms(arms, baseline, budget),
        baseline=baseline,
        targets=first.targets,
        seeds=seeds,
        budget_tokens=budget,
        proxy=first.proxy,
        notes=[n for p in parts for n in p.notes],
    )


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def _run_one(job: dict):
    from corpus.proxy.ablation import Arm, run_ablation

    seed = job["seed"]

    def progress(arm, s, res):
        print(
            f"  {arm:<17} seed {s}: average target loss {np.mean(list(res.val_loss.values())):.4f} "
            f"({res.seconds:.0f} s)",
            flush=True,
        )

    docs, weights = job["docs"], job["weights"]
    arm = Arm(docs, weights=weights) if weights is not None else docs
    name = job["arm"] if job.get("budget") is None else f"{job['arm']}@{job['fraction']:.2f}"
    common = job["common"] | ({} if job.get("budget") is None else {"budget_tokens": job["budget"]})
    return run_ablation({name: arm}, job["targets"], seeds=[seed], on_run=progress, **common)


def duplicate_part(
    dup,
    tok,
    common: dict,
    budget: int,
    with_replacement: bool = True,
    workers: int = 2,
    fractions: tuple[float, ...] | None = BUDGET_FRACTIONS,
):
    """Run the arms of the module docstring on the duplicate suite; (section for the results file, result, sweep).

    ``fractions``: the acceptance arm's shorter budgets (None: no sweep; the sweep summary is then None).
    """
    from corpus.selection.softdedup import softdedup_weights
    from corpus.tokenize import tokenize_batch

    ddomain, group, source = dup["domain"], dup["group"], dup["source"]
    t0 = time.perf_counter()
    weights = softdedup_weights(ddomain, n=5)
    softdedup_s = time.perf_counter() - t0
    arrays = tokenize_batch(tok, ddomain)
    lengths = np.array([len(a) for a in arrays])
    targets = {t: tokenize_batch(tok, texts) for t, texts in dup["targets"].items()}
    need = budget + int(common["proxy"]["seq_len"]) + 1
    seeds = list(common["seeds"])
    rest = {k: v for k, v in common.items() if k not in ("seeds", "tokenizer")}
    rest["vocab_size"] = int(tok.get_vocab_size())
    per_step = int(common["proxy"]["batch_size"]) * int(common["proxy"]["seq_len"])
    steps = sweep_steps(fractions, budget // per_step) if fractions else [budget // per_step]
    jobs, per_seed = [], {}
    for seed in seeds:
        picks = {
            SOFTDEDUP_ARM: domain_weighted_sample(weights, lengths, source, need, seed=seed),
            GLOBAL_ARM: weighted_sample(weights, lengths, need, seed=seed),
        }
        arms = {"random": (arrays, None)} | {a: ([arrays[i] for i in p], None) for a, p in picks.items()}
        if with_replacement:
            arms[WITH_REPLACEMENT_ARM] = (arrays, weights)
        jobs += [
            {"seed": seed, "arm": a, "docs": docs, "weights": w, "targets": targets, "common": rest}
            for a, (docs, w) in arms.items()
        ]
        jobs += [
            {"seed": seed, "arm": SOFTDEDUP_ARM, "docs": arms[SOFTDEDUP_ARM][0], "weights": None}
            | {"targets": targets, "common": rest, "budget": n * per_step, "fraction": n / steps[-1]}
            for n in steps[:-1]
        ]
        # the streams as corpus.proxy.ablation orders them for this seed
        streams = {"random": np.random.default_rng([seed, 7]).permutation(len(ddomain))} | {
            a: [p[k] for k in np.random.default_rng([seed, 7]).permutation(len(p))] for a, p in picks.items()
        }
        per_seed[seed] = {
            a: stream_redundancy(st, group, lengths, budget)
            | {"source_shares": source_shares(take_tokens(st, lengths, budget), source, lengths)}
            for a, st in streams.items()
        } | {"docs": {a: len(p) for a, p in picks.items()}}
    print(
        f"duplicate suite ({dup['tail']} tail): {len(ddomain):,} documents, {int(lengths.sum()):,} tokens; "
        f"{len(jobs)} runs ({len(seeds)} seeds) in {min(workers, len(jobs))} processes",
        flush=True,
    )
    jobs.sort(key=lambda j: -(j.get("budget") or budget))  # the longest first, so the processes finish together
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(
            min(workers, len(jobs)), mp_context=get_context("spawn"), initializer=_init_worker
        ) as ex:
            parts = list(ex.map(_run_one, jobs))
    else:
        parts = [_run_one(j) for j in jobs]
    full = [p for p, j in zip(parts, jobs, strict=True) if j.get("budget") is None]
    dup_res = combine_seeds(sorted(full, key=lambda p: p.seeds[0]), "random")
    print(dup_res.summary(), flush=True)
    sweep = None
    if fractions:
        sweep = budget_sweep(dup_res, parts, jobs, steps, per_step, seeds)
        print(
            f"{SOFTDEDUP_ARM} budget sweep: per seed "
            f"{[c['fraction'] for c in sweep['per_seed'].values()]}; largest {sweep['largest_fraction']}",
            flush=True,
        )
    sizes = np.bincount(np.asarray(group))
    section = {
        "documents": len(ddomain),
        "tokens": int(lengths.sum()),
        "base_docs": dup["base_docs"],
        "tail": dup["tail"],
        "copy_counts": {
            "largest": sorted((int(s) for s in sizes), reverse=True)[:10],
            "groups_copied": int((sizes > 1).sum()),
            "copies_share_of_docs": round(float(1 - len(sizes) / len(ddomain)), 4),
        },
        "pool_source_shares": source_shares(range(len(ddomain)), source, lengths),
        "target_overlap": target_overlap(ddomain, dup["targets"]),
        "softdedup_s": round(softdedup_s, 2),
        "weight_mean": float(weights.mean()),
        "acceptance_arm": SOFTDEDUP_ARM,
        "per_seed_streams": per_seed,
        "ablation": dup_res.to_dict(),
        "curve_fractions": {
            "per_seed": dup_res.comparisons[SOFTDEDUP_ARM].tokens_fraction,
            "largest": curve_fraction(dup_res),
            "definition": DUP_DESIGN["key_before"],
        },
    }
    if sweep is not None:
        section["budget_sweep"] = sweep
    return section, dup_res, sweep


def budget_sweep(dup_res, parts: list, jobs: list, steps: list[int], per_step: int, seeds: list[int]) -> dict:
    """The acceptance arm's final losses per budget and seed (the full budget from ``dup_res``), summarised."""
    from corpus.proxy.ablation import AVERAGE

    by = {(j["seed"], j["budget"]): p for p, j in zip(parts, jobs, strict=True) if j.get("budget") is not None}
    losses, curves, per_target = [], [], []
    for n in steps[:-1]:
        runs = [next(iter(by[(s, n * per_step)].arms.values())) for s in seeds]
        losses.append([r.losses[AVERAGE][0] for r in runs])
        per_target.append({t: [r.losses[t][0] for r in runs] for t in runs[0].losses if t != AVERAGE})
        curves.append([r.curves[0] for r in runs])
    full = dup_res.arms[SOFTDEDUP_ARM]
    losses.append(list(full.losses[AVERAGE]))
    per_target.append({t: list(v) for t, v in full.losses.items() if t != AVERAGE})
    curves.append(full.curves)
    fractions = [n / steps[-1] for n in steps]
    summary = sweep_summary(fractions, losses, dup_res.arms["random"].losses[AVERAGE], seeds)
    return {
        "arm": SOFTDEDUP_ARM,
        "baseline": "random at the full budget (its final average target loss per seed)",
        "nominal_fractions": [*BUDGET_FRACTIONS, 1.0],
        "steps": steps,
        "tokens": [n * per_step for n in steps],
        "fractions": [round(f, 4) for f in fractions],
        "definition": DUP_DESIGN["key"],
        "non_monotone": (
            "the key takes the first crossing; sustained is the crossing after the last budget that misses; a seed "
            "reaching the target at the smallest budget is reported at it (an upper bound)"
        ),
        "same_batches": (
            "a shorter run sees the first batches of the full run of its seed (the same stream, window order and "
            "initial weights); only its learning-rate schedule differs"
        ),
        **summary,
        "per_target_losses": dict(zip((f"{f:.4f}" for f in fractions), per_target, strict=True)),
        "curves": dict(zip((f"{f:.4f}" for f in fractions[:-1]), curves[:-1], strict=True)),
    }


def dup_provenance(dup_res, sweep: dict, seeds: list[int]) -> tuple[str, str]:
    """(why the duplicate part was re-run, where ``softdedup_tokens_fraction`` comes from) for the results file."""

    def listed(values) -> str:
        return ", ".join("never" if f is None else f"{f:.3f}" for f in values)

    cells = sweep["per_seed"].values()
    why = (
        f"the key is now read off a budget sweep of {SOFTDEDUP_ARM} (fractions {sweep['fractions']} of the budget, "
        "each run with its own cosine schedule, same seed, sample and proxy) instead of the full run's evaluation "
        "curve, whose points before the end are read before their learning rate decayed, against random's decayed "
        "final loss; each budget is now trained to its own end; grid, seeds and suite fixed before this run; the "
        "earlier Zipf-tail run "
        "is previous_duplicate_suite, the light-tailed one previous_duplicate_suite_geometric_tail"
    )
    provenance = (
        f"duplicate_suite.budget_sweep (arm {SOFTDEDUP_ARM}, seeds {seeds}): the largest over seeds of the smallest "
        "budget fraction whose own run's final average target loss reaches random's final loss at the full budget, "
        f"interpolated at the first crossing (per seed: {listed(c['fraction'] for c in cells)}; crossing after the "
        f"last budget that misses: {listed(c['sustained'] for c in cells)}); it answers 'reaches random's final loss "
        "with fewer tokens' with each budget trained to its end. The full run's curve-read fraction, a different "
        f"question, is {curve_fraction(dup_res)} (duplicate_suite.curve_fractions, per seed: "
        f"{listed(dup_res.comparisons[SOFTDEDUP_ARM].tokens_fraction)})"
        + ("" if sweep["largest_fraction"] is not None else "; some seed never reached it, so null")
    )
    return why, provenance
