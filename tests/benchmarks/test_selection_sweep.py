"""How the selection benchmark reads tokens-to-target off a sweep of training budgets."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _common import RealDocument
from selection_dup import SOFTDEDUP_ARM, dup_acceptance, duplicate_part
from selection_suites import duplicate_suite
from selection_sweep import crossing, largest, sweep_steps, sweep_summary

GRID = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def _docs(per_source: int = 100) -> list[RealDocument]:
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(300)]
    return [
        RealDocument(domain, f"{domain} {k}. " + " ".join(" ".join(rng.choices(vocab, k=12)) + "." for _ in range(8)))
        for k in range(per_source)
        for domain in ("literature", "encyclopedia", "math")
    ]


def test_crossing_interpolates_between_the_bracketing_budgets():
    losses = [5.40, 5.30, 5.20, 5.10, 5.05, 5.00]
    got = crossing(list(zip(GRID, losses, strict=True)), target=5.16)
    assert got["fraction"] == pytest.approx(0.74)  # 0.7 + (5.20 - 5.16) / (5.20 - 5.10) * 0.1
    assert got["sustained"] == got["fraction"]
    assert not got["at_smallest_budget"] and not got["reaches_then_misses"] and got["loss_falls_with_budget"]
    # order of the points does not matter; an exact hit is that budget
    assert crossing(list(zip(GRID[::-1], losses[::-1], strict=True)), 5.16)["fraction"] == pytest.approx(0.74)
    assert crossing(list(zip(GRID, losses, strict=True)), 5.10)["fraction"] == pytest.approx(0.8)


def test_crossing_never_reached_and_reached_at_the_smallest_budget():
    losses = [5.40, 5.30, 5.20, 5.10, 5.05, 5.00]
    never = crossing(list(zip(GRID, losses, strict=True)), target=4.99)
    assert never["fraction"] is None and never["sustained"] is None
    floor = crossing(list(zip(GRID, losses, strict=True)), target=5.50)
    assert floor["fraction"] == 0.5 and floor["sustained"] == 0.5 and floor["at_smallest_budget"]


def test_crossing_takes_the_first_crossing_when_losses_are_not_monotone():
    losses = [5.30, 5.10, 5.25, 5.12, 5.14, 5.05]  # reaches at 0.6, misses at 0.7 and 0.9, reaches again at 1.0
    got = crossing(list(zip(GRID, losses, strict=True)), target=5.13)
    assert got["fraction"] == pytest.approx(0.585)  # 0.5 + (5.30 - 5.13) / (5.30 - 5.10) * 0.1
    assert got["sustained"] == pytest.approx(0.9 + (5.14 - 5.13) / (5.14 - 5.05) * 0.1, abs=1e-4)
    assert got["reaches_then_misses"] and not got["loss_falls_with_budget"]
    # missing only at the full budget: a first crossing, but nothing sustained
    end = crossing(list(zip(GRID, [5.3, 5.1, 5.1, 5.1, 5.1, 5.2], strict=True)), target=5.15)
    assert end["fraction"] == pytest.approx(0.575) and end["sustained"] is None


def test_crossing_refuses_bad_sweeps():
    with pytest.raises(ValueError, match=r"full-budget point"):
        crossing([(0.5, 5.0), (0.9, 4.9)], 5.0)
    with pytest.raises(ValueError, match="distinct"):
        crossing([(0.5, 5.0), (0.5, 4.9), (1.0, 4.8)], 5.0)
    with pytest.raises(ValueError, match="finite"):
        crossing([(0.5, float("nan")), (1.0, 4.8)], 5.0)


def test_sweep_steps_and_largest():
    assert sweep_steps([0.5, 0.6, 0.7, 0.8, 0.9], 195) == [98, 117, 136, 156, 176, 195]
    for bad in ([0.6, 0.5], [0.5, 1.0], [], [0.5, 0.5]):
        with pytest.raises(ValueError, match="budget fractions"):
            sweep_steps(bad, 195)
    with pytest.raises(ValueError, match="repeated step counts"):
        sweep_steps([0.5, 0.51], 10)
    assert largest([0.6, 0.74, 0.5]) == 0.74
    assert largest([0.6, None]) is None
    assert largest([]) is None


def test_sweep_summary_takes_the_largest_seed_and_pairs_each_budget():
    fractions = [0.5, 0.75, 1.0]
    losses = [[5.4, 5.5], [5.1, 5.3], [5.0, 5.1]]  # per budget, per seed
    got = sweep_summary(fractions, losses, targets=[5.2, 5.2], seeds=[3, 4])
    assert got["per_seed"][3]["fraction"] == pytest.approx(0.6667, abs=1e-4)
    assert got["per_seed"][4]["fraction"] == pytest.approx(0.875)  # reached only at the full budget
    assert got["largest_fraction"] == pytest.approx(0.875)
    full = got["vs_baseline_full_budget"]["1.0000"]
    assert full["mean"] == pytest.approx(-0.15) and full["n"] == 2
    assert got["vs_baseline_full_budget"]["0.5000"]["losses"] == [5.4, 5.5]
    assert sweep_summary(fractions, losses, targets=[5.2, 5.05], seeds=[3, 4])["largest_fraction"] is None
    with pytest.raises(ValueError, match="one loss per budget and seed"):
        sweep_summary(fractions, losses[:2], targets=[5.2, 5.2], seeds=[3, 4])


def test_duplicate_part_runs_the_sweep_and_reads_the_key_from_it():
    from corpus.tokenize import train_bpe

    dup = duplicate_suite(_docs(), random.Random(0), n_base=120, tail="zipf")
    tok = train_bpe(dup["domain"][:200], 300, seed=0)
    proxy = {"n_layer": 1, "n_head": 2, "n_embd": 16, "seq_len": 16, "batch_size": 4, "device": "cpu"}
    common = dict(tokenizer=tok, budget_tokens=2048, seeds=[0, 1], proxy=proxy, eval_tokens=256)
    section, res, sweep = duplicate_part(dup, tok, common, 2048, with_replacement=False, workers=1, fractions=(0.5,))
    assert list(res.arms) == ["random", SOFTDEDUP_ARM, "softdedup_sample"] and res.seeds == [0, 1]
    assert sweep["steps"] == [16, 32] and sweep["fractions"] == [0.5, 1.0]
    assert section["budget_sweep"] is sweep and section["curve_fractions"]["per_seed"] == pytest.approx(
        res.comparisons[SOFTDEDUP_ARM].tokens_fraction
    )
    full = sweep["vs_baseline_full_budget"]["1.0000"]["losses"]
    assert full == pytest.approx(res.arms[SOFTDEDUP_ARM].losses["average"])
    half = sweep["vs_baseline_full_budget"]["0.5000"]["losses"]
    assert half != pytest.approx(full)  # the shorter runs are runs of their own
    for seed, c in sweep["per_seed"].items():
        assert c["target"] == res.arms["random"].losses["average"][[0, 1].index(seed)]
    assert dup_acceptance(res, sweep) == {"softdedup_tokens_fraction": sweep["largest_fraction"]}
