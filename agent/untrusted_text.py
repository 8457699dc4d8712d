"""Text from a person or a model (a goal, a rationale) made inert where it is shown.

A goal is untrusted input: in PROPOSAL.md (the pull request's body) HTML and Markdown in it
would render (a fake approval banner, images, mentions that notify people), in a commit message
and a spec description it should read as what it is, plain text.
"""

from __future__ import annotations

import re

# HTML tags and comments, however they are cut off
_TAG = re.compile(r"<!--.*?(?:-->|\Z)|</?[A-Za-z][^<>]*(?:>|\Z)|<[!?][^<>]*(?:>|\Z)", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def verbatim_block(text: str) -> str:
    """``text`` as a fenced code block that nothing in it can close: shown, never rendered."""
    text = _CONTROL.sub("", text.strip("\n"))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def escape_markup(text: str) -> str:
    """Markdown prose with HTML made literal (``<div>`` shows as text); Markdown itself still renders."""
    return _CONTROL.sub("", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_line(text: str, limit: int) -> str:
    """One line of plain text: tags removed, control characters dropped, whitespace collapsed, at most ``limit``."""
    text = _TAG.sub(" ", text)
    text = _CONTROL.sub("", text).replace("<", "‹").replace(">", "›")
    return " ".join(text.split())[:limit]
