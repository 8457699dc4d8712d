"""``decontaminate@1``: drop documents that share an n-gram span with a named evaluation set.

See :mod:`corpus.selection.decontam` for the matching. The evaluation files are read once
per process (cached by path, size and modification time). Figures per source: documents
dropped per evaluation set (``contaminated_docs``) and the share of each set's items found
in the source (``contamination_share/<set>``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from corpus import schema
from corpus.ops.registry import OpConfig, register
from corpus.selection.decontam import EvalIndex, EvalSetError, read_items, resolve_path
from corpus.spec_types import FieldName, Location

REASON = "contaminated"
CONTAMINATED_BY = "contaminated_by"
_CACHE: dict[str, EvalIndex] = {}


class EvalSetConfig(OpConfig):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$", description="the evaluation set's name in reports")]
    path: Annotated[
        Location, Field(min_length=1, max_length=1000, description="JSONL or text file, relative to the project")
    ]
    format: Literal["jsonl", "text"] = "jsonl"
    fields: list[FieldName] = Field(
        default_factory=lambda: ["text"],
        min_length=1,
        max_length=16,
        description="jsonl: fields whose text is one item",
    )
    split: Literal["line", "paragraph", "file"] = Field(
        "line", description="text: one item per line, paragraph or file"
    )


class DecontaminateConfig(OpConfig):
    eval_sets: list[EvalSetConfig] = Field(min_length=1, max_length=64, description="evaluation sets to protect")
    ngram: int = Field(13, ge=5, le=64, description="span length in words (after lowercasing and removing punctuation)")
    max_edits: Literal[0, 1] = Field(1, description="1: a span that differs in one word also counts (light edits)")
    min_item_words: int = Field(
        8, ge=1, le=64, description="shorter items are matched whole when they have this many words"
    )

    @field_validator("eval_sets")
    @classmethod
    def _unique(cls, sets: list[EvalSetConfig]) -> list[EvalSetConfig]:
        names = [s.name for s in sets]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate evaluation set names {dup}; give each set its own name")
        return sets

    def paths(self) -> list[tuple[str, str]]:
        """(config field, path) of every file this config reads, for the spec's path policy."""
        return [(f"eval_sets[{i}].path", s.path) for i, s in enumerate(self.eval_sets)]


def eval_index(cfg: DecontaminateConfig) -> EvalIndex:
    stamp = []
    for s in cfg.eval_sets:
        p = resolve_path(s.path)
        st = p.stat() if p.is_file() else None
        stamp.append([str(p), st.st_size if st else None, st.st_mtime_ns if st else None])
    key = json.dumps([cfg.model_dump(mode="json"), stamp], sort_keys=True)
    if key not in _CACHE:
        sets = {
            s.name: read_items(s.path, s.format, s.fields, s.split, where=f"config.eval_sets[{i}]")
            for i, s in enumerate(cfg.eval_sets)
        }
        _CACHE.clear()  # one pipeline's sets at a time: bounded memory
        _CACHE[key] = EvalIndex.build(sets, cfg.ngram, cfg.max_edits, cfg.min_item_words)
    return _CACHE[key]


def _stats(out: pl.DataFrame, cfg: DecontaminateConfig) -> dict[str, Any]:
    if CONTAMINATED_BY not in out.columns:
        return {}
    mine = out.filter(pl.col(schema.DROP) == REASON) if schema.DROP in out.columns else out.clear()
    docs = dict(mine[CONTAMINATED_BY].value_counts().iter_rows()) if mine.height else {}
    items: dict[str, int] = {}
    if "contamination_items" in mine.columns:
        for row in mine["contamination_items"].to_list():
            for k in row or []:
                items[k] = 1
    return {"contaminated_docs": {str(k): int(v) for k, v in docs.items()}, "contaminated_items": items}


def _summarize(extra: dict[str, Any], cfg: DecontaminateConfig) -> dict[str, Any]:
    try:
        index = eval_index(cfg)
    except (EvalSetError, OSError):
        return {}
    found = extra.get("contaminated_items") or {}
    out: dict[str, Any] = {}
    for name, total in zip(index.names, index.items_per_set, strict=True):
        hit = sum(1 for k in found if k.split(":", 1)[0] == name)
        out[f"contamination_share/{name}"] = hit / total if total else 0.0
    extra.pop("contaminated_items", None)  # per-item keys: too many for metadata once summarized
    return out


@register(
    "decontaminate",
    1,
    "filter",
    DecontaminateConfig,
    reasons=(REASON,),
    adds_columns=(CONTAMINATED_BY, "contamination_items"),
    tags=("decontamination",),
    stats=_stats,
    summarize=_summarize,
)
def decontaminate(batch: pl.DataFrame, cfg: DecontaminateConfig) -> pl.DataFrame:
    """Drop documents sharing a 13-word span (configurable; one changed word allowed)
    with evaluation sets named in the spec.

    Evaluation sets are JSONL files (named fields) or text files; case, punctuation and
    whitespace are ignored. Records which set a dropped document matched.
    """
    index = eval_index(cfg)
    if schema.TEXT not in batch.columns:
        raise KeyError(
            f"decontaminate: the batch has no {schema.TEXT!r} column; run it after a stage that produces text"
        )
    prior = (
        batch[schema.DROP].cast(pl.String)
        if schema.DROP in batch.columns
        else pl.Series(schema.DROP, [None] * batch.height, pl.String)
    )
    todo = np.flatnonzero(prior.is_null().to_numpy())
    by = [None] * batch.height
    items: list[list[str] | None] = [None] * batch.height
    drops = prior.to_list()
    if len(todo):
        first, _hits, found = index.scan(batch[schema.TEXT].gather(todo))
        names = index.set_of(first)
        for j, row in enumerate(todo.tolist()):
            if first[j] >= 0:
                drops[row] = REASON
                by[row] = names[j]
                items[row] = sorted(index.item_key(i) for i in found[j])
    return batch.with_columns(
        pl.Series(schema.DROP, drops, dtype=pl.String),
        pl.Series(CONTAMINATED_BY, by, dtype=pl.String),
        pl.Series("contamination_items", items, dtype=pl.List(pl.String)),
    )
