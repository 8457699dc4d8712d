"""A live Dagster (``dagster dev``: webserver + daemon) on a temporary instance, for the e2e tests.

One server per test session: starting it costs tens of seconds. It serves the code location
``tests/e2e/location.py`` with two small pipelines over a corpus written by the test:

* ``tiny``: docs + code -> normalized -> deduped (global index) -> tokenizer -> tokenized;
* ``gated``: the same sources, but a language stage keeps only German for ``docs``, so
  ``language[docs]`` fails its blocking ``non_empty`` check while ``code`` passes through;
* ``timed``: docs + code -> normalized -> tokenized, ``raw`` on a schedule every minute; its
  first document is text that Markdown would mangle.

``tiny`` also has a learning loop (two mixture versions of a one-layer proxy).

The instance queues runs with a 1 s dequeue interval and sensors tick every second
(``CORPUS_SENSOR_INTERVAL=1``); the daemon's own loops still take ~5 s per pass.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.platform_assets.smallcorpus import write_small_corpus

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCATION = "e2e"
REPOSITORY = "__repository__"
STARTUP_TIMEOUT_S = 180
POLL_S = 0.5  # often enough to see a run or tick soon after it happened, seldom enough not to load the server

INSTANCE_YAML = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
telemetry:
  enabled: false
"""


def tiny_spec(corpus: Path) -> dict[str, Any]:
    return {
        "pipeline": "tiny",
        "description": "pydoc prose and stdlib code, normalized, deduplicated and tokenized (end-to-end test)",
        "owners": ["team:data"],
        "sources": [
            {
                "name": "docs",
                "location": str(corpus / "docs"),
                "format": "jsonl",
                "url_field": "url",
                "title_field": "title",
            },
            {"name": "code", "location": str(corpus / "code"), "format": "jsonl", "url_field": "url"},
        ],
        "stages": [
            {"name": "normalized", "op": "normalize_text@1"},
            {"name": "deduped", "op": "dedup_minhash@1"},
        ],
        "tokenizer": {"vocab_size": 300, "sample_docs": 50, "val_min_docs": 2, "val_fraction": 0.1},
        "mixture": TINY_MIXTURE,
        "shard_docs": 16,
    }


TINY_MIXTURE = {
    "policy": "excess_loss",
    "initial": "uniform",
    "budget_tokens": 4_000,
    "rounds": 2,
    "proxy": {
        "n_layer": 1,
        "n_head": 2,
        "n_embd": 32,
        "seq_len": 32,
        "batch_size": 8,
        "eval_tokens": 1024,
        "device": "cpu",
    },
}
# a document whose text Markdown would mangle: underscores, stars, a newline, indentation
TRICKY_TEXT = "if __name__ == '__main__':\n    print(*x*)  # stars stay stars\n| a | table? | no |"


def timed_spec(corpus: Path) -> dict[str, Any]:
    """``timed``: raw every minute on a schedule, everything after it through automation."""
    return {
        "pipeline": "timed",
        "owners": ["team:data"],
        "sources": [
            {"name": "docs", "location": str(corpus / "docs"), "format": "jsonl"},
            {"name": "code", "location": str(corpus / "code"), "format": "jsonl"},
        ],
        "stages": [{"name": "normalized", "op": "normalize_text@1"}],
        "tokenizer": {"vocab_size": 300, "sample_docs": 50, "val_min_docs": 2, "val_fraction": 0.1},
        "shard_docs": 16,
        "schedules": [{"name": "every_minute", "cron": "* * * * *", "timezone": "UTC", "target": "raw"}],
    }


def write_timed_corpus(root: Path) -> None:
    write_small_corpus(root)
    topics = root / "docs" / "topics.jsonl"
    topics.write_text(json.dumps({"text": TRICKY_TEXT}) + "\n" + topics.read_text())  # first: it is in the sample


