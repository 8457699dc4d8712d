"""GitHub: where to push, the push credential's scope, and the pull request (REST API).

The token travels only in HTTP headers: for ``git push`` through ``GIT_CONFIG_*`` environment
variables, scoped to the remote's host (github.com or a GitHub Enterprise server), never on a
command line.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.proposal.gitrepo import git
from agent.proposal.model import ProposalError
from agent.secrets import scrub

GITHUB_API = "https://api.github.com"


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
