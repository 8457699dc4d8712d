"""Stage metadata as the UI renders it: document samples verbatim, floats rounded, column schema."""

from __future__ import annotations

import html

from markdown_it import MarkdownIt

from corpus.runner import StageReport
from platform_assets.metadata import md_escape, md_verbatim, sample_markdown

TRICKY = "if __name__ == '__main__':\n    print(*x*)  # a `tick` and ``` a fence\n| not | a table |"


def rendered_code_blocks(markdown: str) -> list[str]:
    out = MarkdownIt("commonmark").enable("table").render(markdown)
    blocks = []
    for part in out.split("<code")[1:]:
        body = part.split(">", 1)[1].split("</code>", 1)[0]
        blocks.append(html.unescape(body))
    return blocks


def test_document_text_renders_verbatim():
    report = StageReport(
        pipeline="p", stage="quality", source="code", docs_in=2, kept=1, dropped={"gopher_short_doc": 1}
    )
    report.sample_kept = [{"id": "a" * 64, "text": TRICKY}]
    report.sample_dropped = [
        {"id": "b" * 64, "drop_reason": "gopher_short_doc", "duplicate_of": None, "text": "*x* __y__"}
    ]
    md = sample_markdown(report)
    blocks = rendered_code_blocks(md)
    assert blocks[0].rstrip("\n") == TRICKY  # newlines, indentation, underscores, stars and backticks kept
    assert blocks[1].rstrip("\n") == "*x* __y__"
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert "<strong>name</strong>" not in rendered and "<em>x</em>" not in rendered and "<table>" not in rendered


def test_escape_and_fence_helpers():
    assert MarkdownIt().render(md_escape("a *b* __c__ `d` | e")).strip() == "<p>a *b* __c__ `d` | e</p>"
    assert md_verbatim("````").startswith("`````")  # the fence outgrows any backtick run inside
