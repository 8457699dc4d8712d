"""Reading each domain's token shards on demand: the index (ids, counts), tokens, validation stream, natural weights."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import xxhash

from corpus import schema
from corpus.tokenize import TRAIN, VAL, split_rank_key, token_arrays_from_table

_INDEX_COLUMNS = [schema.ID, schema.SPLIT, schema.N_TOKENS]


class SamplerError(ValueError):
    pass


@dataclass(frozen=True)
class DomainIndex:
    """The cheap columns of one domain: ids and token counts per split, no tokens.

    ``train_weights`` (aligned with ``train_ids``, finite and >= 0) makes the sampler draw
    the training documents by weight without replacement (``corpus.mixing.sampler``).
    """

    train_ids: tuple[str, ...]
    train_tokens: np.ndarray  # int64, aligned with train_ids
    val_ids: tuple[str, ...]
    val_tokens: np.ndarray
    train_weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        w = self.train_weights
        if w is None:
            return
        if len(w) != len(self.train_ids):
            raise SamplerError(f"{len(w)} train_weights for {len(self.train_ids)} training documents; give one each")
        if len(w) and not (np.all(np.isfinite(w)) and float(np.min(w)) >= 0):
            raise SamplerError("train_weights must be finite and >= 0")

    @property
    def available_tokens(self) -> int:
        return int(self.train_tokens.sum())

    def stored_weights(self) -> np.ndarray | None:
        """The weights at the precision the digest folds in (float32), which is what the sampler orders by."""
        if self.train_weights is None:
            return None
        return np.asarray(self.train_weights, dtype="<f4")

    def digest(self) -> str:
        """Hash of the training documents (id, n_tokens, and the weight when weighted), order-independent."""
        h = xxhash.xxh3_64()
        order = sorted(range(len(self.train_ids)), key=self.train_ids.__getitem__)
        for i in order:
            h.update(self.train_ids[i].encode())
            h.update(b"\x00")
            h.update(str(int(self.train_tokens[i])).encode())
            h.update(b"\x01")
        w = self.stored_weights()
        if w is not None:  # in id order, after the documents
            h.update(b"\x02")
            h.update(w[np.asarray(order, dtype=np.int64)].tobytes())
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
