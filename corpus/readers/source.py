"""Reading one source: its files in order, each through its format's reader, cut into batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from corpus.readers.events import BatchBuilder, ReadBatch
from corpus.readers.jsonl import JsonlReader
from corpus.readers.listing import link_escape_test, list_source_files, split_location
from corpus.readers.parquet import ParquetReader
from corpus.readers.scaffold import FormatReader, ReadContext, outside_event, read_file
from corpus.readers.text import TextReader
from corpus.readers.warc import WarcReader

if TYPE_CHECKING:  # only the source's fields are used: no import of the spec module at run time
    from corpus.spec import SourceSpec

READERS: dict[str, FormatReader] = {r.format: r for r in (JsonlReader(), ParquetReader(), TextReader(), WarcReader())}


def read_source(
    source: SourceSpec, fs: pafs.FileSystem, base_path: str, *, batch_docs: int = 5000
) -> Iterator[ReadBatch]:
    """Read every file of ``source`` in order and yield batches of at most ``batch_docs`` records.

    Nothing is yielded for a location without matching files. Raises only when the location
    does not exist (FileNotFoundError naming it) or ``batch_docs`` is not positive.
    """
    if batch_docs < 1:
        raise ValueError(f"batch_docs must be at least 1, got {batch_docs}")
    files = list_source_files(source, fs, base_path)
    root, single = split_location(fs, base_path, source)
    ctx = ReadContext(source, fs, root)
    builder = BatchBuilder(source.name, f"read_{source.format}")
    reader = READERS[source.format]
    outside = link_escape_test(fs, root) if single is None else None
    for rel in files:
        seen = 0
        events = [outside_event(rel)] if outside is not None and outside(rel) else read_file(reader, ctx, rel)
        for event in events:
            builder.add(rel, event, ctx.codecs.get(rel))
            seen += 1
            if builder.records >= batch_docs:
                yield builder.build()
        if seen == 0:
            builder.empty_files.append(rel)
    if builder.has_content:
        yield builder.build()
