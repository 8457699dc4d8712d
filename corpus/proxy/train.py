"""The proxy trainer: a small GPT trained on a mixture's token streams, evaluated per domain.

Read top to bottom: cut each domain's stream into sequences, build the model, loop over
steps (fixed schedule or online sampler), evaluate the fixed validation tokens of every
domain at a few steps and at the end, return a :class:`TrainResult`.

* **Fixed mixture** (``online_sampler=False``): every ``seq_len + 1`` window of every
  domain stream (stride ``seq_len``) is one sequence; the windows of all domains are
  shuffled together with the seed and consumed in order, so each domain contributes
  exactly its planned share of tokens. A budget above the streams' size starts another
  shuffled pass (reported in ``passes``).
* **Online** (``online_sampler=True``): the domain of each sequence is drawn from an
  :class:`~corpus.proxy.online.OnlineSampler` that starts at the plan's effective
  weights and moves toward domains with a high training loss; each domain's windows
  are consumed in a seeded order and reshuffled when used up.

Validation loss (:mod:`corpus.proxy.evaluate`) is the mean next-token NLL (nats) over each
domain's validation tokens (at most ``eval_tokens`` per domain, which bounds the evaluation
cost); its standard error treats the validation sequences as the sampling units. Throughput
is reported as training tokens/s and achieved FLOP/s (``6 * params * tokens`` plus attention,
:mod:`corpus.proxy.throughput`), so it can be set beside a matmul microbenchmark of the same
machine. On CUDA the forward pass runs under bfloat16 autocast.
Runs are deterministic given the seed on a given device and thread count
(``torch.manual_seed``, seeded numpy generators, no dropout).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch

from corpus.mixing.target import Target, domain_emphasis, held_out_share
from corpus.proxy.evaluate import EvalPoint, evaluate_curve, evaluate_with_se, evaluation_steps
from corpus.proxy.model import GPT, GPTConfig
from corpus.proxy.online import OnlineSampler, OnlineSamplerConfig
from corpus.proxy.order import keyed_order, keyed_pass
from corpus.proxy.throughput import flops_per_token

PROXY_FIELDS = (
    "n_layer",
    "n_head",
    "n_embd",
    "seq_len",
    "batch_size",
    "learning_rate",
    "eval_tokens",
    "seed",
    "online_sampler",
    "device",
)


class TrainError(ValueError):
    pass


@dataclass(frozen=True)
class TrainOptions:
    """Trainer knobs beyond ``ProxySpec``; the defaults suit the demo sizes."""

    n_evals: int = 4  # evaluations at evenly spaced steps, the last one at the end
    eval_at_start: bool = False  # also evaluate the untrained model (step 0)
    weight_decay: float = 0.1
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1  # cosine decay to this fraction of the learning rate
    grad_clip: float = 1.0
    eval_batch_size: int = 32
    online: OnlineSamplerConfig = field(default_factory=OnlineSamplerConfig)
    target_emphasis: Mapping[str, float] | None = None  # the online sampler's weight on each domain's reward
    # the target's share on untrained domains: the online sampler keeps it at the prior
    target_held_out_share: float = 0.0
    curve_eval_tokens: int | None = None  # intermediate evaluations on a sample of this many tokens per val stream
    # "shuffle": one seeded permutation of all windows per pass; "keyed": every window gets a seeded random key
    # from (seed, domain, window, pass) and windows are visited by key, so two mixtures of the same seed visit
    # the windows they share in the same relative order (common random numbers: paired runs differ by the mixture)
    order: Literal["shuffle", "keyed"] = "shuffle"


@dataclass
class TrainResult:
    steps: int
    tokens_seen: int
    tokens_per_domain: dict[str, int]
    val_loss: dict[str, float]  # final
    evals: list[EvalPoint]
    weight_trajectory: list[tuple[int, dict[str, float]]]
    train_loss: list[tuple[int, float]]
    n_params: int
    device: str
    seconds: float
    passes: dict[str, float]  # how many times each domain's windows were used (on average)
    notes: list[str]
    model: Any = field(default=None, repr=False, compare=False)  # the trained GPT, with keep_model=True
    train_seconds: float = 0.0  # the training steps alone (no evaluation)
    flops_per_token: float = 0.0  # forward + backward, 6N + attention

    @property
    def val_loss_se(self) -> dict[str, float]:
        return self.evals[-1].val_loss_se if self.evals else {}

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_seen / self.train_seconds if self.train_seconds > 0 else math.nan

    @property
    def achieved_flops(self) -> float:
        return self.tokens_per_s * self.flops_per_token

    @property
    def average_loss(self) -> float:
        return sum(self.val_loss.values()) / len(self.val_loss) if self.val_loss else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(replace(self, model=None)).items() if k != "model"}


def target_options(target: Any, trained: list[str], **options: Any) -> TrainOptions:
    """Trainer options whose online sampler serves ``target`` (a ``Target``, a spec's target or None: average)."""
    t = Target.of(target)
    emphasis = domain_emphasis({}, t, trained) if t.kind != "worst" else None
    return TrainOptions(target_emphasis=emphasis, target_held_out_share=held_out_share(t, trained), **options)


def _proxy_value(proxy: Any, name: str) -> Any:
    if isinstance(proxy, Mapping):
        if name not in proxy:
            raise TrainError(f"proxy config has no {name!r}; give a ProxySpec or a dict with {', '.join(PROXY_FIELDS)}")
        return proxy[name]
    return getattr(proxy, name)


def resolve_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise TrainError("mixture.proxy.device is 'cuda' but CUDA is not available here; use 'auto' or 'cpu'")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def _windows(stream: np.ndarray, seq_len: int) -> np.ndarray:
    """Start offsets of the full ``seq_len + 1`` windows of a stream (stride ``seq_len``)."""
    n = (len(stream) - 1) // seq_len if len(stream) > seq_len else 0
    return np.arange(n, dtype=np.int64) * seq_len


def _lr(step: int, total: int, base: float, opts: TrainOptions) -> float:
    warmup = max(1, int(opts.warmup_frac * total))
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * (opts.min_lr_frac + (1 - opts.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train(
    train_streams: Mapping[str, np.ndarray],
    val_streams: Mapping[str, np.ndarray],
    proxy: Any,
    budget_tokens: int | None = None,
    *,
    vocab_size: int,
    weights: Mapping[str, float] | None = None,
    options: TrainOptions | None = None,
    on_eval: Callable[[EvalPoint], None] | None = None,
    keep_model: bool = False,
) -> TrainResult:
    """Train the proxy GPT and evaluate it per domain.

    ``train_streams`` / ``val_streams``: per-domain token arrays (``sampler.materialize``
    and ``domain_tokens.validation_tokens``). ``proxy``: a ``ProxySpec`` (or a dict with its
    fields). ``budget_tokens``: training tokens (inputs) to see; default: one pass over
    the streams. ``weights``: the online sampler's starting weights (default: the
    streams' token shares). ``on_eval`` is called after every evaluation, the last one
    with ``finished=True``; write metrics records from it. ``keep_model``: return the
    trained model in ``TrainResult.model`` (for scoring documents with it).
    """
    opts = options or TrainOptions()
    seq_len = int(_proxy_value(proxy, "seq_len"))
    batch_size = int(_proxy_value(proxy, "batch_size"))
    seed = int(_proxy_value(proxy, "seed"))
    online = bool(_proxy_value(proxy, "online_sampler"))
    eval_tokens = int(_proxy_value(proxy, "eval_tokens"))
    device = resolve_device(str(_proxy_value(proxy, "device")))
    started = time.perf_counter()
    notes: list[str] = []

    domains = list(train_streams)
    windows = {d: _windows(train_streams[d], seq_len) for d in domains}
    trainable = [d for d in domains if len(windows[d])]
    for d in domains:
        if not len(windows[d]):
            notes.append(f"{d}: fewer than seq_len+1={seq_len + 1} training tokens; not trained on")
    if not trainable:
        raise TrainError(
            f"no domain has a full training sequence of {seq_len + 1} tokens; lower seq_len or raise the budget"
        )
    for kind, group in (("training", train_streams), ("validation", val_streams)):
        for d, s in group.items():
            if len(s) and int(s.max()) >= vocab_size:
                raise TrainError(
                    f"domain {d!r}: {kind} token id {int(s.max())} >= vocab_size {vocab_size}; tokens and tokenizer "
                    "disagree"
                )
    val = {d: np.asarray(s[:eval_tokens]) for d, s in val_streams.items()}
    for d in domains:
        if len(val.get(d, ())) < 2:
            notes.append(f"{d}: no validation tokens; its validation loss is not reported")

    total_windows = sum(len(windows[d]) for d in trainable)
    per_step = batch_size * seq_len
    steps = (budget_tokens // per_step) if budget_tokens is not None else total_windows // batch_size
    if steps < 1:
        raise TrainError(
            f"budget of {budget_tokens or total_windows * seq_len} tokens is less than one batch ({batch_size} x "
            f"{seq_len} tokens)"
        )

    cfg = GPTConfig(
        vocab_size=vocab_size,
        block_size=seq_len,
        n_layer=int(_proxy_value(proxy, "n_layer")),
        n_head=int(_proxy_value(proxy, "n_head")),
        n_embd=int(_proxy_value(proxy, "n_embd")),
    )
    with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's RNG state
        torch.manual_seed(seed)
        model = GPT(cfg)
    model = model.to(device)
    base_lr = float(_proxy_value(proxy, "learning_rate"))
    optim = model.optimizer(base_lr, opts.weight_decay)
    streams = {d: torch.from_numpy(np.asarray(train_streams[d]).astype(np.int64)) for d in trainable}
    rng = np.random.default_rng([seed, 1])

    # --- the order sequences are drawn in ---------------------------------------------
    shares = {d: len(windows[d]) / total_windows for d in trainable}
    start_weights = {d: float(weights.get(d, 0.0)) for d in trainable} if weights else shares
    sampler = (
        OnlineSampler(
            trainable,
            start_weights,
            opts.online,
            seed=seed,
            tokens_per_sequence=seq_len,
            emphasis=opts.target_emphasis,
            held_out_share=opts.target_held_out_share,
        )
        if online
        else None
    )
    fixed_order = np.concatenate(
        [np.stack([np.full(len(windows[d]), i), windows[d]], axis=1) for i, d in enumerate(trainable)]
    )
    used = np.zeros(len(trainable), dtype=np.int64)
    cursors = {i: 0 for i in range(len(trainable))}
    keyed = opts.order == "keyed"
    passes_started = {i: 0 for i in range(len(trainable))}

    def domain_order(i: int) -> np.ndarray:
        d = trainable[i]
        passes_started[i] += 1
        return keyed_order(d, windows[d], seed, passes_started[i]) if keyed else rng.permutation(windows[d])

    domain_orders = {i: domain_order(i) for i in range(len(trainable))}
    fixed_pass: np.ndarray = fixed_order[:0]
    fixed_pos = 0
    fixed_passes = 0

    def next_batch() -> tuple[torch.Tensor, np.ndarray]:
        nonlocal fixed_pos, fixed_pass, fixed_passes
        if sampler is None:
            picks = []
            need = batch_size
            while need:
                if fixed_pos >= len(fixed_pass):  # start a (new) shuffled pass over every window
                    if keyed:
                        fixed_pass = keyed_pass(windows, trainable, seed, fixed_passes)
                    else:
                        fixed_pass = fixed_order[rng.permutation(len(fixed_order))]
                    fixed_pos = 0
                    fixed_passes += 1
                take = min(need, len(fixed_pass) - fixed_pos)
                picks.append(fixed_pass[fixed_pos : fixed_pos + take])
                fixed_pos += take
                need -= take
            chosen = np.concatenate(picks)
            dom, starts = chosen[:, 0], chosen[:, 1].tolist()
        else:
            dom = sampler.sample(batch_size)
            starts = []
            for i in dom:
                order = domain_orders[i]
                if cursors[i] >= len(order):
                    domain_orders[i] = order = domain_order(i)
                    cursors[i] = 0
                starts.append(int(order[cursors[i]]))
                cursors[i] += 1
        np.add.at(used, dom, 1)
        batch = torch.stack([streams[trainable[i]][s : s + seq_len + 1] for i, s in zip(dom, starts, strict=True)])
        return batch.to(device), dom

    def current_weights() -> dict[str, float]:
        return sampler.weights_dict() if sampler else dict(shares)

    evals: list[EvalPoint] = []
    eval_steps = set(evaluation_steps(steps, opts.n_evals, opts.eval_at_start))
    eval_seconds = 0.0

    def run_eval(step: int) -> None:
        nonlocal eval_seconds
        t0 = time.perf_counter()
        sample = opts.curve_eval_tokens
        with _autocast(device):
            if step == steps or not sample:
                loss, se, curve = evaluate_with_se(model, val, seq_len, device, opts.eval_batch_size, sample)
            else:  # evenly spaced windows over each whole stream, the same ones the final evaluation's curve uses
                loss, se = evaluate_curve(model, val, seq_len, device, opts.eval_batch_size, sample)
                curve = loss
        eval_seconds += time.perf_counter() - t0
        point = EvalPoint(
            step=step,
            tokens_seen=step * per_step,
            val_loss=loss,
            finished=step == steps,
            weights=current_weights(),
            val_loss_se=se,
            curve_loss=curve,
        )
        evals.append(point)
        if on_eval is not None:
            on_eval(point)

    if 0 in eval_steps:
        run_eval(0)
    train_loss: list[tuple[int, float]] = []
    model.train()
    for step in range(steps):
        for group in optim.param_groups:
            group["lr"] = _lr(step, steps, base_lr, opts)
        batch, dom = next_batch()
        with _autocast(device):
            losses = model.token_losses(batch[:, :-1], batch[:, 1:])
        loss = losses.mean()
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if opts.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
        optim.step()
        if not math.isfinite(loss.item()):
            raise TrainError(f"training loss became {loss.item()} at step {step}; lower mixture.proxy.learning_rate")
        train_loss.append((step + 1, float(loss.item())))
        if sampler is not None:
            sampler.observe(dom, losses.detach().mean(dim=1).cpu().numpy())
            if (step + 1) % opts.online.update_every == 0:
                sampler.update(step + 1)
        if step + 1 in eval_steps:
            run_eval(step + 1)

    tokens_per_domain = {d: int(used[i]) * seq_len for i, d in enumerate(trainable)}
    tokens_per_domain.update({d: 0 for d in domains if d not in tokens_per_domain})
    passes = {d: (int(used[i]) / len(windows[d])) for i, d in enumerate(trainable)}
    trajectory = sampler.trajectory if sampler else [(0, dict(shares))]
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return TrainResult(
        steps=steps,
        tokens_seen=steps * per_step,
        tokens_per_domain=tokens_per_domain,
        val_loss=evals[-1].val_loss,
        evals=evals,
        weight_trajectory=trajectory,
        train_loss=train_loss,
        n_params=model.num_params(),
        device=str(device),
        seconds=seconds,
        passes=passes,
        notes=notes,
        model=model if keep_model else None,
        train_seconds=max(seconds - eval_seconds, 1e-9),
        flops_per_token=flops_per_token(model.num_params(), cfg.n_layer, cfg.n_embd, seq_len),
    )


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
