"""Where stage compute runs: in-process (default), a local process pool, or Ray.

Every backend implements :class:`corpus.executor.Executor`: it maps the same pure shard task
(:func:`corpus.shard_task.process_shard` of a :class:`~corpus.shard_task.ShardTask`) over
the shards of a partition and yields results as they finish; outputs are identical
whatever the backend, because each task writes its own deterministic shard and the
runner commits the partition in shard order.

A task's arguments (the :class:`corpus.io.CorpusStore`, the spec as JSON, names) are
pickled to reach a worker process or a Ray worker, and the store arrives configured as it
was sent: a local storage root stays the same path, which every worker must be able to
read (one machine, or a shared mount), so a multi-node Ray cluster needs an ``s3://`` root.
S3 credentials travel inside the pickled store only when they were given to the resource explicitly; leave them
unset to let every node use its own credential chain (instance profile, IRSA, env).
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

import dagster as dg
from pydantic import Field, field_validator

from corpus.executor import Executor, SerialExecutor, describe_task
from corpus.io import CorpusStore
from corpus.stage_report import ShardResult
from resources import parallelism

TaskArgs = tuple[Any, ...]  # the arguments of one call of a task function
BACKENDS: tuple[str, ...] = ("serial", "processes", "ray")
BACKEND_ENV = "CORPUS_COMPUTE_BACKEND"

# --- processes ---------------------------------------------------------------

_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _shared_pool(workers: int) -> ProcessPoolExecutor:
    """One spawn pool per size for the life of this process.

    A fresh pool per stage would make every stage pay the workers' start-up (imports of
    polars, the operators and their models: seconds each); a pool kept between stages
    pays it once. A pool broken by a crashed worker is replaced on the next call.
    """
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None or getattr(pool, "_broken", False):
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
            _POOLS[workers] = pool
        return pool


@atexit.register
def _shutdown_pools() -> None:
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.shutdown(wait=True, cancel_futures=True)
        _POOLS.clear()


class ProcessExecutor:
    """Shard tasks on a local spawn process pool (every core of one machine).

    Workers are spawned, not forked: a fork of a process holding polars' or Dagster's
    threads can deadlock. They receive each task's store and spec by pickling.
    """

    name = "processes"

    def __init__(self, workers: int):
        self.workers = max(1, workers)

    def map(self, fn: Callable[..., ShardResult], tasks: list[TaskArgs]) -> Iterator[ShardResult]:
        if len(tasks) <= 1 or self.workers == 1:
            yield from SerialExecutor().map(fn, tasks)
            return
        pool = _shared_pool(self.workers)
        try:
            futures: dict[Future[ShardResult], TaskArgs] = {pool.submit(fn, *t): t for t in tasks}
        except BrokenProcessPool:
            pool = _shared_pool(self.workers)  # replaced: the old one lost a worker earlier
            futures = {pool.submit(fn, *t): t for t in tasks}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield _result(fut, futures[fut])
        finally:
            for fut in pending:  # a failure (or the caller stopping early) cancels the rest
                fut.cancel()


def _result(fut: Future[ShardResult], task: TaskArgs) -> ShardResult:
    try:
        return fut.result()
    except BrokenProcessPool as exc:
        raise RuntimeError(
            f"a worker process died while running {_describe(task)} (killed for memory?); "
            "lower ComputeEngine.workers or the spec's shard_docs"
        ) from exc


def _describe(task: TaskArgs) -> str:
    """'stage quality, source docs, shard part-00003.parquet' for a shard task, else 'a shard task'."""
    return describe_task(task)


# --- ray ---------------------------------------------------------------------


class RayExecutor:
    """Shard tasks as Ray tasks (one CPU each) on the connected Ray.

    Connects, in order: to the Ray this process already initialized (e.g. the caller ran
    ``ray.init(num_cpus=2)``); to ``address`` (``ray://head:10001`` or ``host:6379``; the
    resource defaults it to ``$RAY_ADDRESS``); else to a local Ray started with ``ray start``
    on this machine, or a new local Ray with ``num_cpus`` CPUs.
    Workers import :mod:`corpus` from their environment: on a cluster, run an image
    with this project installed, or pass ``runtime_env`` (e.g. ``{"working_dir": "."}``).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        runtime_env: dict[str, Any] | None = None,
        max_retries: int = 2,
    ):
        try:
            import ray
        except ImportError as exc:
            raise ImportError("ComputeEngine(backend='ray') needs Ray: pip install -e '.[ray]'") from exc
        self.ray = ray
        self.max_retries = max_retries
        self.address = address
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
            if runtime_env:
                kwargs["runtime_env"] = runtime_env
            if address:
                kwargs["address"] = address
            elif num_cpus:
                kwargs["num_cpus"] = num_cpus
            try:
                ray.init(**kwargs)
            except ConnectionError as exc:
                raise ConnectionError(
                    f"cannot reach the Ray cluster at {address!r}: {exc}; "
                    "check ComputeEngine.ray_address / $RAY_ADDRESS (ray://<head>:10001 for a remote cluster)"
                ) from exc
        self._remote: dict[Callable[..., Any], Any] = {}

    def _remote_fn(self, fn: Callable[..., ShardResult]) -> Any:
        if fn not in self._remote:
            # retried on a lost worker or node: shard tasks are idempotent (atomic, deterministic writes)
            self._remote[fn] = self.ray.remote(num_cpus=1, max_retries=self.max_retries)(fn)
        return self._remote[fn]

    def map(self, fn: Callable[..., ShardResult], tasks: list[TaskArgs]) -> Iterator[ShardResult]:
        self._check_storage(tasks)
        remote = self._remote_fn(fn)
        refs = {remote.remote(*t): t for t in tasks}
        pending = list(refs)
        try:
            while pending:
                done, pending = self.ray.wait(pending, num_returns=1)
                yield self.ray.get(done[0])
        finally:
            for ref in pending:
                self.ray.cancel(ref)

    def _check_storage(self, tasks: list[TaskArgs]) -> None:
        """Warn once when a multi-node cluster is given a storage root only this machine can see."""
        store = next((a for t in tasks[:1] for a in t if isinstance(a, CorpusStore)), None)
        if store is None or not store.is_local or getattr(self, "_warned", False):
            return
        if len(self.ray.nodes()) > 1:
            self._warned = True
            warnings.warn(
                f"the Ray cluster has {len(self.ray.nodes())} nodes but the storage root {store.uri} is a local path; "
                "shards written on other nodes land on their disks. Set CORPUS_STORAGE_ROOT=s3://bucket/prefix "
                "(or a path mounted on every node).",
                stacklevel=3,
            )


