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
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.dryrun import DryRunResult
from agent.report import reviewer_sections
from agent.secrets import scrub
from agent.tools import ToolCall
from agent.untrusted_text import escape_markup, plain_line, verbatim_block
from corpus.spec import PathPolicy, PipelineSpec, SpecError, load_spec, spec_to_yaml
from corpus.specfile import COMPONENT_TYPE, defs_attributes_from_text

DEFS_DIR = "platform_assets/defs"
BRANCH_PREFIX = "proposal/"
FALLBACK_IDENTITY = {"name": "corpus-platform proposals", "email": "proposals@corpus-platform.invalid"}
GITHUB_API = "https://api.github.com"


class ProposalError(RuntimeError):
    """The proposal could not be written, committed or published; the message says why and what to do."""


@dataclass
class Proposal:
    """Everything a reviewer needs: goal, spec, rationale, profiles, dry run, who planned it."""

    goal: str
    spec: PipelineSpec
    rationale: str
    profiles: dict[str, dict[str, Any]]
    dry_run: DryRunResult
    planner: str
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def pipeline(self) -> str:
        return self.spec.pipeline

    @property
    def branch(self) -> str:
        return f"{BRANCH_PREFIX}{self.spec.pipeline}"

    @property
    def folder(self) -> str:
        return f"{DEFS_DIR}/{self.spec.pipeline}"


def proposal_from_toolbox(goal: str, toolbox: Any, planner: str) -> Proposal:
    """The submitted proposal of a session, with a profile for every source of its spec."""
    from agent.profile import profile_sample
    from agent.sources import read_sample, source_files

    sub = toolbox.submitted
    if sub is None:
        raise ProposalError("no proposal was submitted")
    profiles: dict[str, dict[str, Any]] = {}
    for src in sub.spec.sources:
        known = toolbox.profiles.get(src.name)
        if known is not None and known.get("source", {}).get("location") == src.location:
            profiles[src.name] = known
            continue
        sample = read_sample(src, toolbox.policy, toolbox.limits.profile_docs, max_bytes=toolbox.limits.read_max_bytes)
        profiles[src.name] = profile_sample(sample, toolbox.limits.profile_max_bytes)
        profiles[src.name]["files"] = len(source_files(src, toolbox.policy))
    return Proposal(
        scrub(goal), scrub_spec(sub.spec), scrub(sub.rationale), profiles, sub.dry_run, planner, list(toolbox.calls)
    )


def scrub_spec(spec: PipelineSpec) -> PipelineSpec:
    """``spec`` with any secret in its strings replaced by ``[redacted]`` (still a valid spec string)."""
    text = spec.model_dump_json()
    clean = scrub(text)
    return spec if clean == text else PipelineSpec.model_validate_json(clean)


# --- rendering -----------------------------------------------------------------------------------


def render_defs_yaml(proposal: Proposal) -> str:
    body = spec_to_yaml(proposal.spec)
    text = (
        f"# Proposed pipeline {proposal.pipeline!r} ({proposal.planner}); the evidence is in PROPOSAL.md beside this file.\n"
        f"type: {COMPONENT_TYPE}\nattributes:\n"
        + "".join(f"  {line}\n" if line else "\n" for line in body.splitlines())
    )
    return scrub(text)


def check_defs_yaml(text: str, policy: PathPolicy) -> PipelineSpec:
    """Load rendered defs.yaml text exactly as the component will (raises SpecError)."""
    return load_spec(defs_attributes_from_text(text, "defs.yaml"), policy, where="defs.yaml")


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _pct(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


def profile_table(profiles: dict[str, dict[str, Any]]) -> str:
    ops = sorted({op for p in profiles.values() for op in p.get("quality", {})})
    head = [
        "source",
        "format",
        "files",
        "docs sampled",
        "HTML",
        "languages",
        "words p10/p50/p90",
        "exact dup",
        "near dup",
        "PII hits",
    ]
    head += [f"drop: {op}" for op in ops]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, p in profiles.items():
        langs = ", ".join(f"{x['language']} {_pct(x['share'])}" for x in p.get("languages", [])[:3])
        if p.get("languages_seen", 0) > 3:
            langs += f" (+{p['languages_seen'] - 3})"
        w = p.get("length_words", {})
        dup = p.get("duplicates", {})
        pii = p.get("pii", {})
        row = [
            name,
            p.get("source", {}).get("format", "?"),
            p.get("files", "?"),
            p.get("sample", {}).get("documents", 0),
            _pct(p.get("html_share")),
            langs or "-",
            f"{w.get('p10', 0)}/{w.get('p50', 0)}/{w.get('p90', 0)}" if w else "-",
            _pct(dup.get("exact_share")),
            _pct(dup.get("near_share")),
            pii.get("total_hits", 0),
        ]
        row += [_pct(p.get("quality", {}).get(op, {}).get("drop_share")) for op in ops]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def dry_run_table(result: DryRunResult) -> str:
    lines = ["| stage | source | in | kept | dropped | top drop reasons |", "|---|---|---|---|---|---|"]
    for r in result.rows:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.dropped.items(), key=lambda x: -x[1])[:3])
        if r.quarantined:
            reasons += (
                (", " if reasons else "") + "quarantined: " + ", ".join(f"{k} {v}" for k, v in r.quarantined.items())
            )
        src = r.source + (" (passes through)" if r.passthrough else "")
        lines.append(
            f"| {_cell(r.stage)} | {_cell(src)} | {r.docs_in} | {r.kept} | {r.dropped_total} | {_cell(reasons) or '-'} |"
        )
    return "\n".join(lines)


