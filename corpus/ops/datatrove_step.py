"""``datatrove_step@1``: one of datatrove's pipeline steps, run on a batch as an operator.

A spec names the step by datatrove's class name and gives its keyword arguments as plain
values; both are checked against the allowlist in :mod:`corpus.ops.datatrove_steps`::

    - name: c4
      op: datatrove_step@1
      config: {step: C4QualityFilter, args: {min_num_sentences: 3}}

How the step's results map onto the document columns:

* a **filter** decides per document; a dropped document gets the reason
  ``datatrove:<Step>:<reason>`` with datatrove's own reason (``gopher_short_doc``,
  ``too_few_sentences``; ``dropped`` where the filter gives none). Text a filter rewrites
  on the documents it keeps (``C4QualityFilter`` removes lines) replaces ``text``;
* an **extractor** turns the HTML rows (``content_type`` text/html) into their text, which
  become text/plain (the page title fills a missing title); it runs in datatrove's
  sandboxed subprocess with the step's per-document ``timeout``; a page with no text is
  dropped as ``datatrove:<Step>:empty_extraction``; a timeout or crash quarantines the page;
* a **formatter** rewrites ``text``; a text left empty is dropped as ``datatrove:<Step>:empty_text``.

A step that raises on a document quarantines that document with the message; the batch
goes on. Documents an earlier step already dropped are not evaluated again.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import polars as pl
from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from corpus import schema
from corpus.ops import datatrove_steps
from corpus.ops.datatrove_steps import ALLOWED, AllowedStep
from corpus.ops.extract import HTML_TYPES, page_title
from corpus.ops.registry import OpConfig, register

PREFIX = "datatrove"


def _steps_schema() -> dict[str, Any]:
    return {
        "datatrove_steps": {
            s.name: {"kind": s.kind, "args": s.args.model_json_schema()["properties"]} for s in ALLOWED.values()
        }
    }


class DatatroveStepConfig(OpConfig):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_steps_schema())

    step: str = Field(max_length=100, description=f"datatrove class name, one of: {', '.join(ALLOWED)}")
    args: dict[str, Any] = Field(default_factory=dict, description="the step's keyword arguments (plain values)")

    @field_validator("step")
    @classmethod
    def _allowed(cls, value: str) -> str:
        datatrove_steps.allowed_step(value)
        return value

    @field_validator("args")
    @classmethod
    def _valid_args(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("step")
        if name is None:  # the step itself is wrong; reported on that field
            return value
        step = ALLOWED[name]
        try:
            datatrove_steps.parse_args(step, value)
        except ValidationError as exc:
            raise ValueError("; ".join(_arg_problem(step, e) for e in exc.errors())) from None
        return value


def _arg_problem(step: AllowedStep, error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        names = datatrove_steps.arg_names(step)
        takes = f"its arguments: {', '.join(names)}" if names else "it takes none"
        return f"{step.name} has no argument {where!r} that a spec may set ({takes})"
    return f"{step.name} argument {where}: {error['msg']} (got {error.get('input')!r:.60})"


def drop_reason(step: str, reason: str | None) -> str:
    """``datatrove:<Step>:<reason>``, the reason as an identifier (``< 3 paragraphs``: ``lt_3_paragraphs``)."""
    text = (reason or "").replace("<", " lt ").replace(">", " gt ").lower()
    slug = re.sub(r"[^a-z0-9]+", "_", text).strip("_")[:80] or "dropped"
    return f"{PREFIX}:{step}:{slug}"


def _all_reasons() -> tuple[str, ...]:
    out: list[str] = []
    for s in ALLOWED.values():
        if s.kind == "filter":
            out += [drop_reason(s.name, r) for r in (*s.reasons, None)]
        else:
            out.append(drop_reason(s.name, "empty_extraction" if s.kind == "extractor" else "empty_text"))
    return tuple(out)


def _build(config: DatatroveStepConfig) -> tuple[AllowedStep, Any]:
    allowed = ALLOWED[config.step]
    args = datatrove_steps.parse_args(allowed, config.args)
    return allowed, allowed.load()(**args.model_dump())


def _column(batch: pl.DataFrame, name: str) -> list[Any]:
    return batch[name].to_list() if name in batch.columns else [None] * batch.height


def _html(ctype: Any) -> bool:
    return isinstance(ctype, str) and ctype.split(";")[0].strip().lower() in HTML_TYPES


def _failed(step: str, what: str, exc: BaseException) -> str:
    return f"datatrove_step_failed: {step} {what}: {type(exc).__name__}: {exc}"[:2000]


def _filter(step: Any, name: str, rows: list[int], texts: list[Any], meta: list[dict], drop: list, error: list) -> None:
    from datatrove.data import Document
    from datatrove.pipeline.filters.base_filter import get_filter_result

    for i in rows:
        doc = Document(text=texts[i] or "", id=str(meta[i].get("id")), metadata=meta[i])
        try:
            keep, reason = get_filter_result(step.filter(doc))
        except Exception as exc:
            error[i] = _failed(name, "raised on this document", exc)
            continue
        if keep:
            texts[i] = doc.text
        else:
            drop[i] = drop_reason(name, reason)


def _extract(
    step: Any, name: str, rows: list[int], batch: pl.DataFrame, texts: list[Any], drop: list, error: list
) -> dict[str, list[Any]]:
    from datatrove.pipeline.extractors.base import ExtractorSandbox

    titles, ctypes = _column(batch, schema.TITLE), _column(batch, schema.CONTENT_TYPE)
    html_rows = [i for i in rows if _html(ctypes[i])]
    if html_rows:
        # import the engine here first, so the forked sandbox process starts within the timeout
        with contextlib.suppress(Exception):  # a failure shows on the documents themselves below
            step.extract("<html><body><p>warm up</p></body></html>")
        with ExtractorSandbox(timeout=step.timeout, warmup_text="") as sandbox:
            for i in html_rows:
                html = texts[i] or ""
                try:
                    text = (sandbox.process_document(html, step.extract) or "").strip()
                except TimeoutError as exc:
                    error[i] = _failed(name, f"took longer than its timeout ({step.timeout} s) on this page", exc)
                    continue
                except EOFError as exc:
                    error[i] = _failed(name, "crashed on this page (its process died)", exc)
                    continue
                if titles[i] is None:
                    titles[i] = page_title(html)
                texts[i], ctypes[i] = text, "text/plain"
                if not text:
                    drop[i] = drop_reason(name, "empty_extraction")
    return {schema.TITLE: titles, schema.CONTENT_TYPE: ctypes}


def _format(step: Any, name: str, rows: list[int], texts: list[Any], drop: list, error: list) -> None:
    for i in rows:
        try:
            texts[i] = step.format(texts[i] or "")
        except Exception as exc:
            error[i] = _failed(name, "raised on this document", exc)
            continue
        if not texts[i].strip():
            drop[i] = drop_reason(name, "empty_text")


@register(
    "datatrove_step",
    1,
    "map",
    DatatroveStepConfig,
    reasons=_all_reasons(),
    requires_packages=("datatrove",),
    tags=("datatrove",),
)
def datatrove_step(batch: pl.DataFrame, config: DatatroveStepConfig) -> pl.DataFrame:
    """Run one of datatrove's pipeline steps on the batch: a filter (GopherQualityFilter, C4QualityFilter,
    FineWebQualityFilter, ...), an extractor (Trafilatura) or a formatter (PIIFormatter, FTFYFormatter, ...), named
    by class with validated plain-value arguments; drops carry datatrove's own reason as datatrove:<Step>:<reason>.

    Only allowlisted steps (corpus.ops.datatrove_steps) can be named; steps that download
    models or word lists, or take code, are refused with what to use instead.
    """
    allowed, step = _build(config)
    prior = _column(batch, schema.DROP)
    rows = [i for i, p in enumerate(prior) if p is None]
    texts = _column(batch, schema.TEXT)
    drop: list[str | None] = list(prior)
    error: list[str | None] = [None] * batch.height
    extra: dict[str, list[Any]] = {}
    if allowed.kind == "filter":
        ids, urls, sources = (_column(batch, c) for c in (schema.ID, schema.URL, schema.SOURCE))
        meta = [{"id": d, "url": u, "source": s} for d, u, s in zip(ids, urls, sources, strict=True)]
        _filter(step, allowed.name, rows, texts, meta, drop, error)
    elif allowed.kind == "extractor":
        extra = _extract(step, allowed.name, rows, batch, texts, drop, error)
    else:
        _format(step, allowed.name, rows, texts, drop, error)
    return batch.with_columns(
        pl.Series(schema.TEXT, texts, dtype=pl.String()),
        *(pl.Series(k, v, dtype=pl.String()) for k, v in extra.items()),
        pl.Series(schema.DROP, drop, dtype=pl.String()),
        pl.Series(schema.ERROR, error, dtype=pl.String()),
    )
