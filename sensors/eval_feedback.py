"""The ``eval_feedback`` sensor: new evaluation metrics -> a new mixture version.

Thin over :func:`corpus.feedback.decide`: read the pipeline's records from the metrics
store, decide, store the decision's state as the cursor, and either request one run of
``mixture`` + ``proxy_eval`` for the new version (adding its dynamic partition, weights as
run config, ``run_key`` from the decision's inputs so a re-evaluated tick never launches
twice) or skip with the reason.
"""


from typing import Any

import dagster as dg

from corpus.feedback import FeedbackError, FeedbackState, NewVersion, decide
from corpus.io import PartitionNotFound
from corpus.learning import natural_weights
from corpus.mixing.sampler import SamplerError
from corpus.spec import PipelineSpec
from resources.metrics import MetricsStore
from resources.storage import CorpusStorage


def mixture_op_name(spec: PipelineSpec) -> str:
    return f"{spec.pipeline}__mixture"


def feedback_tick(spec: PipelineSpec, cursor: str | None, metrics: MetricsStore, storage: CorpusStorage, partitions_def: dg.DynamicPartitionsDefinition) -> tuple[dg.SensorResult | dg.SkipReason, str | None]:
    """One evaluation of the sensor: (what to return, the new cursor)."""
    assert spec.mixture is not None
    try:
        state = FeedbackState.from_cursor(cursor)
    except FeedbackError as exc:
        return dg.SkipReason(str(exc)), cursor
    store = storage.store()
    try:
        natural = natural_weights(spec, store)
    except (PartitionNotFound, SamplerError) as exc:
        return dg.SkipReason(f"waiting for the build loop: {str(exc).splitlines()[0]}"), cursor
    stored = metrics.client(storage).read(spec.pipeline)
    decision = decide(stored.records, state, spec.mixture, spec.source_names, natural, pipeline=spec.pipeline)
    new_cursor = decision.state.to_cursor()
    unreadable = "; ".join(str(p) for p in stored.problems[:5])
    if not isinstance(decision, NewVersion):
        reason = decision.reason + (f"; unreadable metrics files skipped: {unreadable}" if unreadable else "")
        return dg.SkipReason(reason), new_cursor
    source = [v for v in decision.state.versions if v.val_loss is not None]
    records = [r.key for r in stored.records if any(r.mixture_version == v.version and r.run_id == v.run_id and r.finished for v in source)]
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
        tags={"corpus/mixture_version": decision.version, "corpus/reason": decision.reason[:200]},
    )
    return (
        dg.SensorResult(run_requests=[request], dynamic_partitions_requests=[partitions_def.build_add_request([decision.version])]),
        new_cursor,
    )


def build_eval_feedback_sensor(spec: PipelineSpec, job: Any, partitions_def: dg.DynamicPartitionsDefinition) -> dg.SensorDefinition:
    assert spec.mixture is not None

    @dg.sensor(
        name=f"{spec.pipeline}_eval_feedback",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Reads finished evaluation records of {spec.pipeline!r}, computes new weights with the "
        f"{spec.mixture.policy!r} policy and requests the next mixture version, for at most {spec.mixture.rounds} versions.",
    )
    def eval_feedback(context: dg.SensorEvaluationContext, metrics: MetricsStore, storage: CorpusStorage) -> Any:
        result, cursor = feedback_tick(spec, context.cursor, metrics, storage, partitions_def)
        if cursor is not None and cursor != context.cursor:
            context.update_cursor(cursor)
        return result

    return eval_feedback