def gated_spec(corpus: Path) -> dict[str, Any]:
    return {
        "pipeline": "gated",
        "owners": ["team:data"],
        "sources": [
            {"name": "docs", "location": str(corpus / "docs"), "format": "jsonl"},
            {"name": "code", "location": str(corpus / "code"), "format": "jsonl"},
        ],
        "stages": [
            # English prose, German required: nothing survives for docs, so its blocking non_empty check fails
            {"name": "language", "op": "language_filter@1", "config": {"languages": ["de"]}, "sources": ["docs"]},
            {"name": "normalized", "op": "normalize_text@1"},
            {"name": "deduped", "op": "dedup_minhash@1"},
        ],
        "tokenizer": {"vocab_size": 300, "sample_docs": 50, "val_min_docs": 2, "val_fraction": 0.1},
        "shard_docs": 16,
    }


class GraphQLError(AssertionError):
    pass


@dataclass
class DagsterServer:
    """A running ``dagster dev`` and the GraphQL calls the tests make against it."""

    url: str
    home: Path
    store: Path
    corpus: dict[str, Path]
    log_path: Path
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    # -- GraphQL -------------------------------------------------------------------------
    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        resp = self.client.post(f"{self.url}/graphql", json={"query": query, "variables": variables})
        resp.raise_for_status()
        body = resp.json()
        if body.get("errors"):
            raise GraphQLError(f"GraphQL errors: {json.dumps(body['errors'])[:2000]}")
        return body["data"]

    def repo_selector(self) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}

    def launch(
        self, asset_keys: list[list[str]], partition: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Launch a run of ``asset_keys`` (one partition, or unpartitioned) the way the UI's Materialize button does."""
        all_tags = {**(tags or {}), **({"dagster/partition": partition} if partition else {})}
        data = self.gql(
            """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
                __typename
                ... on LaunchRunSuccess { run { runId } }
                ... on PythonError { message stack }
                ... on RunConfigValidationInvalid { errors { message } }
                ... on Error { message } } }""",
            params={
                "selector": {
                    **self.repo_selector(),
                    "pipelineName": "__ASSET_JOB",
                    "assetSelection": [{"path": k} for k in asset_keys],
                },
                "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]},
            },
        )["launchRun"]
        if data["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(f"launchRun failed: {json.dumps(data)[:2000]}")
        return data["run"]["runId"]

    def run_status(self, run_id: str) -> str:
        data = self.gql("query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }", id=run_id)
        return data["runOrError"]["status"]

    def wait_runs(self, run_ids: list[str], timeout: float = 120) -> dict[str, str]:
        """Wait until every run finished; returns {run id: final status}."""
        deadline = time.monotonic() + timeout
        done: dict[str, str] = {}
        while len(done) < len(run_ids):
            for rid in run_ids:
                if rid not in done:
                    status = self.run_status(rid)
                    if status in ("SUCCESS", "FAILURE", "CANCELED"):
                        done[rid] = status
            if len(done) < len(run_ids):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"runs not finished after {timeout}s: {sorted(set(run_ids) - set(done))}\n{self.log_tail()}"
                    )
                time.sleep(POLL_S)
        return done

    def run_messages(self, run_id: str) -> list[str]:
        data = self.gql(
            """query($id: ID!) { logsForRun(runId: $id, limit: 5000) { __typename
                ... on EventConnection { events { __typename ... on MessageEvent { message level } } } } }""",
            id=run_id,
        )
        return [e.get("message", "") for e in data["logsForRun"]["events"]]

    def materialized_partitions(self, key: list[str]) -> dict[str, str]:
        """{partition (or '' when unpartitioned): run id} of each latest materialization."""
        data = self.gql(
            """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { __typename
                ... on AssetNode { isPartitioned partitionKeys
                  latestMaterializationByPartition { partition runId }
                  assetMaterializations(limit: 1) { runId } } } }""",
            key={"path": key},
        )["assetNodeOrError"]
        if data["isPartitioned"]:
            return {m["partition"]: m["runId"] for m in data["latestMaterializationByPartition"] if m}
        mats = data["assetMaterializations"]
        return {"": mats[0]["runId"]} if mats else {}

    def start_sensor(self, name: str) -> None:
        data = self.gql(
            """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename
                ... on Sensor { sensorState { status } } ... on PythonError { message } ... on Error { message } } }""",
            s={**self.repo_selector(), "sensorName": name},
        )["startSensor"]
        if data["__typename"] != "Sensor" or data["sensorState"]["status"] != "RUNNING":
            raise GraphQLError(f"could not start sensor {name}: {json.dumps(data)[:1000]}")

    def stop_sensor(self, name: str) -> None:
        data = self.gql(
            """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor { id } } }""",
            s={**self.repo_selector(), "sensorName": name},
        )["sensorOrError"]
        self.gql("""mutation($id: String) { stopSensor(id: $id) { __typename } }""", id=data["id"])

    def start_schedule(self, name: str) -> None:
        data = self.gql(
            """mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) { __typename
                ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message }
                ... on Error { message } } }""",
            s={**self.repo_selector(), "scheduleName": name},
        )["startSchedule"]
        if data["__typename"] != "ScheduleStateResult" or data["scheduleState"]["status"] != "RUNNING":
            raise GraphQLError(f"could not start schedule {name}: {json.dumps(data)[:1000]}")

    def stop_schedule(self, name: str) -> None:
        data = self.gql(
            """query($s: ScheduleSelector!) { scheduleOrError(scheduleSelector: $s) { ... on Schedule { id } } }""",
            s={**self.repo_selector(), "scheduleName": name},
        )["scheduleOrError"]
        self.gql("""mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }""", id=data["id"])

    def schedule_ticks(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        data = self.gql(
            """query($s: ScheduleSelector!, $limit: Int) { scheduleOrError(scheduleSelector: $s) { __typename
                ... on Schedule { scheduleState { ticks(limit: $limit) {
                    status timestamp skipReason runIds error { message } } } } } }""",
            s={**self.repo_selector(), "scheduleName": name},
            limit=limit,
        )["scheduleOrError"]
        return data["scheduleState"]["ticks"]

    def run_ids(self) -> list[str]:
        """Every run of the instance, newest first."""
        data = self.gql("{ runsOrError(limit: 10000) { __typename ... on Runs { results { runId } } } }")["runsOrError"]
        return [r["runId"] for r in data["results"]]

    def run_tags(self, run_id: str) -> dict[str, str]:
        data = self.gql("query($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } } } }", id=run_id)
        return {t["key"]: t["value"] for t in data["runOrError"]["tags"]}

    def sensor_ticks(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        data = self.gql(
            """query($s: SensorSelector!, $limit: Int) { sensorOrError(sensorSelector: $s) { __typename
                ... on Sensor { sensorState { status ticks(limit: $limit) {
                    status timestamp skipReason runIds error { message } } } } } }""",
            s={**self.repo_selector(), "sensorName": name},
            limit=limit,
        )["sensorOrError"]
        return data["sensorState"]["ticks"]

    def wait_daemon(self, timeout: float = 90) -> None:
        """Wait until the sensor and asset daemons report healthy heartbeats."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.gql("{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }")
            statuses = {d["daemonType"]: d["healthy"] for d in data["instance"]["daemonHealth"]["allDaemonStatuses"]}
            if statuses.get("SENSOR") and statuses.get("ASSET"):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"daemons not healthy after {timeout}s: {statuses}\n{self.log_tail()}")
            time.sleep(POLL_S)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return "dagster dev output (tail):\n" + self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


SCREENSHOTS_ENV = "CORPUS_E2E_SCREENSHOTS"
DEFAULT_SCREENSHOTS = PROJECT_ROOT / "benchmarks" / "results" / "screens"


def screenshots_dir() -> Path:
    """Where the browser tests save their screenshots: ``$CORPUS_E2E_SCREENSHOTS`` or benchmarks/results/screens."""
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or DEFAULT_SCREENSHOTS)
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_loaded(server: DagsterServer, proc: subprocess.Popen[bytes]) -> None:
    """Wait for the webserver to answer and the code location to load; fail with its error."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    query = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message stack } } } } } }"""
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster dev exited with code {proc.returncode}\n{server.log_tail()}")
        try:
            entries = server.gql(query)["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, GraphQLError):
            entries = []
        for entry in entries:
            loaded = entry["locationOrLoadError"]
            if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED" and loaded:
                if loaded["__typename"] == "PythonError":
                    raise RuntimeError(f"code location failed to load: {loaded['message']}\n{''.join(loaded['stack'])}")
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"dagster dev not ready after {STARTUP_TIMEOUT_S}s\n{server.log_tail()}")
        time.sleep(POLL_S)


@pytest.fixture(scope="session")
def dagster_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterServer]:
    """``dagster dev`` on a free port and a temporary DAGSTER_HOME, serving the ``tiny``, ``gated`` and ``timed``
    pipelines."""
    base = tmp_path_factory.mktemp("e2e")
    home, store = base / "dagster_home", base / "store"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    corpus = {"tiny": base / "corpus_tiny", "gated": base / "corpus_gated", "timed": base / "corpus_timed"}
    write_small_corpus(corpus["tiny"])
    write_small_corpus(corpus["gated"])
    write_timed_corpus(corpus["timed"])
    specs_file = base / "specs.json"
    specs_file.write_text(
        json.dumps([tiny_spec(corpus["tiny"]), gated_spec(corpus["gated"]), timed_spec(corpus["timed"])])
    )
    workspace = base / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - python_module:\n      module_name: tests.e2e.location\n"
        f"      working_directory: {PROJECT_ROOT}\n      location_name: {LOCATION}\n"
    )
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CORPUS_STORAGE_ROOT": str(store),
        "CORPUS_E2E_SPECS": str(specs_file),
        "CORPUS_SENSOR_INTERVAL": "1",
        "HF_HUB_OFFLINE": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = base / "dagster_dev.log"
    dagster = Path(sys.executable).parent / "dagster"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
    server = DagsterServer(url=f"http://127.0.0.1:{port}", home=home, store=store, corpus=corpus, log_path=log_path)
    try:
        _wait_loaded(server, proc)
        yield server
    finally:
        server.client.close()
        _stop(proc)


def _default_sigint() -> None:
    """In the child: restore SIGINT's default disposition. A shell's background job starts
    with SIGINT ignored, and ``dagster dev`` maps SIGTERM onto SIGINT's handler, so without
    this it could not be stopped gracefully when the tests run in the background."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``dagster dev`` (it shuts down its webserver, daemon and code server), then
    anything of its process group still alive."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group is this test's own: dagster dev and its children


def materialize_pipeline(server: DagsterServer, spec: dict[str, Any], timeout: float = 180) -> dict[str, list[str]]:
    """Materialize every build-loop asset of ``spec`` through GraphQL, segment by segment
    (per-source runs in parallel, global assets once); returns {segment label: run ids}.
    Fails on the first segment with a failed run, naming it."""
    from corpus.spec import parse_spec
    from platform_assets.orchestrate import build_segments

    parsed = parse_spec(spec)
    out: dict[str, list[str]] = {}
    for seg in build_segments(parsed):
        keys = [[parsed.pipeline, k] for k in seg.keys]
        partitions = parsed.source_names if seg.partitioned else [None]
        run_ids = [server.launch(keys, p) for p in partitions]
        statuses = server.wait_runs(run_ids, timeout=timeout)
        failed = {r: s for r, s in statuses.items() if s != "SUCCESS"}
        if failed:
            raise AssertionError(f"segment {seg.keys} failed: {failed}\n{server.log_tail()}")
        out[" -> ".join(seg.keys)] = run_ids
    return out


@pytest.fixture(scope="session")
def tiny_materialized(dagster_server: DagsterServer) -> dict[str, list[str]]:
    """The ``tiny`` pipeline, fully materialized through the GraphQL API (shared by the UI and sensor tests)."""
    spec = tiny_spec(dagster_server.corpus["tiny"])
    return materialize_pipeline(dagster_server, spec)