def _examples_block(result: DryRunResult) -> str:
    if not result.examples:
        return ""
    out = ["<details><summary>Example drops (text from the data, shortened)</summary>", ""]
    for stage, rows in result.examples.items():
        for ex in rows:
            text = str(ex.get("text", "")).replace("```", "'''")
            out += [
                f"- `{stage}` / `{ex.get('source')}`: {ex.get('reason')}",
                "",
                "  ```text",
                *[f"  {line}" for line in text.splitlines()[:6]],
                "  ```",
            ]
    out += ["", "</details>"]
    return "\n".join(out)


def render_proposal_md(proposal: Proposal, graph_md: str, base: str) -> str:
    sources = ["| source | location | format | options |", "|---|---|---|---|"]
    for s in proposal.spec.sources:
        opts = s.model_dump(mode="json", exclude_defaults=True)
        opts = {k: v for k, v in opts.items() if k not in ("name", "location", "format")}
        options = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in opts.items())
        sources.append(f"| {s.name} | `{_cell(s.location)}` | {s.format} | {_cell(options) if options else '-'} |")
    kept = proposal.dry_run.final_kept()
    raw = {r.source: r.docs_in for r in proposal.dry_run.rows if r.stage == "raw"}
    summary = ", ".join(f"{s}: {kept[s]} of {raw.get(s, '?')} kept" for s in kept)
    md = f"""# Proposal: pipeline `{proposal.pipeline}`

Proposed by the {proposal.planner}. A person reviews this pull request; merging it is the approval,
and only merged definitions are loaded by Dagster.

## Goal

{verbatim_block(proposal.goal)}

## Sources

{chr(10).join(sources)}

## Data profile

Measured on a sample of each source (records drawn at random over its files, seeded) with the platform's own
operators, on the text the filters see (extracted, normalized); "drop" columns are the share of the sample each
quality filter would drop with its default config.

{profile_table(proposal.profiles)}

## Rationale

{escape_markup(proposal.rationale.strip())}

## Dry run

The spec run on {proposal.dry_run.n} records drawn over each source ({summary}; no tokenizer trained).

{dry_run_table(proposal.dry_run)}

{_examples_block(proposal.dry_run)}

{reviewer_sections(proposal)}

## Asset graph changes against `{base}`

{graph_md}
## How to review

```bash
python -m agent review --base {base} --head {proposal.branch}   # validate the definitions, show the graph change
git diff {base}...{proposal.branch}
git merge --no-ff {proposal.branch}                             # approve: merge into {base}
```
"""
    return scrub(md)


# --- git -----------------------------------------------------------------------------------------


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
            f"{branch} is checked out in {repo}; switch to another branch first, so the working tree is not changed under you"
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
    from agent.tools import check_spec

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


# --- graph difference ----------------------------------------------------------------------------


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


# --- GitHub --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitHubTarget:
    repository: str  # owner/name
    remote: str
    token: str = field(repr=False)
    api_url: str = GITHUB_API

    def __repr__(self) -> str:
        return f"GitHubTarget(repository={self.repository!r}, remote={self.remote!r}, api_url={self.api_url!r})"


def parse_github_slug(url: str) -> str | None:
    m = re.match(
        r"^(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)([\w.\-]+/[\w.\-]+?)(?:\.git)?/?$",
        url,
    )
    return m.group(1) if m else None


