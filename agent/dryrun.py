"""Dry-run a spec on a sample: the real stage runner on records drawn over each whole source.

The raw stage reads ``n`` records per source drawn over its files and records (seeded, see
:mod:`agent.sampling`) (with the reader the pipeline uses, so
reader drops and quarantines show up), every stage then runs through
:mod:`corpus.runner` in a temporary :class:`~corpus.io.CorpusStore` that is deleted
afterwards; global stages (dedup) build their index across the sampled sources first, as
in the pipeline. No tokenizer is trained. Nothing outside the temporary folder is written.

Resources are bounded: ``n`` is capped, the sample holds at most ``max_bytes`` of text per
source, and the wall-clock limit is checked before each stage of each source: when it is
reached, the remaining stages are listed as not run and the result says so.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.sources import read_sample
from corpus import runner, schema
from corpus.io import MANIFEST, CorpusStore
from corpus.spec import PathPolicy, PipelineSpec
from corpus.stage_graph import stage_graph

MAX_DRY_RUN_DOCS = 500
EXAMPLE_CHARS = 200
MAX_EXAMPLES_PER_STAGE = 12  # one per (source, drop reason)
MAX_EVIDENCE_CHARS = 4 << 20  # text per source and arm kept for the proxy evidence


@dataclass
class StageRow:
    stage: str
    source: str
    docs_in: int
    kept: int
    dropped: dict[str, int]
    quarantined: dict[str, int]
    passthrough: bool = False
    bytes_in: int = 0
    bytes_out: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def changed_nothing(self) -> bool:
        """No drop, no quarantine, no text changed and nothing redacted: the stage had no effect here."""
        pii = sum(int(v) for k, v in self.extra.items() if k.startswith("pii_") and isinstance(v, int | float))
        return not self.dropped and not self.quarantined and self.bytes_in == self.bytes_out and pii == 0

    def to_json(self) -> dict[str, Any]:
        out = {
            "stage": self.stage,
            "source": self.source,
            "in": self.docs_in,
            "kept": self.kept,
            "dropped": self.dropped,
            "quarantined": self.quarantined,
        }
        if self.passthrough:
            out["passthrough"] = True
        pii = {k: v for k, v in self.extra.items() if k.startswith("pii_") and v}
        if pii:
            out["pii_redacted"] = pii
        if "languages" in self.extra:
            out["languages_kept"] = self.extra["languages"]
        return out


@dataclass
class DryRunResult:
    pipeline: str
    n: int
    rows: list[StageRow] = field(default_factory=list)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # stage -> dropped examples
    duplicates: dict[str, Any] = field(default_factory=dict)  # global stage -> summary
    not_run: list[str] = field(default_factory=list)
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)  # source -> what the sample saw
    texts: dict[str, dict[str, list[tuple[str, str]]]] = field(
        default_factory=dict, repr=False
    )  # source -> raw / kept (id, text)
    evidence: Any = None  # agent.evidence.Evidence, added when the proposal is submitted
    timed_out: bool = False
    seconds: float = 0.0
    final_stage: str | None = None  # the stage the tokenizer reads (None: the last stage run)

    def final_kept(self) -> dict[str, int]:
        """Documents of each source that reach the tokenizer (that stage's kept count, else the last stage run)."""
        out: dict[str, int] = {}
        final: dict[str, int] = {}
        for row in self.rows:
            out[row.source] = row.kept
            if row.stage == self.final_stage:
                final[row.source] = row.kept
        return {**out, **final}

    def rows_of(self, stage: str) -> list[StageRow]:
        return [r for r in self.rows if r.stage == stage]

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "sample_docs_per_source": self.n,
            "stages": [r.to_json() for r in self.rows],
            "kept_at_end": self.final_kept(),
            "duplicates": self.duplicates,
            "example_drops": self.examples,
            "not_run": self.not_run,
            "sample_coverage": self.coverage,
            "evidence": self.evidence.to_json() if self.evidence is not None else None,
            "timed_out": self.timed_out,
            "seconds": round(self.seconds, 2),
            "note": "run on records drawn at random over each source's files; "
            "the tokenizer is not trained in a dry run",
        }


def _row(report: runner.StageReport) -> StageRow:
    return StageRow(
        stage=report.stage,
        source=report.source,
        docs_in=report.docs_in,
        kept=report.kept,
        dropped=dict(report.dropped),
        quarantined=dict(report.quarantined),
        passthrough=report.passthrough,
        bytes_in=report.bytes_in,
        bytes_out=report.bytes_out,
        extra=dict(report.extra),
    )


