"""Tokenization as shard tasks: the validation split from a bounded pass over ids, then one encoding task per shard.

The split rule of :func:`corpus.tokenize.assign_split` (hold out the ``n_val`` documents of
a domain whose ``(xxh3-64(id), id)`` are smallest) needs no list of all ids: every shard
task returns its ``val_max_docs`` smallest keys and its row count; the ``n_val``-th
smallest key over all shards is a threshold, and each encoding task marks a document
``val`` when its key is at most that threshold. Same split, same token shards, byte for
byte, whether the shards are encoded in one process, a pool or on Ray.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from typing import Any

import polars as pl

from corpus import schema, tokenize
from corpus.io import SHARD_PATTERN, CorpusStore


def split_keys_task(store: CorpusStore, shard_rel: str, k: int) -> dict[str, Any]:
    """The shard's row count and its ``k`` smallest split keys as [key, id] pairs."""
    ids = store.read_table(shard_rel, columns=[schema.ID]).column(schema.ID).to_pylist()
    if len(set(ids)) != len(ids):
        raise tokenize.TokenizerError(
            f"{store.display(shard_rel)} holds duplicate document ids; ids must be unique within a domain (dedup first)"
        )
    keys = sorted((tokenize.split_rank_key(i), i) for i in ids)[:k]
    return {"rows": len(ids), "smallest": [list(x) for x in keys]}


def split_threshold(
    results: list[dict[str, Any]], fraction: float, min_docs: int, max_docs: int
) -> tuple[int, list[Any] | None]:
    """(documents in the domain, the largest held-out key or None when nothing is held out)."""
    n = sum(r["rows"] for r in results)
    n_val = tokenize.validation_size(n, fraction, min_docs, max_docs)
    if n_val == 0:
        return n, None
    candidates = sorted(tuple(x) for r in results for x in r["smallest"])
    if len(candidates) != len(set(candidates)):
        raise tokenize.TokenizerError(
            "assign_split got duplicate document ids; ids must be unique within a domain (dedup first)"
        )
    return n, list(candidates[n_val - 1])


@functools.lru_cache(maxsize=2)
def _tokenizer(data: bytes) -> Any:
    return tokenize.load_tokenizer(data.decode())


def encode_task(
    store: CorpusStore,
    tokenizer_rel: str,
    digest: str,
    shard_rel: str,
    out_dir: str,
    index: int,
    threshold: list[Any] | None,
) -> dict[str, Any]:
    """Encode one shard into a token shard with the split marked; returns its manifest entry and counts."""
    data = store.read_bytes(tokenizer_rel)
    if hashlib.sha256(data).hexdigest() != digest:
        raise RuntimeError(
            f"{store.display(tokenizer_rel)} changed while its token shards were written; re-run the stage"
        )
    tok = _tokenizer(data)
    df = pl.from_arrow(store.read_table(shard_rel, columns=[schema.ID, schema.SOURCE, schema.TEXT]))
    assert isinstance(df, pl.DataFrame)
    texts = df[schema.TEXT].to_list()
    arrays = tokenize.tokenize_batch(tok, texts)
    doc_ids = df[schema.ID].to_list()
    limit = tuple(threshold) if threshold is not None else None
    split = [
        tokenize.VAL if limit is not None and (tokenize.split_rank_key(d), d) <= limit else tokenize.TRAIN
        for d in doc_ids
    ]
    table = tokenize.token_shard_table(doc_ids, df[schema.SOURCE].to_list(), split, arrays)
    name = SHARD_PATTERN.format(index)
    size = store.write_table(posixpath.join(out_dir, name), table)
    tokens = {tokenize.TRAIN: 0, tokenize.VAL: 0}
    docs = {tokenize.TRAIN: 0, tokenize.VAL: 0}
    for s, a in zip(split, arrays, strict=True):
        tokens[s] += len(a)
        docs[s] += 1
    bytes_in = int(df.select(pl.col(schema.TEXT).str.len_bytes().sum()).item() or 0) if df.height else 0
    return {
        "index": index,
        "entry": {"name": name, "rows": table.num_rows, "bytes": size},
        "docs": df.height,
        "bytes_in": bytes_in,
        "tokens": tokens,
        "docs_by_split": docs,
    }
