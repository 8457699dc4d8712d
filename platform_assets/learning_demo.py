"""The learning loop, driven from the command line as the daemon would drive it: evaluate
the eval_feedback sensor's decision, apply it (run mixture + proxy_eval for the version's
partition with its run config through the Dagster instance), repeat until the decision
says why it stops; then print one row per version, and each version's target loss with
its difference to m0001 and a 95% interval from the evaluations' standard errors."""

from __future__ import annotations

import math
from typing import Any

import dagster as dg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corpus.feedback import FeedbackState
from corpus.mixing.choice import choose_for_spec
from corpus.mixing.compare import compare_to_first
from corpus.mixing.target import Target
from corpus.spec import PipelineSpec
from platform_assets.components.learning import mixture_job_name, versions_partitions
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.jobs import TAG_LAUNCHED_BY
from platform_assets.orchestrate import cli_run_config


def run_learning_loop(
    spec: PipelineSpec,
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    *,
    log: Any = print,
    max_ticks: int = 50,
) -> FeedbackState:
    """Evaluate the sensor's decision and run what it requests until it skips; returns the final state.

    The runs go through the pipeline's ``<pipeline>_mixture_round`` job and are tagged
    ``corpus/launched_by=cli`` (the sensor did not launch them); what they leave in the
    instance (materializations of the version partitions) is what the sensor reads, so the
    sensor switched on afterwards finds nothing left to do."""
    from sensors.eval_feedback import feedback_tick

    defs = dg.Definitions.merge(build_pipeline_defs(spec), dg.Definitions(resources=resources))
    job = defs.resolve_job_def(mixture_job_name(spec))
    partitions = versions_partitions(spec)
    cursor: str | None = None
    state = FeedbackState()
    for _ in range(max_ticks):
        tick = feedback_tick(spec, instance, cursor, resources["metrics"], resources["storage"], partitions)
        cursor, state = tick.cursor, tick.state
        if isinstance(tick.result, dg.SkipReason):
            log(f"eval_feedback decision: skip: {tick.result.skip_message}")
            break
        req = tick.result.run_requests[0]
        version = req.partition_key
        assert version is not None
        log(f"eval_feedback decision: {version} (run_key {req.run_key}): {req.tags.get('corpus/reason', '')}")
        tags = {
            **req.tags,
            TAG_LAUNCHED_BY: "cli",
            "corpus/run_key": req.run_key or "",
            "corpus/decided_by": "eval_feedback decision",
        }
        job.execute_in_process(
            run_config={**req.run_config, **cli_run_config()}, instance=instance, partition_key=version, tags=tags
        )
    return state


def run_learning_demo(
    spec: PipelineSpec, resources: dict[str, Any], instance: dg.DagsterInstance, *, console: Console
) -> FeedbackState:
    state = run_learning_loop(spec, resources, instance, log=console.print)
    domains, trained = spec.source_names, spec.trained_sources
    table = Table(
        title=f"learning loop of {spec.pipeline!r}: one row per mixture version "
        f"({spec.mixture.policy if spec.mixture else ''} policy)"
    )
    table.add_column("version")
    for d in trained:
        table.add_column(escape(f"w[{d}]"), justify="right")
    for d in domains:
        table.add_column(escape(f"loss[{d}]"), justify="right")
    table.add_column("average", justify="right")
    table.add_column("worst domain")
    for v in state.versions:
        losses = v.val_loss or {}
        avg = sum(losses.values()) / len(losses) if losses else math.nan
        worst = max(losses, key=lambda d: losses[d]) if losses else "-"
        table.add_row(
            v.version,
            *[f"{v.weights.get(d, 0):.3f}" for d in trained],
            *[f"{losses[d]:.3f}" if d in losses else "-" for d in domains],
            f"{avg:.4f}" if losses else "-",
            f"{worst} ({losses[worst]:.3f})" if losses else "-",
        )
    console.print(table)
    if spec.mixture is not None:
        console.print(comparison_table(state, spec))
        choice = choose_for_spec(state.history(), spec)
        if choice is not None:
            console.print(f"chosen version: {choice.version} ({choice.reason})")
    return state


def comparison_table(state: FeedbackState, spec: PipelineSpec) -> Table:
    """Target loss per version and its difference to m0001 with a 95% interval (evaluation noise only)."""
    assert spec.mixture is not None
    goal = Target.of(spec.mixture.target)
    table = Table(
        title=f"target: {goal.describe()}; difference to m0001 with a 95% interval from the evaluations' standard "
        "errors",
        caption="the interval covers evaluation noise"
        + (
            f" and a seed-to-seed spread of {spec.mixture.seed_sd}"
            if spec.mixture.seed_sd
            else ", not seed-to-seed training noise (measure it with make bench-mixing; set mixture.seed_sd)"
        ),
    )
    for col in ("version", "target loss", "± SE", "diff to m0001", "95% interval", "verdict"):
        table.add_column(col, justify="left" if col in ("version", "verdict") else "right")
    for i, row in enumerate(
        compare_to_first(state.history(), goal, spec.trained_sources, seed_sd=spec.mixture.seed_sd)
    ):
        se = f"{row.se:.4f}" if math.isfinite(row.se) else "-"
        if i == 0:
            table.add_row(row.version, f"{row.target:.4f}", se, "-", "-", "reference")
            continue
        interval = f"[{row.low:+.4f}, {row.high:+.4f}]" if math.isfinite(row.low) else "-"
        table.add_row(row.version, f"{row.target:.4f}", se, f"{row.diff:+.4f}", interval, row.verdict)
    return table
