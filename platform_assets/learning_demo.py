"""The learning loop, driven from the command line exactly as the daemon would drive it:
evaluate the eval_feedback sensor, apply its request (add the version partition, run
mixture + proxy_eval with its run config through the Dagster instance), repeat until the
sensor says why it stops; then print one row per version, and each version's target loss
with its difference to m0001 and a 95% interval from the evaluations' standard errors."""

from __future__ import annotations

import math
from typing import Any

import dagster as dg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corpus.feedback import FeedbackState
from corpus.mixing.compare import compare_to_first
from corpus.mixing.target import Target
from corpus.spec import PipelineSpec
from platform_assets.components.learning import versions_partitions
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.orchestrate import CLI_RUN_CONFIG


def run_learning_loop(spec: PipelineSpec, resources: dict[str, Any], instance: dg.DagsterInstance, *, log: Any = print, max_ticks: int = 50) -> FeedbackState:
    """Tick the sensor and run what it requests until it skips; returns the final state."""
    from sensors.eval_feedback import feedback_tick

    defs = build_pipeline_defs(spec)
    assets = list(defs.assets or [])
    partitions = versions_partitions(spec)
    cursor: str | None = None
    for _ in range(max_ticks):
        result, cursor = feedback_tick(spec, cursor, resources["metrics"], resources["storage"], partitions)
        if isinstance(result, dg.SkipReason):
            log(f"eval_feedback: skip: {result.skip_message}")
            break
        req = result.run_requests[0]
        version = req.partition_key
        log(f"eval_feedback: run request {version} (run_key {req.run_key}): {req.tags.get('corpus/reason', '')}")
        instance.add_dynamic_partitions(partitions.name, [version])
        dg.materialize(
            assets,
            selection=[dg.AssetKey([spec.pipeline, "mixture"]), dg.AssetKey([spec.pipeline, "proxy_eval"])],
            partition_key=version,
            run_config={**req.run_config, **CLI_RUN_CONFIG},
            instance=instance,
            resources=resources,
            tags={**req.tags, "dagster/sensor_name": f"{spec.pipeline}_eval_feedback", "corpus/launched_by": "cli"},
            raise_on_error=True,
        )
    return FeedbackState.from_cursor(cursor)


def run_learning_demo(spec: PipelineSpec, resources: dict[str, Any], instance: dg.DagsterInstance, *, console: Console) -> FeedbackState:
    state = run_learning_loop(spec, resources, instance, log=console.print)
    domains = spec.source_names
    table = Table(title=f"learning loop of {spec.pipeline!r}: one row per mixture version ({spec.mixture.policy if spec.mixture else ''} policy)")
    table.add_column("version")
    for d in domains:
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
            *[f"{v.weights.get(d, 0):.3f}" for d in domains],
            *[f"{losses[d]:.3f}" if d in losses else "-" for d in domains],
            f"{avg:.4f}" if losses else "-",
            f"{worst} ({losses[worst]:.3f})" if losses else "-",
        )
    console.print(table)
    if spec.mixture is not None:
        console.print(comparison_table(state, spec))
    return state


def comparison_table(state: FeedbackState, spec: PipelineSpec) -> Table:
    """Target loss per version and its difference to m0001 with a 95% interval (evaluation noise only)."""
    assert spec.mixture is not None
    goal = Target.of(spec.mixture.target)
    table = Table(
        title=f"target: {goal.describe()}; difference to m0001 with a 95% interval from the evaluations' standard errors",
        caption="the interval covers evaluation noise"
        + (f" and a seed-to-seed spread of {spec.mixture.seed_sd}" if spec.mixture.seed_sd else
           ", not seed-to-seed training noise (measure it with make bench-mixing; set mixture.seed_sd)"),
    )
    for col in ("version", "target loss", "± SE", "diff to m0001", "95% interval", "verdict"):
        table.add_column(col, justify="left" if col in ("version", "verdict") else "right")
    for i, row in enumerate(compare_to_first(state.history(), goal, spec.source_names, seed_sd=spec.mixture.seed_sd)):
        se = f"{row.se:.4f}" if math.isfinite(row.se) else "-"
        if i == 0:
            table.add_row(row.version, f"{row.target:.4f}", se, "-", "-", "reference")
            continue
        interval = f"[{row.low:+.4f}, {row.high:+.4f}]" if math.isfinite(row.low) else "-"
        table.add_row(row.version, f"{row.target:.4f}", se, f"{row.diff:+.4f}", interval, row.verdict)
    return table
