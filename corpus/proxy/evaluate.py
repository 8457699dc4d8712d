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
    curve_loss: dict[str, float] = field(default_factory=dict)  # loss on the curve's window sample, if any

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


def curve_windows(n_tokens: int, seq_len: int, curve_tokens: int) -> np.ndarray:
    """Indices of evenly spaced full windows (window ``i`` predicts tokens ``i*seq_len+1 .. (i+1)*seq_len``) of a
    validation stream of ``n_tokens``, about ``curve_tokens`` predicted tokens in all: a fixed sample spread over
    the whole stream, so a cheap intermediate evaluation estimates the same quantity as the final one."""
    n_full = max(0, (n_tokens - 1) // seq_len)
    k = min(n_full, max(1, math.ceil(curve_tokens / seq_len)))
    return np.floor((np.arange(k) + 0.5) * n_full / k).astype(np.int64) if k else np.zeros(0, dtype=np.int64)


@torch.no_grad()
def _window_losses(
    model: GPT, tokens: torch.Tensor, starts: list[int], seq_len: int, device: torch.device, batch_size: int
) -> list[np.ndarray]:
    parts: list[np.ndarray] = []
    for i in range(0, len(starts), batch_size):
        chunk = torch.stack([tokens[s : s + seq_len + 1] for s in starts[i : i + batch_size]]).to(device)
        parts.append(model.token_losses(chunk[:, :-1], chunk[:, 1:]).double().flatten().cpu().numpy())
    return parts


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
        starts = list(range(0, len(stream) - 1, seq_len))
        full = [s for s in starts if s + seq_len + 1 <= len(stream)]
        parts = _window_losses(model, tokens, full, seq_len, device, batch_size)
        for s in (s for s in starts if s + seq_len + 1 > len(stream)):
            piece = tokens[s:].unsqueeze(0).to(device)
            parts.append(model.token_losses(piece[:, :-1], piece[:, 1:]).double().flatten().cpu().numpy())
        out[d] = np.concatenate(parts)
    model.train(was_training)
    return out


def _curve_mean(token_losses: np.ndarray, n_tokens: int, seq_len: int, curve_tokens: int) -> float:
    idx = curve_windows(n_tokens, seq_len, curve_tokens)
    if not len(idx):
        return float(token_losses.mean())
    return float(np.concatenate([token_losses[i * seq_len : (i + 1) * seq_len] for i in idx]).mean())


def evaluate_with_se(
    model: GPT,
    val_streams: Mapping[str, np.ndarray],
    seq_len: int,
    device: torch.device,
    batch_size: int = 32,
    curve_tokens: int | None = None,
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Per-domain mean validation NLL, its standard error, and the mean over the :func:`curve_windows` sample of
    ``curve_tokens`` (the whole stream without one): what :func:`evaluate_curve` measures, on the same tokens."""
    losses = token_losses_per_domain(model, val_streams, seq_len, device, batch_size)
    out, ses, curve = {}, {}, {}
    for d, tl in losses.items():
        out[d], ses[d] = _mean_se(tl, seq_len)
        curve[d] = _curve_mean(tl, len(val_streams[d]), seq_len, curve_tokens) if curve_tokens else out[d]
    return out, ses, curve


@torch.no_grad()
def evaluate_curve(
    model: GPT,
    val_streams: Mapping[str, np.ndarray],
    seq_len: int,
    device: torch.device,
    batch_size: int,
    curve_tokens: int,
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean NLL and its standard error on the :func:`curve_windows` sample of each stream only (bounded cost)."""
    was_training = model.training
    model.eval()
    means, ses = {}, {}
    for d, stream in val_streams.items():
        if len(stream) < 2:
            continue
        idx = curve_windows(len(stream), seq_len, curve_tokens)
        if not len(idx):  # shorter than one window: the whole stream
            tl = token_losses_per_domain(model, {d: stream}, seq_len, device, batch_size)[d]
        else:
            tokens = torch.from_numpy(stream.astype(np.int64))
            tl = np.concatenate(
                _window_losses(model, tokens, [int(i) * seq_len for i in idx], seq_len, device, batch_size)
            )
        means[d], ses[d] = _mean_se(tl, seq_len)
    model.train(was_training)
    return means, ses


def evaluation_steps(steps: int, n_evals: int, at_start: bool) -> list[int]:
    points = {max(1, round(steps * (i + 1) / n_evals)) for i in range(n_evals)} | {steps}
    if at_start:
        points.add(0)
    return sorted(points)
