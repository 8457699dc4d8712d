"""Read raw sources (JSONL, Parquet, text, WARC) into document batches, quarantining bad input.

The raw stage calls :func:`read_source` for one source and writes each :class:`ReadBatch`
as one raw shard. Everything goes through a ``pyarrow.fs`` filesystem (local or S3), so
the same code reads both.

Guarantees:

* **Deterministic.** Files are read in sorted order, records in file order; a batch is cut
  every ``batch_docs`` records (batches may span files), so a re-run writes the same shards.
* **Streaming.** At most one record is held beyond a fixed read buffer: JSONL is read line by
  line through streaming gzip / zstd decompression, Parquet by record batches, WARC record by
  record, text files line by line (except ``split: file``, whose record is the whole file).
* **Conservation.** Every record is a kept document, a deliberately dropped one (``dropped``,
  with a reason) or a quarantined one (``quarantine``, with an error saying what is wrong and
  how to fix it). ``records == docs.height + dropped.height + quarantine.height``. Bad input
  never raises out of :func:`read_source`; only a location that does not exist does (that is
  a spec error, not bad data).

What counts as a record, and the choices made for awkward input:

* JSONL: each non-blank line (blank lines are skipped; ``offset`` is the 0-based line number).
  A line that is not a JSON object, or whose text field is missing, null or not a string, is
  quarantined. Text fields may be dotted paths (``meta.body``) into nested objects.
* Parquet: each row (``offset`` = row index). A file that cannot be opened or has no usable
  text column is one quarantine record with ``offset = -1``. A binary text column is decoded
  as UTF-8 row by row.
* WARC: each ``response`` record (``offset`` = its index among the response records);
  request, metadata and other records are skipped and are not records. Non-HTML payloads
  are dropped (``warc_not_html``), non-2xx responses too (``warc_http_status``); a record cut
  short is quarantined. HTML is decoded with the charset of the HTTP header or the page's
  ``<meta charset>`` or a detected one, whichever first fits the bytes (WHATWG aliases: latin-1
  means windows-1252); a page whose declared charset did not fit is counted in
  ``repairs["charset_mismatch"]``, and one that nothing fits is decoded as UTF-8 with
  replacement characters and counted in ``repairs["charset_fallback"]``.
* Text: documents per the source's ``split`` (``offset`` = document index in the file).
  ``.py`` files are ``text/x-python``, everything else ``text/plain``. A file with NUL bytes
  in its first 8 KiB is binary and is quarantined whole.
* Encodings (JSONL, text): a file is read as the source's ``encoding`` says (UTF-8 by default,
  a codec name, or ``auto``, detected per file), and a byte order mark always decides; see
  :mod:`corpus.charsets`. ``ReadBatch.encodings`` counts records by the codec used. Bytes the
  codec cannot decode quarantine the record (JSONL line, Parquet row, text document) as
  ``invalid_utf8`` (or ``invalid_encoding`` for another codec), the fix named in the error.
* NUL characters (U+0000) inside an otherwise valid text are removed, not quarantined: they
  are padding or conversion debris, never content, and many downstream tools treat them as
  string terminators. Each repaired record is counted in ``repairs["nul_removed"]``.
* A text empty after stripping is dropped with reason ``empty_text`` (JSONL, Parquet).
* A truncated or corrupt gzip / zstd stream keeps every record read before the break and
  adds one quarantine record (``truncated_stream``) at the line where it broke, holding the
  partial data.
* A document longer than the source's ``max_doc_chars`` is quarantined (``doc_too_long``).
* Empty files (no records at all) are listed in ``ReadBatch.empty_files`` of the batch that
  was being filled when they were read, so the raw stage can report them.
* A file of a local folder that a symbolic link leads outside the folder is not read: it is one
  quarantine record (``outside_location``, ``offset = -1``). The location itself may be a link;
  the spec's path policy checks where it leads.

Quarantine ``error`` strings start with a short error class (``invalid_json: ...``), which the
stage runner uses to count errors by kind.

Layout: :mod:`~corpus.readers.listing` picks the files, :mod:`~corpus.readers.streams`
decompresses them, :mod:`~corpus.readers.scaffold` runs one format reader per file (``jsonl``,
``parquet``, ``text``, ``warc``; each a :class:`~corpus.readers.scaffold.FormatReader`),
:mod:`~corpus.readers.events` collects the records into batches, and
:mod:`~corpus.readers.source` ties them together. Charsets live in :mod:`corpus.charsets`.
"""

from corpus.charsets import decode_html
from corpus.readers.events import RAW_CAP, ReadBatch
from corpus.readers.listing import DEFAULT_GLOBS, link_escape_test, list_source_files
from corpus.readers.source import read_source

__all__ = [
    "DEFAULT_GLOBS",
    "RAW_CAP",
    "ReadBatch",
    "decode_html",
    "link_escape_test",
    "list_source_files",
    "read_source",
]
