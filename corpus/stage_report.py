"""What a stage did, where its outputs live, and the versions that mark an asset stale.

:class:`StageReport` (per source) and :class:`ShardResult` (per shard) carry every figure
of a stage: documents in, kept, dropped by reason, quarantined by error class, bytes,
samples and the operators' own figures (``extra``). The path helpers name each output of
a stage in the store; the version helpers turn a stage's operators and configs into its
asset code version.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from corpus.io import CorpusStore
    from corpus.spec import PipelineSpec, StageSpec

Progress = Callable[[str], None]
SAMPLE_SIZE = 3
SAMPLE_CHARS = 240
PROGRESS_EVERY_S = 5.0
INDEX_SUMMARY = "_summary.json"  # written last by a global stage's index: its presence marks the index complete


def noop(_: str) -> None:
    pass


class Throttled:
    """Passes on at most one progress message every ``every`` seconds, and the last one on flush.

    Under Dagster a message is an event-log write (a database commit), so a message per
    shard would make a stage's cost grow with its shard count rather than its data.
    """

    def __init__(self, progress: Progress, every: float = PROGRESS_EVERY_S):
        self.progress = progress
        self.every = every
        self._last = time.perf_counter()
        self._pending: str | None = None

    def __call__(self, message: str) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self._pending = None
            self.progress(message)
        else:
            self._pending = message

    def flush(self) -> None:
        if self._pending is not None:
            self.progress(self._pending)
            self._pending = None


# --- paths -------------------------------------------------------------------


def stage_dir(pipeline: str, stage: str, source: str) -> str:
    return posixpath.join(pipeline, stage, source)


def dropped_dir(pipeline: str, stage: str, source: str) -> str:
    return posixpath.join(pipeline, "_dropped", stage, source)


def quarantine_dir(pipeline: str, stage: str, source: str) -> str:
    return posixpath.join(pipeline, "_quarantine", stage, source)


def index_dir(pipeline: str, stage: str) -> str:
    return posixpath.join(pipeline, f"{stage}_index")


def tokenizer_rel(pipeline: str) -> str:
    return posixpath.join(pipeline, "tokenizer", "tokenizer.json")


@dataclass
class StageReport:
    """What one stage did to one source. Every figure a user wants to see."""

    pipeline: str
    stage: str
    source: str
    docs_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)  # by error class
    bytes_in: int = 0  # UTF-8 bytes of text in
    bytes_out: int = 0  # UTF-8 bytes of text kept
    shards: int = 0
    seconds: float = 0.0
    passthrough: bool = False
    schema_problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # stage-specific figures (tokens, PII counts, ...)
    sample_kept: list[dict[str, Any]] = field(default_factory=list)
    sample_dropped: list[dict[str, Any]] = field(default_factory=list)
    sample_quarantined: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def conserved(self) -> bool:
        return self.docs_in == self.kept + self.dropped_total + self.quarantined_total

    @property
    def docs_per_second(self) -> float:
        return self.docs_in / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageReport:
        return cls(**data)

    def merge(self, shard: ShardResult) -> None:
        self.docs_in += shard.docs_in
        self.kept += shard.kept
        self.bytes_in += shard.bytes_in
        self.bytes_out += shard.bytes_out
        self.shards += 1
        for k, v in shard.dropped.items():
            self.dropped[k] = self.dropped.get(k, 0) + v
        for k, v in shard.quarantined.items():
            self.quarantined[k] = self.quarantined.get(k, 0) + v
        merge_extra(self.extra, shard.extra)
        self.schema_problems.extend(p for p in shard.schema_problems if p not in self.schema_problems)
        _extend_sample(self.sample_kept, shard.sample_kept)
        _extend_sample(self.sample_dropped, shard.sample_dropped, key="drop_reason")
        _extend_sample(self.sample_quarantined, shard.sample_quarantined)


def _extend_sample(dest: list[dict[str, Any]], new: list[dict[str, Any]], key: str | None = None) -> None:
    """Add rows up to the sample size; with ``key``, room for twice as many, and once the
    first SAMPLE_SIZE are in, only rows with a new ``key`` value (one example per drop reason)."""
    limit = SAMPLE_SIZE * (2 if key else 1)
    for row in new:
        if len(dest) >= limit:
            return
        if key and len(dest) >= SAMPLE_SIZE and any(r.get(key) == row.get(key) for r in dest):
            continue
        dest.append(row)


@dataclass
class ShardResult:
    index: int
    docs_in: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    written: dict[str, Any] | None = None  # manifest entry of the kept shard
    dropped_written: dict[str, Any] | None = None
    quarantine_written: dict[str, Any] | None = None
    schema_problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    sample_kept: list[dict[str, Any]] = field(default_factory=list)
    sample_dropped: list[dict[str, Any]] = field(default_factory=list)
    sample_quarantined: list[dict[str, Any]] = field(default_factory=list)


def merge_extra(dest: dict[str, Any], new: dict[str, Any]) -> None:
    """Sum one shard's figures into a partition's: numbers add, ``{key: count}`` maps add per key."""
    for k, v in new.items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            dest[k] = dest.get(k, 0) + v
        elif isinstance(v, dict):
            agg = dest.setdefault(k, {})
            for kk, vv in v.items():
                agg[kk] = agg.get(kk, 0) + vv


def included_sources(spec: PipelineSpec, sources: list[str] | None) -> list[str]:
    """``sources`` in the spec's order (all when None); an unknown name is an error."""
    if sources is None:
        return spec.source_names
    unknown = sorted(set(sources) - set(spec.source_names))
    if unknown:
        raise ValueError(f"unknown sources {unknown}; the pipeline's sources: {', '.join(spec.source_names)}")
    return [s for s in spec.source_names if s in sources]


def read_report(store: CorpusStore, pipeline: str, stage: str, source: str) -> StageReport:
    summary = store.read_manifest(stage_dir(pipeline, stage, source)).get("summary") or {}
    return StageReport.from_json(summary)


def spec_fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def stage_code_version(stage: StageSpec | None, extra: Iterable[str] = ()) -> str:
    """Operator versions + a hash of their configs: a changed config marks the asset stale."""
    if stage is None:
        parts = list(extra)
        return "+".join(parts) if parts else "1"
    ops = "+".join(s.op for s in stage.steps)
    cfg = spec_fingerprint([[s.op, s.config] for s in stage.steps] + [stage.sources, *extra])
    return f"{ops}:{cfg}"
