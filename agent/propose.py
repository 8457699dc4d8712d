"""One proposal session end to end: tools -> planner (Claude or offline) -> proposal -> branch / PR."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from agent.proposal import Proposal, Published, proposal_from_toolbox, publish
from agent.secrets import scrub
from agent.tools import Toolbox, ToolLimits

Planner = Literal["claude", "offline", "auto"]


def choose_planner(planner: Planner) -> Literal["claude", "offline"]:
    """``auto``: Claude when ANTHROPIC_API_KEY is set, else the offline planner."""
    from agent.client import has_api_key

    if planner == "auto":
        return "claude" if has_api_key() else "offline"
    return planner


def propose(
    goal: str,
    sources: list[str],
    project_root: Path,
    *,
    pipeline: str | None = None,
    planner: Planner = "auto",
    base: str = "main",
    push: bool = True,
    client: Any = None,
    agent_config: Any = None,
    limits: ToolLimits | None = None,
    http_client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Proposal, Published]:
    """Plan a pipeline for ``goal`` over ``sources`` and publish it for review (see agent.proposal.publish)."""
    say = (lambda m: progress(scrub(m))) if progress else (lambda _: None)
    goal = scrub(goal)  # a key pasted into the goal goes nowhere: not to the model, the branch or the logs
    toolbox = Toolbox(Path(project_root), list(sources), limits=limits or ToolLimits(), progress=say)
    for loc, why in toolbox.source_errors.items():
        say(f"source {loc}: {why}")
    kind = choose_planner(planner)
    if kind == "claude":
        from agent.loop import AgentConfig, run_agent

        config = agent_config or AgentConfig()
        if client is None:
            from agent.client import anthropic_client

            client = anthropic_client()
        goal_for_model = f"{goal.strip()}\n(Name the pipeline {pipeline!r}.)" if pipeline else goal
        say(f"planner: Claude ({config.model}), at most {config.max_turns} turns")
        submitted = run_agent(goal_for_model, toolbox, client, config, progress=say)
        label = f"Claude planner ({config.model})"
        if pipeline and submitted.spec.pipeline != pipeline:
            say(f"note: the model named the pipeline {submitted.spec.pipeline!r}, not {pipeline!r}")
    else:
        from agent.planner import plan_offline

        say("planner: offline (rules in agent/planner.py)")
        plan_offline(goal, toolbox, pipeline=pipeline, progress=say)
        label = "offline planner"
    proposal = proposal_from_toolbox(goal, toolbox, label)
    published = publish(proposal, Path(project_root), base=base, push=push, http_client=http_client, progress=say)
    return proposal, published
