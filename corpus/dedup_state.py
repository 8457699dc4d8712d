"""The stored dedup index: its state file, what it covers, and when its key files are compacted.

Layout under ``{stage}_index/_state``: ``CURRENT.json`` points at the committed
``v<N>/state.json`` (the manifest). Per bucket partition the state lists its key files,
a *base* first and then the *deltas* that later builds added: every key (band or exact-text
hash) appears in exactly one of them, with the member it links new documents to. A build
never rewrites a file the committed state lists; it writes new files, then the new state,
then moves ``CURRENT.json`` (one atomic write), so a crash at any point leaves the previous
index whole. A partition is *compacted* (base and deltas merged into a new base) when it
would hold more than ``Compaction.max_deltas`` deltas or its deltas' keys would exceed
``Compaction.max_delta_fraction`` of its base's.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import asdict, dataclass
from typing import Any

from corpus.io import CorpusStore, StorageError

DOCS_PER_PARTITION = 250_000  # default: a bucket task holds ~15 key entries (~1 KB) per document of its 1/P
TASK_ROWS = DOCS_PER_PARTITION * 15  # default: key rows an incremental bucket task may hold (one default partition's)
STATE = "_state"
CURRENT = "CURRENT.json"


@dataclass(frozen=True)
class Compaction:
    """When a partition's deltas are merged into its base (checked when a build adds a delta)."""

    max_deltas: int = 8
    max_delta_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.max_deltas, int) or self.max_deltas < 0:
            raise ValueError(
                f"Compaction.max_deltas must be an integer >= 0 (0: always compact), got {self.max_deltas}"
            )
        if not (isinstance(self.max_delta_fraction, int | float) and 0 <= self.max_delta_fraction < math.inf):
            raise ValueError(
                f"Compaction.max_delta_fraction must be a finite number >= 0 (deltas' keys over the base's), "
                f"got {self.max_delta_fraction}"
            )

    def due(self, deltas: int, delta_rows: int, base_rows: int) -> bool:
        """Whether a partition of ``deltas`` delta files (``delta_rows`` keys) over ``base_rows`` is compacted."""
        return deltas > self.max_deltas or delta_rows > self.max_delta_fraction * base_rows


@dataclass
class IndexState:
    """The stored index: what it covers and where its parts are."""

    version: int
    op: str
    config_json: str
    partitions: int
    ranks: dict[str, int]
    shards: dict[str, list[list[Any]]]  # source -> [[name, rows, bytes], ...] covered
    keys: dict[str, list[list[Any]]]  # partition -> [[file, keys], ...]: the base, then the deltas
    clusters: str
    docs: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def files(self) -> set[str]:
        """Every file this state references (what garbage collection keeps)."""
        return {f for entries in self.keys.values() for f, _ in entries} | ({self.clusters} if self.clusters else set())


def state_root(index_dir: str) -> str:
    return posixpath.join(index_dir, STATE)


def load_state(store: CorpusStore, index_dir: str) -> IndexState | None:
    """The committed state, or None when there is none (or it cannot be read: the next build is a full one)."""
    try:
        current = store.read_json(posixpath.join(state_root(index_dir), CURRENT))
        doc = store.read_json(current["state"])
        # an index written before delta files held one file per partition: a base of unknown size (0 keys),
        # so the partition is compacted the next time it grows
        doc["keys"] = {p: [[v, 0]] if isinstance(v, str) else [list(e) for e in v] for p, v in doc["keys"].items()}
        return IndexState(**doc)
    except (StorageError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def plan_partitions(total_docs: int, requested: int | None, docs_per_partition: int = DOCS_PER_PARTITION) -> int:
    if requested is not None:
        if requested < 1:
            raise ValueError(f"dedup partitions must be >= 1, got {requested}")
        return requested
    return max(1, math.ceil(total_docs / docs_per_partition))


def plan_groups(base: IndexState, new_rows: int, task_rows: int = TASK_ROWS) -> tuple[int, ...]:
    """The first partition of each bucket task of an increment; ``()``: one task per partition.

    An increment's bucket work per partition is small (its share of the new entries, looked up in
    the partition's stored keys), so consecutive partitions share one task while the task's rows
    (their stored keys plus their estimated share of ``new_rows`` new entries) stay within
    ``task_rows``: the fixed cost of a task (reads, writes, its receipt) is paid once per group.
    A partition of unknown size (an index written before key counts were stored) keeps a task of its own.
    """
    if task_rows < 1:
        raise ValueError(f"dedup task_rows must be >= 1 (key rows per incremental bucket task), got {task_rows}")
    stored = {int(p): sum(n for _, n in files) for p, files in base.keys.items()}
    if any(n == 0 for files in base.keys.values() for _, n in files[:1]):
        return ()
    share = new_rows / base.partitions
    starts: list[int] = []
    held = 0.0
    for p in range(base.partitions):
        rows = stored.get(p, 0) + share
        if starts and held + rows <= task_rows:
            held += rows
        else:
            starts.append(p)
            held = rows
    return tuple(starts) if len(starts) < base.partitions else ()


def group_members(starts: tuple[int, ...], partitions: int) -> dict[int, list[int]]:
    """First partition of each task -> the partitions it holds (``starts`` as :func:`plan_groups` returns them)."""
    if not starts:
        return {p: [p] for p in range(partitions)}
    ends = [*starts[1:], partitions]
    return {a: list(range(a, b)) for a, b in zip(starts, ends, strict=True)}


def incremental_base(
    state: IndexState | None, op: str, config_json: str, ranks: dict[str, int], shards: dict[str, list[list[Any]]]
) -> IndexState | None:
    """The stored index when the new input only adds shards to it (same config, same ranks); else None."""
    if state is None or state.op != op or state.config_json != config_json:
        return None
    for source, covered in state.shards.items():
        if ranks.get(source) != state.ranks.get(source):
            return None
        now = {tuple(s) for s in shards.get(source, [])}
        if not {tuple(s) for s in covered} <= now:
            return None
    return state


def new_shards(base: IndexState | None, shards: dict[str, list[list[Any]]]) -> dict[str, list[list[Any]]]:
    if base is None:
        return shards
    out = {}
    for source, entries in shards.items():
        covered = {tuple(s) for s in base.shards.get(source, [])}
        out[source] = [s for s in entries if tuple(s) not in covered]
    return out
