"""Global deduplication: exact copies and MinHash near-duplicates, across every source.

Two operators of kind ``global`` (see :mod:`corpus.ops.registry`):

* ``dedup_exact@1`` drops documents whose *normalized* text (lowercase, punctuation
  removed, whitespace collapsed by default) is identical.
* ``dedup_minhash@1`` drops near-duplicates found by MinHash + LSH banding, with the
  defaults of datatrove's ``MinhashConfig`` (word 5-grams, 14 bands x 8 rows = 112
  hashes, 64-bit), and by default exact copies too.

Survivor rule (both operators, deterministic): duplicates form clusters (connected
components of the "is a duplicate of" relation); in each cluster the document with the
smallest key ``(source_rank, id)`` survives, i.e. the copy from the source listed first in
the spec, ties broken by the smaller id. Every other member is returned with
``duplicate_of`` = the survivor's id. The result depends only on the set of input
documents, never on how they were split into batches or in which order batches came.

Why it is fast: nothing loops over documents or shingles in Python. Text is normalized
with polars' native string kernels; word boundaries, n-gram shingles and their 64-bit
hashes come from one numpy pass over the UTF-8 bytes (a polynomial prefix hash, so the
hash of any byte span is two lookups and a multiply); the 112 MinHash values are a
``min`` over ``a_k * h + b_k`` (mod 2^64) with ``np.minimum.reduceat`` per document; band
collisions are found by sorting 64-bit band hashes; clusters come from
``scipy.sparse.csgraph.connected_components``. The hashing lives in :mod:`corpus.ops.minhash`.

Memory stays bounded per document: across batches only the id, the source rank, a
128-bit exact-text hash and one 64-bit hash per band are kept (about 170 bytes per
document with the defaults), never the texts or full signatures.

Differences from datatrove's MinHash, on purpose:

* words are the whitespace-separated tokens of the normalized text; datatrove splits the
  same normalized text with spaCy's English tokenizer, which additionally splits a few
  contractions (``cannot`` -> ``can not``). Shingle sets therefore differ slightly on such
  words, identically for both documents of a pair.
* a document with fewer words than ``n_grams`` (but at least one) gets one shingle made
  of all its words, so short texts can still match; datatrove gives them no signature.
* the hash permutations are ``a_k * h + b_k mod 2^64`` with odd ``a_k`` (a bijection,
  multiply-shift style) instead of ``mod 2^61 - 1``; the min is taken the same way.
* the diacritics are stripped before whitespace is collapsed, so a lone combining mark
  never leaves an empty word behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field, model_validator
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from corpus import schema
from corpus.ops.minhash import MinHasher as MinHasher
from corpus.ops.minhash import Shingles as Shingles
from corpus.ops.registry import OpConfig, register

REASON_EXACT = "exact_duplicate"
REASON_NEAR = "near_duplicate"
SOURCE_RANK = "source_rank"
OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    schema.ID: pl.String(),
    schema.DROP: pl.String(),
    schema.DUPLICATE_OF: pl.String(),
}
MAX_HASHES = 1024  # bands * rows: the per-document signature budget (8 bytes each while hashing)

# Bytes of normalized text hashed at once. The shingling pass holds about 40 bytes of
# numpy arrays per text byte, so 4 MiB keeps the transient memory near 160 MiB (a single
# document longer than this is processed alone).
CHUNK_BYTES = 4 << 20

# datatrove.utils.text.PUNCTUATION (0.10.1): the characters its ``simplify_text`` turns into
# spaces. Copied so shingles match datatrove's; tests check the copy is still equal.
PUNCTUATION = "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»" + "".join(
    map(chr, (x for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b)))
)
# Every character as \x{..}: no character can be mistaken for regex class syntax.
_PUNCTUATION_CLASS = "[" + "".join(f"\\x{{{ord(c):X}}}" for c in PUNCTUATION) + "]"
# datatrove.utils.text.NUMBERS_PATTERN: digits in any script, optional decimal part.
_NUMBERS_PATTERN = r"\p{Nd}+(?:[.,،٫⎖⎗⎘]\p{Nd}+)?"
_WHITESPACE_TO_FIX = r"\s\s+|[\s&&[^ ]]"

_U64 = np.uint64


# --------------------------------------------------------------------------- configs


class TextNormalization(OpConfig):
    """How text is normalized before it is hashed. Defaults: exact-copy detection."""

    lowercase: bool = True
    strip_punctuation: bool = Field(True, description="datatrove's punctuation set becomes spaces")
    collapse_whitespace: bool = Field(True, description="runs of whitespace become one space; ends stripped")
    normalize_numbers: bool = Field(False, description="every number (digits, optional decimals) becomes '0'")
    strip_diacritics: bool = Field(False, description="NFD, then combining marks removed (é -> e)")


class ExactDedupConfig(OpConfig):
    """Config of ``dedup_exact@1``."""

    normalization: TextNormalization = TextNormalization()


class MinhashDedupConfig(OpConfig):
    """Config of ``dedup_minhash@1``. Defaults follow datatrove 0.10.1's ``MinhashConfig``.

    With b bands of r rows, a pair of Jaccard similarity s shares a band with probability
    ``1 - (1 - s^r)^b``: with 14 x 8, 0.9996 at s = 0.9, 0.92 at s = 0.8, 0.50 at s = 0.685
    and 0.05 at s = 0.5.
    """

    n_grams: int = Field(5, ge=1, le=64, description="words per shingle")
    num_buckets: int = Field(14, ge=1, le=MAX_HASHES, description="LSH bands")
    hashes_per_bucket: int = Field(8, ge=1, le=MAX_HASHES, description="MinHash values per band")
    seed: int = Field(1, ge=0, lt=2**32, description="seeds the hash functions; same seed, same result")
    normalization: TextNormalization = Field(
        default=TextNormalization(normalize_numbers=True, strip_diacritics=True),
        description="applied before shingling; datatrove's simplify_text defaults",
    )
    remove_exact_duplicates: bool = Field(
        True, description="also cluster documents whose text is equal under `exact` (reason exact_duplicate)"
    )
    exact: TextNormalization = Field(default=TextNormalization(), description="normalization for the exact pass")

    @model_validator(mode="after")
    def _signature_fits(self) -> MinhashDedupConfig:
        total = self.num_buckets * self.hashes_per_bucket
        if total > MAX_HASHES:
            raise ValueError(
                f"num_buckets * hashes_per_bucket = {self.num_buckets} * {self.hashes_per_bucket} = {total} "
                f"hashes per document, more than the {MAX_HASHES} allowed; lower num_buckets or hashes_per_bucket"
            )
        return self

    @property
    def num_hashes(self) -> int:
        return self.num_buckets * self.hashes_per_bucket

    @property
    def threshold(self) -> float:
        """Where the LSH S-curve is steepest, the usual threshold estimate (1/b)^(1/r): 0.72 for 14 x 8."""
        return (1.0 / self.num_buckets) ** (1.0 / self.hashes_per_bucket)


# --------------------------------------------------------------------------- operators


@register("dedup_exact", 1, "global", ExactDedupConfig, reasons=(REASON_EXACT,), tags=("dedup",))
def dedup_exact(batches: Iterable[pl.DataFrame], config: ExactDedupConfig) -> pl.DataFrame:
    """Drop documents whose normalized text equals another's, across all sources.

    The text is normalized (by default lowercase, punctuation removed, whitespace collapsed)
    and hashed with xxh3-128. Survivor of each group of copies: the smallest
    ``(source_rank, id)``; the others are returned with reason ``exact_duplicate`` and
    ``duplicate_of`` = the survivor's id. The result does not depend on batch boundaries.
    """
    index = _DocumentIndex(num_bands=0)
    for batch in _checked_batches(batches, "dedup_exact@1"):
        normalized = _normalize(batch[schema.TEXT], config.normalization)
        data, offsets = _utf8_bytes(normalized)
        index.add(batch, _exact_hashes(data, offsets), np.empty((batch.height, 0), dtype=_U64))
    return index.resolve(use_exact=True, use_bands=False)


@register("dedup_minhash", 1, "global", MinhashDedupConfig, reasons=(REASON_EXACT, REASON_NEAR), tags=("dedup",))
def dedup_minhash(batches: Iterable[pl.DataFrame], config: MinhashDedupConfig) -> pl.DataFrame:
    """Drop near-duplicate documents (MinHash over word n-grams, LSH bands), across all sources.

    Each document's normalized text (datatrove's ``simplify_text`` defaults) is cut into word
    ``n_grams``; 112 MinHash values (14 bands x 8 rows by default) are summarized as one
    64-bit hash per band, and two documents sharing any band hash are linked. Clusters are
    the connected components of those links, plus (``remove_exact_duplicates``, default on)
    links between documents with equal exact-normalized text, so exact copies always go.
    Survivor of each cluster: the smallest ``(source_rank, id)``. Every other member is
    returned with ``duplicate_of`` = the survivor's id and reason ``exact_duplicate`` when its
    exact-normalized text equals the survivor's, else ``near_duplicate``. The result does not
    depend on batch boundaries.
    """
    hasher = MinHasher.from_config(config)
    index = _DocumentIndex(num_bands=config.num_buckets)
    for batch in _checked_batches(batches, "dedup_minhash@1"):
        for chunk in _byte_chunks(batch):
            if config.remove_exact_duplicates:
                data, offsets = _utf8_bytes(_normalize(chunk[schema.TEXT], config.exact))
                exact = _exact_hashes(data, offsets)
            else:
                exact = np.zeros((chunk.height, 2), dtype=_U64)
            data, offsets = _utf8_bytes(_normalize(chunk[schema.TEXT], config.normalization, words=True))
            index.add(chunk, exact, hasher.band_hashes(data, offsets))
    return index.resolve(use_exact=config.remove_exact_duplicates, use_bands=True)


# --------------------------------------------------------------------------- input checks


def _checked_batches(batches: Iterable[pl.DataFrame], op: str) -> Iterator[pl.DataFrame]:
    """Yield the needed columns of each batch; fail with a clear message when one is missing."""
    for i, batch in enumerate(batches):
        missing = [c for c in (schema.ID, schema.TEXT, SOURCE_RANK) if c not in batch.columns]
        if missing:
            raise ValueError(
                f"{op}: batch {i} lacks column(s) {missing} (has {batch.columns}); a global dedup stage "
                f"needs '{schema.ID}', '{schema.TEXT}' and '{SOURCE_RANK}' (the source's position in the spec)"
            )
        if batch.height == 0:
            continue
        nulls = batch.select(pl.col(schema.ID).null_count(), pl.col(SOURCE_RANK).null_count()).row(0)
        if any(nulls):
            raise ValueError(
                f"{op}: batch {i} has {nulls[0]} null '{schema.ID}' and {nulls[1]} null '{SOURCE_RANK}' values; "
                f"every document needs both (see corpus.schema.document_id)"
            )
        yield batch.select(
            pl.col(schema.ID).cast(pl.String),
            pl.col(schema.TEXT).cast(pl.String).fill_null(""),
            pl.col(SOURCE_RANK).cast(pl.Int64),
        )


def _byte_chunks(batch: pl.DataFrame, limit: int | None = None) -> Iterator[pl.DataFrame]:
    """Split a batch into runs of rows holding about ``limit`` bytes of text (at least one row)."""
    limit = CHUNK_BYTES if limit is None else limit
    sizes = batch[schema.TEXT].str.len_bytes().fill_null(0).to_numpy()
    if sizes.sum() <= limit:
        yield batch
        return
    cumulative = np.cumsum(sizes)
    start = 0
    while start < batch.height:
        base = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, base + limit, side="right"))
        stop = max(stop, start + 1)
        yield batch.slice(start, stop - start)
        start = stop


# --------------------------------------------------------------------------- normalization


def _normalize(text: pl.Series, norm: TextNormalization, *, words: bool = False) -> pl.Series:
    """Apply ``norm`` with polars' native kernels (the order of datatrove's ``simplify_text``).

    ``words=True`` always collapses whitespace: shingling splits words on single spaces.
    """
    c = pl.col(schema.TEXT)
    expr = c
    if norm.lowercase:
        expr = expr.str.to_lowercase()
    if norm.normalize_numbers:
        expr = expr.str.replace_all(_NUMBERS_PATTERN, "0")
    if norm.strip_punctuation:
        expr = expr.str.replace_all(_PUNCTUATION_CLASS, " ")
    frame = pl.DataFrame({schema.TEXT: text}).select(expr)
    if norm.strip_diacritics:
        # Only non-ASCII strings can carry diacritics; skipping the rest makes this ~6x cheaper.
        stripped = c.str.normalize("NFD").str.replace_all(r"\p{Mn}", "")
        frame = frame.select(pl.when(c.str.len_bytes() != c.str.len_chars()).then(stripped).otherwise(c))
    if norm.collapse_whitespace or words:
        # Matches only what must change (runs, or a whitespace other than " "), not every
        # single space: same result as r"\s+" -> " ", four times faster.
        frame = frame.select(c.str.replace_all(_WHITESPACE_TO_FIX, " ").str.strip_chars(" "))
    return frame.to_series()


def _utf8_bytes(text: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of all strings back to back (uint8) and the n+1 offsets (int64)."""
    arr = text.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.cast(arr, pa.large_string())
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    if data_buf is None or len(arr) == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(len(arr) + 1, dtype=np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def _exact_hashes(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """xxh3-128 of each document's bytes, as an (n, 2) uint64 array (high, low)."""
    view = memoryview(data)
    digests = [
        xxhash.xxh3_128_intdigest(view[s:e]) for s, e in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    ]
    out = np.empty((len(digests), 2), dtype=_U64)
    if digests:
        out[:, 0] = np.fromiter((d >> 64 for d in digests), dtype=_U64, count=len(digests))
        out[:, 1] = np.fromiter((d & 0xFFFFFFFFFFFFFFFF for d in digests), dtype=_U64, count=len(digests))
    return out


# --------------------------------------------------------------------------- clustering


class _DocumentIndex:
    """Per-document state kept across batches: ids, ranks, exact hashes, band hashes."""

    def __init__(self, num_bands: int):
        self.num_bands = num_bands
        self.ids: list[pl.Series] = []
        self.ranks: list[np.ndarray] = []
        self.exact: list[np.ndarray] = []
        self.bands: list[np.ndarray] = []

    def add(self, batch: pl.DataFrame, exact: np.ndarray, bands: np.ndarray) -> None:
        self.ids.append(batch[schema.ID])
        self.ranks.append(batch[SOURCE_RANK].to_numpy().astype(np.int64, copy=False))
        self.exact.append(exact)
        self.bands.append(bands)

    def resolve(self, *, use_exact: bool, use_bands: bool) -> pl.DataFrame:
        """Cluster, pick each cluster's survivor, and list every other member to drop."""
        if not self.ids:
            return pl.DataFrame(schema=OUTPUT_SCHEMA)
        ids = pl.concat(self.ids, rechunk=True)
        n = ids.len()
        _check_unique_ids(ids)
        exact = np.concatenate(self.exact)
        edges = [_equal_key_edges(exact)] if use_exact else []
        if use_bands:
            bands = np.concatenate(self.bands)
            edges += [_equal_key_edges(bands[:, j : j + 1], skip_zero=True) for j in range(self.num_bands)]
        u = np.concatenate([e[0] for e in edges]) if edges else np.zeros(0, dtype=np.int64)
        v = np.concatenate([e[1] for e in edges]) if edges else np.zeros(0, dtype=np.int64)
        if u.size == 0:
            return pl.DataFrame(schema=OUTPUT_SCHEMA)
        graph = coo_matrix((np.ones(u.size, dtype=np.int8), (u, v)), shape=(n, n)).tocsr()
        _, labels = connected_components(graph, directed=False)

        priority = _priority(ids, np.concatenate(self.ranks))  # position in (source_rank, id) order
        best = np.full(labels.max() + 1, n, dtype=np.int64)
        np.minimum.at(best, labels, priority)
        by_priority = np.empty(n, dtype=np.int64)
        by_priority[priority] = np.arange(n)
        survivor = by_priority[best[labels]]
        dropped = np.flatnonzero(survivor != np.arange(n))
        if dropped.size == 0:
            return pl.DataFrame(schema=OUTPUT_SCHEMA)
        same_text = np.all(exact[dropped] == exact[survivor[dropped]], axis=1) if use_exact else None
        if same_text is None:
            reasons = np.full(dropped.size, REASON_NEAR if use_bands else REASON_EXACT, dtype=object)
        else:
            reasons = np.where(same_text, REASON_EXACT, REASON_NEAR if use_bands else REASON_EXACT)
        out = pl.DataFrame(
            {
                schema.ID: ids.gather(dropped),
                schema.DROP: pl.Series(reasons.tolist(), dtype=pl.String),
                schema.DUPLICATE_OF: ids.gather(survivor[dropped]),
            }
        )
        return out.sort(schema.ID)


def _check_unique_ids(ids: pl.Series) -> None:
    if ids.n_unique() != ids.len():
        repeated = ids.filter(ids.is_duplicated()).unique().sort().head(3).to_list()
        raise ValueError(
            f"global dedup: document ids must be unique across all sources, but {repeated} (and maybe more) "
            f"appear more than once; ids come from corpus.schema.document_id (source, file, offset, text), "
            f"so the same record was probably read twice"
        )


def _priority(ids: pl.Series, ranks: np.ndarray) -> np.ndarray:
    """Each document's position when sorted by (source_rank, id): lower survives."""
    order = pl.DataFrame({"rank": ranks, "id": ids, "row": np.arange(ids.len())}).sort(["rank", "id"])["row"].to_numpy()
    priority = np.empty(ids.len(), dtype=np.int64)
    priority[order] = np.arange(ids.len())
    return priority


def _equal_key_edges(keys: np.ndarray, *, skip_zero: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Edges linking each row to the first row with the same key (rows of ``keys`` compared whole).

    A star per group is enough for connected components; sorting does the grouping.
    """
    if keys.shape[0] < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort(keys.T[::-1]) if keys.shape[1] > 1 else np.argsort(keys[:, 0], kind="stable")
    ordered = keys[order]
    same = np.all(ordered[1:] == ordered[:-1], axis=1)
    if skip_zero:
        same &= np.any(ordered[1:] != 0, axis=1)
    positions = np.arange(1, len(order))
    group_start = np.maximum.accumulate(np.where(same, 0, positions))
    members = positions[same]
    return order[members], order[group_start[same]]
