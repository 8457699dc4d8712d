"""The noise study's summary: paired differences per (learning rate, budget) cell."""

from __future__ import annotations

import pytest

from benchmarks.mixing_noise import summarise


def test_cells_pair_seeds_and_rank_precision_per_cpu_second():
    runs = []
    for seed, (u, quiet, loud) in enumerate([(3.0, 0.01, 0.2), (3.1, -0.01, -0.1), (2.9, 0.02, 0.3)]):
        runs += [
            {"lr": 1e-3, "budget": 100, "seed": seed, "mix": "uniform", "target": u, "cpu_s": 10.0},
            {"lr": 1e-3, "budget": 100, "seed": seed, "mix": "natural", "target": u + quiet, "cpu_s": 10.0},
            {"lr": 3e-3, "budget": 100, "seed": seed, "mix": "uniform", "target": u, "cpu_s": 10.0},
            {"lr": 3e-3, "budget": 100, "seed": seed, "mix": "natural", "target": u + loud, "cpu_s": 10.0},
        ]
    cells = {c["lr"]: c for c in summarise(runs)}
    quiet_cell, loud_cell = cells[1e-3], cells[3e-3]
    assert quiet_cell["seeds"] == [0, 1, 2] and quiet_cell["budget_tokens"] == 100
    assert quiet_cell["natural_minus_uniform"]["per_seed"] == pytest.approx([0.01, -0.01, 0.02])
    assert quiet_cell["natural_minus_uniform"]["mean"] == pytest.approx(0.02 / 3)
    assert quiet_cell["diff_sd"] < loud_cell["diff_sd"]
    assert quiet_cell["precision_per_cpu_s"] > 50 * loud_cell["precision_per_cpu_s"]
    assert quiet_cell["uniform_sd"] == pytest.approx(0.1)
