"""Parquet: each row one record (``offset``: the row index), read by record batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from corpus.readers.events import RAW_CAP, Bad, Event
from corpus.readers.records import record_event
from corpus.readers.scaffold import FormatReader, ReadContext

if TYPE_CHECKING:  # only the source's fields are used: no import of the spec module at run time
    from corpus.spec import SourceSpec

_READ_ERRORS = (OSError, ValueError, pa.ArrowException)


def _is_text_type(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
    )


def _parquet_columns(arrow_schema: pa.Schema, source: SourceSpec, rel: str) -> list[str] | str:
    """The top-level columns to read, or why the file cannot serve as this source."""
    names = arrow_schema.names
    fields = [source.text_field] if isinstance(source.text_field, str) else list(source.text_field)
    wanted: list[str] = []
    for name in fields:
        top = name if name in names else name.split(".")[0]
        if top not in names:
            return (
                f"parquet_schema: {rel} has no column {name!r} (columns: {', '.join(names[:20])}); "
                f"set text_field of source {source.name!r} to the column that holds the text"
            )
        if top == name and not _is_text_type(arrow_schema.field(name).type):
            return (
                f"parquet_schema: {rel}: column {name!r} is {arrow_schema.field(name).type}, expected a string column; "
                f"set text_field of source {source.name!r} to the column that holds the text"
            )
        wanted.append(top)
    for name in (source.url_field, source.title_field):
        if name:
            top = name if name in names else name.split(".")[0]
            if top in names:
                wanted.append(top)
    return list(dict.fromkeys(wanted))


def _row_raw(row: dict[str, Any]) -> str:
    return orjson.dumps(row, default=repr).decode("utf-8")[:RAW_CAP]


class ParquetReader(FormatReader):
    """A file that cannot be opened or has no usable text column is one quarantine record (``offset = -1``).

    A binary text column is decoded as UTF-8 row by row.
    """

    format = "parquet"
    opens = "file"

    @contextmanager
    def open(self, ctx: ReadContext, rel: str) -> Iterator[pq.ParquetFile]:
        with ctx.fs.open_input_file(ctx.path(rel)) as handle:
            yield pq.ParquetFile(handle)

    def records(self, ctx: ReadContext, rel: str, data: pq.ParquetFile) -> Iterator[Event]:
        source = ctx.source
        columns = _parquet_columns(data.schema_arrow, source, rel)
        if isinstance(columns, str):
            yield Bad(-1, columns, str(data.schema_arrow)[:RAW_CAP])
            return
        offset = 0
        for batch in data.iter_batches(batch_size=1024, columns=columns, use_threads=False):
            values = [batch.column(c).to_pylist() for c in columns]
            for row_values in zip(*values, strict=True):
                row = dict(zip(columns, row_values, strict=True))
                yield record_event(row, offset, source, f"{rel} row {offset}", lambda r=row: _row_raw(r))
                offset += 1

    def failed(self, rel: str, exc: BaseException, next_offset: int, opened: bool) -> Bad | None:
        if not isinstance(exc, _READ_ERRORS):
            return None
        if not opened:
            return Bad(
                -1,
                f"unreadable_parquet: {rel} cannot be opened as Parquet ({exc}); check that it is a complete "
                "Parquet file, or remove it from the source",
                b"",
            )
        return Bad(
            next_offset,
            f"unreadable_parquet: {rel}: reading failed at row {next_offset} ({exc}); the {next_offset:,} rows "
            "before it were kept. Rewrite the file",
            b"",
        )
