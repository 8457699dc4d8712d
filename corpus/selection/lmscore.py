"""Model-loss scores: per-document loss under a small reference LM (the proxy GPT).

The reference model is the built-in proxy trained (:func:`corpus.proxy.train.train`) on
reference documents, with a byte-level BPE trained on them. Two uses:

* **perplexity bands** (CCNet): rank documents by their mean token loss under the reference
  model; ``head`` / ``middle`` / ``tail`` are the lowest / middle / highest thirds;
* **RHO-style** ("learnable, not yet learned"): ``loss under a model of the data itself -
  loss under the reference model``; a high value means the reference model predicts the
  document well (learnable) while a model of the raw data does not yet (not learned).

A document's loss is the mean next-token NLL (nats) over its first ``max_tokens`` tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from corpus.proxy.train import train
from corpus.tokenize import tokenize_batch, train_bpe

REFERENCE_PROXY: dict[str, Any] = {
    "n_layer": 2,
    "n_head": 4,
    "n_embd": 64,
    "seq_len": 64,
    "batch_size": 16,
    "learning_rate": 3e-3,
    "eval_tokens": 4096,
    "seed": 0,
    "online_sampler": False,
    "device": "cpu",
}


class ScoreError(ValueError):
    pass


@dataclass
class ReferenceLM:
    model: Any
    tokenizer: Any
    seq_len: int
    train_loss: float

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        budget_tokens: int = 200_000,
        vocab_size: int = 2048,
        seed: int = 0,
        proxy: dict[str, Any] | None = None,
        *,
        field: str = "reference_sources",
        tokenizer: Any = None,
    ) -> ReferenceLM:
        texts = [t for t in texts if t and t.strip()]
        if not texts:
            raise ScoreError(
                f"{field}: no reference documents to train the reference model on; name a non-empty source"
            )
        tok = tokenizer or train_bpe(texts, vocab_size, seed=seed)
        stream = np.concatenate(tokenize_batch(tok, texts))
        cfg = {**REFERENCE_PROXY, **(proxy or {}), "seed": seed}
        if len(stream) <= cfg["seq_len"] + 1:
            raise ScoreError(f"{field}: the reference documents hold {len(stream)} tokens; give more reference text")
        budget = max(budget_tokens, cfg["batch_size"] * cfg["seq_len"])
        res = train({"ref": stream}, {}, cfg, budget, vocab_size=tok.get_vocab_size(), keep_model=True)
        return cls(res.model, tok, int(cfg["seq_len"]), float(res.train_loss[-1][1]))

    @torch.no_grad()
    def doc_losses(self, texts: Sequence[str], max_tokens: int = 256, batch_docs: int = 64) -> np.ndarray:
        """Mean token loss of each text (nats); texts with under 2 tokens get NaN."""
        self.model.eval()
        arrays = tokenize_batch(self.tokenizer, list(texts))
        out = np.full(len(arrays), np.nan)
        width = self.seq_len + 1
        for lo in range(0, len(arrays), batch_docs):
            chunk = arrays[lo : lo + batch_docs]
            rows, owner, counts = [], [], []
            for j, a in enumerate(chunk):
                a = a[: max_tokens + 1].astype(np.int64)
                for s in range(0, max(len(a) - 1, 0), self.seq_len):
                    piece = a[s : s + width]
                    if len(piece) < 2:
                        continue
                    pad = np.zeros(width, dtype=np.int64)
                    pad[: len(piece)] = piece
                    rows.append(pad)
                    owner.append(lo + j)
                    counts.append(len(piece) - 1)
            if not rows:
                continue
            x = torch.from_numpy(np.stack(rows))
            losses = self.model.token_losses(x[:, :-1], x[:, 1:]).double().numpy()
            mask = np.arange(self.seq_len)[None, :] < np.array(counts)[:, None]
            sums = (losses * mask).sum(axis=1)
            tot = np.bincount(np.array(owner) - lo, weights=sums, minlength=len(chunk))
            cnt = np.bincount(np.array(owner) - lo, weights=np.array(counts, dtype=float), minlength=len(chunk))
            ok = cnt > 0
            out[lo : lo + len(chunk)][ok] = tot[ok] / cnt[ok]
        return out


def bands(losses: np.ndarray) -> np.ndarray:
    """CCNet-style band per document by reference loss terciles: "head" (lowest), "middle", "tail"; NaN -> "tail"."""
    finite = np.isfinite(losses)
    out = np.full(len(losses), "tail", dtype=object)
    if finite.sum():
        lo, hi = np.quantile(losses[finite], [1 / 3, 2 / 3])
        out[finite & (losses <= lo)] = "head"
        out[finite & (losses > lo) & (losses <= hi)] = "middle"
    return out
