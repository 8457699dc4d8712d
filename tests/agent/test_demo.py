"""`make demo` step 4: the offline planner proposes a pipeline for the demo pages, idempotently."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from rich.console import Console

from agent.demo import DEMO_PIPELINE, run_agent_demo
from tests.agent.helpers import git, html_pages, repo_state, write_warc


def test_demo_proposes_a_branch_and_is_idempotent(temp_repo: Path) -> None:
    write_warc(temp_repo / "data" / "demo_sources" / "pages" / "pages-000.warc.gz", html_pages(8))
    before = repo_state(temp_repo)
    buf = io.StringIO()
    proposal, published = run_agent_demo(None, Console(file=buf, width=140), project_root=temp_repo)
    assert published.branch == f"proposal/{DEMO_PIPELINE}" and published.status == "created"
    assert proposal.spec.stage("extracted").steps[0].op == "extract_html@1"
    assert f"git merge --no-ff proposal/{DEMO_PIPELINE}" in buf.getvalue()
    # the evidence: the proxy comparison, printed and in PROPOSAL.md
    assert "evidence: proxy loss, pipeline output vs raw sample" in buf.getvalue()
    md = git(temp_repo, "show", f"{published.branch}:platform_assets/defs/{DEMO_PIPELINE}/PROPOSAL.md")
    assert "## Evidence: proxy loss, pipeline output vs raw sample" in md and "| held_out_raw |" in md
    _again, published_again = run_agent_demo(None, Console(file=io.StringIO()), project_root=temp_repo)
    assert published_again.status == "unchanged" and published_again.commit == published.commit
    assert repo_state(temp_repo) == before
    assert git(temp_repo, "rev-list", "--count", f"main..proposal/{DEMO_PIPELINE}") == "1"


def test_demo_outside_git_writes_a_folder(temp_repo: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(temp_repo, plain, ignore=shutil.ignore_patterns(".git"))
    write_warc(plain / "data" / "demo_sources" / "pages" / "pages-000.warc.gz", html_pages(6))
    buf = io.StringIO()
    _, published = run_agent_demo(None, Console(file=buf, width=140), project_root=plain)
    assert published.where == "folder" and (plain / ".proposals" / DEMO_PIPELINE / "defs.yaml").exists()
    assert "not a git repository" in buf.getvalue()
