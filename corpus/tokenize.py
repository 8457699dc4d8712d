"""Tokenizer training, batch tokenization, the validation split and the token shard table.

A pipeline trains its own byte-level BPE (``tokenizers``) on a sample of its documents,
so the mixture and the proxy trainer never need a model hub. Every document's token
array ends with the ``<|endoftext|>`` id: concatenating documents keeps their
boundaries visible to the model, and ``n_tokens`` counts that separator.

Token shard schema (one parquet row per document)::

    id        string              the document id (stable content hash)
    source    string              the source / domain name
    split     string              "train" or "val" (see assign_split)
    n_tokens  int32               tokens in ``tokens`` (separator included)
    tokens    list<uint16>        token ids; list<uint32> when the vocabulary exceeds 65,536
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import xxhash
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from corpus import schema

EOT = "<|endoftext|>"
TRAIN = "train"
VAL = "val"
UINT16_VOCAB_LIMIT = 65_536


class TokenizerError(ValueError):
    pass


# --- training and loading -----------------------------------------------------


def sample_texts(texts: Iterable[str], k: int, seed: int = 0) -> list[str]:
    """A uniform sample of ``k`` texts (reservoir sampling), reproducible from ``seed``.

    Used to train the tokenizer on ``TokenizerSpec.sample_docs`` documents per source
    without holding the whole source in memory.
    """
    if k < 1:
        raise TokenizerError(f"sample size must be at least 1, got {k}")
    rng = random.Random(seed)
    reservoir: list[str] = []
    for i, text in enumerate(texts):
        if i < k:
            reservoir.append(text)
        else:
            j = rng.randint(0, i)
            if j < k:
                reservoir[j] = text
    return reservoir


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    *,
    seed: int = 0,
    max_texts: int | None = None,
    min_frequency: int = 2,
) -> Tokenizer:
    """Train a byte-level BPE tokenizer locally.

    The vocabulary holds the 256 byte symbols, the ``<|endoftext|>`` special token and
    the learned merges, so any text round-trips. Training is deterministic: the same
    texts in the same order give the same tokenizer JSON (``seed`` only matters when
    ``max_texts`` subsamples the input).
    """
    if vocab_size < 258:
        raise TokenizerError(
            f"vocab_size {vocab_size} is too small: a byte-level BPE needs 256 byte symbols + {EOT} + merges (use >= "
            "260)"
        )
    if max_texts is not None:
        texts = sample_texts(texts, max_texts, seed)
    texts = [t for t in texts if t]
    if not texts:
        raise TokenizerError("no non-empty texts to train the tokenizer on; check the tokenizer input stage")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def load_tokenizer(path_or_json: str | Path | bytes) -> Tokenizer:
    """A tokenizer from a ``tokenizer.json`` path, or from its JSON text / bytes.

    Reading from S3 is the caller's job (``CorpusStore.read_bytes``); pass the bytes here.
    """
    if isinstance(path_or_json, bytes):
        path_or_json = path_or_json.decode("utf-8")
    if isinstance(path_or_json, str) and path_or_json.lstrip().startswith("{"):
        try:
            tok = Tokenizer.from_str(path_or_json)
        except Exception as exc:  # tokenizers raises its own Exception type
            raise TokenizerError(f"tokenizer JSON could not be parsed: {exc}") from exc
    else:
        path = Path(path_or_json)
        if not path.is_file():
            raise TokenizerError(f"tokenizer file not found: {path}")
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:
            raise TokenizerError(f"{path} is not a valid tokenizer.json: {exc}") from exc
    if tok.token_to_id(EOT) is None:
        raise TokenizerError(
            f"tokenizer has no {EOT} token; documents could not be separated (train it with train_bpe or add the "
            "special token)"
        )
    return tok


def eot_id(tok: Tokenizer) -> int:
    token_id = tok.token_to_id(EOT)
    if token_id is None:
        raise TokenizerError(f"tokenizer has no {EOT} token")
    return token_id


def tokenizer_fingerprint(tok: Tokenizer) -> str:
    """A short hash of the tokenizer JSON: changes whenever token ids could change."""
    canonical = json.dumps(json.loads(tok.to_str()), sort_keys=True, separators=(",", ":"))
    return xxhash.xxh3_64_hexdigest(canonical.encode())


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocab <= 65,536), else uint32: half the bytes on disk."""
    return np.dtype(np.uint16) if vocab_size <= UINT16_VOCAB_LIMIT else np.dtype(np.uint32)


# --- tokenization --------------------------------------------------------------


def tokenize_batch(tok: Tokenizer, texts: Sequence[str], *, append_eot: bool = True) -> list[np.ndarray]:
    """Token ids per text (``encode_batch``, parallel in Rust), each ending with ``<|endoftext|>``.

    Special-token strings inside a text are encoded as ordinary bytes, so a document
    cannot forge a boundary.
    """
    dtype = token_dtype(tok.get_vocab_size())
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # _fast skips offsets we do not need
    previous = tok.encode_special_tokens
    tok.encode_special_tokens = True  # "<|endoftext|>" inside a text is text, not a separator
    try:
        encodings = encode(list(texts), add_special_tokens=False)
    finally:
        tok.encode_special_tokens = previous
    eot = eot_id(tok)
    out = []
    for enc in encodings:
        ids = enc.ids
        if append_eot:
            ids = [*ids, eot]
        out.append(np.asarray(ids, dtype=dtype))
    return out


# --- validation split ----------------------------------------------------------


