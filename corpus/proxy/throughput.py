"""FLOP accounting: the trainer's FLOPs per token and the machine's matmul rate (the reference for its FLOP/s)."""

from __future__ import annotations

import time

import torch


def flops_per_token(n_params: int, n_layer: int, n_embd: int, seq_len: int) -> float:
    """Training FLOPs per token: ``6 N`` for the weights plus ``6 * n_layer * seq_len * n_embd`` for attention
    (PaLM)."""
    return 6.0 * n_params + 6.0 * n_layer * seq_len * n_embd


def matmul_gflops(
    device: str = "cpu", n: int | None = None, seconds: float = 1.0, dtype: torch.dtype | None = None
) -> float:
    """GFLOP/s of repeated ``n x n`` matmuls (``2 n^3`` FLOPs each) for about ``seconds``.

    Defaults: fp32 1024 x 1024 on CPU (the current torch thread count), bf16 8192 x 8192 on CUDA.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        n, dtype = n or 8192, dtype or torch.bfloat16
    else:
        n, dtype = n or 1024, dtype or torch.float32
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    torch.mm(a, b)  # warm up
    sync()
    reps, started = 0, time.perf_counter()
    while True:
        torch.mm(a, b)
        reps += 1
        if reps % 4 == 0:
            sync()
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                return 2.0 * n**3 * reps / elapsed / 1e9
