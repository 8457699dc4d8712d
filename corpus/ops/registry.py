"""The operator registry: versioned names -> pure functions with pydantic configs.

Contract (see DESIGN.md "Operator"):

* ``kind="map"``: ``fn(batch: pl.DataFrame, config) -> pl.DataFrame``. Same rows, same
  order; may rewrite columns and add annotation columns.
* ``kind="filter"``: same signature; *tags* rows by adding the ``_drop`` column
  (a machine-readable reason, null = keep). Applying the tags is the stage runner's job.
* Either kind may add ``_error`` (null = fine) for a record it could not process; the
  runner quarantines it with the message.
* ``kind="global"``: ``fn(batches: Iterable[pl.DataFrame], config) -> pl.DataFrame``
  over every source of the pipeline at once (columns ``id``, ``text``, ``source``,
  ``source_rank``); returns ``id``, ``_drop`` and ``duplicate_of`` for the rows to drop
  (rows with a null ``_drop`` are kept; ``score/*`` and ``weight/*`` columns are joined onto
  the kept documents), or ``(table, info)`` where ``info`` is JSON for the index summary and
  ``info["files"]`` maps file names to bytes stored beside the index (a trained model).
  A stage applies the result per source. Used by dedup and by model-based selection.

Figures: an operator reports its own. ``stats(out, config)`` gives figures of its output batch (the
redactions it made), ``kept_stats(kept)`` figures of a stage's kept documents while they carry the
operator's first added column (the languages kept), ``summarize`` figures derived from a source's sums.
The stage runner only adds them up into ``StageReport.extra``.

The versioned name (``gopher_quality@1``) is what a spec names and what becomes the
asset's code version; bump the version whenever the function's output changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from corpus.spec_types import strings_problem

OpKind = Literal["map", "filter", "global"]


class OpConfig(BaseModel):
    """Base for operator configs: unknown keys are errors, values are immutable, and every string is at
    least bounded plain text (:func:`corpus.spec_types.text_problem`); fields narrow it with their types."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # NaN would pass no bound honestly

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        problem = strings_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class UnknownOperatorError(KeyError):
    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = available
        hint = ""
        if "@" not in name:
            matches = [a for a in available if a.split("@")[0] == name]
            if matches:
                hint = f" (operators are named with their version, e.g. {matches[-1]!r})"
        super().__init__(f"unknown operator {name!r}{hint}; available: {', '.join(available)}")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return self.args[0]


class MissingDependencyError(ImportError):
    pass


@dataclass(frozen=True)
class Operator:
    name: str
    version: int
    kind: OpKind
    fn: Callable[..., Any]
    config_model: type[OpConfig]
    description: str
    reasons: tuple[str, ...] = ()  # drop reasons the operator may emit
    adds_columns: tuple[str, ...] = ()
    requires_packages: tuple[str, ...] = ()  # import names; checked before running
    tags: tuple[str, ...] = field(default=())  # e.g. ("quality",), used by planners
    # optional figures of one output batch (before drops are applied) -> StageReport.extra, summed over shards
    stats: Callable[[Any, Any], dict[str, Any]] | None = None
    # optional figures derived from a source's summed extra (e.g. shares of an evaluation set)
    summarize: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None
    # optional figures of a stage's kept documents, reported by every stage whose documents carry adds_columns[0]
    kept_stats: Callable[[Any], dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def parse_config(self, raw: dict[str, Any] | None) -> OpConfig:
        return self.config_model.model_validate(raw or {})

    def check_dependencies(self) -> None:
        for module in self.requires_packages:
            try:
                importlib.import_module(module)
            except ImportError as exc:  # pragma: no cover - exercised only without the package
                raise MissingDependencyError(
                    f"operator {self.key} needs the Python package providing {module!r}: "
                    f"pip install {module} (or reinstall the project: make setup)"
                ) from exc

    def describe(self) -> dict[str, Any]:
        schema = self.config_model.model_json_schema()
        defaults = self.config_model().model_dump(mode="json") if _all_defaulted(self.config_model) else {}
        return {
            "name": self.key,
            "kind": self.kind,
            "description": self.description,
            "drop_reasons": list(self.reasons),
            "adds_columns": list(self.adds_columns),
            "config_schema": schema,
            "defaults": defaults,
            "tags": list(self.tags),
        }


def _all_defaulted(model: type[BaseModel]) -> bool:
    return all(not f.is_required() for f in model.model_fields.values())


_REGISTRY: dict[str, Operator] = {}

# Modules that register operators on import. Kept explicit so the registry is the same
# wherever it is read (Dagster code server, agent tools, tests).
_OPERATOR_MODULES = (
    "corpus.ops.normalize",
    "corpus.ops.extract",
    "corpus.ops.language",
    "corpus.ops.quality",
    "corpus.ops.dedup",
    "corpus.ops.pii",
    "corpus.ops.decontam",
    "corpus.ops.datatrove_step",
    "corpus.ops.selection",
)
_loaded = False


def register(
    name: str,
    version: int,
    kind: OpKind,
    config: type[OpConfig],
    *,
    reasons: tuple[str, ...] = (),
    adds_columns: tuple[str, ...] = (),
    requires_packages: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    stats: Callable[[Any, Any], dict[str, Any]] | None = None,
    summarize: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None,
    kept_stats: Callable[[Any], dict[str, Any]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``fn`` as ``name@version``. The docstring's first paragraph is its description."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        description = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        op = Operator(
            name=name,
            version=version,
            kind=kind,
            fn=fn,
            config_model=config,
            description=description,
            reasons=reasons,
            adds_columns=adds_columns,
            requires_packages=requires_packages,
            tags=tags,
            stats=stats,
            summarize=summarize,
            kept_stats=kept_stats,
        )
        if op.key in _REGISTRY and _REGISTRY[op.key].fn is not fn:
            raise ValueError(f"operator {op.key} registered twice")
        _REGISTRY[op.key] = op
        return fn

    return deco


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    for module in _OPERATOR_MODULES:
        importlib.import_module(module)
    _loaded = True


def available() -> list[str]:
    _ensure_loaded()
    return sorted(_REGISTRY, key=lambda k: (k.split("@")[0], int(k.split("@")[1])))


def get_operator(name: str) -> Operator:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownOperatorError(name, available()) from None


def list_operators() -> list[Operator]:
    return [get_operator(k) for k in available()]


def config_errors(op: Operator, raw: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(field path, message) for each problem of ``raw`` as a config of ``op``; [] if valid."""
    try:
        op.parse_config(raw)
    except ValidationError as exc:
        return [
            (".".join(str(p) for p in e["loc"]) or "config", e["msg"].removeprefix("Value error, "))
            for e in exc.errors()
        ]
    return []