def split_rank_key(doc_id: str) -> int:
    """The number a document is ranked by for the validation split (xxh3-64 of its id)."""
    return xxhash.xxh3_64_intdigest(doc_id.encode("utf-8"))


def validation_size(n_docs: int, fraction: float, min_docs: int, max_docs: int) -> int:
    """How many of a domain's ``n_docs`` documents are held out.

    ``round(fraction * n_docs)`` clamped to ``[min_docs, max_docs]``, and never more than
    ``n_docs - 1`` so at least one document trains (a one-document domain has no
    validation set).
    """
    if not 0.0 < fraction < 1.0:
        raise TokenizerError(f"validation fraction must be in (0, 1), got {fraction}")
    if min_docs > max_docs:
        raise TokenizerError(f"val_min_docs ({min_docs}) is larger than val_max_docs ({max_docs})")
    if n_docs <= 1:
        return 0
    n_val = min(max(round(fraction * n_docs), min_docs), max_docs)
    return max(0, min(n_val, n_docs - 1))


def assign_split(ids: Sequence[str], fraction: float, min_docs: int, max_docs: int) -> list[str]:
    """ "train" / "val" for each document id of ONE domain, in input order.

    The rule: rank the domain's documents by xxh3-64 of their id (ties by id) and hold
    out the ``validation_size(...)`` lowest. It depends only on that domain's ids, not
    on their order nor on any other domain, so re-weighting or editing other sources
    never moves a document in or out of this domain's validation set. Adding (removing)
    k documents in this domain changes its validation set by at most k documents plus
    the change in ``validation_size``; all other documents keep their split.
    Call it once per domain. Duplicate ids are an error (ids are content hashes).
    """
    n = len(ids)
    if len(set(ids)) != n:
        raise TokenizerError(
            "assign_split got duplicate document ids; ids must be unique within a domain (dedup first)"
        )
    n_val = validation_size(n, fraction, min_docs, max_docs)
    order = sorted(range(n), key=lambda i: (split_rank_key(ids[i]), ids[i]))
    out = [TRAIN] * n
    for i in order[:n_val]:
        out[i] = VAL
    return out


# --- token shards ----------------------------------------------------------------


def token_shard_schema(vocab_size: int) -> pa.Schema:
    value_type = pa.uint16() if token_dtype(vocab_size) == np.uint16 else pa.uint32()
    return pa.schema(
        [
            pa.field(schema.ID, pa.string(), nullable=False),
            pa.field(schema.SOURCE, pa.string(), nullable=False),
            pa.field(schema.SPLIT, pa.string(), nullable=False),
            pa.field(schema.N_TOKENS, pa.int32(), nullable=False),
            pa.field(schema.TOKENS, pa.list_(value_type), nullable=False),
        ]
    )


def token_shard_table(
    ids: Sequence[str],
    sources: Sequence[str] | str,
    splits: Sequence[str],
    token_arrays: Sequence[np.ndarray],
    *,
    vocab_size: int | None = None,
) -> pa.Table:
    """The token shard table (schema in the module docstring) for a batch of documents.

    ``sources`` may be one name for the whole batch. The value type follows
    ``vocab_size`` when given, else the arrays' dtype (``tokenize_batch`` picks it from
    the vocabulary), so every shard of a pipeline has the same schema.
    """
    n = len(ids)
    if isinstance(sources, str):
        sources = [sources] * n
    if not (len(sources) == len(splits) == len(token_arrays) == n):
        raise TokenizerError(
            f"token_shard_table columns differ in length: ids={n}, sources={len(sources)}, splits={len(splits)}, "
            f"tokens={len(token_arrays)}"
        )
    bad = sorted({s for s in splits if s not in (TRAIN, VAL)})
    if bad:
        raise TokenizerError(f"split values must be 'train' or 'val', got {bad}")
    if vocab_size is None:
        wide = any(a.dtype.itemsize > 2 for a in token_arrays)
        vocab_size = UINT16_VOCAB_LIMIT + 1 if wide else UINT16_VOCAB_LIMIT
    table_schema = token_shard_schema(vocab_size)
    value_type = table_schema.field(schema.TOKENS).type.value_type
    np_type = np.uint16 if value_type == pa.uint16() else np.uint32
    lengths = np.fromiter((len(a) for a in token_arrays), dtype=np.int64, count=n)
    if lengths.sum() >= 2**31:
        raise TokenizerError("a token shard holds at most 2^31 tokens; write smaller shards")
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    for a in token_arrays:
        if a.size and int(a.max()) > np.iinfo(np_type).max:
            raise TokenizerError(f"token id {int(a.max())} does not fit {value_type}; pass the tokenizer's vocab_size")
    values = np.concatenate([np.asarray(a, dtype=np_type) for a in token_arrays]) if n else np.zeros(0, dtype=np_type)
    tokens = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, value_type))
    return pa.Table.from_arrays(
        [
            pa.array(list(ids), pa.string()),
            pa.array(list(sources), pa.string()),
            pa.array(list(splits), pa.string()),
            pa.array(lengths.astype(np.int32), pa.int32()),
            tokens,
        ],
        schema=table_schema,
    )


def token_arrays_from_table(table: pa.Table) -> list[np.ndarray]:
    """The ``tokens`` column back as one numpy array per row (zero-copy slices of one buffer)."""
    col = table.column(schema.TOKENS).combine_chunks()
    values = col.values.to_numpy(zero_copy_only=False)
    offsets = col.offsets.to_numpy()
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(col))]
