"""Evaluating the proxy GPT per domain: validation NLL and its standard error, the steps to evaluate at."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from corpus.proxy.model import GPT


@dataclass(frozen=True)
class EvalPoint:
    step: int
    tokens_seen: int
    val_loss: dict[str, float]
    finished: bool
    weights: dict[str, float]  # sampling weights at this step
    val_loss_se: dict[str, float] = field(default_factory=dict)  # standard error of each val_loss
    curve_loss: dict[str, float] = field(default_factory=dict)  # loss on the curve's prefix (= val_loss without one)

    @property
    def average(self) -> float:
        return sum(self.val_loss.values()) / len(self.val_loss) if self.val_loss else math.nan


def evaluate(
    model: GPT, val_streams: Mapping[str, np.ndarray], seq_len: int, device: torch.device, batch_size: int = 32
) -> dict[str, float]:
    """Mean next-token NLL (nats) over each domain's validation stream; every token but the first is predicted once."""
    return evaluate_with_se(model, val_streams, seq_len, device, batch_size)[0]


def _mean_se(token_losses: np.ndarray, seq_len: int) -> tuple[float, float]:
    """Mean NLL of a domain's predicted tokens and its standard error, sequences of ``seq_len`` as units (delta
    method)."""
    n_tok = len(token_losses)
    sums = np.add.reduceat(token_losses, np.arange(0, n_tok, seq_len))
    counts = np.diff(np.append(np.arange(0, n_tok, seq_len), n_tok)).astype(np.float64)
    mean = float(token_losses.mean())
    n = len(sums)
    if n < 2:
        return mean, math.inf
    resid = sums - mean * counts
    return mean, float(math.sqrt(n / (n - 1) * np.sum(resid**2)) / counts.sum())


@torch.no_grad()
def token_losses_per_domain(
    model: GPT, val_streams: Mapping[str, np.ndarray], seq_len: int, device: torch.device, batch_size: int = 32
) -> dict[str, np.ndarray]:
    """NLL of every validation token but each stream's first, in stream order (a causal model: windows are
    independent)."""
    was_training = model.training
    model.eval()
    out: dict[str, np.ndarray] = {}
    for d, stream in val_streams.items():
        if len(stream) < 2:
            continue
        tokens = torch.from_numpy(stream.astype(np.int64))
        parts: list[np.ndarray] = []
        starts = list(range(0, len(stream) - 1, seq_len))
        full = [s for s in starts if s + seq_len + 1 <= len(stream)]
        for i in range(0, len(full), batch_size):
            chunk = torch.stack([tokens[s : s + seq_len + 1] for s in full[i : i + batch_size]]).to(device)
            parts.append(model.token_losses(chunk[:, :-1], chunk[:, 1:]).double().flatten().cpu().numpy())
        for s in (s for s in starts if s + seq_len + 1 > len(stream)):
            piece = tokens[s:].unsqueeze(0).to(device)
            parts.append(model.token_losses(piece[:, :-1], piece[:, 1:]).double().flatten().cpu().numpy())
        out[d] = np.concatenate(parts)
    model.train(was_training)
    return out


def evaluate_with_se(
    model: GPT,
    val_streams: Mapping[str, np.ndarray],
    seq_len: int,
    device: torch.device,
    batch_size: int = 32,
    prefix_tokens: int | None = None,
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Per-domain mean validation NLL, its standard error, and the mean over the first ``prefix_tokens`` tokens only.

    The prefix mean equals evaluating the stream cut at ``prefix_tokens`` (cheap intermediate
    evaluations on a prefix stay comparable with the final one).
    """
    losses = token_losses_per_domain(model, val_streams, seq_len, device, batch_size)
    out, ses, prefix = {}, {}, {}
    for d, tl in losses.items():
        out[d], ses[d] = _mean_se(tl, seq_len)
        prefix[d] = float(tl[: max(1, prefix_tokens - 1)].mean()) if prefix_tokens else out[d]
    return out, ses, prefix


def evaluation_steps(steps: int, n_evals: int, at_start: bool) -> list[int]:
    points = {max(1, round(steps * (i + 1) / n_evals)) for i in range(n_evals)} | {steps}
    if at_start:
        points.add(0)
    return sorted(points)
