"""JSON Lines: each non-blank line one JSON object (``offset``: the 0-based line number)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import orjson

from corpus.readers.events import Bad, Event
from corpus.readers.records import bad_bytes, record_event, type_name
from corpus.readers.scaffold import FormatReader, ReadContext
from corpus.readers.streams import iter_lines

if TYPE_CHECKING:  # only the source's fields are used: no import of the spec module at run time
    from corpus.spec import SourceSpec


def _json_error(line: bytes, exc: Exception, where: str, codec: str | None, source: SourceSpec) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return bad_bytes(where, codec, source, line, u.start)
    return (
        f"invalid_json: {where} is not valid JSON ({exc}); each line must be one complete JSON object "
        "(JSON Lines); fix or remove the line"
    )


class JsonlReader(FormatReader):
    """A line that is not a JSON object, or whose text field is missing, null or not a string, is quarantined."""

    format = "jsonl"
    opens = "text"

    def records(self, ctx: ReadContext, rel: str, data: Iterator[bytes]) -> Iterator[Event]:
        source = ctx.source
        max_line = 12 * source.max_doc_chars + (1 << 20)  # a JSON string escapes a character in at most 12 bytes
        for index, line, too_long in iter_lines(data, max_line):
            where = f"{rel} line {index + 1}"
            if too_long:
                yield Bad(
                    index,
                    f"line_too_long: {where} is longer than {max_line:,} bytes, more than a record "
                    f"with max_doc_chars={source.max_doc_chars:,} can take; raise max_doc_chars of source "
                    f"{source.name!r} or split the record",
                    line,
                )
                continue
            if not line or line.isspace():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Bad(index, _json_error(line, exc, where, ctx.codecs.get(rel), source), line)
                continue
            if not isinstance(obj, dict):
                yield Bad(
                    index,
                    f"not_an_object: {where} is {type_name(obj)}, not a JSON object; JSON Lines "
                    "needs one object per line (a JSON array file converts with: jq -c '.[]')",
                    line,
                )
                continue
            yield record_event(obj, index, source, where, line)
