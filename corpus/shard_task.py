"""One shard of one stage of one source: read it, apply the stage's operators, write kept / dropped / quarantined.

A :class:`ShardTask` names everything the task reads; :func:`process_shard` is pure given
it (deterministic output names and bytes), so any executor may run it, retry it or skip it
on resume. Operators report their own figures: ``stats`` on their output batch, summed
over steps and shards, and ``kept_stats`` on a stage's kept documents whenever they carry
the operator's columns (see corpus.ops.registry); the runner only adds them up.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl

from corpus import schema
from corpus.io import SHARD_PATTERN, CorpusStore
from corpus.ops import registry
from corpus.spec import PipelineSpec, StageSpec
from corpus.stage_report import SAMPLE_CHARS, SAMPLE_SIZE, ShardResult, dropped_dir, quarantine_dir, stage_dir

Steps = list[tuple[registry.Operator, registry.OpConfig]]


@dataclass(frozen=True)
class ShardTask:
    """What one shard task reads: the store, the spec (as JSON, cheap to pickle), names and the drop table."""

    store: CorpusStore
    spec_json: str
    stage: str
    source: str
    input_stage: str
    shard_name: str
    index: int
    drop_table_rel: str | None = None  # a global stage's per-source drop table, applied instead of its steps

    def describe(self) -> str:
        return f"stage {self.stage}, source {self.source}, shard {self.shard_name}"


def process_shard(task: ShardTask) -> ShardResult:
    """One shard of one stage of one source: read, apply, write. Pure given its task."""
    store = task.store
    spec = PipelineSpec.model_validate_json(task.spec_json)
    stage = spec.stage(task.stage)
    inp = store.read_table(posixpath.join(stage_dir(spec.pipeline, task.input_stage, task.source), task.shard_name))
    df = pl.from_arrow(inp)
    assert isinstance(df, pl.DataFrame)
    res = ShardResult(index=task.index, docs_in=df.height, bytes_in=text_bytes(df))
    applies = stage.sources is None or task.source in stage.sources
    if not applies:
        kept, dropped, quarantined, extra = df, pl.DataFrame(), schema.empty_quarantine(), {}
    elif task.drop_table_rel is not None:
        kept, dropped, quarantined, extra = _apply_drop_table(store, df, task.drop_table_rel, stage)
    else:
        kept, dropped, quarantined, extra = apply_steps(df, resolve_steps(stage), task.stage)
    res.extra = extra
    return finish_shard(store, spec.pipeline, task.stage, task.source, task.index, kept, dropped, quarantined, res)


def resolve_steps(stage: StageSpec) -> Steps:
    steps = []
    for step in stage.steps:
        op = registry.get_operator(step.op)
        op.check_dependencies()
        steps.append((op, op.parse_config(step.config)))
    return steps


def apply_steps(
    df: pl.DataFrame, steps: Steps, stage: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Run operators in order; move tagged rows out. Returns (kept, dropped, quarantined, extra figures)."""
    dropped: list[pl.DataFrame] = []
    quarantined: list[pl.DataFrame] = []
    extra: dict[str, Any] = {}
    for op, cfg in steps:
        if df.height == 0:
            break
        out = op.fn(df, cfg)
        if not isinstance(out, pl.DataFrame) or out.height != df.height:
            raise RuntimeError(f"operator {op.key} broke the contract: it must return the same rows in the same order")
        if op.stats is not None:
            for k, v in op.stats(out, cfg).items():
                extra[k] = _add_stat(extra.get(k), v)
        if schema.ERROR in out.columns:
            bad = out[schema.ERROR].is_not_null()
            if bad.any():
                rows = out.filter(bad)
                quarantined.append(_quarantine_rows(rows, stage, op.key, rows[schema.ERROR]))
            out = out.filter(~bad).drop(schema.ERROR)
        if schema.DROP in out.columns:
            gone = out[schema.DROP].is_not_null()
            if gone.any():
                rows = out.filter(gone).rename({schema.DROP: schema.DROP_REASON})
                dropped.append(rows.with_columns(pl.lit(op.key).alias(schema.DROP_STEP)))
            out = out.filter(~gone).drop(schema.DROP)
        df = out
    extra.update(kept_figures(df))
    d = pl.concat(dropped, how="diagonal_relaxed") if dropped else pl.DataFrame()
    q = pl.concat(quarantined, how="vertical") if quarantined else schema.empty_quarantine()
    return df, d, q, extra


def kept_figures(kept: pl.DataFrame) -> dict[str, Any]:
    """Figures of a stage's kept documents from every operator whose added columns they carry.

    An annotation column travels with the documents into later stages, so its operator's
    ``kept_stats`` describe the kept documents of every later stage too (e.g. the languages
    left after a quality filter).
    """
    out: dict[str, Any] = {}
    if kept.height == 0:
        return out
    for op in registry.list_operators():
        if op.kept_stats is not None and op.adds_columns and op.adds_columns[0] in kept.columns:
            out.update(op.kept_stats(kept))
    return out


def _add_stat(old: Any, new: Any) -> Any:
    if old is None:
        return new
    if isinstance(new, dict):
        return {**old, **{k: old.get(k, 0) + v for k, v in new.items()}}
    return old + new


def text_bytes(df: pl.DataFrame) -> int:
    if df.height == 0 or schema.TEXT not in df.columns:
        return 0
    return int(df.select(pl.col(schema.TEXT).str.len_bytes().sum()).item() or 0)


