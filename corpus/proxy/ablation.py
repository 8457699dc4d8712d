"""Equal-token proxy ablations: does this data choice lower the loss on these targets?

An ablation compares named *arms* (sets of training documents, optionally with
per-document sampling weights) by training the built-in proxy GPT
(:func:`corpus.proxy.train.train`, nothing else) on each arm for the same number of
training tokens and the same seeds, and evaluating every run on the same held-out
*targets* (evaluation texts per domain or task). The result per arm is the final loss on
each target and their average, and against a baseline arm the paired difference over seeds
with its 95% interval (:func:`corpus.stats.paired_interval`) plus the tokens the arm
needed to reach the baseline's final loss (:func:`corpus.stats.tokens_to_target`).

How an arm becomes a training stream, per seed:

* without weights, the arm's documents are concatenated in a seeded order; the trainer
  cuts the stream into windows and repeats it when the budget is larger (``passes``);
* with weights, documents are drawn with replacement, with probability proportional to
  their weight, until the stream holds the budget (plus one window) of tokens, so a
  weight of 0 means never seen and a weight twice as large means seen twice as often.

Everything else (model size, learning rate, schedule, evaluation points) is shared by
every arm; seed ``s`` gives every arm the same initial weights. ``SIZES`` holds presets:
``seconds`` trains a one-layer model in a few seconds (evidence in a proposal), ``small``
is the size of the benchmarks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from corpus.proxy.train import TrainError, TrainOptions, TrainResult, train
from corpus.stats import Interval, mean_interval, paired_interval, tokens_to_target

AVERAGE = "average"  # the key of the mean over targets in losses and comparisons
MAX_ARMS = 32
MAX_SEEDS = 64

SIZES: dict[str, dict[str, Any]] = {
    "seconds": {
        "proxy": {"n_layer": 1, "n_head": 2, "n_embd": 32, "seq_len": 32, "batch_size": 8, "learning_rate": 3e-3},
        "budget_tokens": 16_384,
        "eval_tokens": 4_096,
    },
    "small": {
        "proxy": {"n_layer": 2, "n_head": 4, "n_embd": 128, "seq_len": 128, "batch_size": 16, "learning_rate": 1e-3},
        "budget_tokens": 400_000,
        "eval_tokens": 32_768,
    },
}


class AblationError(ValueError):
    pass


@dataclass(frozen=True)
class Arm:
    """Training documents of one arm: texts or token arrays, optional sampling weights (>= 0)."""

    docs: Sequence[str] | Sequence[np.ndarray]
    weights: Sequence[float] | np.ndarray | None = None


@dataclass
class ArmResult:
    name: str
    losses: dict[str, list[float]]  # target (and "average") -> final loss per seed
    curves: list[list[tuple[int, float]]]  # per seed: (tokens seen, average target loss)
    docs: int
    tokens: int  # tokens in the arm's documents (separators included)
    passes: list[float]  # per seed: how often the stream was used
    seconds: float

    def mean(self, target: str = AVERAGE) -> Interval:
        return mean_interval(self.losses[target])


@dataclass
class Comparison:
    arm: str
    baseline: str
    delta: dict[str, Interval]  # target (and "average") -> paired interval of arm - baseline (negative: arm better)
    tokens_to_baseline: list[float | None]  # per seed: tokens the arm needed to reach the baseline's final average
    tokens_fraction: list[float | None]  # the same as a fraction of the budget

    def verdict(self, target: str = AVERAGE) -> str:
        return self.delta[target].verdict(lower_is_better=True)


@dataclass
class AblationResult:
    arms: dict[str, ArmResult]
    comparisons: dict[str, Comparison]
    baseline: str
    targets: list[str]
    seeds: list[int]
    budget_tokens: int
    proxy: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        arms = {
            name: {
                "docs": a.docs,
                "tokens": a.tokens,
                "loss": {t: v for t, v in a.losses.items()},
                "loss_mean": {t: a.mean(t).as_dict() for t in a.losses},
                "passes": a.passes,
                "curves": a.curves,
                "seconds": round(a.seconds, 2),
            }
            for name, a in self.arms.items()
        }
        comparisons = {
            name: {
                "baseline": c.baseline,
                "delta": {t: iv.as_dict() for t, iv in c.delta.items()},
                "verdict": c.verdict(),
                "tokens_to_baseline": c.tokens_to_baseline,
                "tokens_fraction": c.tokens_fraction,
            }
            for name, c in self.comparisons.items()
        }
        return {
            "baseline": self.baseline,
            "targets": self.targets,
            "seeds": self.seeds,
            "budget_tokens": self.budget_tokens,
            "proxy": self.proxy,
            "arms": arms,
            "comparisons": comparisons,
            "notes": self.notes,
        }

    def summary(self) -> str:
        lines = [f"equal-token ablation: {self.budget_tokens:,} tokens, seeds {self.seeds}, baseline {self.baseline!r}"]
        for name, a in self.arms.items():
            line = f"  {name:<16} average target loss {a.mean()}"
            if name in self.comparisons:
                c = self.comparisons[name]
                line += f"   vs {self.baseline}: {c.delta[AVERAGE]} ({c.verdict()})"
            lines.append(line)
        return "\n".join(lines)


# --- inputs --------------------------------------------------------------------------------


def _as_arrays(what: str, docs: Any, tokenizer: Any) -> list[np.ndarray]:
    if isinstance(docs, np.ndarray) and docs.ndim == 1 and docs.dtype.kind in "iu":
        return [docs]
    docs = list(docs)
    if not docs:
        raise AblationError(f"{what} has no documents; give at least one text or token array")
    if all(isinstance(d, str) for d in docs):
        if tokenizer is None:
            raise AblationError(
                f"{what} is given as texts but no tokenizer was passed; pass tokenizer= (corpus.tokenize.train_bpe)"
            )
        from corpus.tokenize import tokenize_batch

        return tokenize_batch(tokenizer, docs)
    out = []
    for i, d in enumerate(docs):
        arr = np.asarray(d)
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise AblationError(f"{what}[{i}] is neither a text nor a 1-d integer token array")
        out.append(arr)
    return out


def _weights(name: str, arm: Arm, n: int) -> np.ndarray | None:
    if arm.weights is None:
        return None
    w = np.asarray(arm.weights, dtype=np.float64)
    if w.shape != (n,):
        raise AblationError(f"arm {name!r}: {len(w)} weights for {n} documents; give one weight per document")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise AblationError(f"arm {name!r}: weights must be finite and >= 0")
    if w.sum() <= 0:
        raise AblationError(f"arm {name!r}: every weight is 0; no document could be sampled")
    return w


def _stream(docs: list[np.ndarray], weights: np.ndarray | None, need: int, seed: int) -> np.ndarray:
    """The arm's training stream for one seed (see the module docstring); identical arms get identical streams."""
    rng = np.random.default_rng([seed, 7])
    if weights is None:
        order = rng.permutation(len(docs))
        return np.concatenate([docs[i] for i in order])
    p = weights / weights.sum()
    lengths = np.array([len(d) for d in docs], dtype=np.float64)
    mean_len = float((p * lengths).sum())
    picked: list[int] = []
    total = 0
    while total < need:
        draw = rng.choice(len(docs), size=max(16, int(1.2 * (need - total) / max(mean_len, 1.0)) + 1), p=p)
        for i in draw:
            picked.append(int(i))
            total += len(docs[i])
            if total >= need:
                break
    return np.concatenate([docs[i] for i in picked])


