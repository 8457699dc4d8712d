"""The fixed-mixture ceiling study: search, candidates, own-schedule runs, at a tiny scale on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.mixing_bound import _curve_at, main

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TINY = [
    "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--seq-len", "32", "--batch-size", "4",
    "--budget", "4096", "--chars", "30000", "--val-tokens", "4096", "--curve-tokens", "1024",
    "--n-evals", "4", "--matmul-seconds", "0.1",
]  # fmt: skip


def test_curve_is_read_linearly_between_evaluations():
    curve = [(100, 3.0), (200, 2.0), (400, 1.0)]
    assert _curve_at(curve, 150) == pytest.approx(2.5)
    assert _curve_at(curve, 300) == pytest.approx(1.5)
    assert _curve_at(curve, 400) == pytest.approx(1.0)


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "README.md").exists(), reason="needs ../shared/data")
def test_bound_search_picks_and_compares_candidates(tmp_path):
    out = tmp_path / "bound.json"
    argv = ["--suites", "six", "--seeds", "2", "--search", "1", "--jobs", "1", *TINY, "--out", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    six = result["suites"]["six"]
    search = six["search"]["runs"]
    assert len(search) == 3 and six["search"]["seed"] == 100  # uniform, natural, one random mixture
    best = min(search, key=lambda r: r["target"])
    cands = six["candidates"]
    assert set(cands) == {"best_searched", "regmix"}
    assert cands["best_searched"]["weights"] == best["weights"]
    assert sum(cands["regmix"]["weights"].values()) == pytest.approx(1.0)
    for c in cands.values():
        assert len(c["targets"]) == 2 and len(c["tokens_to_uniform_final_fraction"]) == 2
        d = c["diff_vs_uniform"]
        assert d["low"] <= d["mean"] <= d["high"]
        assert c["own_schedule"]["budget"] == round(0.7 * 4096)
        assert c["reaches_goal_every_seed"] == all(
            f is not None and f <= 0.7 for f in c["tokens_to_uniform_final_fraction"]
        )
    sc = six["schedule_check"]
    assert sc["fraction"] == pytest.approx(0.7, abs=0.01) and len(sc["own_schedule_minus_full_curve"]) == 2
    assert set(result["summary"]["six"]) == {
        "best_candidate_worst_fraction",
        "best_candidate_pct_vs_uniform",
        "schedule_own_minus_curve",
    }
