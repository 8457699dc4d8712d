"""The mixing benchmark: its GPU size as specified, and a tiny end-to-end run on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.bench_mixing import SIZES, carried_over, main, parse_args
from benchmarks.mixing_report import _agreement
from corpus.proxy.model import GPT, GPTConfig

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ACCEPTANCE_KEYS = {
    "suites",
    "seeds",
    "best_policy",
    "best_tokens_fraction_worst_case",
    "worst_policy_excess_pct",
    "decision_accuracy",
    "trainer_tokens_per_s",
    "matmul_gflops",
    "trainer_gflops",
}


def test_gpu_size_has_the_promised_model_and_tokens():
    args = parse_args(["--size", "gpu", "--device", "cuda"])
    with torch.device("meta"):
        model = GPT(
            GPTConfig(
                vocab_size=257, block_size=args.seq_len, n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd
            )
        )
    assert model.num_params() >= 30_000_000
    runs = args.seeds * len(args.arms.split(",")) * len(args.suites.split(","))
    assert runs * args.budget >= 200_000_000
    assert SIZES["gpu"]["n_embd"] % SIZES["gpu"]["n_head"] == 0


def test_transfer_budget_is_its_own_on_cpu_and_follows_the_budget_elsewhere():
    cpu = parse_args([])
    assert (cpu.budget, cpu.transfer_budget) == (300_000, 100_000)
    assert parse_args(["--transfer-budget", "50000"]).transfer_budget == 50_000
    assert parse_args(["--size", "tiny"]).transfer_budget is None  # the transfer check then uses --budget


def test_a_new_result_keeps_the_instrument_study_and_the_replaced_run(tmp_path):
    old = tmp_path / "mixing.json"
    assert carried_over(old) == {}
    summary = {"uniform": {"target": {"mean": 3.0}, "runs": []}, "_noise": {"target_seed_sd": 0.1}}
    old.write_text(
        json.dumps(
            {
                "created_at": "t0",
                "acceptance": {"seeds": 5},
                "config": {"budget": 80_000},
                "results": {"six": {"summary": summary, "runs": {"uniform": [1, 2]}}},
                "instrument": {"noise": {"seeds": 5}},
                "seconds": 10.0,
            }
        )
    )
    kept = carried_over(old)
    assert "earlier_runs" not in kept
    assert kept["instrument"] == {"noise": {"seeds": 5}}
    prev = kept["previous_run"]
    assert prev["acceptance"] == {"seeds": 5} and prev["config"] == {"budget": 80_000} and prev["created_at"] == "t0"
    assert prev["summary"] == {"six": {"uniform": {"target": {"mean": 3.0}}}}  # no per-run rows, no _noise
    doc = json.loads(old.read_text()) | {"previous_run": {"created_at": "t-1"}, "earlier_runs": [{"created_at": "t-2"}]}
    old.write_text(json.dumps(doc))
    assert [r["created_at"] for r in carried_over(old)["earlier_runs"]] == ["t-1", "t-2"]
    old.write_text("{not json")
    assert carried_over(old) == {}


def test_transfer_agreement_counts_pairs_ordered_alike():
    assert _agreement([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]) == 1.0
    assert _agreement([1.0, 2.0, 3.0], [30.0, 20.0, 10.0]) == 0.0
    assert _agreement([1.0, 2.0, 3.0], [10.0, 30.0, 20.0]) == pytest.approx(2 / 3)
    assert _agreement([1.0], [1.0]) is None


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "README.md").exists(), reason="needs ../shared/data")
def test_gpu_size_runs_on_cpu_at_a_tiny_scale(tmp_path):
    """The --size gpu path (its suites, arms and settings) end to end, with the model and budget shrunk for CPU."""
    out = tmp_path / "mixing.json"
    tiny = [
        "--n-layer",
        "1",
        "--n-head",
        "2",
        "--n-embd",
        "32",
        "--seq-len",
        "32",
        "--batch-size",
        "4",
        "--budget",
        "4096",
        "--chars",
        "30000",
        "--val-tokens",
        "4096",
        "--curve-tokens",
        "1024",
        "--n-evals",
        "2",
        "--matmul-seconds",
        "0.1",
    ]
    assert main(["--size", "gpu", "--device", "cpu", *tiny, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    acc = result["acceptance"]
    assert set(acc) == ACCEPTANCE_KEYS
    assert acc["suites"] == ["six"] and acc["seeds"] == 2 and acc["decision_accuracy"] is None  # gpu size: no transfer
    assert acc["trainer_tokens_per_s"] > 0 and acc["matmul_gflops"] > 0 and acc["trainer_gflops"] > 0
    summary = result["results"]["six"]["summary"]
    diff = summary["online"]["diff_vs_uniform"]
    assert diff["low"] <= diff["mean"] <= diff["high"]
    assert diff["verdict"] in ("better", "worse", "no difference shown")
    assert all(v >= 4096 for v in (row["val_tokens"] for row in result["domains"].values()))