def _resolve(
    size: str | None, proxy: Mapping[str, Any] | None, budget: int | None, eval_tokens: int | None
) -> tuple[dict, int, int]:
    if size is not None and size not in SIZES:
        raise AblationError(f"unknown ablation size {size!r}; use one of {', '.join(SIZES)}")
    preset = SIZES[size or "small"]
    cfg = {**preset["proxy"], **dict(proxy or {})}
    cfg.setdefault("device", "auto")
    cfg["online_sampler"] = False
    budget = int(budget if budget is not None else preset["budget_tokens"])
    cfg["eval_tokens"] = int(eval_tokens if eval_tokens is not None else cfg.get("eval_tokens", preset["eval_tokens"]))
    if budget < 1:
        raise AblationError(f"budget_tokens must be positive, got {budget}")
    return cfg, budget, cfg["eval_tokens"]


# --- running -------------------------------------------------------------------------------


def run_ablation(
    arms: Mapping[str, Arm | Sequence[str] | Sequence[np.ndarray]],
    targets: Mapping[str, Sequence[str] | Sequence[np.ndarray] | np.ndarray],
    *,
    tokenizer: Any = None,
    vocab_size: int | None = None,
    budget_tokens: int | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    baseline: str | None = None,
    size: str | None = None,
    proxy: Mapping[str, Any] | None = None,
    eval_tokens: int | None = None,
    options: TrainOptions | None = None,
    on_run: Callable[[str, int, TrainResult], None] | None = None,
) -> AblationResult:
    """Train the proxy on every arm x seed at ``budget_tokens`` tokens; compare with ``baseline``.

    ``arms``: name -> :class:`Arm` (or a plain list of documents). ``targets``: name ->
    held-out texts / token arrays, never trained on. ``tokenizer``: a ``tokenizers``
    tokenizer (needed for texts; its vocabulary size is used). ``baseline``: the arm the
    others are compared with (default: the first). ``size``: a :data:`SIZES` preset,
    overridden field by field by ``proxy`` (ProxySpec fields), ``budget_tokens`` and
    ``eval_tokens`` (per target). ``on_run(arm, seed, result)`` is called after each run.
    """
    if not arms:
        raise AblationError("no arms to compare; give at least two named sets of training documents")
    if len(arms) > MAX_ARMS:
        raise AblationError(f"{len(arms)} arms; at most {MAX_ARMS}")
    if not targets:
        raise AblationError("no targets; give held-out evaluation texts per target")
    seeds = [int(s) for s in seeds]
    if not seeds or len(seeds) > MAX_SEEDS or len(set(seeds)) != len(seeds):
        raise AblationError(f"seeds must be 1 to {MAX_SEEDS} distinct integers, got {seeds}")
    baseline = baseline if baseline is not None else next(iter(arms))
    if baseline not in arms:
        raise AblationError(f"baseline {baseline!r} is not an arm; arms: {', '.join(arms)}")
    cfg, budget, n_eval = _resolve(size, proxy, budget_tokens, eval_tokens)
    if vocab_size is None:
        if tokenizer is None:
            raise AblationError("give tokenizer= or vocab_size= (token ids must be below it)")
        vocab_size = int(tokenizer.get_vocab_size())

    target_streams: dict[str, np.ndarray] = {}
    for t, docs in targets.items():
        arrays = _as_arrays(f"target {t!r}", docs, tokenizer)
        stream = np.concatenate(arrays)[:n_eval]
        if len(stream) < 2:
            raise AblationError(f"target {t!r} has fewer than 2 tokens; give longer evaluation texts")
        target_streams[t] = stream
    notes: list[str] = []
    prepared: dict[str, tuple[list[np.ndarray], np.ndarray | None]] = {}
    for name, arm in arms.items():
        arm = arm if isinstance(arm, Arm) else Arm(arm)
        arrays = _as_arrays(f"arm {name!r}", arm.docs, tokenizer)
        prepared[name] = (arrays, _weights(name, arm, len(arrays)))
        tokens = sum(len(a) for a in arrays)
        if tokens < budget and arm.weights is None:
            repeats = budget / max(tokens, 1)
            notes.append(f"arm {name!r}: {tokens:,} tokens for a budget of {budget:,}: repeated {repeats:.2f} times")

    need = budget + int(cfg["seq_len"]) + 1
    results: dict[str, ArmResult] = {}
    for name, (arrays, weights) in prepared.items():
        started = time.perf_counter()
        losses: dict[str, list[float]] = {t: [] for t in target_streams} | {AVERAGE: []}
        curves, passes = [], []
        for seed in seeds:
            stream = _stream(arrays, weights, need, seed)
            try:
                res = train(
                    {"train": stream},
                    target_streams,
                    {**cfg, "seed": seed},
                    budget,
                    vocab_size=vocab_size,
                    options=options,
                )
            except TrainError as exc:
                raise AblationError(f"arm {name!r}, seed {seed}: {exc}") from exc
            for t in target_streams:
                losses[t].append(float(res.val_loss[t]))
            losses[AVERAGE].append(float(np.mean([res.val_loss[t] for t in target_streams])))
            curves.append([(e.tokens_seen, float(np.mean([e.val_loss[t] for t in target_streams]))) for e in res.evals])
            passes.append(float(res.passes.get("train", math.nan)))
            if on_run is not None:
                on_run(name, seed, res)
        results[name] = ArmResult(
            name=name,
            losses=losses,
            curves=curves,
            docs=len(arrays),
            tokens=int(sum(len(a) for a in arrays)),
            passes=passes,
            seconds=time.perf_counter() - started,
        )

    return AblationResult(
        arms=results,
        comparisons=compare_arms(results, baseline, budget),
        baseline=baseline,
        targets=list(target_streams),
        seeds=seeds,
        budget_tokens=budget,
        proxy=cfg,
        notes=notes,
    )


def compare_arms(arms: Mapping[str, ArmResult], baseline: str, budget: int) -> dict[str, Comparison]:
    """Every arm against ``baseline``: paired differences per target, and the tokens each seed
    needed to reach the baseline's final average loss (read off its curve)."""
    base = arms[baseline]
    comparisons: dict[str, Comparison] = {}
    for name, res in arms.items():
        if name == baseline:
            continue
        reach = [tokens_to_target(c, t) for c, t in zip(res.curves, base.losses[AVERAGE], strict=True)]
        comparisons[name] = Comparison(
            arm=name,
            baseline=baseline,
            delta={t: paired_interval(res.losses[t], base.losses[t]) for t in res.losses},
            tokens_to_baseline=reach,
            tokens_fraction=[None if r is None else r / budget for r in reach],
        )
    return comparisons
