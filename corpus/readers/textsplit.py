"""Text files as documents: lines decoded, then split per the source's ``split`` (line, paragraph, wikitext, chunk)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from corpus.readers.events import RAW_CAP
from corpus.readers.records import bad_bytes

if TYPE_CHECKING:  # only the source's fields are used: no import of the spec module at run time
    from corpus.spec import SourceSpec

_WIKI_TITLE = re.compile(r"^ = ([^=].*?) = $")


class Pending:
    """A text document under construction from lines; stops growing past its character limit."""

    __slots__ = ("chars", "error", "kept", "limit", "parts", "sep", "title")

    def __init__(self, limit: int, sep: str = "\n"):
        self.parts: list[str] = []
        self.chars = 0  # characters of the whole document
        self.kept = 0  # characters held in ``parts``
        self.limit = limit
        self.error: str | None = None
        self.title: str | None = None
        self.sep = sep

    def add(self, text: str, error: str | None = None) -> None:
        self.chars += len(text) + (len(self.sep) if self.parts else 0)
        # past the limit the document will be quarantined: keep only what ``raw`` shows of it
        if self.chars <= self.limit or self.kept < RAW_CAP:
            self.parts.append(text)
            self.kept += len(text)
        if error and not self.error:
            self.error = error

    @property
    def empty(self) -> bool:
        return not any(p.strip() for p in self.parts)

    def text(self) -> str:
        parts = self.parts
        start, end = 0, len(parts)
        while start < end and not parts[start].strip():
            start += 1
        while end > start and not parts[end - 1].strip():
            end -= 1
        return self.sep.join(parts[start:end])


class Line(NamedTuple):
    number: int  # 0-based line number in the file
    text: str
    error: str | None


def decode_lines(
    lines: Iterable[tuple[int, bytes, bool]],
    rel: str,
    source: SourceSpec,
    max_line: int,
    codec: Callable[[], str | None] = lambda: None,
) -> Iterator[Line]:
    """Decode each line as UTF-8 (a bad one is decoded with replacement and carries an error)."""
    for number, raw, too_long in lines:
        error = None
        if too_long:
            error = (
                f"doc_too_long: {rel} line {number + 1} is longer than {max_line:,} bytes, more than "
                f"max_doc_chars={source.max_doc_chars:,} can hold; raise max_doc_chars of source {source.name!r} "
                "(at most 50,000,000) or split the file into shorter lines"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", "replace")
            error = error or bad_bytes(f"{rel} line {number + 1}", codec(), source, raw, exc.start)
        if number == 0 and text.startswith("\ufeff"):
            text = text[1:]
        if text.endswith("\r"):
            text = text[:-1]
        if "\x00" in text:
            text = text.replace("\x00", "")
        yield Line(number, text, error)


def _split_lines(lines: Iterable[Line], source: SourceSpec) -> Iterator[Pending]:
    for line in lines:
        if line.text.strip():
            doc = Pending(source.max_doc_chars)
            doc.add(line.text, line.error)
            yield doc


def _split_paragraphs(lines: Iterable[Line], source: SourceSpec) -> Iterator[Pending]:
    doc = Pending(source.max_doc_chars)
    for line in lines:
        if line.text.strip():
            doc.add(line.text, line.error)
        elif not doc.empty:
            yield doc
            doc = Pending(source.max_doc_chars)
    if not doc.empty:
        yield doc


def _split_wikitext(lines: Iterable[Line], source: SourceSpec) -> Iterator[Pending]:
    """One document per WikiText article: a line `` = Title = `` (one '=') starts the next one."""
    doc = Pending(source.max_doc_chars)
    for line in lines:
        heading = _WIKI_TITLE.match(line.text)
        if heading and not doc.empty:
            yield doc
            doc = Pending(source.max_doc_chars)
        if heading and doc.title is None:
            doc.title = heading.group(1).strip()
        doc.add(line.text, line.error)
    if not doc.empty:
        yield doc


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s")
LONG_PARAGRAPH_FACTOR = 2  # a paragraph up to this many chunk_chars stays whole in one chunk


def _cut_paragraph(text: str, size: int) -> Iterator[str]:
    """Pieces of at most ``size`` characters, cut at a sentence end, else a line end, else a space, else anywhere."""
    while len(text) > size:
        ends = [m.end() for m in _SENTENCE_END.finditer(text, size // 2, size + 1) if m.end() <= size]
        cut = ends[-1] if ends else -1
        if cut < 0:
            cut = text.rfind("\n", size // 2, size + 1)
        if cut < 0:
            cut = text.rfind(" ", size // 2, size + 1)
        if cut <= 0:
            cut = size
        yield text[:cut].rstrip()
        text = text[cut:].lstrip("\n ")
    if text:
        yield text


def _split_chunks(lines: Iterable[Line], source: SourceSpec) -> Iterator[Pending]:
    """Documents of about ``chunk_chars``: whole paragraphs packed together, cut at paragraph ends.

    A paragraph stays whole up to ``LONG_PARAGRAPH_FACTOR`` times ``chunk_chars`` (its chunk is
    then longer); a longer one is cut at sentence ends (else line ends, else spaces), so memory
    stays bounded whatever the file looks like.
    """
    size = source.chunk_chars
    hard = LONG_PARAGRAPH_FACTOR * size
    chunk = Pending(source.max_doc_chars, sep="\n\n")

    def pieces() -> Iterator[tuple[str, str | None]]:
        para: list[str] = []
        para_chars = 0
        para_error: str | None = None
        long = False  # the paragraph grew past ``hard``: all of it is cut to ``size``

        def finish() -> Iterator[tuple[str, str | None]]:
            text = "\n".join(para)
            for piece in _cut_paragraph(text, size) if long else (text,):
                yield piece, para_error

        for line in lines:
            if not line.text.strip():
                if para:
                    yield from finish()
                para, para_chars, para_error, long = [], 0, None, False
                continue
            para.append(line.text)
            para_chars += len(line.text) + (1 if len(para) > 1 else 0)
            para_error = para_error or line.error
            if para_chars > hard:
                long = True
                cut = list(_cut_paragraph("\n".join(para), size))
                for piece in cut[:-1]:
                    yield piece, para_error
                para, para_chars = cut[-1:], len(cut[-1]) if cut else 0
        if para:
            yield from finish()

    for text, error in pieces():
        if chunk.parts and chunk.chars + 2 + len(text) > size:
            yield chunk
            chunk = Pending(source.max_doc_chars, sep="\n\n")
        chunk.add(text, error)
    if not chunk.empty:
        yield chunk


SPLITTERS = {
    "line": _split_lines,
    "paragraph": _split_paragraphs,
    "wikitext": _split_wikitext,
    "chunk": _split_chunks,
}
