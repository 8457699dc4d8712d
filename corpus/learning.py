"""The learning loop over stored shards: plan a mixture version, train the proxy on it.

Glue between the token shards of the build loop (``{pipeline}/tokenized/{source}``), the
mixture sampler and the proxy trainer, so the Dagster assets, the Pipes trainer process
and the benchmarks all run the same code. Dagster-free.

Layout of a mixture version: ``{root}/{pipeline}/mixture/{version}/plan.json`` (the
:class:`~corpus.mixing.sampler.MixturePlan` plus provenance).
"""

from __future__ import annotations

import math
import posixpath
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from corpus.io import CorpusStore
from corpus.metrics import MetricsRecord
from corpus.mixing import sampler
from corpus.mixing.domain_tokens import DomainTokens, SamplerError, validation_tokens
from corpus.runner import stage_dir, tokenizer_rel
from corpus.spec import PipelineSpec

if TYPE_CHECKING:  # torch loads only when a proxy actually trains
    from corpus.proxy.evaluate import EvalPoint
    from corpus.proxy.train import TrainResult


def plan_rel(pipeline: str, version: str) -> str:
    return posixpath.join(pipeline, "mixture", version, "plan.json")


def domain_tokens(spec: PipelineSpec, store: CorpusStore) -> dict[str, DomainTokens]:
    """Every source's token shards (committed ones only, through the manifests), with ``mixture.selection`` applied."""
    return selected_domain_tokens(spec, store)[0]


def selected_domain_tokens(spec: PipelineSpec, store: CorpusStore) -> tuple[dict[str, DomainTokens], dict[str, Any]]:
    """The domains and, per selected domain, what its rule kept (``corpus.mixing.selection``)."""
    out = {}
    for src in spec.source_names:
        paths = [store.path(p) for p in store.shard_paths(stage_dir(spec.pipeline, "tokenized", src))]
        out[src] = DomainTokens.from_parquet(src, paths, store.filesystem)
    if spec.mixture is None or not spec.mixture.selection:
        return out, {}
    from corpus.mixing.selection import SelectionRule, apply_selection, read_scores

    rules = {d: SelectionRule(column=s.column, mode=s.mode, value=s.value) for d, s in spec.mixture.selection.items()}
    scores = {d: read_scores(store, spec.pipeline, s.stage, d, s.column) for d, s in spec.mixture.selection.items()}
    selected, summary = apply_selection(out, rules, scores)
    for d, s in spec.mixture.selection.items():
        summary[d]["stage"] = s.stage
    return selected, summary


def natural_weights(spec: PipelineSpec, store: CorpusStore) -> dict[str, float]:
    """Token-proportional weights of the trained sources from the tokenized manifests (no token reads)."""
    counts = {}
    for src in spec.trained_sources:
        summary = store.read_manifest(stage_dir(spec.pipeline, "tokenized", src)).get("summary") or {}
        counts[src] = int((summary.get("extra") or {}).get("tokens_train", 0))
    total = sum(counts.values())
    if total == 0:
        raise SamplerError(f"pipeline {spec.pipeline!r} has no training tokens; materialize tokenized first")
    return {d: c / total for d, c in counts.items()}


def plan_version(
    spec: PipelineSpec,
    store: CorpusStore,
    version: str,
    weights: Mapping[str, float],
    provenance: Mapping[str, Any] | None = None,
) -> sampler.MixturePlan:
    """Plan mixture ``version`` with ``weights`` and store the plan (deterministic)."""
    assert spec.mixture is not None, "the spec has no mixture section"
    m = spec.mixture
    domains, selection = selected_domain_tokens(spec, store)
    plan = sampler.plan_mixture(
        {d: domains[d] for d in spec.trained_sources},  # held-out sources are evaluated, never sampled
        weights,
        m.budget_tokens,
        max_epochs=m.max_epochs,
        seed=m.seed,
        version=version,
    )
    doc = {"plan": plan.model_dump(mode="json"), "provenance": dict(provenance or {})}
    if selection:
        doc["selection"] = selection  # the rule and what it kept, per domain: part of the version
    store.write_json(plan_rel(spec.pipeline, version), doc)
    return plan


def read_plan(spec: PipelineSpec, store: CorpusStore, version: str) -> tuple[sampler.MixturePlan, dict[str, Any]]:
    doc = store.read_json(plan_rel(spec.pipeline, version))
    return sampler.MixturePlan.model_validate(doc["plan"]), doc.get("provenance", {})


def train_version(
    spec: PipelineSpec,
    store: CorpusStore,
    version: str,
    *,
    run_id: str | None = None,
    report: Callable[[MetricsRecord], None] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[TrainResult, str]:
    """Train the proxy on a planned version; every evaluation becomes a metrics record."""
    from corpus.proxy.train import target_options, train
    from corpus.tokenize import load_tokenizer

    assert spec.mixture is not None, "the spec has no mixture section"
    plan, _ = read_plan(spec, store, version)
    domains = domain_tokens(spec, store)
    tok = load_tokenizer(store.read_bytes(tokenizer_rel(spec.pipeline)).decode())
    streams = sampler.materialize(plan, domains)
    val = validation_tokens(domains, spec.mixture.proxy.eval_tokens)
    run_id = run_id or f"proxy-{version}-{uuid.uuid4().hex[:8]}"
    log(
        f"training the proxy on {version}: {plan.total_tokens:,} tokens, "
        + ", ".join(f"{d} {w:.3f}" for d, w in plan.effective_weights.items())
    )

    def on_eval(point: EvalPoint) -> None:
        record = MetricsRecord(
            run_id=run_id,
            pipeline=spec.pipeline,
            mixture_version=version,
            step=point.step,
            tokens_seen=point.tokens_seen,
            val_loss=point.val_loss,
            val_loss_se={d: v for d, v in point.val_loss_se.items() if math.isfinite(v)} or None,
            finished=point.finished,
            trainer="proxy",
            weights=dict(plan.requested_weights),  # the version's weights (effective ones are in the plan)
        )
        log(
            f"step {point.step}: {point.tokens_seen:,} tokens, average validation loss {point.average:.4f}"
            + (" (final)" if point.finished else "")
        )
        if report is not None:
            report(record)

    result = train(
        streams,
        val,
        spec.mixture.proxy,
        plan.total_tokens,
        vocab_size=tok.get_vocab_size(),
        weights=plan.effective_weights,
        options=target_options(spec.mixture.target, list(plan.effective_weights)),
        on_eval=on_eval,
    )
    return result, run_id
