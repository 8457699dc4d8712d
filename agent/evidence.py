"""What a pipeline buys, measured in seconds: the proxy trained on its output vs on the raw sample.

From a dry run's sample, a share of the documents (chosen by a hash of their id, so the
same documents whatever the spec) is held out. Two arms are trained with the platform's
equal-token ablation (:func:`corpus.proxy.ablation.run_ablation`, size ``seconds``):

* ``raw``: the raw sample's other documents, as read;
* ``pipeline``: what the pipeline kept of those same documents, as it left them.

Both get the same number of training tokens and the same seeds, and are scored on two
targets built from the held-out part: ``held_out_raw`` (every held-out document as read)
and ``held_out_kept`` (the held-out documents the pipeline keeps, as it leaves them). The
paired difference ``pipeline - raw`` over the seeds comes with its 95% interval; an interval
that covers zero says "no difference shown". A tiny proxy on a few hundred documents is a
smoke test of the direction, not a measurement of the final model: the section says so.

The BPE tokenizer is trained on the raw training part only (never on held-out text).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import xxhash

HOLDOUT_BUCKETS = 5  # one document in five is held out
VOCAB_SIZE = 512
SEEDS = (0, 1, 2)
MAX_ARM_BYTES = 256 << 10  # text per arm at most: the seconds size trains on 16k tokens (about 64 KiB of text)
MIN_HELD_OUT_TOKENS = 64


@dataclass
class Evidence:
    """The proxy comparison of one dry run (``error`` set when it could not be made, with the reason)."""

    arms: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> docs, tokens, loss means
    delta: dict[str, dict[str, Any]] = field(default_factory=dict)  # target -> paired interval pipeline - raw
    budget_tokens: int = 0
    seeds: list[int] = field(default_factory=list)
    held_out_docs: int = 0
    held_out_kept_docs: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.error is None and bool(self.delta)

    def to_json(self) -> dict[str, Any]:
        return {
            "arms": self.arms,
            "delta_pipeline_minus_raw": self.delta,
            "budget_tokens": self.budget_tokens,
            "seeds": self.seeds,
            "held_out_docs": self.held_out_docs,
            "held_out_kept_docs": self.held_out_kept_docs,
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
            "error": self.error,
        }


def held_out(doc_id: str) -> bool:
    return xxhash.xxh3_64_intdigest(doc_id.encode()) % HOLDOUT_BUCKETS == 0


def _cap(texts: list[str], max_bytes: int) -> list[str]:
    out, total = [], 0
    for t in texts:
        size = len(t.encode("utf-8", "replace"))
        if out and total + size > max_bytes:
            break
        out.append(t)
        total += size
    return out


def proxy_evidence(
    raw: list[tuple[str, str]], kept: list[tuple[str, str]], *, seeds: tuple[int, ...] = SEEDS
) -> Evidence:
    """The comparison from (id, text) pairs of the raw sample and of what the pipeline kept (module docstring)."""
    from corpus.proxy.ablation import AVERAGE, AblationError, run_ablation
    from corpus.tokenize import tokenize_batch, train_bpe

    t0 = time.perf_counter()
    ev = Evidence(seeds=list(seeds))
    raw_train = [t for i, t in raw if not held_out(i) and t.strip()]
    raw_test = [t for i, t in raw if held_out(i) and t.strip()]
    kept_train = [t for i, t in kept if not held_out(i) and t.strip()]
    kept_test = [t for i, t in kept if held_out(i) and t.strip()]
    ev.held_out_docs, ev.held_out_kept_docs = len(raw_test), len(kept_test)
    if not raw_train or not kept_train or not raw_test:
        ev.error = (
            f"too few documents for a comparison ({len(raw_train)} raw and {len(kept_train)} kept training "
            f"documents, {len(raw_test)} held out); dry-run more documents"
        )
        ev.seconds = time.perf_counter() - t0
        return ev
    raw_train, kept_train = _cap(raw_train, MAX_ARM_BYTES), _cap(kept_train, MAX_ARM_BYTES)
    tok = train_bpe(raw_train, VOCAB_SIZE, seed=0)
    targets: dict[str, list[str]] = {"held_out_raw": raw_test}
    if kept_test:
        targets["held_out_kept"] = kept_test
    for name, texts in list(targets.items()):
        if sum(len(a) for a in tokenize_batch(tok, texts)) < MIN_HELD_OUT_TOKENS:
            targets.pop(name)
            ev.notes.append(f"target {name} left out: under {MIN_HELD_OUT_TOKENS} tokens")
    if not targets:
        ev.error = "the held-out documents hold too few tokens to score; dry-run more documents"
        ev.seconds = time.perf_counter() - t0
        return ev
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small runs fastest on one thread, and reproducibly
    try:
        res = run_ablation(
            {"raw": raw_train, "pipeline": kept_train},
            targets,
            tokenizer=tok,
            seeds=seeds,
            baseline="raw",
            size="seconds",
            proxy={"device": "cpu"},
        )
    except AblationError as exc:
        ev.error = f"the proxy comparison failed: {exc}"
        ev.seconds = time.perf_counter() - t0
        return ev
    finally:
        torch.set_num_threads(threads)
    for name, arm in res.arms.items():
        ev.arms[name] = {
            "docs": arm.docs,
            "tokens": arm.tokens,
            "loss": {t: round(arm.mean(t).mean, 4) for t in arm.losses if t != AVERAGE},
        }
    comp = res.comparisons["pipeline"]
    for target, iv in comp.delta.items():
        if target == AVERAGE:
            continue
        ev.delta[target] = {
            "mean": round(iv.mean, 4),
            "low": round(iv.low, 4),
            "high": round(iv.high, 4),
            "n": iv.n,
            "verdict": iv.verdict(lower_is_better=True),
        }
    ev.budget_tokens = res.budget_tokens
    ev.notes.extend(res.notes)
    ev.seconds = time.perf_counter() - t0
    return ev


def render_evidence(ev: Evidence) -> str:
    """The PROPOSAL.md section: what training on the pipeline's output does to a tiny proxy's loss."""
    lines = ["## Evidence: proxy loss, pipeline output vs raw sample", ""]
    if not ev.available:
        return "\n".join([*lines, f"No comparison: {ev.error or 'not run'}.", ""])
    lines += [
        f"A tiny proxy model (one layer, seconds) trained for {ev.budget_tokens:,} tokens on each arm, seeds "
        f"{', '.join(map(str, ev.seeds))}; scored on the {ev.held_out_docs} held-out sample documents "
        f"({ev.held_out_kept_docs} of them kept by the pipeline). Lower loss is better; the difference is "
        "pipeline minus raw, paired by seed, with its 95% interval.",
        "",
        "| target | raw: loss | pipeline: loss | pipeline - raw (95% interval) | verdict |",
        "|---|---|---|---|---|",
    ]
    for target, d in ev.delta.items():
        raw_loss = ev.arms.get("raw", {}).get("loss", {}).get(target)
        pipe_loss = ev.arms.get("pipeline", {}).get("loss", {}).get(target)
        verdict = {"better": "pipeline better", "worse": "pipeline worse"}.get(d["verdict"], "no difference shown")
        lines.append(
            f"| {target} | {raw_loss:.3f} | {pipe_loss:.3f} | {d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] | "
            f"{verdict} |"
        )
    arms = ", ".join(f"{k}: {v['docs']} documents, {v['tokens']:,} tokens" for k, v in ev.arms.items())
    lines += [
        "",
        f"Arms: {arms}. A proxy this small shows a direction on this sample, not the effect on a full "
        "training run." + (" " + " ".join(ev.notes) if ev.notes else ""),
        "",
    ]
    return "\n".join(lines)
