"""Selection at mixing time: a per-document score decides which training documents a mixture samples.

A selection stage writes a score column on the documents (``score/<name>`` from
``quality_classifier@2`` / ``lm_score@1``, ``weight/softdedup`` from ``soft_dedup@1``). A
:class:`SelectionRule` applied here restricts a domain's *training* documents before the
mixture is planned, so changing the rule makes a new mixture version without rebuilding
any upstream asset. Validation documents are never touched: every version is still
evaluated on the same split.

Modes:

* ``top_fraction``: the highest-scoring documents up to ``value`` of the domain's training tokens;
* ``threshold``: documents with score >= ``value``;
* ``weight``: every document with weight > 0 stays, carrying its weight to the sampler, which
  draws the domain's token budget by weight without replacement (Efraimidis-Spirakis keys,
  see :mod:`corpus.mixing.sampler`); the plan's seed drives the draw.

Documents without a score (null, or absent from the score table) are treated as the lowest
score for ``top_fraction`` / ``threshold`` and as weight 0 for ``weight``; the count is in
the selection summary, which belongs in the version's metadata.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from corpus.mixing.domain_tokens import DomainIndex, DomainTokens, SamplerError


class SelectionRule(BaseModel):
    """Which training documents of a domain a mixture may sample, by a score column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(pattern=r"^(score|weight)/[a-z][a-z0-9_]{0,31}$", description="score/<name> or weight/<name>")
    mode: Literal["top_fraction", "threshold", "weight"] = "top_fraction"
    value: float | None = Field(None, description="top_fraction: share of tokens (0, 1]; threshold: the minimum score")

    @model_validator(mode="after")
    def _check(self) -> SelectionRule:
        if self.mode == "top_fraction" and not (self.value is not None and 0.0 < self.value <= 1.0):
            raise ValueError("top_fraction needs value in (0, 1]: the share of the domain's training tokens to keep")
        if self.mode == "threshold" and (self.value is None or not math.isfinite(self.value)):
            raise ValueError("threshold needs a finite value: the minimum score to keep")
        return self


class SelectedDomain(DomainTokens):
    """A domain whose training documents are restricted by a rule; reading is delegated unchanged."""

    def __init__(self, base: DomainTokens, scores: Mapping[str, float], rule: SelectionRule):
        super().__init__(base.name, base._readers, base._where)
        self.base = base
        self.scores = scores
        self.rule = rule
        self.summary: dict[str, Any] = {}

    @cached_property
    def index(self) -> DomainIndex:
        idx = self.base.index
        ids = idx.train_ids
        raw = np.array([self.scores.get(i, math.nan) for i in ids], dtype=np.float64)
        missing = ~np.isfinite(raw)
        rule = self.rule
        w: np.ndarray | None = None
        if rule.mode == "weight":
            w = np.where(missing, 0.0, np.maximum(raw, 0.0))
            keep = w > 0
            if not keep.any():
                raise SamplerError(
                    f"domain {self.name!r}: every {rule.column} weight is 0 or missing; nothing to sample"
                )
        else:
            score = np.where(missing, -np.inf, raw)
            if rule.mode == "threshold":
                keep = score >= float(rule.value)  # type: ignore[arg-type]
            else:
                order = np.lexsort((np.array(ids), -score))
                budget = float(rule.value) * float(idx.train_tokens.sum())  # type: ignore[arg-type]
                cum = np.cumsum(idx.train_tokens[order])
                n = int(np.searchsorted(cum, budget, side="left")) + 1 if len(order) else 0
                keep = np.zeros(len(ids), dtype=bool)
                keep[order[: min(n, len(order))]] = True
        if not keep.any():
            raise SamplerError(
                f"domain {self.name!r}: the selection on {rule.column} ({rule.mode}) keeps no training document"
            )
        kept = np.flatnonzero(keep)
        self.summary = {
            "rule": rule.model_dump(mode="json"),
            "train_docs": len(ids),
            "kept_docs": len(kept),
            "train_tokens": int(idx.train_tokens.sum()),
            "kept_tokens": int(idx.train_tokens[kept].sum()),
            "unscored_docs": int(missing.sum()),
        }
        weights = None if w is None else w[kept]
        if weights is not None:
            self.summary["weight_mean"] = round(float(weights.mean()), 6)  # over the kept documents
        return DomainIndex(
            train_ids=tuple(ids[i] for i in kept),
            train_tokens=idx.train_tokens[kept],
            val_ids=idx.val_ids,
            val_tokens=idx.val_tokens,
            train_weights=weights,
        )


def apply_selection(
    domains: Mapping[str, DomainTokens], rules: Mapping[str, SelectionRule], scores: Mapping[str, Mapping[str, float]]
) -> tuple[dict[str, DomainTokens], dict[str, dict[str, Any]]]:
    """Domains with their rules applied (others unchanged) and the selection summary per domain.

    ``scores[domain]`` maps document id -> score of the rule's column (read it from the
    selection stage's output with :func:`read_scores`).
    """
    unknown = [d for d in rules if d not in domains]
    if unknown:
        raise SamplerError(f"selection names unknown domains {unknown}; domains: {', '.join(domains)}")
    out: dict[str, DomainTokens] = dict(domains)
    summary: dict[str, dict[str, Any]] = {}
    for d, rule in rules.items():
        if d not in scores:
            raise SamplerError(f"selection for {d!r} uses {rule.column} but no scores were given for that domain")
        sel = SelectedDomain(domains[d], scores[d], rule)
        _ = sel.index
        out[d] = sel
        summary[d] = sel.summary
    return out, summary


def read_scores(store: Any, pipeline: str, stage: str, source: str, column: str) -> dict[str, float]:
    """``id -> score`` of ``column`` in a stage's kept documents of one source."""
    from corpus.stage_report import stage_dir

    df = store.read_partition(stage_dir(pipeline, stage, source))
    if df.height == 0:
        return {}
    if column not in df.columns:
        raise SamplerError(f"stage {stage!r} of {source!r} has no column {column!r}; columns: {', '.join(df.columns)}")
    return {i: float(v) for i, v in zip(df["id"].to_list(), df[column].to_list(), strict=True) if v is not None}
