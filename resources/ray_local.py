"""A Ray cluster of several nodes on one machine: a head and workers, each its own ``ray start`` process.

For trying the Ray backend the way a real cluster runs it (tasks placed on other nodes,
objects moved between object stores, a node's own CPUs and custom resources) without a
cluster. Every node is a ``ray start --block`` process on 127.0.0.1 with its own ports, so
stopping the cluster terminates exactly the processes started here (``ray start --block``
tears its node down on SIGTERM); nothing else on the machine is touched::

    with LocalRayCluster(workers=2, cpus_per_node=1) as cluster:
        # RAY_ADDRESS and the cluster's token, for ComputeEngine(backend="ray")
        os.environ.update(cluster.client_env())
        ...

The cluster runs with token authentication (``RAY_AUTH_MODE=token``), a fresh token per
cluster, as a real one should; a driver needs ``client_env()`` in its environment.

Ports come from ``base_port`` upward (20 per node), away from Ray's defaults.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

PORTS_PER_NODE = 20


class NodeStartError(RuntimeError):
    """A node process exited while the cluster was starting; the message holds its log's tail."""

    def __init__(self, returncode: int, log_tail: str):
        super().__init__(f"a Ray node exited while starting (exit {returncode}); its log:\n{log_tail}")
        self.returncode = returncode
        self.last_line = log_tail.strip().splitlines()[-1].strip() if log_tail.strip() else ""


class LocalRayCluster:
    """``workers`` worker nodes and a head; each node gets ``cpus_per_node`` CPUs and a resource ``node<i>``."""

    def __init__(
        self,
        workers: int = 2,
        cpus_per_node: int = 1,
        base_port: int = 36_400,
        head_cpus: int | None = None,
        object_store_mb: int = 80,
        start_timeout_s: float = 180.0,
        start_attempts: int = 2,
    ):
        if workers < 1:
            raise ValueError(f"a multi-node cluster needs at least one worker node, got workers={workers}")
        self.workers = workers
        self.cpus_per_node = cpus_per_node
        self.head_cpus = cpus_per_node if head_cpus is None else head_cpus
        self.base_port = base_port
        self.object_store_bytes = object_store_mb * 1024 * 1024
        self.start_timeout_s = start_timeout_s
        self.start_attempts = max(1, start_attempts)
        self.address = f"127.0.0.1:{base_port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.temp_dir = ""
        self.logs: list[Path] = []
        self.token = secrets.token_hex(32)

    def client_env(self) -> dict[str, str]:
        """What a driver process needs in its environment to reach this cluster."""
        return {"RAY_ADDRESS": self.address, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    # -- start / stop -----------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ray_cli(self) -> str:
        exe = Path(sys.executable).with_name("ray")
        if not exe.exists():
            raise FileNotFoundError(f"the ray command line is not next to {sys.executable}; pip install -e '.[ray]'")
        return str(exe)

    def _node_args(self, i: int) -> list[str]:
        p = self.base_port + PORTS_PER_NODE * i
        cpus = self.head_cpus if i == 0 else self.cpus_per_node
        return [
            f"--num-cpus={cpus}",
            f'--resources={{"node{i}": 1}}',
            f"--object-store-memory={self.object_store_bytes}",
            f"--node-manager-port={p + 2}",
            f"--object-manager-port={p + 3}",
            f"--min-worker-port={p + 10}",
            f"--max-worker-port={p + 19}",
            f"--dashboard-agent-listen-port={p + 4}",
            f"--dashboard-agent-grpc-port={p + 5}",
            f"--metrics-export-port={p + 6}",
            f"--runtime-env-agent-port={p + 7}",
            "--disable-usage-stats",
            "--block",
        ]

    def start(self) -> None:
        """Start the head, then each worker; a node that exits while starting (Ray gives a raylet 30 s to
        register, which a busy machine can miss) makes the whole cluster start once more, saying why."""
        for attempt in range(1, self.start_attempts + 1):
            try:
                self._start_once()
                return
            except NodeStartError as err:
                if attempt == self.start_attempts:
                    raise
                why = f"a Ray node exited while starting (exit {err.returncode}): {err.last_line}"
                print(f"LocalRayCluster: {why}; starting the cluster again", file=sys.stderr, flush=True)

    def _start_once(self) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="rayc-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_raylet_start_wait_time_s": "120", **self.client_env()}
        env.pop("RAY_ADDRESS", None)
        head = [
            self._ray_cli(),
            "start",
            "--head",
            f"--port={self.base_port}",
            "--include-dashboard=false",
            f"--ray-client-server-port={self.base_port + 1}",
            f"--temp-dir={self.temp_dir}",
            *self._node_args(0),
        ]
        try:
            self._spawn(head, env, "head")
            self._wait_for_nodes(1)
            for i in range(1, self.workers + 1):  # one at a time: on a busy machine simultaneous starts time out
                self._spawn(
                    [
                        self._ray_cli(),
                        "start",
                        f"--address={self.address}",
                        f"--temp-dir={self.temp_dir}",
                        *self._node_args(i),
                    ],
                    env,
                    f"worker{i}",
                )
                self._wait_for_nodes(i + 1)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, cmd: list[str], env: dict[str, str], name: str) -> None:
        log = Path(self.temp_dir) / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        self.logs.append(log)  # after the start succeeded: procs[i] wrote logs[i]

    def _wait_for_nodes(self, n: int) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            for proc, log in zip(self.procs, self.logs, strict=True):
                if proc.poll() is not None:
                    raise NodeStartError(proc.returncode, self._tail(log))
            if self.alive_nodes() >= n:
                return
            time.sleep(1.0)
        raise TimeoutError(
            f"the local Ray cluster did not reach {n} nodes in {self.start_timeout_s:.0f}s; logs in {self.temp_dir}"
        )

    def alive_nodes(self) -> int:
        """Nodes the head reports alive (asked through ``ray status`` in a subprocess, so this process stays
        unconnected)."""
        out = subprocess.run(
            [self._ray_cli(), "status", f"--address={self.address}"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **self.client_env()},
        )
        if out.returncode != 0:
            return 0
        text = out.stdout
        active = text.split("Active:", 1)[1].split("Pending:", 1)[0] if "Active:" in text else ""
        return sum(1 for line in active.splitlines() if "node_" in line)

    def nodes_that_ran_tasks(self) -> set[int]:
        """Indices of the nodes (0 = head) that started Python workers, read off the workers' logs.

        A worker listens on a port of its node's worker range (``--min/max-worker-port``),
        and every node has its own range, so the port in a worker's log names its node.
        """
        nodes = set()
        for log in Path(self.temp_dir).glob("session_*/logs/python-core-worker-*.log"):
            for port in re.findall(r":(\d{4,5})\b", log.read_text(errors="replace")):
                offset = int(port) - self.base_port
                if 0 <= offset < PORTS_PER_NODE * (self.workers + 1) and offset % PORTS_PER_NODE >= 10:
                    nodes.add(offset // PORTS_PER_NODE)
        return nodes

    def stop(self) -> None:
        """Terminate the nodes started here (workers first), then remove the temporary folder."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        self.logs.clear()
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    @staticmethod
    def _tail(log: Path, lines: int = 30) -> str:
        try:
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
