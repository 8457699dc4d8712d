"""The selection benchmark's duplicate-heavy part: random against soft-dedup sampling at equal tokens.

Arms, per seed (each seed draws its own sample, so the seed spread includes the draw):

* ``random``: every document equally likely, duplicates included (a seeded permutation);
* ``softdedup_domain`` (the acceptance arm): drawn by soft-dedup weight without replacement
  inside each source, every source keeping its token share of the pool, as a mixture keeps a
  domain's share and the weight only decides which of its documents are sampled;
* ``softdedup_sample``: drawn by weight without replacement over the whole pool (the sources'
  shares move with the weights);
* ``softdedup`` (full runs only): the ablation's weighted sampler, with replacement.

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
    "proxy": "unchanged (same model, budget, tokenizer and its training text as the noisy suite); 1 torch thread",
    "key": "largest fraction over seeds of the budget needed to reach random's final loss; null if a seed never does",
}
SOFTDEDUP_ARM = "softdedup_domain"  # the acceptance arm (chosen before the run)
GLOBAL_ARM = "softdedup_sample"
WITH_REPLACEMENT_ARM = "softdedup"


def dup_acceptance(dup_res) -> dict:
    """The largest fraction of the budget any seed needed to reach random's final loss; null if a seed never did."""
    fractions = dup_res.comparisons[SOFTDEDUP_ARM].tokens_fraction
    value = None if not fractions or any(f is None for f in fractions) else round(max(fractions), 4)
    return {"softdedup_tokens_fraction": value}


def combine_seeds(parts: list, baseline: str):
    """One AblationResult from runs of the same budget and proxy, each over some arms and seeds.

    Every arm needs the same seeds in the same order across the parts that hold it; the paired
    comparisons with ``baseline`` are redone over all of them.
    """
    from corpus.proxy.ablation import AVERAGE, AblationResult, ArmResult, Comparison
    from corpus.stats import paired_interval, tokens_to_target

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
    base = arms[baseline]
    comparisons = {}
    for name, res in arms.items():
        if name == baseline:
            continue
        reach = [tokens_to_target(c, t) for c, t in zip(res.curves, base.losses[AVERAGE], strict=True)]
        comparisons[name] = Comparison(
            arm=name,
            baseline=baseline,
            delta={t: paired_interval(res.losses[t], base.losses[t]) for t in res.losses},
            tokens_to_baseline=reach,
            tokens_fraction=[None if r is None else r / budget for r in reach],
        )
    return AblationResult(
        arms=arms,
        comparisons=comparisons,
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
    return run_ablation({job["arm"]: arm}, job["targets"], seeds=[seed], on_run=progress, **job["common"])


def duplicate_part(dup, tok, common: dict, budget: int, with_replacement: bool = True, workers: int = 2):
    """Run the arms of the module docstring on the duplicate suite; (section for the results file, result)."""
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
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(
            min(workers, len(jobs)), mp_context=get_context("spawn"), initializer=_init_worker
        ) as ex:
            parts = list(ex.map(_run_one, jobs))
    else:
        parts = [_run_one(j) for j in jobs]
    dup_res = combine_seeds(parts, "random")
    print(dup_res.summary(), flush=True)
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
    }
    return section, dup_res
