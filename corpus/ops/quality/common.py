"""What the quality filters share: the config field types, Python's whitespace and line breaks, tagging a
batch with the first failed rule, and per-document counts over exploded lines and paragraphs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

import numpy as np
import polars as pl
from pydantic import Field

from corpus import schema
from corpus.ops import _words

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0.0)]
NGramSize = Annotated[int, Field(ge=1, le=10)]

# The characters of Python's str.isspace(), which str.split() and str.strip() use (Rust's \s
# differs: it lacks \x1c-\x1f), and the line boundaries of str.splitlines() besides "\n".
PY_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_LINE_BREAKS = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\x{2028}\x{2029}]"
_NOT_SPACE = _words.char_class(PY_SPACE, negate=True)
_INLINE_SPACE = _words.char_class("".join(c for c in PY_SPACE if c not in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"))


def _texts(batch: pl.DataFrame, op: str) -> pl.Series:
    if schema.TEXT not in batch.columns:
        raise KeyError(
            f"{op}: the batch has no {schema.TEXT!r} column (columns: {batch.columns}); "
            f"run it after a stage that produces document text"
        )
    return batch[schema.TEXT].cast(pl.String).fill_null("")


def _tag(batch: pl.DataFrame, op: str, reasons_of: Callable[[pl.Series], np.ndarray]) -> pl.DataFrame:
    """Evaluate ``reasons_of`` on the documents not dropped yet and merge into ``_drop``.

    ``reasons_of(texts)`` returns an object array of reason strings / None, one per text.
    """
    texts = _texts(batch, op)
    if schema.DROP in batch.columns:
        prior = batch[schema.DROP].cast(pl.String)
        todo = np.flatnonzero(prior.is_null().to_numpy())
    else:
        prior = pl.Series(schema.DROP, [None] * batch.height, dtype=pl.String)
        todo = np.arange(batch.height)
    if len(todo) == 0:
        return batch.with_columns(prior.alias(schema.DROP))
    subset = texts if len(todo) == batch.height else texts.gather(todo)
    reasons = reasons_of(subset)
    merged = prior.scatter(todo, pl.Series([None if r is None else str(r) for r in reasons.tolist()], dtype=pl.String))
    return batch.with_columns(merged.alias(schema.DROP))


def _first_failure(rules: Sequence[tuple[str, np.ndarray | bool]], n: int) -> np.ndarray:
    """Per document, the name of the first rule (in order) whose mask is True, else None."""
    out = np.full(n, None, dtype=object)
    undecided = np.ones(n, dtype=bool)
    for reason, failed in rules:
        hit = undecided & np.broadcast_to(np.asarray(failed, dtype=bool), (n,))
        out[hit] = reason
        undecided &= ~hit
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (datatrove would raise ZeroDivisionError there)."""
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _above(values: np.ndarray, limit: float | None) -> np.ndarray | bool:
    """``values > limit``; False when the rule is off (``limit`` null or 0, datatrove's truth test)."""
    return np.asarray(values > limit) if limit else False


def _below(values: np.ndarray, limit: float | None) -> np.ndarray | bool:
    """``values < limit``; False when the rule is off (``limit`` null or 0, datatrove's truth test)."""
    return np.asarray(values < limit) if limit else False


def _segment_sum(values: np.ndarray, doc_of: np.ndarray, n_docs: int) -> np.ndarray:
    return np.bincount(doc_of, weights=values, minlength=n_docs)


def _explode_parts(parts: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """Flatten a list column; return the elements and, for each element, its row index."""
    counts = parts.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = parts.explode(empty_as_null=False, keep_nulls=False)
    return flat, np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _non_first(doc_of: np.ndarray, values: pl.Series) -> np.ndarray:
    """True where ``values[i]`` already occurred earlier in the same document."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    key = values.hash(seed=0).to_numpy() ^ (doc_of.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    return ~pl.Series(key).is_first_distinct().to_numpy()


def _count_duplicates(parts: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """datatrove's ``find_duplicates`` per row: (elements, repeated elements, repeated chars)."""
    flat, doc_of = _explode_parts(parts)
    n = len(parts)
    repeated = _non_first(doc_of, flat)
    lengths = flat.str.len_chars().to_numpy().astype(np.float64)
    n_elements = np.bincount(doc_of, minlength=n)
    n_repeated = np.bincount(doc_of[repeated], minlength=n)
    repeated_chars = _segment_sum(lengths[repeated], doc_of[repeated], n)
    return n_elements, n_repeated, repeated_chars


def _splitlines(texts: pl.Series) -> pl.Series:
    """``str.splitlines()`` for every text (all of Python's line boundaries, no trailing empty line)."""
    unified = texts.str.replace_all(_LINE_BREAKS, "\n")
    trimmed = unified.str.strip_suffix("\n")
    lines = trimmed.str.split("\n")
    # "" -> [] (splitlines of an empty string has no line), "\n" -> [""]
    return pl.select(pl.when(unified == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(lines)).to_series()
