"""The mixing benchmark: its GPU size as specified, and a tiny end-to-end run on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.bench_mixing import SIZES, main, parse_args
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
