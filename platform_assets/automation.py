"""How a pipeline keeps itself up to date: the new-data sensor starts ``raw``, declarative
automation carries every later stage, and a failed blocking check stops the flow.

* ``<pipeline>_new_raw_data`` (``sensors/new_data.py``) requests ``raw[source]`` when a
  source's files change.
* Every later build-loop asset carries :func:`stage_condition`: Dagster's ``eager()``
  (run when a dependency changed, never while one is missing or in progress), except that
  a dependency counts as changed only when its data version (a digest of its shards)
  changed, and nothing runs on top of a dependency whose latest blocking check failed. Checks are
  partitioned like their asset, so a failure in ``language[docs]`` stops ``quality[docs]``
  and the global ``deduped_index`` (hence ``deduped`` of every source, which reads it),
  while ``quality[code]`` still follows ``language[code]``.
* Per-source assets that also read a global asset (``deduped`` reads the dedup index,
  ``tokenized`` reads the tokenizer) follow updates of that global asset only: it is
  rebuilt from the same per-source inputs first, so they run once, on the new index or
  tokenizer, instead of once before it and once after.
* ``<pipeline>_automation``, one :class:`dagster.AutomationConditionSensorDefinition` per
  pipeline, evaluates these conditions. It covers every conditioned asset of the pipeline,
  so Dagster adds no ``default_automation_condition_sensor``.

Sensors start stopped (Dagster's default); turn them on under *Automation* in the UI.
Their interval is ``$CORPUS_SENSOR_INTERVAL`` seconds (read when definitions load).
``mixture`` and ``proxy_eval`` are not automated here: a mixture version is created by
the ``eval_feedback`` sensor, which names it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import dagster as dg

from corpus.spec import PipelineSpec
from sensors.new_data import build_new_data_sensor

INTERVAL_ENV = "CORPUS_SENSOR_INTERVAL"
DEFAULT_INTERVAL_SECONDS = 30

AC = dg.AutomationCondition


def sensor_interval_seconds(default: int = DEFAULT_INTERVAL_SECONDS) -> int:
    """Seconds between sensor evaluations: ``$CORPUS_SENSOR_INTERVAL`` or ``default``."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"{INTERVAL_ENV}={raw!r} is not a whole number of seconds; set it to e.g. 30 or unset it"
        ) from None
    if not 1 <= value <= 86_400:
        raise ValueError(f"{INTERVAL_ENV}={value} is out of range; use 1..86400 seconds")
    return value


def no_failed_blocking_check_upstream() -> dg.AutomationCondition:
    """True where no dependency partition has a failed blocking check on its latest materialization.

    Dagster's ``all_deps_blocking_checks_passed()`` maps a partitioned parent onto an
    unpartitioned child with "any partition passed"; a global asset would then run on
    top of one failed source. Negating "any dependency has a failed check" holds for
    partitioned and global children alike.
    """
    failed = AC.any_deps_match(AC.any_checks_match(AC.check_failed(), blocking_only=True)).with_label(
        "an upstream blocking check failed"
    )
    return ~failed


def any_deps_data_changed() -> dg.AutomationCondition:
    """A dependency got a new data version since the last tick (or will be requested on this one).

    Like Dagster's ``any_deps_updated()``, except that a re-materialization with the same
    content (stages report a digest of their shards as the data version) is not a change."""
    changed = (AC.data_version_changed() & ~AC.executed_with_root_target()).with_label("data version changed")
    return AC.any_deps_match(changed | AC.will_be_requested())


def eager_on_data() -> dg.AutomationCondition:
    """Dagster's ``eager()`` with :func:`any_deps_data_changed` in place of ``any_deps_updated()``."""
    return (
        AC.in_latest_time_window()
        & (AC.newly_missing() | any_deps_data_changed()).since_last_handled()
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("eager on data changes")


def eager_after_global_parents(global_keys: Sequence[dg.AssetKey]) -> dg.AutomationCondition:
    """``eager()``, except that only an update of a global parent starts the asset.

    A per-source asset that reads a global one (``deduped[src]`` reads ``deduped_index``,
    ``tokenized[src]`` reads ``tokenizer``) also reads a per-source input that the global
    parent is built from. Every change of that input therefore rebuilds the global parent
    first, and the asset follows that update, once, on the new index or tokenizer; reacting
    to the per-source input as well would run it a second time on the old one. While the
    global parent cannot run (a failed blocking check in another source), neither does this.
    """
    updated = any_deps_data_changed().allow(dg.AssetSelection.assets(*global_keys))
    return (
        AC.in_latest_time_window()
        & (AC.newly_missing() | updated).since_last_handled()
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("eager after global parents")


def stage_condition(global_parents: Sequence[dg.AssetKey] = ()) -> dg.AutomationCondition:
    """The automation condition of every build-loop asset after ``raw``."""
    base = eager_after_global_parents(global_parents) if global_parents else eager_on_data()
    return (base & no_failed_blocking_check_upstream()).with_label(
        "eager on data changes, stopped by failed blocking checks"
    )


def partitioned_check_specs(
    specs: Sequence[dg.AssetCheckSpec], partitions_def: dg.PartitionsDefinition | None
) -> list[dg.AssetCheckSpec]:
    """The same checks, partitioned like their asset: one result per source, so automation
    (and the UI's check history) sees ``quality[docs]`` failing apart from ``quality[code]``."""
    if partitions_def is None:
        return list(specs)
    with warnings.catch_warnings():
        # partitioned checks are marked preview in 1.13; what is used here is plain per-partition check records
        warnings.filterwarnings("ignore", category=dg.PreviewWarning)
        return [
            dg.AssetCheckSpec(
                name=s.name,
                asset=s.asset_key,
                description=s.description,
                blocking=s.blocking,
                metadata=s.metadata,
                additional_deps=s.additional_deps,
                partitions_def=partitions_def,
            )
            for s in specs
        ]


def automated_keys(defs_assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [k for a in defs_assets for k in a.keys if a.automation_conditions_by_key.get(k) is not None]


def build_automation_defs(
    spec: PipelineSpec, assets: Sequence[dg.AssetsDefinition], raw_key: dg.AssetKey
) -> dg.Definitions:
    """The pipeline's new-data sensor and its automation-condition sensor (both stopped)."""
    interval = sensor_interval_seconds()
    keys = automated_keys(assets)
    sensors: list[dg.SensorDefinition] = [build_new_data_sensor(spec, raw_key, interval)]
    if keys:
        sensors.append(
            dg.AutomationConditionSensorDefinition(
                name=f"{spec.pipeline}_automation",
                target=dg.AssetSelection.assets(*keys),
                default_status=dg.DefaultSensorStatus.STOPPED,
                minimum_interval_seconds=interval,
                # one run per source partition, queued at once (a backfill waits for the backfill daemon's 30 s loop)
                emit_backfills=False,
                description=f"Runs every stage of {spec.pipeline!r} after raw when its inputs change "
                "(eager), never on top of a failed blocking check; global assets wait for all sources.",
            )
        )
    return dg.Definitions(sensors=sensors)
