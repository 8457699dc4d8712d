"""The mixture sampler: weights + token budget + repetition cap -> which training tokens.

Inputs are the token shards of each domain (see ``corpus.tokenize`` for the schema),
wrapped in :class:`DomainTokens`, which reads Arrow tables or parquet files through a
pyarrow filesystem (local or S3) and only touches the ``tokens`` column when tokens are
materialized. Validation documents (``split == "val"``) are never sampled.

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
   The plan stores the counts (full epochs, whole documents of the last epoch, leading
   tokens of the next document); :func:`document_ranges` turns them back into exact
   ``(doc_id, start, end)`` token ranges. The order depends on ids, not on how the
   documents are laid out in shards.

:func:`materialize` returns the training token stream of each domain (documents
concatenated, each ending with ``<|endoftext|>``), which the proxy trainer consumes.
:func:`validation_tokens` returns the fixed validation stream of each domain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import xxhash
from pydantic import BaseModel, ConfigDict, Field

from corpus import schema
from corpus.mixing.weights import WeightsError, validate_weights
from corpus.tokenize import TRAIN, VAL, split_rank_key, token_arrays_from_table

CapPolicy = Literal["redistribute", "shrink"]
_INDEX_COLUMNS = [schema.ID, schema.SPLIT, schema.N_TOKENS]


class SamplerError(ValueError):
    pass


# --- domain token access ------------------------------------------------------------


@dataclass(frozen=True)
class DomainIndex:
    """The cheap columns of one domain: ids and token counts per split, no tokens."""

    train_ids: tuple[str, ...]
    train_tokens: np.ndarray  # int64, aligned with train_ids
    val_ids: tuple[str, ...]
    val_tokens: np.ndarray

    @property
    def available_tokens(self) -> int:
        return int(self.train_tokens.sum())

    def digest(self) -> str:
        """Hash of the training documents (id, n_tokens), order-independent."""
        h = xxhash.xxh3_64()
        for i in sorted(range(len(self.train_ids)), key=self.train_ids.__getitem__):
            h.update(self.train_ids[i].encode())
            h.update(b"\x00")
            h.update(str(int(self.train_tokens[i])).encode())
            h.update(b"\x01")
        return h.hexdigest()


TableReader = Callable[[list[str]], pa.Table]


class DomainTokens:
    """One domain's tokenized documents, read part by part on demand.

    Build it with :meth:`from_parquet` (local paths, or paths inside an S3 filesystem:
    ``pafs.S3FileSystem`` / ``CorpusStore.filesystem``), :meth:`from_tables` or
    :meth:`from_arrays`. Only ``id``, ``split`` and ``n_tokens`` are read to plan; the
    ``tokens`` column is read when a stream is materialized.
    """

    def __init__(self, name: str, readers: Sequence[TableReader], where: Sequence[str] | None = None):
        self.name = name
        self._readers = list(readers)
        self._where = list(where) if where is not None else [f"{name} part {i}" for i in range(len(readers))]

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def from_parquet(cls, name: str, paths: Sequence[str], filesystem: pafs.FileSystem | None = None) -> DomainTokens:
        fs = filesystem or pafs.LocalFileSystem()

        def reader(path: str) -> TableReader:
            return lambda columns: pq.read_table(path, filesystem=fs, columns=columns)

        return cls(name, [reader(p) for p in paths], where=list(paths))

    @classmethod
    def from_tables(cls, name: str, tables: Iterable[pa.Table]) -> DomainTokens:
        tables = list(tables)
        return cls(name, [(lambda columns, t=t: t.select(columns)) for t in tables])

    @classmethod
    def from_arrays(
        cls, name: str, ids: Sequence[str], token_arrays: Sequence[np.ndarray], splits: Sequence[str]
    ) -> DomainTokens:
        from corpus.tokenize import token_shard_table

        return cls.from_tables(name, [token_shard_table(ids, name, splits, token_arrays)])

    # -- reading ---------------------------------------------------------------------
    def _read(self, columns: list[str]) -> Iterator[tuple[str, pa.Table]]:
        for where, read in zip(self._where, self._readers, strict=True):
            try:
                table = read(columns)
            except KeyError as exc:
                raise SamplerError(
                    f"{where}: missing column {exc}; expected a token shard "
                    f"({', '.join([*_INDEX_COLUMNS, schema.TOKENS])})"
                ) from exc
            missing = [c for c in columns if c not in table.column_names]
            if missing:
                raise SamplerError(
                    f"{where}: missing columns {missing}; expected a token shard written by the tokenized stage"
                )
            yield where, table

    @cached_property
    def index(self) -> DomainIndex:
        ids: dict[str, list[str]] = {TRAIN: [], VAL: []}
        counts: dict[str, list[int]] = {TRAIN: [], VAL: []}
        seen: set[str] = set()
        for where, table in self._read(_INDEX_COLUMNS):
            split_values = table.column(schema.SPLIT).to_pylist()
            for doc_id, split, n in zip(
                table.column(schema.ID).to_pylist(),
                split_values,
                table.column(schema.N_TOKENS).to_pylist(),
                strict=True,
            ):
                if split not in ids:
                    raise SamplerError(f"{where}: document {doc_id} has split {split!r}; expected 'train' or 'val'")
                if doc_id in seen:
                    raise SamplerError(f"{where}: document {doc_id} appears twice in domain {self.name!r}")
                seen.add(doc_id)
                ids[split].append(doc_id)
                counts[split].append(int(n))
        return DomainIndex(
            train_ids=tuple(ids[TRAIN]),
            train_tokens=np.asarray(counts[TRAIN], dtype=np.int64),
            val_ids=tuple(ids[VAL]),
            val_tokens=np.asarray(counts[VAL], dtype=np.int64),
        )

    def read_tokens(self, split: str, wanted: set[str] | None = None) -> dict[str, np.ndarray]:
        """Token arrays of the documents of ``split`` (only ``wanted`` ids when given)."""
        out: dict[str, np.ndarray] = {}
        for where, table in self._read([schema.ID, schema.SPLIT, schema.N_TOKENS, schema.TOKENS]):
            mask = pc.equal(table.column(schema.SPLIT), split)
            table = table.filter(mask)
            if wanted is not None:
                table = table.filter(pc.is_in(table.column(schema.ID), pa.array(sorted(wanted), pa.string())))
            arrays = token_arrays_from_table(table)
            for doc_id, n, arr in zip(
                table.column(schema.ID).to_pylist(), table.column(schema.N_TOKENS).to_pylist(), arrays, strict=True
            ):
                if len(arr) != n:
                    raise SamplerError(
                        f"{where}: document {doc_id} has n_tokens={n} but {len(arr)} tokens; re-run the tokenized stage"
                    )
                out[doc_id] = arr
        return out


# --- the plan -------------------------------------------------------------------------


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
    order_rule: str = "per epoch, documents ranked by xxh3_64('{seed}:{domain}:{epoch}:{id}'), ties by id"

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
    )


def epoch_order(domain: str, index: DomainIndex, epoch: int, seed: int) -> list[int]:
    """Positions of the training documents in the order epoch ``epoch`` visits them."""
    prefix = f"{seed}:{domain}:{epoch}:"
    ids = index.train_ids
    return sorted(range(len(ids)), key=lambda i: (xxhash.xxh3_64_intdigest((prefix + ids[i]).encode()), ids[i]))


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


def validation_tokens(domains: Mapping[str, DomainTokens], max_tokens: int | None = None) -> dict[str, np.ndarray]:
    """The fixed validation stream of each domain: its val documents in split-rank order,
    concatenated and cut at ``max_tokens`` (``ProxySpec.eval_tokens``). Every mixture
    version is evaluated on these same tokens."""
    out: dict[str, np.ndarray] = {}
    for d, dt in domains.items():
        index = dt.index
        order = sorted(index.val_ids, key=lambda i: (split_rank_key(i), i))
        docs = dt.read_tokens(VAL) if order else {}
        pieces, total = [], 0
        for doc_id in order:
            arr = docs[doc_id]
            if max_tokens is not None and total + len(arr) > max_tokens:
                pieces.append(arr[: max_tokens - total])
                total = max_tokens
                break
            pieces.append(arr)
            total += len(arr)
        out[d] = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint16)
    return out


def natural_weights(domains: Mapping[str, DomainTokens]) -> dict[str, float]:
    """Token-proportional weights over the training tokens of each domain."""
    counts = {d: dt.index.available_tokens for d, dt in domains.items()}
    total = sum(counts.values())
    if total == 0:
        raise SamplerError("no training tokens in any domain; nothing to weight")
    return {d: c / total for d, c in counts.items()}
