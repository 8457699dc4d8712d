"""The metrics store: append-only evaluation records under the storage root.

Layout: ``{root}/_metrics/{pipeline}/{created_at_ns:020d}-{run_id}-{step:08d}.json``, one
JSON object (a :class:`corpus.metrics.MetricsRecord`) per file. Every record is its own
object, written atomically, so appends from several trainers never interleave and a
reader never sees half a record; nothing is ever rewritten. S3 works the same way.

External trainers report with :class:`MetricsClient` or the CLI (``corpus-metrics``,
see ``resources/metrics_cli.py``). This module does not import Dagster, so a trainer
process that writes records does not load it; the Dagster resource is in
:mod:`resources.metrics`.
"""

from __future__ import annotations

import posixpath
import re
import time
from dataclasses import dataclass

from corpus.io import CorpusStore
from corpus.metrics import PIPELINE_PATTERN, MetricsRecord, RecordProblem, implausible_values, parse_record

METRICS_DIR = "_metrics"
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


@dataclass
class StoredRecords:
    records: list[MetricsRecord]
    problems: list[RecordProblem]  # files that are not valid records (never raised)
    names: list[str]


class MetricsClient:
    """Append and read metrics records of a pipeline (Dagster-free)."""

    def __init__(self, store: CorpusStore):
        self.store = store

    def _dir(self, pipeline: str) -> str:
        if not isinstance(pipeline, str) or not re.match(PIPELINE_PATTERN, pipeline):
            raise ValueError(
                f"{pipeline!r} is not a pipeline name (lowercase letters, digits and '_', starting with a "
                "letter, as in the spec's pipeline:)"
            )
        return posixpath.join(METRICS_DIR, pipeline)

    def append(self, record: MetricsRecord) -> str:
        """Write one record; returns where (a display URI). Raises ValueError for implausible values
        (negative or absurd losses), writing nothing."""
        problems = implausible_values(record)
        if problems:
            raise ValueError(f"record {record.key} not written: {'; '.join(problems)}")
        name = f"{time.time_ns():020d}-{_SAFE.sub('_', record.run_id)[:80]}-{record.step:08d}.json"
        rel = posixpath.join(self._dir(record.pipeline), name)
        self.store.write_bytes(rel, record.model_dump_json().encode())
        return self.store.display(rel)

    def read(self, pipeline: str) -> StoredRecords:
        """Every record of ``pipeline`` in write order; malformed files become problems."""
        base = self._dir(pipeline)
        names = [n for n in self.store.list_files(base) if n.endswith(".json") and not n.startswith(".")]
        records, problems = [], []
        for n in names:
            try:
                raw = self.store.read_bytes(posixpath.join(base, n))
            except Exception as exc:
                problems.append(RecordProblem(n, f"could not be read: {exc}"))
                continue
            rec, probs = _parse_file(raw, n)
            if rec is not None:
                records.append(rec)
            problems.extend(probs)
        return StoredRecords(records, problems, names)


def _parse_file(raw: bytes, name: str) -> tuple[MetricsRecord | None, list[RecordProblem]]:
    """One stored file as a record, or the problems that name it; never raises.

    ``parse_record`` reports what the JSON parser and the record model say; what they would
    raise on instead (bytes that are not UTF-8, nesting deeper than the parser's recursion
    limit) is turned into a problem here, so one bad file never stops the feedback sensor.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [
            RecordProblem(
                name,
                f"not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 4]!r}); "
                "a metrics record is one JSON object in UTF-8",
            )
        ]
    try:
        return parse_record(text, where=name)
    except RecursionError:
        return None, [RecordProblem(name, "nested too deeply to be a metrics record (one flat JSON object expected)")]
