"""How shard tasks are executed: the protocol every backend implements, and the in-process one.

A backend maps a pure, picklable task function over a list of argument tuples and yields
each result as it finishes (in any order: callers sort by shard index). The process-pool
and Ray backends live in ``resources.compute``; this module stays free of Dagster so the
runner can be typed against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

R = TypeVar("R")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn(*args)`` for every ``args`` of ``tasks``; yields the results as they complete."""

    name: str

    def map(self, fn: Callable[..., R], tasks: Sequence[tuple[Any, ...]]) -> Iterator[R]: ...


class SerialExecutor:
    """Runs tasks one after another in this process (the default)."""

    name = "serial"

    def map(self, fn: Callable[..., R], tasks: Sequence[tuple[Any, ...]]) -> Iterator[R]:
        for t in tasks:
            yield fn(*t)


def describe_task(args: tuple[Any, ...]) -> str:
    """Words for an error message: the first argument that describes itself (a shard task), else 'a shard task'."""
    for a in args:
        describe = getattr(a, "describe", None)
        if callable(describe) and not isinstance(a, type):
            text = describe()
            if isinstance(text, str):
                return text
    return "a shard task"
