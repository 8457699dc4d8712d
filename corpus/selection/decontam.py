"""Decontamination: find documents that share a word n-gram span with an evaluation set.

An evaluation set is a JSONL file (the text of the named fields of each record, one item
per record) or a text file (one item per line, per blank-line paragraph, or the whole
file). Every ``n``-word span of every item (13 words by default, after the normalization of
:mod:`corpus.selection.ngrams`) goes into an index; a document is contaminated when one of
its spans equals an indexed span, or, with ``max_edits=1``, differs from one in a single
word (a light edit: a changed number or name). Case, punctuation and whitespace never count.
Items shorter than ``n`` words are indexed whole when they have at least ``min_item_words``.

The index keeps which item each span came from, so a scan reports the contaminated
documents and which evaluation items were found (the set's contamination share).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from corpus.selection import ngrams

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAX_EVAL_BYTES = 512 * 1024 * 1024
MAX_ITEMS = 5_000_000


class EvalSetError(ValueError):
    pass


def resolve_path(path: str) -> Path:
    """A spec path, relative to the project root (``CORPUS_PROJECT_ROOT``, default: this checkout)."""
    p = Path(path)
    if p.is_absolute():
        return p
    return Path(os.environ.get("CORPUS_PROJECT_ROOT") or PROJECT_ROOT) / p


def read_items(
    path: str,
    fmt: Literal["jsonl", "text"],
    fields: Sequence[str] = ("text",),
    split: str = "line",
    *,
    where: str = "eval set",
) -> list[str]:
    """The items of one evaluation file; errors name ``where`` (the spec field) and the fix."""
    p = resolve_path(path)
    if not p.is_file():
        raise EvalSetError(
            f"{where}.path: evaluation file {path!r} not found (looked at {p}); fix the path or remove the set"
        )
    if p.stat().st_size > MAX_EVAL_BYTES:
        raise EvalSetError(
            f"{where}.path: {path!r} is larger than {MAX_EVAL_BYTES >> 20} MiB; split the evaluation set"
        )
    raw = p.read_text(encoding="utf-8", errors="replace")
    items: list[str] = []
    if fmt == "jsonl":
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalSetError(
                    f"{where}.path: {path!r} line {lineno} is not JSON ({exc.msg}); fix the file"
                ) from None
            if not isinstance(rec, dict):
                raise EvalSetError(f"{where}.path: {path!r} line {lineno} is not a JSON object")
            missing = [f for f in fields if f not in rec]
            if len(missing) == len(fields):
                raise EvalSetError(
                    f"{where}.fields: {path!r} line {lineno} has none of the fields {list(fields)} "
                    f"(it has {sorted(rec)[:10]}); name the fields that hold the evaluation text"
                )
            items.append("\n".join(str(rec[f]) for f in fields if f in rec and rec[f] is not None))
    elif split == "file":
        items = [raw]
    elif split == "paragraph":
        items = [b for b in raw.split("\n\n") if b.strip()]
    else:
        items = [b for b in raw.splitlines() if b.strip()]
    if not items:
        raise EvalSetError(f"{where}.path: {path!r} holds no evaluation items; give a non-empty file")
    if len(items) > MAX_ITEMS:
        raise EvalSetError(f"{where}.path: {path!r} has {len(items):,} items, at most {MAX_ITEMS:,}")
    return items


@dataclass
class EvalIndex:
    """Sorted span keys of every item of every evaluation set, with the item each came from."""

    n: int
    max_edits: int
    names: list[str]  # evaluation set names
    items_per_set: list[int]
    exact_keys: np.ndarray
    exact_item: np.ndarray  # global item index of each key
    masked_keys: np.ndarray
    masked_item: np.ndarray
    short_keys: dict[int, tuple[np.ndarray, np.ndarray]]  # length -> (keys, items) of whole short items
    item_set: np.ndarray  # set index of each global item
    skipped_short: list[int] = field(default_factory=list)  # per set: items too short to index

    @classmethod
    def build(cls, sets: dict[str, list[str]], n: int = 13, max_edits: int = 0, min_item_words: int = 8) -> EvalIndex:
        names = list(sets)
        texts = [t for s in names for t in sets[s]]
        item_set = np.repeat(np.arange(len(names)), [len(sets[s]) for s in names])
        w = ngrams.words(texts)
        starts, owner = ngrams.ngram_starts(w, n)
        keys = ngrams.ngram_keys(w, n, starts)
        exact_keys, exact_item = _sorted(keys, owner)
        mk, mi = [], []
        if max_edits:
            for i in range(n):
                mk.append(ngrams.masked_keys(w, n, starts, keys, i))
                mi.append(owner)
        masked = (
            _sorted(np.concatenate(mk), np.concatenate(mi)) if mk else (np.zeros(0, np.uint64), np.zeros(0, np.int64))
        )
        lengths = w.lengths()
        short = np.flatnonzero((lengths < n) & (lengths >= min_item_words))
        short_keys: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for length in np.unique(lengths[short]):
            items = short[lengths[short] == length]
            k = ngrams.ngram_keys(w, int(length), w.offsets[items])
            short_keys[int(length)] = _sorted(k, items)
        too_short = lengths < min(n, min_item_words)
        skipped = [int(too_short[item_set == s].sum()) for s in range(len(names))]
        return cls(
            n,
            max_edits,
            names,
            [len(sets[s]) for s in names],
            exact_keys,
            exact_item,
            masked[0],
            masked[1],
            short_keys,
            item_set,
            skipped,
        )

    @property
    def n_items(self) -> int:
        return int(sum(self.items_per_set))

    def scan(self, texts: Sequence[str] | pl.Series) -> tuple[np.ndarray, np.ndarray, list[set[int]]]:
        """Per text: the first matching item (global index, -1 = clean), the matching spans, the items found."""
        w = ngrams.words(texts)
        first = np.full(w.n_texts, -1, dtype=np.int64)
        hits = np.zeros(w.n_texts, dtype=np.int64)
        found_items: list[set[int]] = [set() for _ in range(w.n_texts)]

        def look(keys: np.ndarray, owner: np.ndarray, table: tuple[np.ndarray, np.ndarray]) -> None:
            tk, ti = table
            if not len(keys) or not len(tk):
                return
            candidate = _prefilter(tk)[keys >> _FILTER_SHIFT]  # a table of the keys' top bits: most misses stop here
            keys, owner = keys[candidate], owner[candidate]
            if not len(keys):
                return
            pos = np.searchsorted(tk, keys)
            pos_c = np.minimum(pos, len(tk) - 1)
            found = tk[pos_c] == keys
            if not found.any():
                return
            own, item = owner[found], ti[pos_c[found]]
            np.add.at(hits, own, 1)
            for o, it in zip(own.tolist(), item.tolist(), strict=True):
                found_items[o].add(it)
            unset = first[own] < 0
            first[own[unset]] = item[unset]  # np fancy assignment: later duplicates win, any match is fine

        starts, owner = ngrams.ngram_starts(w, self.n)
        keys = ngrams.ngram_keys(w, self.n, starts)
        look(keys, owner, (self.exact_keys, self.exact_item))
        if self.max_edits and len(self.masked_keys):
            for i in range(self.n):
                look(ngrams.masked_keys(w, self.n, starts, keys, i), owner, (self.masked_keys, self.masked_item))
        for length, table in self.short_keys.items():
            s, o = ngrams.ngram_starts(w, length)
            look(ngrams.ngram_keys(w, length, s), o, table)
        return first, hits, found_items

    def set_of(self, items: np.ndarray) -> list[str | None]:
        return [None if i < 0 else self.names[int(self.item_set[i])] for i in items]

    def item_key(self, item: int) -> str:
        s = int(self.item_set[item])
        local = item - int(sum(self.items_per_set[:s]))
        return f"{self.names[s]}:{local}"


_FILTER_BITS = 24
_FILTER_SHIFT = np.uint64(64 - _FILTER_BITS)
_FILTERS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _prefilter(sorted_keys: np.ndarray) -> np.ndarray:
    """A boolean table over the top 24 bits of ``sorted_keys`` (cached per key array)."""
    cached = _FILTERS.get(id(sorted_keys))
    if cached is not None and cached[0] is sorted_keys:
        return cached[1]
    table = np.zeros(1 << _FILTER_BITS, dtype=bool)
    table[sorted_keys >> _FILTER_SHIFT] = True
    if len(_FILTERS) > 16:  # 16 MB each
        _FILTERS.clear()
    _FILTERS[id(sorted_keys)] = (sorted_keys, table)
    return table


def _sorted(keys: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys[order], items[order].astype(np.int64)
