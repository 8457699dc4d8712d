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
``scipy.sparse.csgraph.connected_components``.

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

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field, model_validator
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from corpus import schema
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
_U64_MAX = np.iinfo(np.uint64).max


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
    digests = [xxhash.xxh3_128_intdigest(view[s:e]) for s, e in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    out = np.empty((len(digests), 2), dtype=_U64)
    if digests:
        out[:, 0] = np.fromiter((d >> 64 for d in digests), dtype=_U64, count=len(digests))
        out[:, 1] = np.fromiter((d & 0xFFFFFFFFFFFFFFFF for d in digests), dtype=_U64, count=len(digests))
    return out


# --------------------------------------------------------------------------- hashing


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place: spreads every input bit over all output bits."""
    x ^= x >> _U64(33)
    x *= _U64(0xFF51AFD7ED558CCD)
    x ^= x >> _U64(33)
    x *= _U64(0xC4CEB9FE1A85EC53)
    x ^= x >> _U64(33)
    return x


@functools.lru_cache(maxsize=4)
def _powers(base: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``base**j`` and ``base**-j`` mod 2^64 for j < length (base odd, so it is invertible)."""
    inverse = pow(base, -1, 1 << 64)
    pw = np.empty(length, dtype=_U64)
    inv = np.empty(length, dtype=_U64)
    pw[0] = inv[0] = 1
    with np.errstate(over="ignore"):
        pw[1:] = np.cumprod(np.full(length - 1, base, dtype=_U64), dtype=_U64)
        inv[1:] = np.cumprod(np.full(length - 1, inverse, dtype=_U64), dtype=_U64)
    return pw, inv


def _capacity(n: int) -> int:
    """Round up to a power of two so the cached power tables are reused across chunks."""
    return 1 << max(16, int(n).bit_length())


@dataclass(frozen=True)
class Shingles:
    """The 64-bit hashes of a chunk's shingles, grouped by document (CSR layout)."""

    hashes: np.ndarray  # uint64, one per shingle, documents back to back
    counts: np.ndarray  # int64, shingles per document (0 for a document without words)


@dataclass(frozen=True, eq=False)
class MinHasher:
    """MinHash signatures and LSH band hashes for normalized text, all numpy."""

    n_grams: int
    num_bands: int
    rows: int
    seed: int
    base: int = field(init=False)
    a: np.ndarray = field(init=False, repr=False)
    b: np.ndarray = field(init=False, repr=False)
    band_seeds: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        k = self.num_bands * self.rows
        words = rng.integers(0, _U64_MAX, size=k * 2 + self.num_bands + 1, dtype=_U64, endpoint=True)
        object.__setattr__(self, "base", int(words[0]) | 1)
        object.__setattr__(self, "a", words[1 : k + 1] | _U64(1))  # odd: a bijection mod 2^64
        object.__setattr__(self, "b", words[k + 1 : 2 * k + 1].copy())
        object.__setattr__(self, "band_seeds", words[2 * k + 1 :].copy())

    @classmethod
    def from_config(cls, config: MinhashDedupConfig) -> MinHasher:
        return cls(config.n_grams, config.num_buckets, config.hashes_per_bucket, config.seed)

    def shingles(self, data: np.ndarray, offsets: np.ndarray) -> Shingles:
        """Hash every word n-gram of every document (normalized: single spaces, stripped).

        A shingle is the byte span from the start of word i to the end of word i+n-1, so
        its hash is that of the string ``" ".join(words[i:i+n])``, read off a polynomial
        prefix hash of the whole chunk (mod 2^64) and finalized with fmix64.
        """
        n_docs = len(offsets) - 1
        if data.size == 0:
            return Shingles(np.zeros(0, dtype=_U64), np.zeros(n_docs, dtype=np.int64))
        word_starts, word_ends = _word_spans(data, offsets)
        word_doc = np.searchsorted(offsets, word_starts, side="right") - 1
        word_count = np.bincount(word_doc, minlength=n_docs)
        first_word = np.concatenate(([0], np.cumsum(word_count)[:-1]))
        counts = np.where(word_count >= self.n_grams, word_count - self.n_grams + 1, np.minimum(word_count, 1))
        total = int(counts.sum())
        shingle_doc = np.repeat(np.arange(n_docs), counts)
        local = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        first = first_word[shingle_doc] + local
        last = np.minimum(first + (self.n_grams - 1), first_word[shingle_doc] + word_count[shingle_doc] - 1)
        starts, ends = word_starts[first], word_ends[last]

        pw, inv = _powers(self.base, _capacity(data.size + 1))
        prefix = np.zeros(data.size + 1, dtype=_U64)
        with np.errstate(over="ignore"):
            np.cumsum(data.astype(_U64) * pw[: data.size], out=prefix[1:])
            hashes = (prefix[ends] - prefix[starts]) * inv[starts]
            hashes ^= (ends - starts).astype(_U64) * _U64(0x9E3779B97F4A7C15)
            _fmix64(hashes)
        return Shingles(hashes, counts.astype(np.int64))

    def signatures(self, shingles: Shingles) -> tuple[np.ndarray, np.ndarray]:
        """(signatures of the documents that have shingles, (m, k) uint64; their row positions)."""
        has = np.flatnonzero(shingles.counts)
        sig = np.empty((has.size, self.a.size), dtype=_U64)
        if has.size == 0:
            return sig, has
        starts = (np.cumsum(shingles.counts) - shingles.counts)[has]
        buf = np.empty_like(shingles.hashes)
        with np.errstate(over="ignore"):
            for k in range(self.a.size):
                np.multiply(shingles.hashes, self.a[k], out=buf)
                np.add(buf, self.b[k], out=buf)
                sig[:, k] = np.minimum.reduceat(buf, starts)
        return sig, has

    def band_hashes(self, data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """One 64-bit hash per band and document, (n, bands) uint64; 0 marks "no shingles".

        Two documents share a band hash exactly when (up to 64-bit collisions) they share
        all ``rows`` MinHash values of that band.
        """
        sig, has = self.signatures(self.shingles(data, offsets))
        return self.bands(sig, has, len(offsets) - 1)

    def bands(self, sig: np.ndarray, has: np.ndarray, n_docs: int) -> np.ndarray:
        """Fold each band's ``rows`` values into one 64-bit hash; rows without shingles stay 0."""
        out = np.zeros((n_docs, self.num_bands), dtype=_U64)
        if has.size == 0:
            return out
        bands = sig.reshape(has.size, self.num_bands, self.rows)
        with np.errstate(over="ignore"):
            acc = np.broadcast_to(self.band_seeds[: self.num_bands], (has.size, self.num_bands)).copy()
            for r in range(self.rows):
                acc ^= bands[:, :, r]
                _fmix64(acc)
        acc[acc == 0] = 1  # keep 0 free as the "no signature" marker
        out[has] = acc
        return out


def _word_spans(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) byte positions of every space-separated word in the chunk."""
    is_space = data == 32
    boundary_before = np.empty(data.size, dtype=bool)
    boundary_before[0] = True
    boundary_before[1:] = is_space[:-1]
    boundary_after = np.empty(data.size, dtype=bool)
    boundary_after[-1] = True
    boundary_after[:-1] = is_space[1:]
    doc_starts = offsets[:-1][offsets[:-1] < data.size]
    boundary_before[doc_starts] = True
    doc_ends = offsets[1:][offsets[1:] > 0] - 1
    boundary_after[doc_ends] = True
    word = ~is_space
    starts = np.flatnonzero(word & boundary_before)
    ends = np.flatnonzero(word & boundary_after) + 1
    return starts, ends


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
