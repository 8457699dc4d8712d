"""Git plumbing for proposal branches: one commit on a base through a temporary index.

``read-tree`` / ``hash-object`` / ``update-index`` / ``write-tree`` / ``commit-tree`` / ``update-ref``:
the user's working tree, index and current branch are never touched, and only ``proposal/*``
branches are written.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.proposal.model import BRANCH_PREFIX, DEFS_DIR, ProposalError
from agent.secrets import scrub
from corpus.spec import PathPolicy, PipelineSpec, SpecError
from corpus.specfile import defs_attributes_from_text

FALLBACK_IDENTITY = {"name": "corpus-platform proposals", "email": "proposals@corpus-platform.invalid"}


def git(
    repo: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, check: bool = True
) -> str:
    """Run git in ``repo``; raise ProposalError with git's message (scrubbed) on failure."""
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    proc = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, env=full_env, timeout=120)
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip() or proc.stdout.decode("utf-8", "replace").strip()
        raise ProposalError(scrub(f"git {args[0]} failed in {repo}: {msg}"))
    return proc.stdout.decode("utf-8", "replace").strip()


def git_toplevel(path: Path) -> Path | None:
    try:
        proc = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.decode().strip())


def rev(repo: Path, ref: str) -> str | None:
    out = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return out or None


def _identity_env(repo: Path) -> dict[str, str]:
    """Author/committer from git config when set, else a fixed project identity (never the host's)."""
    env: dict[str, str] = {}
    name = git(repo, "config", "user.name", check=False)
    email = git(repo, "config", "user.email", check=False)
    for role in ("AUTHOR", "COMMITTER"):
        if not (os.environ.get(f"GIT_{role}_NAME") or name):
            env[f"GIT_{role}_NAME"] = FALLBACK_IDENTITY["name"]
        if not (os.environ.get(f"GIT_{role}_EMAIL") or email):
            env[f"GIT_{role}_EMAIL"] = FALLBACK_IDENTITY["email"]
    return env


@dataclass
class BranchResult:
    branch: str
    commit: str
    base_commit: str
    status: str  # "created" | "replaced" | "unchanged"


def commit_to_branch(repo: Path, base: str, branch: str, files: dict[str, bytes], message: str) -> BranchResult:
    """One commit on top of ``base`` with ``files`` added/replaced, stored as ``branch``. Touches no working tree."""
    if not branch.startswith(BRANCH_PREFIX):
        raise ProposalError(f"refusing to write branch {branch!r}: proposals only write {BRANCH_PREFIX}* branches")
    base_commit = rev(repo, base)
    if base_commit is None:
        raise ProposalError(
            f"base {base!r} is not a branch or commit of {repo}; pass --base with an existing branch (e.g. main)"
        )
    ref = f"refs/heads/{branch}"
    head_ref = git(repo, "symbolic-ref", "-q", "HEAD", check=False)
    if head_ref == ref:
        raise ProposalError(
            f"{branch} is checked out in {repo}; switch to another branch first, "
            "so the working tree is not changed under you"
        )
    with tempfile.TemporaryDirectory(prefix="proposal-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, "read-tree", base_commit, env=env)
        for path, data in sorted(files.items()):
            blob = git(repo, "hash-object", "-w", "--stdin", input=data)
            git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(repo, "write-tree", env=env)
    old = rev(repo, ref)
    if old is not None:
        old_tree = git(repo, "rev-parse", f"{old}^{{tree}}")
        old_parents = git(repo, "rev-list", "--parents", "-n", "1", old).split()[1:]
        if old_tree == tree and old_parents == [base_commit]:
            return BranchResult(branch, old, base_commit, "unchanged")
    commit = git(
        repo, "commit-tree", tree, "-p", base_commit, "-F", "-", input=scrub(message).encode(), env=_identity_env(repo)
    )
    args = ["update-ref", "-m", f"proposal: {branch}", ref, commit]
    args.append(old if old is not None else "0" * 40)  # compare-and-swap: fail if someone moved it meanwhile
    git(repo, *args)
    return BranchResult(branch, commit, base_commit, "replaced" if old else "created")


def read_at(repo: Path, commit: str, path: str) -> str | None:
    out = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, timeout=60)
    return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else None


def specs_at(
    repo: Path, commit: str, policy: PathPolicy | None = None
) -> tuple[dict[str, PipelineSpec], dict[str, str]]:
    """The valid pipeline specs under platform_assets/defs at ``commit`` (and the problems of the others)."""
    from agent.spec_check import check_spec

    names = git(repo, "ls-tree", "-r", "--name-only", commit, "--", DEFS_DIR).splitlines()
    specs: dict[str, PipelineSpec] = {}
    problems: dict[str, str] = {}
    for path in names:
        if not path.endswith("/defs.yaml"):
            continue
        text = read_at(repo, commit, path) or ""
        try:
            attributes = defs_attributes_from_text(text, path)
        except SpecError as exc:
            problems[path] = "; ".join(str(i) for i in exc.issues)
            continue
        spec, issues = check_spec(attributes, policy or PathPolicy.default(repo), build=False)
        if issues or spec is None:
            problems[path] = "; ".join(str(i) for i in issues)
        else:
            specs[path] = spec
    return specs, problems
