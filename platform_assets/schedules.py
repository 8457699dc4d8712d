"""Scheduled materializations named in a pipeline spec (``schedules:``).

Each becomes a Dagster schedule ``<pipeline>_<name>`` on the target asset's job, stopped
until someone turns it on (under *Automation*, like the sensors). A per-source target runs
every source's partition at each tick; ``proxy_eval`` re-evaluates the latest mixture
version that has a plan; a global asset runs once. What follows the target (later stages)
follows through declarative automation, as after any other run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import dagster as dg

from corpus.metrics import version_number
from corpus.schedules import expand_cron
from corpus.spec import PipelineSpec, ScheduleSpec
from platform_assets.jobs import LEARNING_ASSETS, job_name, run_tags


def schedule_name(spec: PipelineSpec, sched: ScheduleSpec) -> str:
    return f"{spec.pipeline}_{sched.name}"


def latest_planned_version(instance: dg.DagsterInstance, spec: PipelineSpec) -> str | None:
    """The newest mixture version with a materialized plan, or None."""
    planned = instance.get_materialized_partitions(dg.AssetKey([spec.pipeline, "mixture"]))
    named = [(version_number(v), v) for v in planned if version_number(v) is not None]
    return max(named)[1] if named else None


def build_schedule(
    spec: PipelineSpec, sched: ScheduleSpec, job: dg.UnresolvedAssetJobDefinition, per_source: bool
) -> dg.ScheduleDefinition:
    name = schedule_name(spec, sched)
    target = sched.target
    launched_by = f"schedule:{name}"
    what = (
        f"every source's {target} partition"
        if per_source
        else "the latest mixture version (re-evaluation)"
        if target == "proxy_eval"
        else target
    )

    @dg.schedule(
        name=name,
        cron_schedule=expand_cron(sched.cron),
        execution_timezone=sched.timezone,
        job=job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=sched.description
        or f"Materializes {what} of {spec.pipeline!r} on '{sched.cron}' ({sched.timezone}); "
        "later stages follow through automation.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        when = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
        if per_source:
            return [
                dg.RunRequest(
                    run_key=f"{when}:{src}",
                    partition_key=src,
                    tags=run_tags(spec, [target], source=src, launched_by=launched_by),
                )
                for src in spec.source_names
            ]
        if target == "proxy_eval":
            version = latest_planned_version(context.instance, spec)
            if version is None:
                return dg.SkipReason("no mixture version has a plan yet; the eval_feedback sensor creates m0001")
            return [
                dg.RunRequest(
                    run_key=f"{when}:{version}",
                    partition_key=version,
                    tags=run_tags(spec, [target], version=version, launched_by=launched_by),
                )
            ]
        return [dg.RunRequest(run_key=when, tags=run_tags(spec, [target], launched_by=launched_by))]

    return _schedule


def build_schedule_defs(
    spec: PipelineSpec, assets: list[dg.AssetsDefinition], jobs: Mapping[str, dg.UnresolvedAssetJobDefinition]
) -> dg.Definitions:
    """The spec's schedules over ``jobs`` (by job name); the assets tell which targets are per source."""
    partitioned = {k.path[-1]: a.partitions_def for a in assets for k in a.keys}
    schedules = []
    for sched in spec.schedules:
        pdef = partitioned.get(sched.target)
        per_source = pdef is not None and sched.target not in LEARNING_ASSETS
        schedules.append(build_schedule(spec, sched, jobs[job_name(spec, sched.target)], per_source))
    return dg.Definitions(schedules=schedules)


def with_freshness(spec: PipelineSpec, assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """``assets`` with a freshness policy on each target of a schedule that sets ``freshness_hours``:
    fail after that many hours without a materialization, warn after half of it."""
    hours = {s.target: s.freshness_hours for s in spec.schedules if s.freshness_hours}
    if not hours:
        return assets

    def policy(asset_spec: dg.AssetSpec) -> dg.AssetSpec:
        h = hours.get(asset_spec.key.path[-1])
        if h is None:
            return asset_spec
        return asset_spec.replace_attributes(
            freshness_policy=dg.FreshnessPolicy.time_window(
                fail_window=timedelta(hours=h), warn_window=timedelta(hours=h / 2)
            )
        )

    return [a.map_asset_specs(policy) if any(k.path[-1] in hours for k in a.keys) else a for a in assets]


def build_run_defs(spec: PipelineSpec, assets: list[dg.AssetsDefinition]) -> dg.Definitions:
    """The pipeline's named jobs (one per asset, one per-source) and the spec's schedules on them."""
    from platform_assets.jobs import build_jobs

    jobs = {j.name: j for j in build_jobs(spec, assets)}
    return dg.Definitions.merge(dg.Definitions(jobs=list(jobs.values())), build_schedule_defs(spec, assets, jobs))
