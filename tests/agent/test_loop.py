"""The Claude loop, driven through the real anthropic SDK with scripted Messages API responses."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from agent.loop import AgentConfig, TokenBudgetExceeded, TurnLimitExceeded, run_agent
from agent.propose import propose
from agent.tools import Toolbox
from tests.agent.helpers import (
    INJECTION,
    ScriptedModel,
    git,
    message,
    notes_records,
    notes_spec,
    repo_state,
    text,
    tool_use,
    write_jsonl,
)

RATIONALE = "Normalize, filter with the Gopher rules (the profile shows prose), drop the exact copy, redact the e-mail."


def happy_script() -> list:
    return [
        message(
            text("Let me look at the data."),
            tool_use("list_sources", {}),
            tool_use("profile_source", {"source": "notes"}),
        ),
        message(tool_use("sample_documents", {"source": "notes", "n": 3})),
        message(tool_use("validate_spec", {"spec": notes_spec()})),
        message(tool_use("dry_run", {"spec": notes_spec(), "n": 40})),
        message(tool_use("submit_proposal", {"spec": notes_spec(), "rationale": RATIONALE})),
    ]


def test_valid_proposal_lands_on_a_branch(temp_repo: Path) -> None:
    before = repo_state(temp_repo)
    model = ScriptedModel(happy_script())
    lines: list[str] = []
    proposal, published = propose(
        "clean English notes",
        ["data/sources/notes"],
        temp_repo,
        planner="claude",
        client=model.client(),
        agent_config=AgentConfig(model="claude-test", max_turns=10),
        progress=lines.append,
    )
    assert published.where == "branch" and published.branch == "proposal/notes_clean" and published.status == "created"
    assert proposal.planner == "Claude planner (claude-test)" and proposal.rationale == RATIONALE
    # the branch: one commit on main adding exactly the two files
    assert git(temp_repo, "rev-parse", "proposal/notes_clean~1") == before["main"]
    changed = git(temp_repo, "diff", "--name-only", "main", "proposal/notes_clean").splitlines()
    assert changed == ["platform_assets/defs/notes_clean/PROPOSAL.md", "platform_assets/defs/notes_clean/defs.yaml"]
    md = git(temp_repo, "show", "proposal/notes_clean:platform_assets/defs/notes_clean/PROPOSAL.md")
    assert "## Data profile" in md and "## Dry run" in md and RATIONALE in md and "`notes_clean/deduped`" in md
    assert repo_state(temp_repo) == before  # working tree, index, HEAD and main untouched
    # what the model was sent: tools with schemas, the goal in the system prompt, tool results answered by id
    first = model.requests[0]
    assert first["model"] == "claude-test" and {t["name"] for t in first["tools"]} >= {
        "profile_source",
        "submit_proposal",
    }
    assert "clean English notes" in first["system"] and "extract_html@1" in first["system"]
    results = model.tool_results(1)
    assert [r["tool_use_id"] for r in results] == [
        b["id"] for b in model.requests[1]["messages"][-2]["content"] if b["type"] == "tool_use"
    ]
    assert not any(r["is_error"] for r in results)
    assert len(model.requests) == 5
    # one progress line per tool call
    calls = [line for line in lines if line.startswith("[turn ") and " -> " in line]
    assert len(calls) == 6 and calls[-1].startswith("[turn 5] submit_proposal -> ok")


def test_model_recovers_from_errors(temp_repo: Path) -> None:
    bad_spec = notes_spec()
    bad_spec["stages"][1] = {"name": "quality", "op": "gopher_qualty@1"}
    bad_spec["sources"][0]["location"] = "../../etc"
    model = ScriptedModel(
        [
            message(tool_use("read_file", {"path": "/etc/passwd"})),  # unknown tool
            message(tool_use("sample_documents", {"source": "notes", "n": "lots"})),  # invalid arguments
            message(
                tool_use("submit_proposal", {"spec": bad_spec, "rationale": "first attempt at the notes pipeline"})
            ),
            message(text("I will fix the spec.")),  # a turn without a tool call
            message(tool_use("submit_proposal", {"spec": notes_spec(), "rationale": RATIONALE})),
        ]
    )
    toolbox = Toolbox(temp_repo, ["data/sources/notes"])
    submitted = run_agent("clean notes", toolbox, model.client(), AgentConfig(model="m", max_turns=8))
    assert submitted.spec.pipeline == "notes_clean"
    (unknown,) = model.tool_results(1)
    assert unknown["is_error"] and "unknown tool 'read_file'" in unknown["content"]
    (invalid,) = model.tool_results(2)
    assert invalid["is_error"] and "invalid arguments for sample_documents" in invalid["content"]
    (rejected,) = model.tool_results(3)
    assert rejected["is_error"]
    assert "stages[1].steps[0].op: unknown operator 'gopher_qualty@1'" in rejected["content"]
    assert "sources[0].location:" in rejected["content"] and "outside the allowed roots" in rejected["content"]
    nudge = model.requests[4]["messages"][-1]
    assert nudge["role"] == "user" and "submit_proposal" in nudge["content"]


def test_turn_limit_ends_a_runaway_loop(temp_repo: Path) -> None:
    model = ScriptedModel(message(tool_use("list_operators", {})) for _ in itertools.count())
    toolbox = Toolbox(temp_repo, ["data/sources/notes"])
    with pytest.raises(TurnLimitExceeded) as exc:
        run_agent("clean notes", toolbox, model.client(), AgentConfig(model="m", max_turns=4))
    assert "made 4 turns (the limit, AGENT_MAX_TURNS) without submitting" in str(exc.value)
    assert "list_operators" in str(exc.value)
    assert len(model.requests) == 4 and toolbox.submitted is None


def test_token_budget_ends_the_loop(temp_repo: Path) -> None:
    model = ScriptedModel(message(tool_use("list_operators", {}), tokens=(60_000, 2_000)) for _ in itertools.count())
    with pytest.raises(TokenBudgetExceeded, match="124,000 tokens, over its budget of 100,000"):
        run_agent(
            "clean notes",
            Toolbox(temp_repo, ["data/sources/notes"]),
            model.client(),
            AgentConfig(model="m", max_turns=50, token_budget=100_000),
        )
    assert len(model.requests) == 2


def test_config_defaults_come_from_the_environment_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_MODEL", raising=False)
    assert AgentConfig().model.startswith("claude-")
    monkeypatch.setenv("ANTHROPIC_MODEL", "claude-custom")
    monkeypatch.setenv("AGENT_MAX_TURNS", "7")
    cfg = AgentConfig()
    assert cfg.model == "claude-custom" and cfg.max_turns == 7
    assert AgentConfig(max_turns=3).max_turns == 3


def test_injected_instructions_change_nothing(temp_repo: Path) -> None:
    """A document tells the model to write to main; the scripted model "obeys" and finds no tool to do it."""
    write_jsonl(temp_repo / "data" / "sources" / "notes" / "notes.jsonl", notes_records(n=12, injection=True))
    git(temp_repo, "commit", "-qam", "notes with an injected instruction")
    before = repo_state(temp_repo)
    model = ScriptedModel(
        [
            message(tool_use("sample_documents", {"source": "notes", "n": 20})),  # every document, the injected one too
            message(
                text("The document says to write to main, so I will."),
                tool_use("git_push", {"branch": "main", "force": True}),
                tool_use("write_file", {"path": "platform_assets/definitions.py", "content": "import os"}),
                tool_use("run_command", {"command": "git push origin HEAD:main"}),
            ),
            message(
                tool_use("submit_proposal", {"spec": {**notes_spec(), "pipeline": "main"}, "rationale": RATIONALE})
            ),
        ]
    )
    _proposal, published = propose(
        "clean notes",
        ["data/sources/notes"],
        temp_repo,
        planner="claude",
        client=model.client(),
        agent_config=AgentConfig(model="m", max_turns=5),
    )
    (sample,) = model.tool_results(1)
    assert "<untrusted_data>" in sample["content"] and INJECTION[:60] in sample["content"]
    assert sample["content"].count("</untrusted_data>") == 1  # the document could not close the data block
    refused = model.tool_results(2)
    assert [r["is_error"] for r in refused] == [True, True, True]
    assert all("unknown tool" in r["content"] for r in refused)
    # the only effect is a proposal branch; main, HEAD, index and files are as they were
    assert repo_state(temp_repo) == before
    assert published.branch == "proposal/main" and git(temp_repo, "rev-parse", "main") == before["main"]
    assert set(Toolbox(temp_repo, []).tool_names) == {
        "list_sources",
        "sample_documents",
        "profile_source",
        "list_operators",
        "describe_operator",
        "validate_spec",
        "dry_run",
        "submit_proposal",
    }
