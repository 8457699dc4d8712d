"""The reviewer's check of a proposal branch: do the proposed definitions load, and what do they change?

``python -m agent review --base main --head proposal/x``:

1. lists the files the head changes against the merge base with ``base``; a proposal branch
   (``proposal/*``) may change only ``platform_assets/defs/<pipeline>/defs.yaml`` and
   ``PROPOSAL.md`` (anything else is reported as an error: code changes need a normal review);
2. loads every added or changed ``defs.yaml`` through the component's validation (structure,
   operators, configs, inputs, cycles, allowed locations) and builds its Dagster assets;
3. when run in a checkout of the head, runs ``dagster definitions validate -w workspace.yaml``;
4. prints the asset-graph difference (assets added, removed, changed: code version, deps,
   partitions, checks) between the pipelines at the base and at the head.

The exit status is 0 when everything loads, 1 otherwise.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.proposal import BRANCH_PREFIX, DEFS_DIR, ProposalError, git, git_toplevel, read_at, rev, specs_at
from agent.secrets import scrub
from agent.tools import check_spec
from corpus.spec import PathPolicy, SpecError
from corpus.specfile import defs_attributes_from_text

PROPOSAL_FILE = re.compile(rf"^{re.escape(DEFS_DIR)}/[a-z][a-z0-9_]{{0,47}}/(defs\.yaml|PROPOSAL\.md)$")


@dataclass
class ReviewResult:
    ok: bool
    errors: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    graph_diff: dict[str, Any] = field(default_factory=dict)
    graph_markdown: str = ""
    dagster_validate: str | None = None  # "passed" | "failed: ..." | None (not run)


def current_branch(repo: Path) -> str | None:
    out = git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False)
    return out or None


def review(
    project_root: Path,
    base: str = "main",
    head: str | None = None,
    *,
    run_dagster: bool | None = None,
    out: Callable[[str], None] = print,
) -> ReviewResult:
    """Check ``head`` against ``base``; see the module docstring. ``run_dagster=None``: only in a checkout of the
    head."""
    project_root = Path(project_root).resolve()
    repo = git_toplevel(project_root)
    if repo is None:
        raise ProposalError(f"{project_root} is not a git repository; review works on branches")
    head = head or current_branch(repo) or "HEAD"
    base_commit, head_commit = rev(repo, base), rev(repo, head)
    if base_commit is None:
        raise ProposalError(f"base {base!r} not found; pass --base (e.g. main or origin/main)")
    if head_commit is None:
        branches = git(repo, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{BRANCH_PREFIX}").splitlines()
        raise ProposalError(f"head {head!r} not found; proposal branches: {', '.join(branches) or 'none'}")
    result = ReviewResult(ok=True)
    merge_base = git(repo, "merge-base", base_commit, head_commit, check=False) or base_commit
    prefix = _prefix(project_root, repo)
    changed = [
        line.split("\t")
        for line in git(repo, "diff", "--name-status", "--no-renames", merge_base, head_commit).splitlines()
        if line
    ]
    out(f"review {head} ({head_commit[:12]}) against {base} ({base_commit[:12]}): {len(changed)} changed files")
    policy = PathPolicy.default(project_root)
    is_proposal = head.removeprefix("origin/").startswith(BRANCH_PREFIX)
    for status, path in ((c[0], c[-1]) for c in changed):
        rel = path[len(prefix) :] if path.startswith(prefix) else path
        if is_proposal and not PROPOSAL_FILE.match(rel):
            result.errors.append(
                f"{path}: a proposal may only change {DEFS_DIR}/<pipeline>/defs.yaml and PROPOSAL.md; "
                "this file needs a normal code review"
            )
        if not rel.endswith("/defs.yaml") or not rel.startswith(DEFS_DIR + "/"):
            continue
        if status == "D":
            out(f"  {path}: removed (its pipeline's assets go away)")
            continue
        result.checked.append(path)
        problems = _check_defs(read_at(repo, head_commit, path) or "", policy, rel)
        if problems:
            result.errors += [f"{path}: {p}" for p in problems]
            out(f"  {path}: INVALID")
            for p in problems:
                out(f"    - {p}")
        else:
            out(f"  {path}: loads (validated, assets built)")
    if run_dagster is None:
        run_dagster = rev(repo, "HEAD") == head_commit and (project_root / "workspace.yaml").exists()
    if run_dagster:
        result.dagster_validate = _dagster_validate(project_root)
        out(f"  dagster definitions validate: {result.dagster_validate}")
        if result.dagster_validate != "passed":
            result.errors.append(f"dagster definitions validate {result.dagster_validate}")
    result.graph_diff, result.graph_markdown = _graph(repo, base_commit, head_commit, policy, result)
    out("")
    out(
        f"asset graph: {len(result.graph_diff.get('added', []))} added, {len(result.graph_diff.get('removed', []))} "
        f"removed, {len(result.graph_diff.get('changed', {}))} changed"
    )
    out(result.graph_markdown)
    result.ok = not result.errors
    out("review passed" if result.ok else f"review FAILED ({len(result.errors)} problems)")
    return result


def _prefix(project_root: Path, repo: Path) -> str:
    rel = project_root.relative_to(repo).as_posix()
    return "" if rel == "." else rel + "/"


def _check_defs(text: str, policy: PathPolicy, rel: str) -> list[str]:
    try:
        attributes = defs_attributes_from_text(text, rel)  # the envelope: type, Dagster's own keys, templates, size
    except SpecError as exc:
        return [str(i) for i in exc.issues]
    spec, issues = check_spec(attributes, policy)
    problems = [str(i) for i in issues]
    folder = rel.split("/")[-2]
    if spec is not None and not issues and spec.pipeline != folder:
        problems.append(f"pipeline: {spec.pipeline!r} differs from its folder {folder!r}; name them alike")
    return problems


def _dagster_validate(project_root: Path) -> str:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
            cwd=project_root,
            capture_output=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        return "failed: timed out after 600s"
    if proc.returncode == 0:
        return "passed"
    tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-8:]
    return scrub("failed: " + " | ".join(tail))


def _graph(
    repo: Path, base_commit: str, head_commit: str, policy: PathPolicy, result: ReviewResult
) -> tuple[dict[str, Any], str]:
    from platform_assets.graph import asset_graph_snapshot, graph_diff, render_graph_diff_markdown

    old_specs, _ = specs_at(repo, base_commit, policy)
    new_specs, _ = specs_at(repo, head_commit, policy)
    try:
        old = asset_graph_snapshot(list(old_specs.values()))
        new = asset_graph_snapshot(list(new_specs.values()))
    except Exception as exc:
        result.errors.append(f"asset graph: cannot be built: {type(exc).__name__}: {exc}")
        return {}, ""
    diff = graph_diff(old, new)
    return diff, render_graph_diff_markdown(diff, new, old)
