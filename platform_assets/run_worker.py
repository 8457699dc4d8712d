"""A worker process that executes Dagster runs of the build loop for the command line.

The worker starts with the environment of the parallelism plan (``resources.parallelism``:
runs at once, shard workers per run, library threads), set by :func:`init_worker` before
polars or any operator is imported. Each run goes through :func:`dagster.execute_job`
against the instance (``$DAGSTER_HOME`` or the one the command line was given): the run is
created, tagged and recorded by the instance, and its job is reconstructable
(:func:`reconstruct_job`), so it can be re-executed from the UI. Steps execute in the
worker's process (the ``in_process`` executor), so Dagster adds no layer of processes.

Nothing heavy is imported at module level: the spawn pool imports this module first.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
import warnings
from typing import Any

# steps of a run execute in the run's process: no Dagster subprocess per step
IN_PROCESS_EXECUTION: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}
TAG_HOST = "corpus/host"
TAG_PID = "corpus/pid"


def process_tags() -> dict[str, str]:
    """Tags naming the process that executes a run, so a run left in progress by a process
    that died can be told from one still going (``run_queue``)."""
    return {TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid())}


def build_loop_defs(spec: Any, resources: dict[str, Any]) -> Any:
    """The build-loop assets and jobs of ``spec`` with ``resources`` and the command line's console logger.

    The learning loop is left out: its definitions import torch (about 180 MB and seconds of
    start-up in every worker)."""
    import dagster as dg

    from platform_assets.components.pipeline import build_pipeline_defs
    from platform_assets.run_outcome import cli_console_logger

    build_loop = spec.model_copy(update={"mixture": None, "schedules": []})
    # the console logger of CLI runs leaves stack traces to the event log
    return dg.Definitions.merge(
        build_pipeline_defs(build_loop), dg.Definitions(resources=resources, loggers={"console": cli_console_logger})
    )


def init_worker(env: dict[str, str]) -> None:
    """Pool initializer: the plan's environment, before any library sizes its thread pool."""
    os.environ.update(env)
    warnings.filterwarnings("ignore", message=r".*is currently in (preview|beta)")  # as the CLI does


@functools.lru_cache(maxsize=4)
def _defs(spec_json: str, resource_config_json: str) -> Any:
    """Definitions of a worker, built once per worker process (about a second of CPU each time
    otherwise) and reused by every run the worker executes."""
    from corpus.spec import PipelineSpec
    from platform_assets.resources import resources_from_config

    resources = resources_from_config(json.loads(resource_config_json))
    return build_loop_defs(PipelineSpec.model_validate_json(spec_json), resources)


def reconstruct_job(spec_json: str, resource_config_json: str, job_name: str) -> Any:
    """The job ``job_name`` of a pipeline, rebuilt from plain values (Dagster's reconstructor)."""
    return _defs(spec_json, resource_config_json).resolve_job_def(job_name)


_INSTANCE: list[tuple[Any, Any]] = []  # (ref, instance): the worker's instance, opened once


def _instance(instance_ref: Any) -> Any:
    import dagster as dg

    if not _INSTANCE or _INSTANCE[0][0] != instance_ref:
        _INSTANCE[:] = [(instance_ref, dg.DagsterInstance.from_ref(instance_ref))]
    return _INSTANCE[0][1]


def execute_remote(
    spec_json: str,
    resource_config_json: str,
    job_name: str,
    asset_keys: list[list[str]] | None,
    run_config: dict[str, Any],
    tags: dict[str, str],
    instance_ref: Any,
    pipeline: str,
) -> tuple[float, str | None, str]:
    """Execute one run through the instance; returns (seconds, why it failed or None, run id)."""
    import dagster as dg

    from platform_assets.run_outcome import failure_reason

    job = dg.build_reconstructable_job(
        "platform_assets.run_worker", "reconstruct_job", (spec_json, resource_config_json, job_name)
    )
    t0 = time.perf_counter()
    result = dg.execute_job(
        job,
        _instance(instance_ref),
        run_config={**run_config, **IN_PROCESS_EXECUTION},
        tags={**tags, **process_tags()},
        asset_selection=[dg.AssetKey(k) for k in asset_keys] if asset_keys else None,
    )
    return time.perf_counter() - t0, failure_reason(result, pipeline), result.run_id