def _sample_rows(df: pl.DataFrame, extra_cols: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    if df.height == 0:
        return []
    cols = [c for c in (schema.ID, schema.SOURCE, *extra_cols, schema.TEXT) if c in df.columns]
    rows = df.head(SAMPLE_SIZE).select(cols).to_dicts()
    for r in rows:
        if isinstance(r.get(schema.TEXT), str):
            t = r[schema.TEXT]
            r[schema.TEXT] = t[:SAMPLE_CHARS] + ("…" if len(t) > SAMPLE_CHARS else "")
    return rows


def _sample_dropped(df: pl.DataFrame) -> list[dict[str, Any]]:
    if df.height == 0:
        return []
    # one example per reason first, so the sample shows the variety of drops
    firsts = df.unique(subset=[schema.DROP_REASON], keep="first", maintain_order=True)
    extra = (schema.DROP_REASON, schema.DUPLICATE_OF) if schema.DUPLICATE_OF in df.columns else (schema.DROP_REASON,)
    rows = _sample_rows(firsts, extra)
    return rows


def _error_class(msg: str) -> str:
    head = msg.split(":", 1)[0].strip()
    return head if 0 < len(head) <= 60 else "error"


def schema_problems(df: pl.DataFrame) -> list[str]:
    """What is wrong with a kept-documents frame against the document schema ([] = fine)."""
    problems = []
    for col, dtype in schema.CORE.items():
        if col not in df.columns:
            problems.append(f"missing column {col!r}")
        elif df.schema[col] != dtype and df.height > 0 and df.schema[col] != pl.Null:
            problems.append(f"column {col!r} is {df.schema[col]}, expected {dtype}")
    if df.height and schema.TEXT in df.columns and df[schema.TEXT].null_count():
        problems.append(f"{df[schema.TEXT].null_count()} documents with null text")
    if df.height and schema.ID in df.columns and df[schema.ID].n_unique() != df.height:
        problems.append("duplicate ids in shard")
    return problems


def _quarantine_rows(df: pl.DataFrame, stage: str, step: str, errors: pl.Series) -> pl.DataFrame:
    return pl.DataFrame(
        {
            schema.SOURCE: df[schema.SOURCE] if schema.SOURCE in df.columns else [None] * df.height,
            schema.FILE: df[schema.FILE] if schema.FILE in df.columns else [None] * df.height,
            schema.OFFSET: df[schema.OFFSET] if schema.OFFSET in df.columns else [None] * df.height,
            "stage": [stage] * df.height,
            "step": [step] * df.height,
            "error": errors,
            "raw": df[schema.TEXT].str.slice(0, schema.RAW_CAP) if schema.TEXT in df.columns else [None] * df.height,
        },
        schema=schema.QUARANTINE_COLUMNS,
    )


def finish_shard(
    store: CorpusStore,
    pipeline: str,
    stage: str,
    source: str,
    index: int,
    kept: pl.DataFrame,
    dropped: pl.DataFrame,
    quarantined: pl.DataFrame,
    result: ShardResult,
) -> ShardResult:
    kept = schema.conform(kept) if kept.height or kept.columns else schema.empty_documents()
    result.kept = kept.height
    result.bytes_out = text_bytes(kept)
    result.schema_problems = schema_problems(kept)
    result.written = {
        "name": SHARD_PATTERN.format(index),
        "rows": kept.height,
        **store.write_table_entry(
            posixpath.join(stage_dir(pipeline, stage, source), SHARD_PATTERN.format(index)), kept
        ),
    }
    if dropped.height:
        result.dropped = dict(Counter(dropped[schema.DROP_REASON].to_list()))
        size = store.write_table(
            posixpath.join(dropped_dir(pipeline, stage, source), SHARD_PATTERN.format(index)), dropped
        )
        result.dropped_written = {"name": SHARD_PATTERN.format(index), "rows": dropped.height, "bytes": size}
        result.sample_dropped = _sample_dropped(dropped)
    if quarantined.height:
        result.quarantined = dict(Counter(_error_class(e) for e in quarantined["error"].to_list()))
        size = store.write_table(
            posixpath.join(quarantine_dir(pipeline, stage, source), SHARD_PATTERN.format(index)), quarantined
        )
        result.quarantine_written = {"name": SHARD_PATTERN.format(index), "rows": quarantined.height, "bytes": size}
        result.sample_quarantined = (
            quarantined.head(SAMPLE_SIZE).with_columns(pl.col("raw").str.slice(0, SAMPLE_CHARS)).to_dicts()
        )
    result.sample_kept = _sample_rows(kept)
    return result


def _apply_drop_table(
    store: CorpusStore, df: pl.DataFrame, rel: str, stage: StageSpec
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    table = pl.from_arrow(store.read_table(rel))
    assert isinstance(table, pl.DataFrame)
    scores = [c for c in table.columns if c.startswith(("score/", "weight/"))]
    joined = df.drop([c for c in scores if c in df.columns]).join(
        table.select(schema.ID, schema.DROP, schema.DUPLICATE_OF, *scores),
        on=schema.ID,
        how="left",
        maintain_order="left",
    )
    gone = joined[schema.DROP].is_not_null()
    kept = joined.filter(~gone).drop(schema.DROP, schema.DUPLICATE_OF)
    dropped = (
        joined.filter(gone)
        .rename({schema.DROP: schema.DROP_REASON})
        .with_columns(pl.lit(stage.steps[0].op).alias(schema.DROP_STEP))
    )
    return kept, dropped, schema.empty_quarantine(), {}
