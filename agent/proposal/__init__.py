"""A finished proposal -> files, a git branch with one commit, and (when configured) a pull request.

Deterministic code outside the model's loop. The branch ``proposal/<pipeline>`` gets one
commit on top of the base branch that adds or changes
``platform_assets/defs/<pipeline>/defs.yaml`` and ``PROPOSAL.md``. The commit is made with
git plumbing and a temporary index (``read-tree`` / ``hash-object`` / ``update-index`` /
``write-tree`` / ``commit-tree`` / ``update-ref``): the user's working tree, index and
current branch are never touched, and nothing is ever committed to the base branch.
Re-running replaces the branch (or leaves it as it is when the content is the same).

With a GitHub remote and ``GITHUB_TOKEN`` set, the branch is pushed and a pull request is
opened (or updated) through the GitHub REST API; otherwise the commands to review and
merge locally are printed. Secrets never reach PROPOSAL.md, the commit, the logs or the
pull request: all text is scrubbed (:mod:`agent.secrets`), and the token travels only in
an HTTP header (for ``git push`` through ``GIT_CONFIG_*`` environment variables, never on
a command line).

Split by concern: :mod:`~agent.proposal.model` (the proposal), :mod:`~agent.proposal.markdown`
(defs.yaml and PROPOSAL.md), :mod:`~agent.proposal.gitrepo` (git plumbing),
:mod:`~agent.proposal.github` (push credential, REST API) and :mod:`~agent.proposal.publishing`.
"""

from __future__ import annotations

from agent.proposal.github import (
    GITHUB_API,
    GitHubTarget,
    PullRequest,
    credential_scope,
    github_target,
    open_pull_request,
    parse_github_slug,
    push_branch,
)
from agent.proposal.gitrepo import (
    FALLBACK_IDENTITY,
    BranchResult,
    commit_to_branch,
    git,
    git_toplevel,
    read_at,
    rev,
    specs_at,
)
from agent.proposal.markdown import (
    check_defs_yaml,
    dry_run_table,
    profile_table,
    render_defs_yaml,
    render_proposal_md,
)
from agent.proposal.model import BRANCH_PREFIX, DEFS_DIR, Proposal, ProposalError, proposal_from_toolbox, scrub_spec
from agent.proposal.publishing import Published, commit_message, graph_change, proposal_files, publish

__all__ = [
    "BRANCH_PREFIX",
    "DEFS_DIR",
    "FALLBACK_IDENTITY",
    "GITHUB_API",
    "BranchResult",
    "GitHubTarget",
    "Proposal",
    "ProposalError",
    "Published",
    "PullRequest",
    "check_defs_yaml",
    "commit_message",
    "commit_to_branch",
    "credential_scope",
    "dry_run_table",
    "git",
    "git_toplevel",
    "github_target",
    "graph_change",
    "open_pull_request",
    "parse_github_slug",
    "profile_table",
    "proposal_files",
    "proposal_from_toolbox",
    "publish",
    "push_branch",
    "read_at",
    "render_defs_yaml",
    "render_proposal_md",
    "rev",
    "scrub_spec",
    "specs_at",
]