# --- the resource ------------------------------------------------------------


class ComputeEngine(dg.ConfigurableResource):
    """How stage shard work is executed. ``backend``: serial | processes | ray; unset, it is
    ``$CORPUS_COMPUTE_BACKEND`` or ``serial`` (read when a stage runs, never at import).

    * ``serial``: one shard after another in the step's process;
    * ``processes``: a spawn pool of ``workers`` processes on this machine;
    * ``ray``: Ray tasks on a cluster (``ray_address`` or ``$RAY_ADDRESS``) or a local Ray.
    """

    backend: str | None = Field(
        default=None, description=f"serial | processes | ray (default ${BACKEND_ENV}, else serial)"
    )
    workers: int = Field(default=0, description="processes backend: pool size (0 = usable cores)")
    ray_address: str | None = Field(
        default=None, description="ray backend: cluster address (default $RAY_ADDRESS, else a local Ray)"
    )
    ray_num_cpus: int | None = Field(
        default=None, description="ray backend, when this process starts a local Ray: its CPUs"
    )
    ray_runtime_env: dict[str, Any] | None = Field(
        default=None,
        description="ray backend: runtime_env for ray.init "
        "(e.g. {'working_dir': '.'} when the cluster image lacks this project)",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is not None and value not in BACKENDS:
            raise ValueError(f"unknown compute backend {value!r}; choose one of {', '.join(BACKENDS)}")
        return value

    def resolved_backend(self) -> str:
        backend = self.backend or os.environ.get(BACKEND_ENV, "").strip() or "serial"
        if backend not in BACKENDS:
            raise ValueError(
                f"unknown compute backend {backend!r} (from ${BACKEND_ENV}); choose one of {', '.join(BACKENDS)}"
            )
        return backend

    def executor(self) -> Executor:
        backend = self.resolved_backend()
        if backend == "processes":
            return ProcessExecutor(self.workers or parallelism.shard_workers())
        if backend == "ray":
            return RayExecutor(
                self.ray_address or os.environ.get("RAY_ADDRESS") or None, self.ray_num_cpus, self.ray_runtime_env
            )
        return SerialExecutor()
