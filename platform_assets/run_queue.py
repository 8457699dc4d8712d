"""The command line's runs, submitted to the Dagster instance and executed under its rules.

Without a daemon nothing dequeues a ``QueuedRunCoordinator``'s queue, so the command line
dequeues its own runs by the same rules the instance is configured with
(``dagster.yaml``):

* ``concurrency.runs.max_concurrent_runs`` / ``run_coordinator.config.max_concurrent_runs``
  and ``tag_concurrency_limits``: a run starts only while the runs in progress on the
  instance (those of other launchers included) leave room for it;
* ``run_retries`` (``enabled``, ``max_retries``; a run's ``dagster/max_retries`` tag
  overrides): a failed run is run again, tagged ``dagster/retry_number`` and
  ``corpus/retry_of``;
* at most ``Parallelism.runs`` runs of this command at once (``resources.parallelism``).

Every run is created and recorded by the instance, with the pipeline's tags, the
``corpus/backfill`` tag shared by all runs of one command, and the host and process id of
the process executing it. A run recorded in progress whose process on this host is gone
(a command or worker killed mid-run) is marked failed, with a message in its event log,
instead of holding its place in the queue for ever.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from typing import Any

import dagster as dg

from platform_assets import run_worker
from resources import parallelism

TAG_BACKFILL = "corpus/backfill"
TAG_RETRY_OF = "corpus/retry_of"
TAG_RETRY_NUMBER = "dagster/retry_number"
TAG_MAX_RETRIES = "dagster/max_retries"
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dataclass(frozen=True)
class PlannedRun:
    """One run to submit: a job (with an asset selection for a stretch of per-source stages)."""

    label: str
    job_name: str
    keys: tuple[str, ...]  # asset names (key = [pipeline, name])
    partition: str | None
    tags: dict[str, str]
    run_config: dict[str, Any]
    selection: bool  # run ``keys`` of the job only (the per-source job holds every per-source stage)
    attempt: int = 0


@dataclass(frozen=True)
class RunOutcome:
    run: PlannedRun
    seconds: float
    failed: str | None  # why, or None
    run_id: str | None


@dataclass
class RunLimits:
    """The instance's run queue and retry settings, read once per command."""

    max_concurrent: int | None  # None: no limit
    tag_limits: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0

    @classmethod
    def of(cls, instance: dg.DagsterInstance) -> RunLimits:
        queue = instance.get_concurrency_config().run_queue_config
        max_runs = queue.max_concurrent_runs if queue is not None else None
        return cls(
            max_concurrent=None if max_runs is None or max_runs < 0 else max_runs,
            tag_limits=list(queue.tag_concurrency_limits or []) if queue is not None else [],
            retries=instance.run_retries_max_retries if instance.run_retries_enabled else 0,
        )

    def retries_for(self, run: PlannedRun) -> int:
        raw = run.tags.get(TAG_MAX_RETRIES)
        if raw is None:
            return self.retries
        try:
            return max(0, int(raw))
        except ValueError:
            raise ValueError(f"run tag {TAG_MAX_RETRIES}={raw!r} of {run.label} is not a whole number") from None

    def blocked(self, run: PlannedRun, in_progress: list[dict[str, str]]) -> str | None:
        """Why ``run`` may not start now (``in_progress``: tags of the runs going), or None."""
        if self.max_concurrent is not None and len(in_progress) >= self.max_concurrent:
            return f"{len(in_progress)} runs in progress (max_concurrent_runs {self.max_concurrent})"
        for lim in self.tag_limits:
            key, value, limit = lim["key"], lim.get("value"), int(lim["limit"])
            if key not in run.tags:
                continue
            if isinstance(value, str):
                if run.tags[key] != value:
                    continue
                n = sum(1 for t in in_progress if t.get(key) == value)
            elif isinstance(value, dict) and value.get("applyLimitPerUniqueValue"):
                n = sum(1 for t in in_progress if t.get(key) == run.tags[key])
            else:
                n = sum(1 for t in in_progress if key in t)
            if n >= limit:
                return f"{n} runs in progress with tag {key}={run.tags[key]} (limit {limit})"
        return None


Local = Callable[[PlannedRun], RunOutcome]


