"""Publishing a proposal: a branch with one commit (and a pull request when configured), or a folder.

Re-running replaces the branch, or leaves it as it is when the content is the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.proposal.github import github_target, open_pull_request, push_branch
from agent.proposal.gitrepo import commit_to_branch, git_toplevel, rev, specs_at
from agent.proposal.markdown import check_defs_yaml, render_defs_yaml, render_proposal_md
from agent.proposal.model import Proposal, ProposalError
from agent.secrets import scrub
from agent.untrusted_text import plain_line
from corpus.spec import PathPolicy


def graph_change(repo: Path | None, base: str | None, proposal: Proposal) -> tuple[dict[str, Any], str]:
    """(diff, markdown) of the proposed pipeline's assets against the same pipeline at ``base`` (if any)."""
    from platform_assets.graph import asset_graph_snapshot, graph_diff, render_graph_diff_markdown

    old_spec = None
    if repo is not None and base is not None and rev(repo, base):
        specs, _ = specs_at(repo, base)
        old_spec = next((s for s in specs.values() if s.pipeline == proposal.pipeline), None)
    old = asset_graph_snapshot(old_spec) if old_spec is not None else {}
    new = asset_graph_snapshot(proposal.spec)
    diff = graph_diff(old, new)
    return diff, render_graph_diff_markdown(diff, new, old)


@dataclass
class Published:
    where: str  # "branch" | "folder"
    branch: str | None = None
    commit: str | None = None
    status: str | None = None
    folder: Path | None = None
    pr_url: str | None = None
    instructions: list[str] = field(default_factory=list)
    graph_diff: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


def proposal_files(proposal: Proposal, graph_md: str, base: str, policy: PathPolicy) -> dict[str, str]:
    defs = render_defs_yaml(proposal)
    reloaded = check_defs_yaml(defs, policy)
    if reloaded != proposal.spec:
        raise ProposalError(
            "the rendered defs.yaml does not load back to the proposed spec; this is a bug in rendering"
        )
    return {
        f"{proposal.folder}/defs.yaml": defs,
        f"{proposal.folder}/PROPOSAL.md": render_proposal_md(proposal, graph_md, base),
    }


def commit_message(proposal: Proposal) -> str:
    kept = proposal.dry_run.final_kept()
    return scrub(
        f"Propose pipeline {proposal.pipeline}\n\n"
        f"Goal: {plain_line(proposal.goal, 500)}\n"
        f"Planner: {proposal.planner}\n"
        f"Stages: {', '.join(s.name for s in proposal.spec.stages) or '(none)'}\n"
        f"Dry run kept: {', '.join(f'{k} {v}' for k, v in kept.items())}\n\n"
        f"See {proposal.folder}/PROPOSAL.md.\n"
    )


def publish(
    proposal: Proposal,
    project_root: Path,
    *,
    base: str = "main",
    push: bool = True,
    http_client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> Published:
    """Write the proposal as a branch (in a git repo) or a folder (``.proposals/<pipeline>/`` otherwise).

    With a GitHub target configured, the branch is pushed and a pull request opened or updated.
    """
    say = (lambda m: progress(scrub(m))) if progress else (lambda _: None)
    project_root = Path(project_root).resolve()
    policy = PathPolicy.default(project_root)
    repo = git_toplevel(project_root)
    if repo is not None and rev(repo, base) is None:
        head = rev(repo, "HEAD")
        if head is None:
            repo = None  # a repository without commits: nothing to branch from
        else:
            raise ProposalError(f"base branch {base!r} not found in {repo}; pass --base with an existing branch")
    diff, graph_md = graph_change(repo, base if repo is not None else None, proposal)
    files = proposal_files(proposal, graph_md, base, policy)
    if repo is None:
        folder = project_root / ".proposals" / proposal.pipeline
        folder.mkdir(parents=True, exist_ok=True)
        for rel, text in files.items():
            (folder / Path(rel).name).write_text(text)
        say(f"not a git repository: proposal written to {folder}")
        return Published(
            "folder",
            folder=folder,
            graph_diff=diff,
            files=files,
            instructions=[
                f"review {folder}/PROPOSAL.md, then copy {folder}/defs.yaml to {proposal.folder}/defs.yaml "
                "to approve it",
            ],
        )
    prefix = os.path.relpath(project_root, repo)
    prefix = "" if prefix == "." else prefix.replace(os.sep, "/") + "/"
    blobs = {prefix + rel: text.encode() for rel, text in files.items()}
    result = commit_to_branch(repo, base, proposal.branch, blobs, commit_message(proposal))
    say(
        f"branch {result.branch} {result.status} at {result.commit[:12]} "
        f"(one commit on {base} {result.base_commit[:12]})"
    )
    out = Published(
        "branch", branch=result.branch, commit=result.commit, status=result.status, graph_diff=diff, files=files
    )
    target = github_target(repo) if push else None
    if target is not None:
        say(f"pushing {result.branch} to {target.remote} ({target.repository})")
        push_branch(repo, target, result.branch)
        pr = open_pull_request(
            target,
            result.branch,
            base.removeprefix("origin/"),
            f"Proposal: pipeline {proposal.pipeline}",
            files[f"{proposal.folder}/PROPOSAL.md"],
            http_client,
        )
        out.pr_url = pr.url
        say(f"pull request {'opened' if pr.created else 'updated'}: {pr.url}")
    else:
        out.instructions = [
            f"python -m agent review --base {base} --head {result.branch}",
            f"git diff {base}...{result.branch}",
            f"git merge --no-ff {result.branch}    # approve: run on {base}",
        ]
    return out
