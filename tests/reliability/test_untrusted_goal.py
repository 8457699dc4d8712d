"""A goal is untrusted text: HTML in it never renders in PROPOSAL.md (the pull request's body), and it
reaches the commit message and the spec's description as plain text.

The proposal is made the real way: the offline planner on a throwaway repository, published as a branch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from agent.propose import propose
from agent.untrusted_text import escape_markup, plain_line, verbatim_block
from corpus.spec import SpecError, parse_spec
from tests.agent.helpers import git, make_repo

BANNER = '<div align="center"><h1>APPROVED by @security-team</h1></div>'
GOAL = f"clean English notes {BANNER} <img src=x onerror=alert(1)> <!-- hidden"


def rendered_html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).render(markdown)


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "ANTHROPIC_API_KEY", "CORPUS_ALLOWED_ROOTS"):
        monkeypatch.delenv(name, raising=False)
    repo = make_repo(tmp_path)
    _, result = propose(GOAL, ["data/sources/notes"], repo, pipeline="notes_clean", planner="offline", push=False)
    return repo, result.branch


def test_html_in_the_goal_never_renders_in_the_proposal(published: tuple[Path, str]) -> None:
    repo, branch = published
    md = git(repo, "show", f"{branch}:platform_assets/defs/notes_clean/PROPOSAL.md")
    html = rendered_html(md)
    for element in ("<h1>APPROVED", "<div align", "<img", "<!-- hidden"):
        assert element not in html, f"{element!r} renders in PROPOSAL.md"
    assert "&lt;h1&gt;APPROVED by @security-team&lt;/h1&gt;" in html  # shown as the text it is, inside a code block
    assert html.count("<h1>") == 1  # the proposal's own title only


def test_the_commit_message_and_the_description_hold_plain_text(published: tuple[Path, str]) -> None:
    repo, branch = published
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert "<div" not in message and "<h1>" not in message and "<img" not in message
    assert "Goal: clean English notes APPROVED by @security-team" in message
    defs = yaml.safe_load(git(repo, "show", f"{branch}:platform_assets/defs/notes_clean/defs.yaml"))
    description = defs["attributes"]["description"]
    assert "<" not in description and ">" not in description and "clean English notes" in description


@pytest.mark.parametrize(
    "description",
    [BANNER, "see <a href='http://x'>here</a>", "<!-- x -->", "[x](javascript:alert(1))", "<script>alert(1)</script>"],
)
def test_a_spec_description_with_markup_is_refused(description: str) -> None:
    data = {
        "pipeline": "p",
        "description": description,
        "sources": [{"name": "a", "location": "data/a", "format": "jsonl", "description": description}],
        "stages": [{"name": "n", "op": "normalize_text@1", "description": description}],
    }
    with pytest.raises(SpecError) as exc:
        parse_spec(data)
    assert {i.field for i in exc.value.issues} == {"description", "sources[0].description", "stages[0].description"}
    assert all("markup" in i.message or "code" in i.message for i in exc.value.issues)


def test_prose_with_angle_brackets_that_are_not_markup_still_loads() -> None:
    spec = parse_spec(
        {
            "pipeline": "p",
            "description": "documents with 3 < n < 10 words, and a -> b arrows",
            "sources": [{"name": "a", "location": "data/a", "format": "jsonl"}],
        }
    )
    assert spec.description and "<" in spec.description


def test_verbatim_blocks_cannot_be_closed_from_inside() -> None:
    hostile = "```\n# APPROVED\n```\n<div>x</div>\n````"
    html = rendered_html("## Goal\n\n" + verbatim_block(hostile) + "\n\n## Next")
    assert "<h1>" not in html and "<div>" not in html and html.count("<h2>") == 2
    assert "&lt;div&gt;" in rendered_html(escape_markup("<div>x</div> **bold**"))
    assert plain_line("a <b>bold</b>\n\n<!-- x", 100) == "a bold"
