"""What a format reader says about each record (kept, dropped, bad), and the batches they fill."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import polars as pl

from corpus import schema

RAW_CAP = schema.RAW_CAP  # bytes of a bad record kept in the quarantine ``raw`` column (one definition)


@dataclass
class ReadBatch:
    """Up to ``batch_docs`` records of one source, split into kept, dropped and quarantined."""

    docs: pl.DataFrame  # schema.CORE columns, conformed
    dropped: pl.DataFrame  # CORE + drop_reason + drop_step
    quarantine: pl.DataFrame  # schema.QUARANTINE_COLUMNS
    records: int  # docs.height + dropped.height + quarantine.height
    empty_files: list[str] = field(default_factory=list)  # files read in this batch that held no record
    repairs: dict[str, int] = field(default_factory=dict)  # kept records repaired on the way, by kind
    encodings: dict[str, int] = field(default_factory=dict)  # jsonl/text: records by the codec their file was read with


class Doc(NamedTuple):
    offset: int
    text: str
    url: str | None
    title: str | None
    content_type: str
    repairs: tuple[str, ...] = ()


class Drop(NamedTuple):
    offset: int
    text: str
    url: str | None
    title: str | None
    content_type: str
    reason: str


class Bad(NamedTuple):
    offset: int
    error: str
    raw: bytes | str


Event = Doc | Drop | Bad


def raw_text(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw[:RAW_CAP]
    return raw[:RAW_CAP].decode("utf-8", "replace")


class BatchBuilder:
    """Collects events column by column and turns them into a :class:`ReadBatch`."""

    def __init__(self, source: str, step: str):
        self.source = source
        self.step = step
        self._reset()

    def _reset(self) -> None:
        self.docs: dict[str, list[Any]] = {c: [] for c in schema.CORE}
        self.dropped: dict[str, list[Any]] = {c: [] for c in (*schema.CORE, schema.DROP_REASON)}
        self.bad: dict[str, list[Any]] = {c: [] for c in schema.QUARANTINE_COLUMNS}
        self.empty_files: list[str] = []
        self.repairs: dict[str, int] = {}
        self.encodings: dict[str, int] = {}
        self.records = 0

    def add(self, file: str, event: Event, codec: str | None = None) -> None:
        self.records += 1
        if codec is not None:
            self.encodings[codec] = self.encodings.get(codec, 0) + 1
        if isinstance(event, Doc):
            self._row(self.docs, file, event)
            for kind in event.repairs:
                self.repairs[kind] = self.repairs.get(kind, 0) + 1
        elif isinstance(event, Drop):
            self._row(self.dropped, file, event)
            self.dropped[schema.DROP_REASON].append(event.reason)
        else:
            for col, value in zip(
                schema.QUARANTINE_COLUMNS,
                (self.source, file, event.offset, "raw", self.step, event.error, raw_text(event.raw)),
                strict=True,
            ):
                self.bad[col].append(value)

    def _row(self, cols: dict[str, list[Any]], file: str, ev: Doc | Drop) -> None:
        cols[schema.ID].append(schema.document_id(self.source, file, ev.offset, ev.text))
        cols[schema.TEXT].append(ev.text)
        cols[schema.SOURCE].append(self.source)
        cols[schema.URL].append(ev.url)
        cols[schema.TITLE].append(ev.title)
        cols[schema.FILE].append(file)
        cols[schema.OFFSET].append(ev.offset)
        cols[schema.CONTENT_TYPE].append(ev.content_type)

    @property
    def has_content(self) -> bool:
        return bool(self.records or self.empty_files or self.repairs)

    def build(self) -> ReadBatch:
        docs = schema.conform(pl.DataFrame(self.docs, schema=schema.CORE))
        dropped_schema = {**schema.CORE, schema.DROP_REASON: pl.String()}
        dropped = schema.conform(pl.DataFrame(self.dropped, schema=dropped_schema)).with_columns(
            pl.lit(self.step, dtype=pl.String()).alias(schema.DROP_STEP)
        )
        quarantine = pl.DataFrame(self.bad, schema=schema.QUARANTINE_COLUMNS)
        batch = ReadBatch(docs, dropped, quarantine, self.records, self.empty_files, self.repairs, self.encodings)
        self._reset()
        return batch
