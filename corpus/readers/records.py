"""Records common to JSONL and Parquet (text, url and title fields), and the texts' shared repairs and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from corpus.readers.events import RAW_CAP, Bad, Doc, Drop, Event

if TYPE_CHECKING:  # only the source's fields are used: no import of the spec module at run time
    from corpus.spec import SourceSpec

_MISSING = object()


def _get_field(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]``, else a dotted path into nested objects (``meta.body``); _MISSING if absent."""
    if name in obj:
        return obj[name]
    if "." not in name:
        return _MISSING
    value: Any = obj
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _field_list(obj: dict[str, Any]) -> str:
    names = list(obj)[:12]
    more = ", ..." if len(obj) > 12 else ""
    return ", ".join(repr(n) for n in names) + more if names else "none"


def _text_from(obj: dict[str, Any], source: SourceSpec, where: str) -> str | Bad:
    fields = [source.text_field] if isinstance(source.text_field, str) else list(source.text_field)
    parts = []
    for name in fields:
        value = _get_field(obj, name)
        if value is _MISSING:
            return Bad(
                -1,
                f"missing_text_field: {where} has no field {name!r} (its fields: {_field_list(obj)}); "
                f"set text_field of source {source.name!r} to the field that holds the text",
                b"",
            )
        if isinstance(value, bytes | bytearray):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                return Bad(
                    -1,
                    f"invalid_utf8: {where}: field {name!r} is not valid UTF-8 at byte {exc.start}; "
                    "re-encode the data as UTF-8",
                    b"",
                )
        if value is None:
            return Bad(-1, f"null_text: {where}: field {name!r} is null; fill it or remove the record", b"")
        if not isinstance(value, str):
            return Bad(
                -1,
                f"wrong_type: {where}: field {name!r} is {type_name(value)} ({str(value)[:60]!r}), expected a string; "
                f"point text_field of source {source.name!r} at a text field",
                b"",
            )
        parts.append(value)
    return parts[0] if len(parts) == 1 else "\n\n".join(parts)


def _meta(obj: dict[str, Any], name: str | None) -> str | None:
    """An optional metadata field as a string: absent, null or nested values become null."""
    if not name:
        return None
    value = _get_field(obj, name)
    if value is _MISSING or value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


def too_long(source: SourceSpec, where: str, n_chars: int) -> str:
    return (
        f"doc_too_long: {where}: the text has {n_chars:,} characters, "
        f"more than max_doc_chars={source.max_doc_chars:,}; "
        f"raise max_doc_chars of source {source.name!r} (at most 50,000,000) or split the text "
        "(text sources: split: chunk)"
    )


def finish_text(text: str) -> tuple[str, tuple[str, ...]]:
    if "\x00" in text:
        return text.replace("\x00", ""), ("nul_removed",)
    return text, ()


def _content_type_for(url: str | None) -> str:
    """JSONL/Parquet records are plain text, except code whose path or URL ends in ``.py``."""
    return "text/x-python" if url and url.endswith(".py") else "text/plain"


def record_event(obj: dict[str, Any], offset: int, source: SourceSpec, where: str, raw: Any) -> Event:
    text = _text_from(obj, source, where)
    if isinstance(text, Bad):
        return Bad(offset, text.error, raw() if callable(raw) else raw)
    text, repairs = finish_text(text)
    url = _meta(obj, source.url_field)
    title = _meta(obj, source.title_field)
    ctype = _content_type_for(url)
    if not text.strip():
        return Drop(offset, text, url, title, ctype, "empty_text")
    if len(text) > source.max_doc_chars:
        return Bad(offset, too_long(source, where, len(text)), text[:RAW_CAP])
    return Doc(offset, text, url, title, ctype, repairs)


def bad_bytes(where: str, codec: str | None, source: SourceSpec, line: bytes, start: int) -> str:
    """The quarantine error of a record with bytes its file's codec cannot decode."""
    if codec in (None, "utf-8"):
        return (
            f"invalid_utf8: {where} is not valid UTF-8 at byte {start} ({line[start : start + 4]!r}); re-encode the "
            f"file as UTF-8, or set encoding of source {source.name!r} to the file's encoding (e.g. latin-1) or auto"
        )
    return (
        f"invalid_encoding: {where} has bytes that are not valid {codec}; set encoding of source {source.name!r} "
        "to the file's encoding, or re-encode the file as UTF-8"
    )