def _examples(report: runner.StageReport) -> list[dict[str, Any]]:
    out = []
    for r in report.sample_dropped:
        text = r.get(schema.TEXT) or ""
        out.append(
            {
                "source": r.get(schema.SOURCE),
                "reason": r.get(schema.DROP_REASON),
                "text": text[:EXAMPLE_CHARS] + ("…" if len(text) > EXAMPLE_CHARS else ""),
            }
        )
    return out


def _pairs(store: CorpusStore, rel: str) -> list[tuple[str, str]]:
    if not store.exists(rel, MANIFEST):
        return []
    frame = store.read_partition(rel, columns=[schema.ID, schema.TEXT])
    if not frame.height:
        return []
    out, total = [], 0
    for doc_id, text in zip(frame[schema.ID].to_list(), frame[schema.TEXT].to_list(), strict=True):
        total += len(text or "")
        if total > MAX_EVIDENCE_CHARS:
            break
        out.append((doc_id, text or ""))
    return out


def _texts(spec: PipelineSpec, store: CorpusStore) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Per source, (id, text) of the raw sample and of what the last stage kept: the proxy evidence's input."""
    last = spec.tokenizer_input
    return {
        src: {
            "raw": _pairs(store, runner.stage_dir(spec.pipeline, "raw", src)),
            "kept": _pairs(store, runner.stage_dir(spec.pipeline, last, src)),
        }
        for src in spec.source_names
    }


def write_raw_sample(
    spec: PipelineSpec,
    source: str,
    store: CorpusStore,
    policy: PathPolicy,
    n: int,
    max_bytes: int,
    coverage: dict[str, Any] | None = None,
) -> StageRow:
    """The raw partition of ``source`` limited to ``n`` records drawn over the source, committed like run_raw does."""
    sample = read_sample(spec.source(source), policy, n, max_bytes=max_bytes)
    if coverage is not None and sample.coverage is not None:
        coverage[source] = sample.coverage.to_json()
    batch = sample.batch
    writer = store.partition_writer(runner.stage_dir(spec.pipeline, "raw", source))
    writer.write_shard(0, schema.conform(batch.docs))
    dropped = dict(Counter(batch.dropped[schema.DROP_REASON].to_list())) if batch.dropped.height else {}
    quarantined = (
        dict(Counter(e.split(":", 1)[0] for e in batch.quarantine["error"].to_list()))
        if batch.quarantine.height
        else {}
    )
    report = runner.StageReport(
        spec.pipeline,
        "raw",
        source,
        docs_in=batch.records,
        kept=batch.docs.height,
        dropped=dropped,
        quarantined=quarantined,
        shards=1,
    )
    writer.commit(summary=report.to_json())
    return _row(report)


def dry_run(
    spec: PipelineSpec,
    policy: PathPolicy,
    n: int = 100,
    *,
    time_limit_s: float = 120.0,
    max_bytes: int = 8 << 20,
) -> DryRunResult:
    """Run ``spec`` on ``n`` (at most 500) records drawn over each source; see the module docstring."""
    n = max(1, min(int(n), MAX_DRY_RUN_DOCS))
    t0 = time.perf_counter()
    result = DryRunResult(spec.pipeline, n, final_stage=spec.tokenizer_input)
    graph = stage_graph(spec)
    tmp = tempfile.mkdtemp(prefix="corpus-dry-run-")
    try:
        store = CorpusStore(root=tmp)
        for source in spec.source_names:
            result.rows.append(write_raw_sample(spec, source, store, policy, n, max_bytes, result.coverage))
        for name in graph.stage_order():  # a stage runs after the stage it reads, wherever the spec lists it
            stage = spec.stage(name)
            if time.perf_counter() - t0 > time_limit_s:
                result.timed_out = True
                result.not_run.append(stage.name)
                continue
            if graph.is_global(stage.name):
                summary = runner.run_global_index(spec, stage.name, store)
                result.duplicates[stage.name] = {
                    "duplicates": summary["duplicates"],
                    "cross_source": summary["cross_source"],
                    "per_source": summary["per_source"],
                }
            for source in spec.source_names:
                report = runner.run_stage(spec, stage.name, source, store)
                result.rows.append(_row(report))
                examples = result.examples.setdefault(stage.name, [])
                for ex in _examples(report):  # one example of each drop reason (each filter's drops), then a few more
                    seen = {(e["source"], e["reason"]) for e in examples}
                    if (ex["source"], ex["reason"]) not in seen and len(examples) < MAX_EXAMPLES_PER_STAGE:
                        examples.append(ex)
            if not result.examples.get(stage.name):
                result.examples.pop(stage.name, None)
        if not result.timed_out:
            result.texts = _texts(spec, store)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.seconds = time.perf_counter() - t0
    return result
