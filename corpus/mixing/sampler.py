"""The mixture sampler: weights + token budget + repetition cap -> which training tokens.

Inputs are the token shards of each domain (see ``corpus.tokenize`` for the schema),
wrapped in :class:`~corpus.mixing.domain_tokens.DomainTokens`, which reads Arrow tables or
parquet files through a pyarrow filesystem (local or S3) and only touches the ``tokens``
column when tokens are materialized. Validation documents (``split == "val"``) are never
sampled.

The plan (:func:`plan_mixture`) is small, JSON-serializable and deterministic:

1. **Tokens per domain.** ``requested = weight * budget``. A domain may repeat its
   training tokens at most ``max_epochs`` times. When that cap binds, the plan says so
   (``capped``, ``cap_binding``) and records both the requested and the *effective*
   weights. With ``cap_policy="redistribute"`` (default) the shortfall goes to the
   uncapped domains in proportion to their requested weights, so the budget is still
   met when it can be; with ``"shrink"`` the run simply trains on fewer tokens. Either
   way nothing is renormalized silently: ``notes`` explains every adjustment.
2. **Which tokens.** Each domain's training documents are visited epoch by epoch, each
   epoch in its own seeded order (documents ranked by ``xxh3_64("{seed}:{domain}:{epoch}:{id}")``).
   A domain with per-document weights (a ``weight`` selection rule) is instead drawn by
   weight without replacement: each epoch ranks its documents by Efraimidis-Spirakis keys
   ``log(u) / w`` (``u`` from the same hash), so a budget under one epoch takes documents
   in proportion to their weight, and no document repeats before every positive-weight
   document has been drawn once. The plan stores the counts (full epochs, whole documents
   of the last epoch, leading tokens of the next document); :func:`document_ranges` turns
   them back into exact ``(doc_id, start, end)`` token ranges. The order depends on ids
   (and weights), not on how the documents are laid out in shards.

:func:`materialize` returns the training token stream of each domain (documents
concatenated, each ending with ``<|endoftext|>``), which the proxy trainer consumes.
:func:`~corpus.mixing.domain_tokens.validation_tokens` returns the fixed validation stream of each domain.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Literal

import numpy as np
import xxhash
from pydantic import BaseModel, ConfigDict, Field

from corpus.mixing.domain_tokens import DomainIndex, DomainTokens, SamplerError
from corpus.mixing.weights import WeightsError, validate_weights
from corpus.tokenize import TRAIN

CapPolicy = Literal["redistribute", "shrink"]


_ORDER_RULE = "per epoch, documents ranked by xxh3_64('{seed}:{domain}:{epoch}:{id}'), ties by id"
_WEIGHTED_ORDER_RULE = (
    _ORDER_RULE + "; a weighted domain by descending log(u)/w, u = ((h >> 12) + 0.5) / 2**52 of that hash h, "
    "w its float32 weight"
)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DomainPlan(_Frozen):
    """What one domain contributes to a mixture version."""

    domain: str
    requested_weight: float
    effective_weight: float = Field(description="share of the planned training tokens")
    requested_tokens: int
    tokens: int = Field(description="planned training tokens")
    available_tokens: int = Field(description="training tokens in one epoch of the domain")
    train_docs: int
    val_docs: int
    val_tokens: int
    epochs: float = Field(description="tokens / available_tokens")
    full_epochs: int
    partial_docs: int = Field(description="whole documents taken from the last, partial epoch")
    partial_tail_tokens: int = Field(description="then this many leading tokens of the next document")
    cap_binding: bool = Field(description="the repetition cap (max_epochs) limited this domain")
    index_digest: str = Field(description="hash of the domain's training documents; materialize checks it")


class MixturePlan(_Frozen):
    """A deterministic sample of training tokens per domain; serializable to JSON."""

    version: str | None = None
    seed: int
    budget_tokens: int
    max_epochs: float
    cap_policy: CapPolicy
    total_tokens: int
    requested_weights: dict[str, float]
    effective_weights: dict[str, float]
    capped: list[str]
    notes: list[str]
    domains: dict[str, DomainPlan]
    order_rule: str = _ORDER_RULE

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> MixturePlan:
        return cls.model_validate_json(text)

    def table(self) -> list[dict[str, object]]:
        """One row per domain, for metadata and printed tables."""
        return [
            {
                "domain": d.domain,
                "requested_weight": round(d.requested_weight, 4),
                "effective_weight": round(d.effective_weight, 4),
                "tokens": d.tokens,
                "available_tokens": d.available_tokens,
                "epochs": round(d.epochs, 3),
                "cap_binding": d.cap_binding,
            }
            for d in self.domains.values()
        ]


def allocate_tokens(
    weights: Mapping[str, float],
    caps: Mapping[str, int],
    budget: int,
    cap_policy: CapPolicy = "redistribute",
) -> tuple[dict[str, int], list[str]]:
    """Integer tokens per domain under per-domain caps, and the domains whose cap bound.

    ``redistribute``: water-filling; capped domains get their cap and the rest of the
    budget is shared by the others in proportion to their weights. ``shrink``: each
    domain gets ``min(weight * budget, cap)``. Integer rounding uses largest remainders,
    so the total is exactly ``min(budget, sum of caps)`` under ``redistribute``.
    """
    domains = list(weights)
    shares = {d: float(weights[d]) * budget for d in domains}
    capped: list[str] = []
    if cap_policy == "shrink":
        target = {d: min(shares[d], float(caps[d])) for d in domains}
        capped = [d for d in domains if shares[d] > caps[d] + 1e-9]
    elif cap_policy == "redistribute":
        target = {}
        active = [d for d in domains if weights[d] > 0]
        remaining = float(budget)
        while active:
            total_w = sum(weights[d] for d in active)
            share = {d: remaining * weights[d] / total_w for d in active}
            over = [d for d in active if share[d] > caps[d] + 1e-9]
            if not over:
                target.update(share)
                break
            for d in over:
                target[d] = float(caps[d])
                remaining -= caps[d]
                capped.append(d)
            active = [d for d in active if d not in over]
        for d in domains:
            target.setdefault(d, 0.0)
    else:
        raise SamplerError(f"unknown cap_policy {cap_policy!r}; use 'redistribute' or 'shrink'")
    # largest-remainder rounding, never above a cap
    floors = {d: min(math.floor(target[d] + 1e-9), caps[d]) for d in domains}
    total_target = round(sum(target.values()))
    missing = total_target - sum(floors.values())
    order = sorted(domains, key=lambda d: (-(target[d] - floors[d]), domains.index(d)))
    for d in order:
        if missing <= 0:
            break
        if floors[d] < caps[d]:
            floors[d] += 1
            missing -= 1
    return floors, [d for d in domains if d in capped]


def plan_mixture(
    domains: Mapping[str, DomainTokens],
    weights: Mapping[str, float],
    budget_tokens: int,
    *,
    max_epochs: float,
    seed: int,
    cap_policy: CapPolicy = "redistribute",
    version: str | None = None,
) -> MixturePlan:
    """Plan a mixture version. ``weights`` must be valid (every domain, >= 0, sum 1)."""
    names = list(domains)
    try:
        requested = validate_weights(weights, names)
    except WeightsError as exc:
        raise SamplerError(f"mixture {version or ''}: {exc}".replace(" :", ":")) from exc
    if budget_tokens < 1:
        raise SamplerError(f"budget_tokens must be positive, got {budget_tokens}")
    if not max_epochs > 0:
        raise SamplerError(f"max_epochs must be positive, got {max_epochs}")
    indexes = {d: domains[d].index for d in names}
    caps = {d: math.floor(max_epochs * indexes[d].available_tokens + 1e-9) for d in names}
    tokens, capped = allocate_tokens(requested, caps, budget_tokens, cap_policy)
    total = sum(tokens.values())
    notes: list[str] = []
    for d in capped:
        avail = indexes[d].available_tokens
        notes.append(
            f"{d}: requested {requested[d] * budget_tokens:,.0f} tokens but max_epochs={max_epochs:g} allows "
            f"{caps[d]:,} ({avail:,} training tokens x {max_epochs:g}); "
            + (
                "the shortfall went to the uncapped domains in proportion to their weights"
                if cap_policy == "redistribute"
                else "the run trains on fewer tokens"
            )
        )
    if total < budget_tokens:
        notes.append(
            f"planned {total:,} of the {budget_tokens:,}-token budget: every weighted domain reached its repetition cap"
            if cap_policy == "redistribute"
            else f"planned {total:,} of the {budget_tokens:,}-token budget (cap_policy=shrink)"
        )
    effective = {d: (tokens[d] / total if total else 0.0) for d in names}
    plans = {}
    for d in names:
        idx = indexes[d]
        full, part_docs, tail = _epoch_split(d, idx, tokens[d], seed)
        plans[d] = DomainPlan(
            domain=d,
            requested_weight=requested[d],
            effective_weight=effective[d],
            requested_tokens=round(requested[d] * budget_tokens),
            tokens=tokens[d],
            available_tokens=idx.available_tokens,
            train_docs=len(idx.train_ids),
            val_docs=len(idx.val_ids),
            val_tokens=int(idx.val_tokens.sum()),
            epochs=tokens[d] / idx.available_tokens if idx.available_tokens else 0.0,
            full_epochs=full,
            partial_docs=part_docs,
            partial_tail_tokens=tail,
            cap_binding=d in capped,
            index_digest=idx.digest(),
        )
    return MixturePlan(
        version=version,
        seed=seed,
        budget_tokens=budget_tokens,
        max_epochs=max_epochs,
        cap_policy=cap_policy,
        total_tokens=total,
        requested_weights=requested,
        effective_weights=effective,
        capped=capped,
        notes=notes,
        domains=plans,
        order_rule=_WEIGHTED_ORDER_RULE if any(i.train_weights is not None for i in indexes.values()) else _ORDER_RULE,
    )


def epoch_order(domain: str, index: DomainIndex, epoch: int, seed: int) -> list[int]:
    """Positions of the training documents in the order epoch ``epoch`` visits them.

    Unweighted: ascending ``h = xxh3_64("{seed}:{domain}:{epoch}:{id}")``. Weighted
    (``index.train_weights``): descending Efraimidis-Spirakis key ``log(u) / w`` with
    ``u = ((h >> 12) + 0.5) / 2**52`` (inside (0, 1)); weight 0 comes last. Ties by id.
    """
    prefix = f"{seed}:{domain}:{epoch}:"
    ids = index.train_ids
    h = np.fromiter((xxhash.xxh3_64_intdigest((prefix + i).encode()) for i in ids), dtype=np.uint64, count=len(ids))
    w = index.stored_weights()
    if w is None:
        return _ranked(h, ids)
    u = ((h >> np.uint64(12)).astype(np.float64) + 0.5) * 2.0**-52  # exact, strictly inside (0, 1)
    with np.errstate(divide="ignore"):
        keys = np.log(u) / w.astype(np.float64)  # < 0; -inf for weight 0
    return _ranked(-keys, ids)


def _ranked(keys: np.ndarray, ids: tuple[str, ...]) -> list[int]:
    """Positions sorted by ascending ``keys``, equal keys by id."""
    order = np.argsort(keys, kind="stable")
    ranked = order.tolist()
    k = keys[order]
    if len(k) > 1 and bool(np.any(k[1:] == k[:-1])):
        _, starts, counts = np.unique(k, return_index=True, return_counts=True)
        for s, c in zip(starts[counts > 1].tolist(), counts[counts > 1].tolist(), strict=True):
            ranked[s : s + c] = sorted(ranked[s : s + c], key=ids.__getitem__)
    return ranked


def _epoch_split(domain: str, index: DomainIndex, tokens: int, seed: int) -> tuple[int, int, int]:
    avail = index.available_tokens
    if tokens == 0 or avail == 0:
        return 0, 0, 0
    full, rest = divmod(tokens, avail)
    if rest == 0:
        return int(full), 0, 0
    order = epoch_order(domain, index, int(full), seed)
    cum = 0
    docs = 0
    for i in order:
        n = int(index.train_tokens[i])
        if cum + n > rest:
            break
        cum += n
        docs += 1
    return int(full), docs, int(rest - cum)


def document_ranges(plan: MixturePlan, domain: str, index: DomainIndex) -> Iterator[tuple[str, int, int]]:
    """``(doc_id, start, end)`` token ranges of ``domain``'s training stream, in order."""
    dp = plan.domains[domain]
    if index.digest() != dp.index_digest:
        raise SamplerError(
            f"domain {domain!r}: its training documents changed since plan {plan.version or ''} was made "
            "(index digest differs); plan the mixture again"
        )
    for epoch in range(dp.full_epochs):
        for i in epoch_order(domain, index, epoch, plan.seed):
            yield index.train_ids[i], 0, int(index.train_tokens[i])
    if dp.partial_docs or dp.partial_tail_tokens:
        order = epoch_order(domain, index, dp.full_epochs, plan.seed)
        for i in order[: dp.partial_docs]:
            yield index.train_ids[i], 0, int(index.train_tokens[i])
        if dp.partial_tail_tokens:
            i = order[dp.partial_docs]
            yield index.train_ids[i], 0, dp.partial_tail_tokens


def materialize(plan: MixturePlan, domains: Mapping[str, DomainTokens]) -> dict[str, np.ndarray]:
    """The training token stream of every domain of ``plan`` (exactly ``DomainPlan.tokens`` each)."""
    out: dict[str, np.ndarray] = {}
    for d, dp in plan.domains.items():
        if d not in domains:
            raise SamplerError(
                f"plan {plan.version or ''} names domain {d!r}, which was not given; domains: {', '.join(domains)}"
            )
        index = domains[d].index
        ranges = list(document_ranges(plan, d, index))
        docs = domains[d].read_tokens(TRAIN, {r[0] for r in ranges}) if ranges else {}
        pieces = [docs[doc_id][start:end] for doc_id, start, end in ranges]
        stream = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint16)
        if len(stream) != dp.tokens:  # a shard whose n_tokens disagrees with its tokens slipped through
            raise SamplerError(
                f"domain {d!r}: materialized {len(stream):,} tokens, plan says {dp.tokens:,}; re-run the tokenized "
                "stage"
            )
        out[d] = stream
    return out
