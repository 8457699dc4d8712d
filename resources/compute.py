"""Where stage compute runs: in-process (default), a local process pool, or Ray.

Every backend maps the same pure shard task (:func:`corpus.runner.process_shard`) over
the shards of a partition and yields results as they finish; outputs are identical
whatever the backend, because each task writes its own deterministic shard.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from corpus.runner import SerialExecutor, ShardResult


class ProcessExecutor:
    """Shard tasks on a local process pool (uses every core of one machine)."""

    name = "processes"

    def __init__(self, workers: int):
        self.workers = max(1, workers)

    def map(self, fn: Callable[..., ShardResult], tasks: list[tuple[Any, ...]]) -> Iterator[ShardResult]:
        if len(tasks) <= 1 or self.workers == 1:
            yield from SerialExecutor().map(fn, tasks)
            return
        with ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(fn, *t) for t in tasks]
            for fut in as_completed(futures):
                yield fut.result()


class RayExecutor:
    """Shard tasks as Ray tasks on a local Ray or a cluster named by address (RAY_ADDRESS)."""

    name = "ray"

    def __init__(self, address: str | None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ImportError("the ray backend needs Ray: pip install -e '.[ray]'") from exc
        self.ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "include_dashboard": False}
            if address:
                kwargs["address"] = address
            elif num_cpus:
                kwargs["num_cpus"] = num_cpus
            ray.init(**kwargs)

    def map(self, fn: Callable[..., ShardResult], tasks: list[tuple[Any, ...]]) -> Iterator[ShardResult]:
        remote = self.ray.remote(fn)
        pending = [remote.remote(*t) for t in tasks]
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            yield self.ray.get(done[0])


class ComputeEngine(dg.ConfigurableResource):
    """How stage work is executed. ``backend``: serial | processes | ray."""

    backend: Literal["serial", "processes", "ray"] = Field(default="serial")
    workers: int = Field(default=0, description="processes backend: pool size (0 = all cores)")
    ray_address: str | None = Field(default=None, description="ray backend: cluster address (default $RAY_ADDRESS, else a local Ray)")
    ray_num_cpus: int | None = Field(default=None, description="ray backend, local Ray only: CPUs to start it with")

    def executor(self) -> Any:
        if self.backend == "processes":
            return ProcessExecutor(self.workers or os.cpu_count() or 1)
        if self.backend == "ray":
            return RayExecutor(self.ray_address or os.environ.get("RAY_ADDRESS"), self.ray_num_cpus)
        return SerialExecutor()
