"""The evaluation's window sample: spread over the whole stream, the same value cheap and in a full evaluation."""

from __future__ import annotations

import numpy as np
import torch

from corpus.proxy.evaluate import curve_windows, evaluate_curve, evaluate_with_se

CPU = torch.device("cpu")


class TargetAsLoss(torch.nn.Module):
    """A stand-in whose loss of each predicted token is that token's id: means can be checked by hand."""

    def token_losses(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return targets.to(torch.float64)


def test_curve_windows_are_evenly_spread_over_the_whole_stream():
    idx = curve_windows(n_tokens=64 * 100 + 1, seq_len=64, curve_tokens=640)
    assert len(idx) == 10
    assert idx.tolist() == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    assert curve_windows(64 * 100 + 1, 64, 10**9).tolist() == list(range(100))  # capped at every window
    assert len(curve_windows(40, 64, 640)) == 0  # no full window: the caller evaluates the whole stream


def test_a_cheap_curve_evaluation_equals_the_full_evaluations_sample_and_sees_the_streams_end():
    seq_len = 8
    # the first half of the stream costs 1 per token, the second 5: a prefix would read 1, the whole stream 3
    stream = np.concatenate([np.ones(8 * 50), np.full(8 * 50 + 1, 5)]).astype(np.int64)
    val = {"a": stream}
    model = TargetAsLoss()
    cheap, se = evaluate_curve(model, val, seq_len, CPU, batch_size=7, curve_tokens=8 * 10)
    full, _, curve = evaluate_with_se(model, val, seq_len, CPU, batch_size=32, curve_tokens=8 * 10)
    assert cheap["a"] == curve["a"] == 3.0
    assert abs(full["a"] - 3.0) < 0.01
    assert se["a"] > 0
    _, _, whole = evaluate_with_se(model, val, seq_len, CPU)
    assert whole["a"] == full["a"]  # without a sample the curve is the full mean
