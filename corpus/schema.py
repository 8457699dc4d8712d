"""The document schema shared by every stage.

A document batch is a polars DataFrame (or Arrow table) with at least the
``CORE`` columns. Stages add annotation columns; the stage runner moves rows
that an operator marks with ``DROP`` (a reason) or ``ERROR`` (a message) to the
dropped and quarantine outputs, so they are accounted for, never lost.
"""

from __future__ import annotations

import polars as pl
import xxhash

# --- core document columns -------------------------------------------------
ID = "id"  # stable content hash (hex), see document_id()
TEXT = "text"
SOURCE = "source"  # the source (= domain) name from the spec; also the partition key
URL = "url"
TITLE = "title"
FILE = "file"  # provenance: the file the record came from (relative to the source location)
OFFSET = "offset"  # provenance: record index inside that file (line, row or WARC record)
CONTENT_TYPE = "content_type"  # "text/plain", "text/html", "text/x-python", ...

CORE: dict[str, pl.DataType] = {
    ID: pl.String(),
    TEXT: pl.String(),
    SOURCE: pl.String(),
    URL: pl.String(),
    TITLE: pl.String(),
    FILE: pl.String(),
    OFFSET: pl.Int64(),
    CONTENT_TYPE: pl.String(),
}

# --- annotation columns written by stages ----------------------------------
LANGUAGE = "language"
LANGUAGE_SCORE = "language_score"

# --- control columns an operator may add to mark rows ----------------------
DROP = "_drop"  # machine-readable reason (e.g. "gopher_short_doc"); null = keep
ERROR = "_error"  # error message for a record that could not be processed; null = fine

# --- columns of the dropped / quarantine outputs ---------------------------
DROP_REASON = "drop_reason"
DROP_STEP = "drop_step"  # the operator (versioned name) that dropped it
DUPLICATE_OF = "duplicate_of"  # dedup: id of the surviving document
QUARANTINE_COLUMNS: dict[str, pl.DataType] = {
    SOURCE: pl.String(),
    FILE: pl.String(),
    OFFSET: pl.Int64(),
    "stage": pl.String(),
    "step": pl.String(),
    "error": pl.String(),
    "raw": pl.String(),
}
RAW_CAP = 64 * 1024  # bytes of a bad record kept in the quarantine ``raw`` column

# --- tokenized shards ------------------------------------------------------
TOKENS = "tokens"
N_TOKENS = "n_tokens"
SPLIT = "split"  # "train" | "val"


def document_id(source: str, file: str | None, offset: int | None, text: str) -> str:
    """A stable id: a 128-bit hash of the provenance and the text.

    Two copies of a text in different places get different ids (dedup decides
    which survives and records the other as ``duplicate_of``); the same record
    read twice gets the same id, so re-runs are reproducible.
    """
    h = xxhash.xxh3_128()
    for part in (source, file or "", str(offset if offset is not None else -1)):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def empty_documents() -> pl.DataFrame:
    return pl.DataFrame(schema=CORE)


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_COLUMNS)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Add missing core columns (as nulls) and cast core columns to their types; core first."""
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in CORE.items() if c not in df.columns]
    if missing:
        df = df.with_columns(missing)
    df = df.with_columns([pl.col(c).cast(t) for c, t in CORE.items()])
    rest = [c for c in df.columns if c not in CORE]
    return df.select([*CORE, *rest])


def missing_core_columns(columns: list[str]) -> list[str]:
    return [c for c in CORE if c not in columns]
