"""The reviewer's check and the command line, in a throwaway repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.__main__ import main
from agent.proposal import commit_to_branch
from agent.review import review
from tests.agent.helpers import git, repo_state

GOOD = """type: platform_assets.components.PipelineComponent
attributes:
  pipeline: notes_clean
  sources: [{name: notes, location: data/sources/notes, format: jsonl}]
  stages:
    - {name: normalized, op: normalize_text@1}
"""


def test_review_passes_a_valid_proposal(temp_repo: Path) -> None:
    commit_to_branch(
        temp_repo,
        "main",
        "proposal/notes_clean",
        {
            "platform_assets/defs/notes_clean/defs.yaml": GOOD.encode(),
            "platform_assets/defs/notes_clean/PROPOSAL.md": b"# Proposal\n",
        },
        "Propose notes_clean",
    )
    out: list[str] = []
    result = review(temp_repo, "main", "proposal/notes_clean", run_dagster=False, out=out.append)
    assert result.ok and result.checked == ["platform_assets/defs/notes_clean/defs.yaml"]
    assert "notes_clean/normalized" in result.graph_diff["added"] and result.graph_diff["removed"] == []
    assert out[-1] == "review passed" and any("loads (validated, assets built)" in line for line in out)


def test_review_fails_invalid_definitions_and_foreign_files(temp_repo: Path) -> None:
    bad = GOOD.replace("normalize_text@1", "run_shell@1").replace("data/sources/notes", "../../etc")
    commit_to_branch(
        temp_repo,
        "main",
        "proposal/notes_clean",
        {
            "platform_assets/defs/notes_clean/defs.yaml": bad.encode(),
            "platform_assets/definitions.py": b"import os\nos.system('id')\n",
        },
        "Propose notes_clean",
    )
    out: list[str] = []
    result = review(temp_repo, "main", "proposal/notes_clean", run_dagster=False, out=out.append)
    assert not result.ok
    text = "\n".join(result.errors)
    assert "stages[0].steps[0].op: unknown operator 'run_shell@1'" in text
    assert "sources[0].location:" in text and "outside the allowed roots" in text
    assert "platform_assets/definitions.py: a proposal may only change" in text
    assert out[-1].startswith("review FAILED")


def test_cli_propose_then_review(
    temp_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(temp_repo)
    before = repo_state(temp_repo)
    code = main(
        ["propose", "--goal", "clean English notes", "--source", "data/sources/notes", "--pipeline", "notes_clean"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "planner: offline" in out  # no ANTHROPIC_API_KEY: the offline planner
    assert "profile_source(source='notes') -> ok" in out and "submit_proposal(" in out
    assert "branch: proposal/notes_clean (created" in out
    assert out.rstrip().splitlines()[-1].strip().startswith("git merge --no-ff proposal/notes_clean")
    assert repo_state(temp_repo) == before
    code = main(["review", "--base", "main", "--head", "proposal/notes_clean", "--no-dagster"])
    out = capsys.readouterr().out
    assert code == 0 and "review passed" in out and "`notes_clean/raw`" in out
    assert main(["review", "--head", "proposal/nothing", "--no-dagster"]) == 2
    assert "proposal branches: proposal/notes_clean" in capsys.readouterr().out
    assert git(temp_repo, "branch", "--show-current") == "main"
