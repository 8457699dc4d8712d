"""Resume inside a partition: a receipt per finished shard task, so a killed run redoes only unfinished work.

A shard task writes its outputs (atomically, deterministic names and bytes), then a small
JSON *receipt*: the fingerprint of everything the task's output depends on (its input
shard's name, rows and size, the stage's operators and configs, the index it applies) and
the task's result. A re-run of the same partition loads every receipt whose fingerprint
matches and sends only the other tasks to the executor; the partition is then committed
from all results as usual, so the committed output is byte-identical to an uninterrupted
run. Receipts are deleted once the partition is committed.

A receipt is written after the outputs it vouches for, so a task killed between its
outputs and its receipt is simply recomputed (at most the tasks in flight at the kill).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator
from typing import Any

from corpus.executor import Executor
from corpus.io import CorpusStore, StorageError

RECEIPTS = "_receipts"
RECEIPT_VERSION = 1


def receipt_dir(pipeline: str, stage: str, source: str) -> str:
    return posixpath.join(pipeline, RECEIPTS, stage, source)


def receipt_name(index: int) -> str:
    return f"task-{index:05d}.json"


def load(store: CorpusStore, rel: str, fingerprint: str) -> dict[str, Any] | None:
    """The result a finished task recorded at ``rel``, or None when absent, unreadable or for other inputs."""
    try:
        doc = store.read_json(rel)
    except (StorageError, OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("v") != RECEIPT_VERSION or doc.get("fingerprint") != fingerprint:
        return None
    result = doc.get("result")
    return result if isinstance(result, dict) else None


def save(store: CorpusStore, rel: str, fingerprint: str, result: dict[str, Any]) -> None:
    store.write_json(rel, {"v": RECEIPT_VERSION, "fingerprint": fingerprint, "result": result}, compact=True)


def run_with_receipt(
    rel: str,
    fingerprint: str,
    encode: Callable[[Any], dict[str, Any]],
    store: CorpusStore,
    fn: Callable[..., Any],
    *args: Any,
) -> Any:
    """Run ``fn(*args)``, then record its (encoded) result at ``rel``. The task function of resumable maps."""
    result = fn(*args)
    save(store, rel, fingerprint, encode(result))
    return result


def resumable_map(
    executor: Executor,
    store: CorpusStore,
    fn: Callable[..., Any],
    tasks: list[tuple[Any, ...]],
    receipts: list[tuple[str, str]],
    encode: Callable[[Any], dict[str, Any]],
    decode: Callable[[dict[str, Any]], Any],
    counts: dict[str, int] | None = None,
) -> Iterator[Any]:
    """Yield every task's result: recorded ones from their receipts, the others computed by ``executor``.

    ``receipts[i]`` is (receipt path, fingerprint) of ``tasks[i]``. ``counts`` (if given)
    receives how many tasks were resumed and how many computed.
    """
    if len(receipts) != len(tasks):
        raise ValueError(f"resumable_map: {len(tasks)} tasks but {len(receipts)} receipts")
    todo = []
    resumed = 0
    for task, (rel, fp) in zip(tasks, receipts, strict=True):
        done = load(store, rel, fp)
        if done is None:
            todo.append((rel, fp, encode, store, fn, *task))
        else:
            resumed += 1
            yield decode(done)
    if counts is not None:
        counts["resumed"] = resumed
        counts["computed"] = len(todo)
    if todo:
        yield from executor.map(run_with_receipt, todo)


def clear(store: CorpusStore, rel_dir: str) -> None:
    """Delete a partition's receipts (after its commit)."""
    for name in store.list_files(rel_dir, recursive=True):
        store.delete(posixpath.join(rel_dir, name))
    store.delete_dir(rel_dir)


def fingerprint(*parts: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]