class RunQueue:
    """Executes planned runs through ``instance``: here (one at a time), or on a spawn pool of
    ``plan.runs`` run workers when the instance is persistent and the plan allows more than one."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        plan: parallelism.Parallelism,
        *,
        local: Local,
        spec_json: str,
        resource_config_json: str,
        pipeline: str,
        backfill_id: str,
        progress: Callable[[str], None] = print,
    ):
        self.instance = instance
        self.plan = plan
        self.local = local
        self.spec_json = spec_json
        self.resource_config_json = resource_config_json
        self.pipeline = pipeline
        self.backfill_id = backfill_id
        self.progress = progress
        self.limits = RunLimits.of(instance)
        self.remote = plan.runs > 1 and not instance.is_ephemeral
        self._pool: ProcessPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def tagged(self, run: PlannedRun) -> PlannedRun:
        return replace(run, tags={**run.tags, TAG_BACKFILL: self.backfill_id, **run_worker.process_tags()})

    def run_all(
        self,
        runs: Iterable[PlannedRun],
        on_done: Callable[[RunOutcome], None],
        on_start: Callable[[PlannedRun], None] | None = None,
    ) -> None:
        """Execute ``runs`` (independent of each other), each retried as the instance says; calls
        ``on_start`` as each starts and ``on_done`` with the final outcome of each."""
        todo = [self.tagged(r) for r in runs]
        going: dict[Future[tuple[float, str | None, str]], PlannedRun] = {}
        slots = self.plan.runs if self.remote else 1
        waited_on: str | None = None
        while todo or going:
            blocked = None
            while todo and len(going) < slots:
                blocked = self.limits.blocked(todo[0], self._in_progress(going))
                if blocked is not None:
                    if blocked != waited_on:
                        self.progress(
                            f"      waiting for the instance's run queue: {blocked}; a run left in progress by a "
                            "process that died on another host holds its place until marked failed or deleted "
                            "(Dagster UI, Runs)"
                        )
                        waited_on = blocked
                    break
                run = todo.pop(0)
                if on_start is not None:
                    on_start(run)
                if self.remote:
                    going[self._submit(run)] = run
                else:
                    self._finish(self.local(run), todo, on_done)
            if going:
                done, _ = wait(list(going), timeout=0.5 if blocked else None, return_when=FIRST_COMPLETED)
                for fut in done:
                    run = going.pop(fut)
                    secs, why, run_id = fut.result()
                    self._finish(RunOutcome(run, secs, why, run_id), todo, on_done)
            elif blocked:
                time.sleep(0.5)  # the runs of other launchers hold the queue

    def _finish(self, out: RunOutcome, todo: list[PlannedRun], on_done: Callable[[RunOutcome], None]) -> None:
        run = out.run
        if out.failed is not None and run.attempt < self.limits.retries_for(run):
            self.progress(f"      {run.label} failed ({out.failed}); retry {run.attempt + 1} (run_retries)")
            tags = {**run.tags, TAG_RETRY_NUMBER: str(run.attempt + 1)}
            if out.run_id:
                tags[TAG_RETRY_OF] = out.run_id
            todo.insert(0, replace(run, tags=tags, attempt=run.attempt + 1))
            return
        on_done(out)

    def _in_progress(self, going: dict[Any, PlannedRun]) -> list[dict[str, str]]:
        """Tags of the runs in progress on the instance, and of this command's runs not yet started there."""
        if self.limits.max_concurrent is None and not self.limits.tag_limits:
            return []
        recorded = [
            r for r in self.instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS)) if not self._orphan(r)
        ]
        tags = [dict(r.tags) for r in recorded]
        ours = sum(1 for t in tags if t.get(TAG_BACKFILL) == self.backfill_id)
        pending = list(going.values())[ours:]  # submitted, not yet recorded by the instance
        return tags + [r.tags for r in pending]

    def _orphan(self, run: dg.DagsterRun) -> bool:
        """Mark ``run`` failed and say so when the process executing it (on this host) is gone."""
        pid = run.tags.get(run_worker.TAG_PID, "")
        if run.tags.get(run_worker.TAG_HOST) != socket.gethostname() or not pid.isdigit() or _alive(int(pid)):
            return False
        # the tag is the executing process only if that process started the run (a run re-executed
        # from the UI copies its parent's tags but starts in another process)
        start = self.instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
        if not start or start[0].event_log_entry.dagster_event is None:
            return False
        if start[0].event_log_entry.dagster_event.pid != int(pid):
            return False
        why = (
            f"run {run.run_id} was left in progress by process {pid}, which no longer exists (killed or crashed); "
            "marked failed so that the run queue goes on"
        )
        self.instance.report_run_failed(run, message=why)
        self.progress(f"      {why}")
        return True

    def _submit(self, run: PlannedRun) -> Future[tuple[float, str | None, str]]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.plan.runs,
                mp_context=get_context("spawn"),
                initializer=run_worker.init_worker,
                initargs=(parallelism.exported(self.plan),),
            )
        keys = [[self.pipeline, k] for k in run.keys] if run.selection else None
        tags = {**run.tags, "dagster/partition": run.partition} if run.partition is not None else run.tags
        return self._pool.submit(
            run_worker.execute_remote,
            self.spec_json,
            self.resource_config_json,
            run.job_name,
            keys,
            run.run_config,
            tags,
            self.instance.get_ref(),
            self.pipeline,
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
