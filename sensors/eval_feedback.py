"""The ``eval_feedback`` sensor: new evaluation metrics -> a new mixture version.

Thin over :func:`corpus.feedback.decide`. What already happened is read from durable state
at every tick, never from the cursor: the versions are the instance's mixture-version
partitions that were planned or launched (weights from the ``mixture`` materialization, or
from the run config of a run still in flight), their results are the metrics store's
records. A fresh or reset cursor therefore repeats nothing: switched on after ``make demo``
the sensor finds the versions the demo made and their results, and skips (round limit).
The cursor only remembers which problem records were already reported (so a skip reason
lists new problems once) and a short summary for the sensor's page.

A decision to make a version requests one run of ``mixture`` + ``proxy_eval`` for its
partition (versions m0001 ... m<rounds> are static partitions) (weights as run config;
``run_key`` from the decision's inputs, so a re-evaluated tick never launches twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import dagster as dg

from corpus.feedback import FeedbackState, NewVersion, VersionState, decide
from corpus.io import PartitionNotFound
from corpus.learning import natural_weights
from corpus.metrics import version_number
from corpus.mixing.choice import choose_for_spec
from corpus.mixing.domain_tokens import SamplerError
from corpus.mixing.policies import initial_weights
from corpus.spec import PipelineSpec
from platform_assets.jobs import run_tags
from resources.metrics import MetricsStore
from resources.storage import CorpusStorage

MAX_REPORTED = 500  # problem records remembered in the cursor (older ones may be listed again)
IN_FLIGHT = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)


def mixture_op_name(spec: PipelineSpec) -> str:
    return f"{spec.pipeline}__mixture"


def sensor_name(spec: PipelineSpec) -> str:
    return f"{spec.pipeline}_eval_feedback"


def _mixture_key(spec: PipelineSpec) -> dg.AssetKey:
    return dg.AssetKey([spec.pipeline, "mixture"])


def _run_weights(run: dg.DagsterRun, spec: PipelineSpec, natural: dict[str, float]) -> dict[str, float] | None:
    config = ((run.run_config or {}).get("ops") or {}).get(mixture_op_name(spec), {}).get("config") or {}
    weights = config.get("weights")
    if isinstance(weights, dict):
        return {str(k): float(v) for k, v in weights.items()}
    assert spec.mixture is not None
    return initial_weights(spec.mixture.initial, spec.trained_sources, natural)


def durable_versions(
    instance: dg.DagsterInstance, spec: PipelineSpec, partitions_def: dg.PartitionsDefinition, natural: dict[str, float]
) -> list[VersionState]:
    """The mixture versions that exist: planned (a ``mixture`` materialization) or with a run in flight."""
    names = sorted(
        (v for v in partitions_def.get_partition_keys() if version_number(v) is not None), key=version_number
    )
    out: list[VersionState] = []
    for version in names:
        recs = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=_mixture_key(spec), asset_partitions=[version]), limit=1
        ).records
        weights: dict[str, float] | None = None
        run_key = ""
        if recs and recs[0].asset_materialization is not None:
            entry = recs[0].asset_materialization.metadata.get("weights")
            if entry is not None and isinstance(entry.value, dict):
                weights = {str(k): float(v) for k, v in entry.value.items()}
            run = instance.get_run_by_id(recs[0].run_id) if recs[0].run_id else None
            run_key = (run.tags.get("dagster/run_key") or run.tags.get("corpus/run_key") or "") if run else ""
        else:
            runs = instance.get_runs(
                filters=dg.RunsFilter(tags={"dagster/partition": version}, statuses=list(IN_FLIGHT)), limit=20
            )
            planning = [r for r in runs if r.asset_selection is None or _mixture_key(spec) in r.asset_selection]
            if planning:
                weights = _run_weights(planning[0], spec, natural)
                run_key = planning[0].tags.get("dagster/run_key", "")
        if weights is not None:
            out.append(VersionState(version=version, weights=weights, run_key=run_key))
    return out


@dataclass
class Tick:
    result: dg.SensorResult | dg.SkipReason
    cursor: str
    state: FeedbackState


def _reported(cursor: str | None) -> list[str]:
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return []
    value = data.get("reported") if isinstance(data, dict) else None
    return [str(k) for k in value] if isinstance(value, list) else []


def _cursor(state: FeedbackState, reported: list[str], records: int) -> str:
    done = [v.version for v in state.versions if v.val_loss is not None]
    return json.dumps(
        {
            "versions": [v.version for v in state.versions],
            "evaluated": done,
            "records": records,
            "reported": reported[-MAX_REPORTED:],
        },
        separators=(",", ":"),
    )


def feedback_tick(
    spec: PipelineSpec,
    instance: dg.DagsterInstance,
    cursor: str | None,
    metrics: MetricsStore,
    storage: CorpusStorage,
    partitions_def: dg.PartitionsDefinition,
) -> Tick:
    """One evaluation of the sensor from durable state; ``cursor`` only dedups problem reports."""
    assert spec.mixture is not None
    store = storage.store()
    try:
        natural = natural_weights(spec, store)
    except (PartitionNotFound, SamplerError) as exc:
        return Tick(
            dg.SkipReason(f"waiting for the build loop: {str(exc).splitlines()[0]}"), cursor or "", FeedbackState()
        )
    versions = durable_versions(instance, spec, partitions_def, natural)
    stored = metrics.client(storage).read(spec.pipeline)
    decision = decide(
        stored.records,
        FeedbackState(versions=versions),
        spec.mixture,
        spec.trained_sources,
        natural,
        pipeline=spec.pipeline,
    )
    reported = _reported(cursor)
    known = set(reported)
    fresh = [s for s in decision.skipped_records if s.split(" ", 2)[1] not in known]
    reported += [s.split(" ", 2)[1] for s in fresh]
    new_cursor = _cursor(decision.state, reported, len(stored.records))
    unreadable = "; ".join(str(p) for p in stored.problems[:5])
    if not isinstance(decision, NewVersion):
        reason = decision.summary or decision.reason
        if fresh:
            reason += f"; {len(fresh)} new record(s) skipped: " + " | ".join(fresh)
        if unreadable:
            reason += f"; unreadable metrics files skipped: {unreadable}"
        return Tick(dg.SkipReason(reason + _choice_note(spec, decision.state)), new_cursor, decision.state)
    source = [v for v in decision.state.versions if v.val_loss is not None]
    records = [
        r.key
        for r in stored.records
        if any(r.mixture_version == v.version and r.run_id == v.run_id and r.finished for v in source)
    ]
    run_config: dict[str, Any] = {
        "ops": {
            mixture_op_name(spec): {
                "config": {
                    "weights": decision.weights,
                    "reason": decision.reason,
                    "source_records": records,
                    "source_runs": [v.run_id for v in source if v.run_id],
                }
            }
        }
    }
    request = dg.RunRequest(
        run_key=decision.run_key,
        partition_key=decision.version,
        run_config=run_config,
        tags={
            **run_tags(
                spec, ["mixture", "proxy_eval"], version=decision.version, launched_by=f"sensor:{sensor_name(spec)}"
            ),
            "corpus/reason": decision.reason[:200],
        },
    )
    if not partitions_def.has_partition_key(decision.version):  # rounds bound the versions; decide stops before this
        return Tick(
            dg.SkipReason(f"{decision.version} is beyond the spec's rounds ({spec.mixture.rounds})"),
            new_cursor,
            decision.state,
        )
    result = dg.SensorResult(run_requests=[request])
    return Tick(result, new_cursor, decision.state)


def _choice_note(spec: PipelineSpec, state: FeedbackState) -> str:
    """Once every version so far is evaluated: which one to train with, and why."""
    if not state.versions or any(v.val_loss is None for v in state.versions):
        return ""
    choice = choose_for_spec(state.history(), spec)
    return f"; version to train with: {choice.version} ({choice.reason})" if choice else ""


def build_eval_feedback_sensor(
    spec: PipelineSpec, job: Any, partitions_def: dg.PartitionsDefinition, interval: int = 30
) -> dg.SensorDefinition:
    assert spec.mixture is not None

    @dg.sensor(
        name=sensor_name(spec),
        job=job,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Reads finished evaluation records of {spec.pipeline!r}, computes new weights with the "
        f"{spec.mixture.policy!r} policy and requests the next mixture version, for at most {spec.mixture.rounds} "
        "versions. What already happened comes from the instance's mixture versions and the metrics store, so a reset "
        "cursor repeats nothing.",
    )
    def eval_feedback(context: dg.SensorEvaluationContext, metrics: MetricsStore, storage: CorpusStorage) -> Any:
        tick = feedback_tick(spec, context.instance, context.cursor, metrics, storage, partitions_def)
        if tick.cursor and tick.cursor != context.cursor:
            context.update_cursor(tick.cursor)
        return tick.result

    return eval_feedback
