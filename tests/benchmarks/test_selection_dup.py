"""The selection benchmark's duplicate suite, its per-source weighted draw, and how its acceptance key is read."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _common import RealDocument
from selection_dup import SOFTDEDUP_ARM, combine_seeds, dup_acceptance
from selection_suites import ZIPF_TOP_COPIES, domain_weighted_sample, duplicate_suite, target_overlap

from corpus.proxy.ablation import AVERAGE, run_ablation


def _docs(per_source: int = 100) -> list[RealDocument]:
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(400)]

    def para(tag: str, k: int) -> str:
        sentences = [" ".join(rng.choice(vocab) for _ in range(12)) + "." for _ in range(8)]
        return f"{tag} {k}. " + " ".join(sentences)

    out = []
    for k in range(per_source):
        out.append(RealDocument("literature", para("lit", k)))
        out.append(RealDocument("encyclopedia", para("enc", k)))
        out.append(RealDocument("math", para("math", k)))
    return out


def test_zipf_suite_copies_follow_the_rank_law_and_keeps_targets_out():
    dup = duplicate_suite(_docs(), random.Random(0), n_base=120, tail="zipf")
    sizes = sorted(Counter(dup["group"]).values(), reverse=True)
    popular = dup["base_docs"] // 10
    expected = sorted((1 + max(1, round(ZIPF_TOP_COPIES / r)) for r in range(1, popular + 1)), reverse=True)
    assert sizes[:popular] == expected  # original + copies
    assert all(s == 1 for s in sizes[popular:])
    assert len(dup["domain"]) == len(dup["group"]) == len(dup["source"]) == dup["base_docs"] + sum(expected) - popular
    pool = set(dup["domain"])
    heads = {t.split(".")[0] for t in dup["domain"]}  # the "<tag> <k>" head survives perturbation only in place
    for name, targets in dup["targets"].items():
        assert len(targets) == 60
        assert not pool & set(targets)
        assert not {t.split(".")[0] for t in targets} & heads, name
    # each document's source is the source of the base passage it copies
    by_group = {}
    for g, s in zip(dup["group"], dup["source"], strict=True):
        assert by_group.setdefault(g, s) == s


def test_target_overlap_counts_shared_spans():
    span = " ".join(f"s{i}" for i in range(13))
    pool = ["a b c " + span + " d e", "f g h i j k l m n o p q r s t"]
    targets = {"t": ["x y " + span.upper() + "!", "u v w x y z a b c d e f g h", pool[1]]}
    got = target_overlap(pool, targets)["t"]
    assert got["targets"] == 3 and got["exact_in_pool"] == 1 and got["sharing_span"] == 2
    assert 0 < got["span_share"] < 1
    assert target_overlap(pool, {"u": ["nothing here is shared with any pool text at all today"]})["u"] == {
        "targets": 1,
        "exact_in_pool": 0,
        "sharing_span": 0,
        "span_share": 0.0,
    }


def test_geometric_tail_is_capped_and_unknown_tail_refused():
    dup = duplicate_suite(_docs(), random.Random(0), n_base=120, tail="geometric")
    assert max(Counter(dup["group"]).values()) <= 61
    with pytest.raises(ValueError, match="unknown duplicate tail"):
        duplicate_suite(_docs(), random.Random(0), n_base=120, tail="pareto")


def test_domain_sample_keeps_source_shares_and_never_repeats():
    rng = np.random.default_rng(0)
    n = 3000
    sources = np.array(["a"] * 2000 + ["b"] * 600 + ["c"] * 400)
    lengths = rng.integers(20, 80, n)
    weights = np.where(np.arange(n) < 1000, 0.01, 1.0)  # half of "a" is common: sampled rarely
    budget = int(lengths.sum() * 0.1)
    picked = domain_weighted_sample(weights, lengths, sources, budget, seed=1)
    assert len(set(picked)) == len(picked)
    total = lengths.sum()
    for s in "abc":
        share = lengths[sources == s].sum() / total
        got = sum(int(lengths[i]) for i in picked if sources[i] == s)
        assert abs(got - budget * share) <= 80  # at most one document over its source's budget
    a_common = sum(1 for i in picked if i < 1000)
    a_rare = sum(1 for i in picked if 1000 <= i < 2000)
    assert a_rare > 10 * max(a_common, 1)
    assert picked != domain_weighted_sample(weights, lengths, sources, budget, seed=2)
    with pytest.raises(ValueError, match="one each"):
        domain_weighted_sample(weights[:-1], lengths, sources, budget)


def _res(fractions):
    return SimpleNamespace(comparisons={SOFTDEDUP_ARM: SimpleNamespace(tokens_fraction=fractions)})


def test_acceptance_is_the_largest_fraction_over_seeds():
    assert dup_acceptance(_res([0.5, 0.9, 0.6])) == {"softdedup_tokens_fraction": 0.9}
    assert dup_acceptance(_res([0.5, None, 0.6])) == {"softdedup_tokens_fraction": None}
    assert dup_acceptance(_res([])) == {"softdedup_tokens_fraction": None}


def test_runs_of_one_arm_and_seed_join_into_the_run_over_all():
    rng = np.random.default_rng(5)
    arms = {
        "random": [rng.integers(0, 50, 300) for _ in range(20)],
        "other": [rng.integers(0, 25, 300) for _ in range(20)],
    }
    targets = {"t": [rng.integers(0, 50, 2000)]}
    common = dict(vocab_size=64, budget_tokens=4096, size="seconds", proxy={"device": "cpu"})
    whole = run_ablation(arms, targets, seeds=[0, 1], baseline="random", **common)
    parts = [run_ablation({a: docs}, targets, seeds=[s], **common) for s in (0, 1) for a, docs in arms.items()]
    joined = combine_seeds(parts, "random")
    assert joined.seeds == [0, 1] and list(joined.arms) == ["random", "other"]
    for name in arms:
        for target, losses in whole.arms[name].losses.items():
            assert joined.arms[name].losses[target] == pytest.approx(losses)
    a, b = joined.comparisons["other"], whole.comparisons["other"]
    assert a.delta[AVERAGE].mean == pytest.approx(b.delta[AVERAGE].mean)
    assert a.delta[AVERAGE].high == pytest.approx(b.delta[AVERAGE].high)
    assert a.tokens_fraction == pytest.approx(b.tokens_fraction)
    with pytest.raises(ValueError, match="other seeds"):
        combine_seeds(parts[:3], "random")  # "other" lacks seed 1
