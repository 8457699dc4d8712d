"""Text encodings of source files: a byte order mark, a declared codec, or per-file detection.

A source's ``encoding`` is ``utf-8`` (the default), any Python text codec name (``latin-1``,
``cp1252``, ``shift_jis``, ...) or ``auto``. Whatever it says, a byte order mark at the start
of a file decides (UTF-8, UTF-16 and UTF-32 marks; the mark itself is not text). ``auto``
detects the codec per file: UTF-8 when the file's first MiB is valid UTF-8, else the best match
of charset-normalizer, preferring Windows-1252 (what files labelled Latin-1 really hold) among the
equally clean matches. A file with NUL bytes and no mark is left to the UTF-8 path, where the
text reader treats it as binary.

Web pages (WARC responses) are decoded by :func:`decode_html`: the HTTP header's charset, the
page's ``<meta charset>``, a detected one, with WHATWG aliases (latin-1 means windows-1252).

:class:`Utf8Stream` turns a file's bytes into UTF-8 bytes, so the line splitting and record
parsing downstream stay one code path. Bytes that are not valid in the file's codec come out as
invalid UTF-8, so the record holding them is quarantined as it would be in a UTF-8 file.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

AUTO = "auto"
DEFAULT = "utf-8"
SNIFF_BYTES = 1 << 20  # bytes of a file looked at to detect its encoding
DETECT_BYTES = 256 * 1024  # of those, handed to charset-normalizer
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
_INVALID = "corpus.mark_invalid"
# longest first: the UTF-32 LE mark starts with the UTF-16 LE one
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def check_encoding(value: str) -> str:
    """``auto`` or the name of a Python text codec; raises ValueError saying what to write."""
    if value == AUTO:
        return value
    hint = "use a Python codec name such as utf-8, latin-1, cp1252 or shift_jis, or auto (detected per file)"
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not an encoding name; {hint}")
    try:
        codecs.lookup(value)
        "a".encode(value)  # bytes-to-bytes and str-to-str codecs (base64, rot13) are not text encodings
    except LookupError:
        raise ValueError(f"unknown text encoding {value!r}; {hint}") from None
    return value


def codec_name(value: str) -> str:
    """The canonical name of a codec (``latin-1`` -> ``iso8859-1``), the one reports use."""
    return codecs.lookup(value).name


def is_utf8(value: str) -> bool:
    return value != AUTO and codec_name(value) == "utf-8"


def _mark_invalid(exc: UnicodeError) -> tuple[str, int]:
    # a lone surrogate per bad byte: written with surrogatepass it is invalid UTF-8 again
    if isinstance(exc, UnicodeDecodeError):
        return "".join(chr(0xDC00 + b) for b in exc.object[exc.start : exc.end]), exc.end
    raise exc


codecs.register_error(_INVALID, _mark_invalid)


def bom_codec(head: bytes) -> tuple[str | None, int]:
    """(codec, length of the mark) for a byte order mark at the start of ``head``, else (None, 0)."""
    for mark, codec in _BOMS:
        if head.startswith(mark):
            return codec, len(mark)
    return None, 0


def detect(sample: bytes) -> str:
    """The codec of a file from its first bytes (no byte order mark): see the module docstring."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in sample:
        return "utf-8"
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample[:DETECT_BYTES]))
    if not matches:
        return "utf-8"
    cleanest = min(m.chaos for m in matches)
    for m in matches:
        if m.chaos <= cleanest + 1e-9 and "cp1252" in m.could_be_from_charset:
            return "cp1252"
    return codec_name(matches[0].encoding)


class Utf8Stream:
    """The bytes of one file as UTF-8, decoded with the codec that ``encoding`` picks for it.

    ``codec`` is the canonical name of the codec used, known once the first chunk came out.
    Exceptions of the underlying stream (a truncated gzip) pass through unchanged.
    """

    def __init__(self, chunks: Iterator[bytes], encoding: str = DEFAULT):
        self._chunks = chunks
        self._encoding = encoding
        self.codec: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        head = b""
        broken: Exception | None = None  # a break inside the sniffed head: raised after the bytes before it
        try:
            for chunk in self._chunks:
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    break
        except Exception as exc:
            broken = exc
        codec, skip = bom_codec(head)
        if codec is None:
            codec = detect(head[:SNIFF_BYTES]) if self._encoding == AUTO else codec_name(self._encoding)
        self.codec = codec
        rest = iter(()) if broken is not None else self._chunks
        yield from self._transcode(codec, head[skip:], rest)
        if broken is not None:
            raise broken

    @staticmethod
    def _transcode(codec: str, head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
        if codec == "utf-8":
            if head:
                yield head
            yield from rest
            return
        decoder = codecs.getincrementaldecoder(codec)(errors=_INVALID)
        for chunk in _chain(head, rest):
            text = decoder.decode(chunk)
            if text:
                yield text.encode("utf-8", "surrogatepass")
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail.encode("utf-8", "surrogatepass")


def _chain(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


# --- web pages ---


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
# WHATWG encoding labels that browsers map to a superset (pages labelled latin-1 are really cp1252)
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "l1": "cp1252",
    "x-sjis": "shift_jis",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "iso-8859-9": "cp1254",
    "windows-874": "cp874",
    "utf8": "utf-8",
}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    return _CHARSET_ALIASES.get(label, label)


def decode_html(payload: bytes, declared: str | None) -> tuple[str, str | None]:
    """(HTML text, note) decoded with the first charset that fits the bytes.

    Tried in order: the HTTP header's charset, the page's ``<meta charset>``, a detected
    charset (resiliparse), UTF-8. Real crawls often declare the wrong charset in the header,
    so a declared charset that does not decode the bytes is passed over (note
    ``charset_mismatch``); when nothing fits, the page is decoded as UTF-8 with replacement
    characters (note ``charset_fallback``). The note is None when the declared charset fits.
    """
    meta = _META_CHARSET.search(payload[:4096])
    candidates = [_codec(declared), _codec(meta.group(1).decode("ascii", "replace") if meta else None)]
    first = next((c for c in candidates if c), None)
    for codec in candidates:
        if codec:
            try:
                return payload.decode(codec), None if codec == first else "charset_mismatch"
            except (LookupError, UnicodeDecodeError):
                continue
    try:
        from resiliparse.parse.encoding import detect_encoding

        detected = _codec(detect_encoding(payload))
        text = payload.decode(detected or "utf-8")
        return text, None if first is None else "charset_mismatch"
    except (ImportError, LookupError, UnicodeDecodeError):
        pass
    try:
        return payload.decode("utf-8"), None if first is None else "charset_mismatch"
    except UnicodeDecodeError:
        return payload.decode("utf-8", "replace"), "charset_fallback"
