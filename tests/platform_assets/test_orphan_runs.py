"""A run left in progress by a killed process does not hold the command line's run queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import yaml

from platform_assets import run_worker
from platform_assets.run_queue import PlannedRun, RunOutcome, RunQueue
from resources import parallelism

ONE_AT_A_TIME = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"max_concurrent_runs": 1},
    }
}

# a run that records itself as started, then waits to be killed
CHILD = """
import json, sys, time
from pathlib import Path
import dagster as dg

home, tags = sys.argv[1], json.loads(sys.argv[2])

@dg.op
def wait(context):
    Path(home, context.run_id).write_text("started")
    time.sleep(120)

@dg.job
def long_job():
    wait()

long_job.execute_in_process(instance=dg.DagsterInstance.from_config(home), tags=tags)
"""


def _killed_run(home: Path, tags: dict[str, str] | None) -> tuple[str, int]:
    """(run id, pid) of a run whose process was SIGKILLed mid-run; ``tags`` None: its own process tags."""
    script = CHILD if tags is not None else CHILD.replace("tags=tags)", "tags=tags | run_worker.process_tags())")
    script = script.replace("import dagster as dg", "import dagster as dg\nfrom platform_assets import run_worker")
    before = set(os.listdir(home))
    child = subprocess.Popen([sys.executable, "-c", script, str(home), json.dumps(tags or {})])
    deadline = time.monotonic() + 120
    while not (new := {n for n in set(os.listdir(home)) - before if len(n) == 36}) and time.monotonic() < deadline:
        assert child.poll() is None, "the child run exited early"
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert new, "the child run never started"
    return new.pop(), child.pid


def test_a_run_whose_process_died_is_marked_failed_and_the_queue_goes_on(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(ONE_AT_A_TIME))
    orphan, pid = _killed_run(home, None)
    # a re-executed run copies its parent's tags, but another process started it: not an orphan
    copied, _ = _killed_run(
        home, {run_worker.TAG_HOST: run_worker.process_tags()[run_worker.TAG_HOST], run_worker.TAG_PID: str(pid)}
    )
    instance = dg.DagsterInstance.from_config(str(home))
    assert {instance.get_run_by_id(r).status for r in (orphan, copied)} == {dg.DagsterRunStatus.STARTED}

    messages: list[str] = []
    executed: list[PlannedRun] = []
    queue = RunQueue(
        instance,
        parallelism.plan(1),
        local=lambda run: executed.append(run) or RunOutcome(run, 0.0, None, "new"),
        spec_json="{}",
        resource_config_json="{}",
        pipeline="p",
        backfill_id="b",
        progress=messages.append,
    )
    run = PlannedRun("x", "j", ("raw",), None, {}, {}, selection=False)

    def release() -> None:  # the copied run holds the queue until someone deletes it
        time.sleep(1.5)
        instance.delete_run(copied)

    threading.Thread(target=release, daemon=True).start()
    t0 = time.monotonic()
    queue.run_all([run], lambda _: None)
    assert time.monotonic() - t0 >= 1.0  # it waited for the copied run, not for the orphan
    assert instance.get_run_by_id(orphan).status == dg.DagsterRunStatus.FAILURE
    assert any(f"left in progress by process {pid}, which no longer exists" in m for m in messages)
    failure = instance.get_records_for_run(orphan, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert failure and "no longer exists" in (failure[0].event_log_entry.dagster_event.message or "")
    assert len(executed) == 1 and executed[0].tags[run_worker.TAG_PID] == str(os.getpid())
