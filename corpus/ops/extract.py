"""HTML to main text: ``extract_html@1``.

Two engines, measured against the trafilatura evaluation snippets by
``benchmarks/bench_extract.py`` (results in ``benchmarks/results/extract.json``):

* ``trafilatura`` (lxml + readability/jusText fallbacks): the default. On that set it keeps
  94% of the wanted snippets and drops 90% of the boilerplate ones (F1 0.92), at about
  60-80 pages/s (6-8 MB/s of HTML) per core.
* ``resiliparse`` (lexbor DOM + main-content heuristics, C++): 12-16 times faster (about
  1,000 pages/s, 100 MB/s of HTML per core) and keeps 96% of the wanted snippets, but lets
  a quarter of the boilerplate through (74% dropped, F1 0.87); its options (skip lists,
  no post metadata) move that by a point or two at most.

Boilerplate that reaches training data is repeated across pages and costs quality, while
a few MB/s of HTML per core keeps extraction a modest share of a pipeline's time, so the
cleaner engine is the default; pick ``engine: resiliparse`` for throughput-bound crawls.

Only rows whose ``content_type`` is HTML are touched; every other row passes through.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from typing import Any, Literal

import polars as pl
from pydantic import Field

from corpus import schema
from corpus.ops.registry import OpConfig, register

HTML_TYPES = ("text/html", "application/xhtml+xml")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_SPACES = re.compile(r"\s+")
TITLE_MAX_CHARS = 500


class ExtractHtmlConfig(OpConfig):
    engine: Literal["trafilatura", "resiliparse"] = Field(
        "trafilatura",
        description="extraction engine: trafilatura (cleaner, 60-80 pages/s per core) or resiliparse "
        "(12-16x faster, lets about a quarter of the boilerplate through)",
    )
    favor_precision: bool = Field(
        False, description="trafilatura only: keep less text when unsure whether it is main content"
    )
    include_tables: bool = Field(True, description="trafilatura only: keep the text of tables")
    include_comments: bool = Field(False, description="keep user comment sections below the main content")
    list_bullets: bool = Field(True, description="resiliparse only: prefix list items with bullets")


def page_title(html: str) -> str | None:
    """The text of the page's first ``<title>``, entities decoded and whitespace collapsed."""
    m = _TITLE.search(html)
    if not m:
        return None
    title = _SPACES.sub(" ", html_lib.unescape(m.group(1))).strip()
    return title[:TITLE_MAX_CHARS] or None


def _resiliparse_extractor(config: ExtractHtmlConfig) -> Callable[[str], str]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    def extract(html: str) -> str:
        tree = HTMLTree.parse(html)
        return extract_plain_text(
            tree,
            preserve_formatting=True,
            main_content=True,
            list_bullets=config.list_bullets,
            alt_texts=False,
            links=False,
            form_fields=False,
            noscript=False,
            comments=config.include_comments,
        )

    return extract


def _trafilatura_extractor(config: ExtractHtmlConfig) -> Callable[[str], str]:
    import trafilatura

    def extract(html: str) -> str:
        return (
            trafilatura.extract(
                html,
                output_format="txt",
                favor_precision=config.favor_precision,
                include_tables=config.include_tables,
                include_comments=config.include_comments,
                include_images=False,
                include_links=False,
                with_metadata=False,
                deduplicate=False,
            )
            or ""
        )

    return extract


def make_extractor(config: ExtractHtmlConfig) -> Callable[[str], str]:
    """A function HTML -> main text for the configured engine (used by the operator and the benchmark)."""
    if config.engine == "resiliparse":
        return _resiliparse_extractor(config)
    return _trafilatura_extractor(config)


MIN_LETTER_SHARE = 0.25  # prose is ~80% letters, code ~60%; markup debris ("<<>>&#x;") almost none


def _letter_share(text: str) -> float:
    """Letters among the non-space characters of (the first 20,000 characters of) ``text``."""
    sample = "".join(text[:20_000].split())
    return sum(c.isalpha() for c in sample) / len(sample) if sample else 0.0


def _html_rows(batch: pl.DataFrame) -> list[int]:
    if schema.CONTENT_TYPE not in batch.columns:
        return []
    ctype = batch[schema.CONTENT_TYPE].str.to_lowercase().str.split(";").list.first().str.strip_chars()
    return batch.with_row_index("_i").filter(ctype.is_in(HTML_TYPES))["_i"].to_list()


@register(
    "extract_html",
    1,
    "map",
    ExtractHtmlConfig,
    reasons=("empty_extraction", "extraction_not_text"),
    requires_packages=("resiliparse", "trafilatura"),
    tags=("extract",),
)
def extract_html(batch: pl.DataFrame, config: ExtractHtmlConfig) -> pl.DataFrame:
    """Turn HTML documents into their main text (menus, footers, ads and other boilerplate removed) with trafilatura
    or resiliparse; the page title fills a missing title, and other documents pass through unchanged.

    Rows whose content_type is text/html (or XHTML) become text/plain; a page with no main
    text is tagged ``empty_extraction``; an engine failure on one page puts the message in
    ``_error`` for that row.
    """
    rows = _html_rows(batch)
    drop: list[str | None] = [None] * batch.height
    error: list[str | None] = [None] * batch.height
    if not rows:
        return batch.with_columns(
            pl.Series(schema.DROP, drop, dtype=pl.String()), pl.Series(schema.ERROR, error, dtype=pl.String())
        )
    extract = make_extractor(config)
    texts: list[Any] = batch[schema.TEXT].to_list()
    titles: list[Any] = batch[schema.TITLE].to_list() if schema.TITLE in batch.columns else [None] * batch.height
    ctypes: list[Any] = batch[schema.CONTENT_TYPE].to_list()
    for i in rows:
        html = texts[i] or ""
        try:
            text = extract(html).strip()
        except Exception as exc:
            error[i] = f"extraction_failed: {config.engine} failed on this page: {type(exc).__name__}: {exc}"
            continue
        if titles[i] is None:
            titles[i] = page_title(html)
        texts[i] = text
        ctypes[i] = "text/plain"
        if not text:
            drop[i] = "empty_extraction"
        elif _letter_share(text) < MIN_LETTER_SHARE:
            drop[i] = "extraction_not_text"
    return batch.with_columns(
        pl.Series(schema.TEXT, texts, dtype=pl.String()),
        pl.Series(schema.TITLE, titles, dtype=pl.String()),
        pl.Series(schema.CONTENT_TYPE, ctypes, dtype=pl.String()),
        pl.Series(schema.DROP, drop, dtype=pl.String()),
        pl.Series(schema.ERROR, error, dtype=pl.String()),
    )