def github_target(repo: Path, remote: str = "origin", env: dict[str, str] | None = None) -> GitHubTarget | None:
    """Where to push and open the pull request, when a token and a GitHub remote are configured."""
    env = dict(os.environ) if env is None else env
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        return None
    url = git(repo, "remote", "get-url", remote, check=False)
    if not url:
        return None
    slug = env.get("GITHUB_REPOSITORY") or parse_github_slug(url)
    if not slug:
        return None
    return GitHubTarget(slug, remote, token, env.get("GITHUB_API_URL", GITHUB_API).rstrip("/"))


def credential_scope(remote_url: str, api_url: str) -> str:
    """The URL prefix git sends the token to: the remote's host for an HTTP(S) remote, else the API's web host."""
    parts = urlsplit(remote_url)
    if parts.scheme in ("http", "https") and parts.hostname:
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/"
    api = urlsplit(api_url)
    host = api.hostname or "github.com"
    host = "github.com" if host == "api.github.com" else host  # GitHub Enterprise serves git and the API on one host
    return f"{api.scheme or 'https'}://{host}{f':{api.port}' if api.port else ''}/"


def push_branch(repo: Path, target: GitHubTarget, branch: str) -> None:
    """Force-push ``branch`` to the remote; the token goes in an HTTP header set through the environment."""
    basic = base64.b64encode(f"x-access-token:{target.token}".encode()).decode()
    scope = credential_scope(git(repo, "remote", "get-url", target.remote), target.api_url)
    env = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{scope}.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }
    git(repo, "push", "--force", target.remote, f"refs/heads/{branch}:refs/heads/{branch}", env=env)


@dataclass
class PullRequest:
    url: str
    number: int
    created: bool


def open_pull_request(
    target: GitHubTarget, branch: str, base: str, title: str, body: str, client: Any = None
) -> PullRequest:
    """Open a pull request for ``branch`` into ``base``, or update the open one (GitHub REST API)."""
    import httpx

    headers = {
        "Authorization": f"Bearer {target.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "corpus-platform-proposals",
    }
    owner = target.repository.split("/")[0]
    title, body = scrub(title), scrub(body)
    own_client = client is None
    http = client or httpx.Client(timeout=30.0)
    try:
        api = f"{target.api_url}/repos/{target.repository}/pulls"
        resp = http.post(
            api,
            headers=headers,
            json={"title": title, "head": branch, "base": base, "body": body, "maintainer_can_modify": True},
        )
        if resp.status_code == 201:
            data = resp.json()
            return PullRequest(data["html_url"], int(data["number"]), True)
        if resp.status_code == 422 and "already exists" in resp.text:
            found = http.get(api, headers=headers, params={"head": f"{owner}:{branch}", "state": "open"})
            _raise_for(found, "listing pull requests")
            pulls = found.json()
            if not pulls:
                raise ProposalError(
                    f"GitHub says a pull request for {branch} exists but lists none open; open it by hand"
                )
            number = int(pulls[0]["number"])
            upd = http.patch(f"{api}/{number}", headers=headers, json={"title": title, "body": body})
            _raise_for(upd, "updating the pull request")
            return PullRequest(upd.json()["html_url"], number, False)
        _raise_for(resp, "opening the pull request")
        raise ProposalError(f"GitHub answered {resp.status_code} when opening the pull request")
    finally:
        if own_client:
            http.close()


def _raise_for(resp: Any, what: str) -> None:
    if resp.status_code >= 400:
        try:
            message = resp.json().get("message", "")
        except ValueError:
            message = resp.text[:300]
        raise ProposalError(scrub(f"GitHub API error {resp.status_code} {what}: {message}"))


# --- publishing ----------------------------------------------------------------------------------


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
    """Write the proposal as a branch (git repo) or a folder (.proposals/<pipeline>/ otherwise); push and open a PR when configured."""
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
                f"review {folder}/PROPOSAL.md, then copy {folder}/defs.yaml to {proposal.folder}/defs.yaml to approve it",
            ],
        )
    prefix = os.path.relpath(project_root, repo)
    prefix = "" if prefix == "." else prefix.replace(os.sep, "/") + "/"
    blobs = {prefix + rel: text.encode() for rel, text in files.items()}
    result = commit_to_branch(repo, base, proposal.branch, blobs, commit_message(proposal))
    say(
        f"branch {result.branch} {result.status} at {result.commit[:12]} (one commit on {base} {result.base_commit[:12]})"
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
