"""Proposals as branches and pull requests: plumbing that never touches the working tree, merge, GitHub, secrets."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import httpx
import pytest
import yaml

from agent.loop import AgentConfig
from agent.proposal import (
    GitHubTarget,
    ProposalError,
    commit_to_branch,
    open_pull_request,
    parse_github_slug,
    proposal_from_toolbox,
    publish,
    specs_at,
)
from agent.propose import propose
from agent.tools import Toolbox
from tests.agent.helpers import (
    FAKE_ANTHROPIC_KEY,
    FAKE_GITHUB_TOKEN,
    ScriptedModel,
    git,
    message,
    notes_records,
    notes_spec,
    repo_state,
    tool_use,
    write_jsonl,
)


def submitted(repo: Path, spec: dict, rationale: str = "the notes, normalized, filtered, deduplicated and redacted"):
    toolbox = Toolbox(repo, ["data/sources/notes"])
    result = toolbox.call("submit_proposal", {"spec": spec, "rationale": rationale})
    assert not result.is_error, result.content
    return proposal_from_toolbox("clean English notes", toolbox, "offline planner")


def test_branch_is_made_without_touching_the_checkout(temp_repo: Path) -> None:
    (temp_repo / "README.md").write_text("a local edit the user has not committed\n")
    (temp_repo / "scratch.txt").write_text("untracked\n")
    git(temp_repo, "add", "scratch.txt")  # something staged, too
    before = repo_state(temp_repo)
    first = commit_to_branch(
        temp_repo, "main", "proposal/x", {"platform_assets/defs/x/defs.yaml": b"a: 1\n"}, "Propose x"
    )
    assert first.status == "created" and git(temp_repo, "rev-parse", "proposal/x~1") == before["main"]
    assert git(temp_repo, "show", "proposal/x:platform_assets/defs/x/defs.yaml") == "a: 1"
    assert (
        git(temp_repo, "show", "proposal/x:README.md") == "scratch repository for tests"
    )  # base content, not the local edit
    again = commit_to_branch(
        temp_repo, "main", "proposal/x", {"platform_assets/defs/x/defs.yaml": b"a: 1\n"}, "Propose x"
    )
    assert again.status == "unchanged" and again.commit == first.commit  # idempotent
    changed = commit_to_branch(
        temp_repo, "main", "proposal/x", {"platform_assets/defs/x/defs.yaml": b"a: 2\n"}, "Propose x"
    )
    assert changed.status == "replaced" and git(temp_repo, "rev-list", "--count", "main..proposal/x") == "1"
    assert repo_state(temp_repo) == before


def test_branch_rules(temp_repo: Path) -> None:
    with pytest.raises(ProposalError, match="only write proposal/"):
        commit_to_branch(temp_repo, "main", "main", {"a": b"x"}, "m")
    with pytest.raises(ProposalError, match="base 'trunk' is not a branch"):
        commit_to_branch(temp_repo, "trunk", "proposal/x", {"a": b"x"}, "m")
    git(temp_repo, "checkout", "-q", "-b", "proposal/x")
    with pytest.raises(ProposalError, match="is checked out"):
        commit_to_branch(temp_repo, "main", "proposal/x", {"a": b"x"}, "m")


def load_with_dagster(repo: Path, folder: str) -> dict:
    """Load a merged defs folder the way Dagster loads YAML components, and snapshot its asset graph."""
    from dagster.components.testing import create_defs_folder_sandbox

    from platform_assets.graph import defs_snapshot

    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "main", folder], capture_output=True, check=True
    ).stdout
    with create_defs_folder_sandbox() as sandbox:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(sandbox.defs_folder_path.parent / "checkout", filter="data")
        shutil.copytree(
            sandbox.defs_folder_path.parent / "checkout" / folder, sandbox.defs_folder_path / Path(folder).name
        )
        with sandbox.build_all_defs() as defs:
            return defs_snapshot(defs)


def test_merged_proposal_loads_and_changes_show_in_the_graph(temp_repo: Path) -> None:
    published = publish(submitted(temp_repo, notes_spec()), temp_repo)
    assert published.branch == "proposal/notes_clean" and published.pr_url is None
    assert published.instructions[-1].startswith("git merge --no-ff proposal/notes_clean")
    assert sorted(published.graph_diff["added"])[:2] == ["notes_clean/deduped", "notes_clean/deduped_index"]
    git(temp_repo, "merge", "-q", "--no-ff", "proposal/notes_clean", "-m", "Approve notes_clean")
    snapshot = load_with_dagster(temp_repo, "platform_assets/defs/notes_clean")
    assert {"notes_clean/raw", "notes_clean/quality", "notes_clean/deduped_index", "notes_clean/tokenized"} <= set(
        snapshot
    )
    assert snapshot["notes_clean/quality"]["deps"] == ["notes_clean/normalized"]
    assert snapshot["notes_clean/raw"]["partitions"] == "static[notes]"
    specs, problems = specs_at(temp_repo, "main")
    assert {s.pipeline for s in specs.values()} == {"demo", "notes_clean"} and not problems

    # a second proposal changes the merged pipeline: a looser filter, no redaction
    v2 = notes_spec()
    v2["stages"][1] = {"name": "quality", "op": "gopher_quality@1", "config": {"min_doc_words": 20}}
    del v2["stages"][3]
    second = publish(submitted(temp_repo, v2), temp_repo)
    diff = second.graph_diff
    assert diff["added"] == [] and diff["removed"] == ["notes_clean/redacted"]
    assert "code_version" in diff["changed"]["notes_clean/quality"]
    assert diff["changed"]["notes_clean/tokenizer"]["deps"] == {
        "old": ["notes_clean/redacted"],
        "new": ["notes_clean/deduped"],
    }
    md = git(temp_repo, "show", "proposal/notes_clean:platform_assets/defs/notes_clean/PROPOSAL.md")
    assert "**Removed** (1 assets)" in md and "`notes_clean/redacted`" in md and "**Changed**" in md


def test_outside_a_git_repository_the_proposal_goes_to_a_folder(temp_repo: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(temp_repo, plain, ignore=shutil.ignore_patterns(".git"))
    published = publish(submitted(plain, notes_spec()), plain)
    assert published.where == "folder" and published.folder == plain / ".proposals" / "notes_clean"
    doc = yaml.safe_load((published.folder / "defs.yaml").read_text())
    assert (
        doc["type"] == "platform_assets.components.PipelineComponent" and doc["attributes"]["pipeline"] == "notes_clean"
    )
    assert (published.folder / "PROPOSAL.md").exists()


class FakeGitHub:
    """The pull-request endpoints of the GitHub REST API, in memory."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.pulls: dict[int, dict] = {}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path == "/repos/acme/corpus/pulls":
            body = json.loads(request.content)
            if any(p["head"] == body["head"] for p in self.pulls.values()):
                return httpx.Response(
                    422,
                    json={
                        "message": "Validation Failed",
                        "errors": [{"message": f"A pull request already exists for acme:{body['head']}."}],
                    },
                )
            number = len(self.pulls) + 1
            self.pulls[number] = {**body, "number": number, "html_url": f"https://github.com/acme/corpus/pull/{number}"}
            return httpx.Response(201, json=self.pulls[number])
        if request.method == "GET" and path == "/repos/acme/corpus/pulls":
            head = request.url.params["head"].split(":", 1)[1]
            return httpx.Response(200, json=[p for p in self.pulls.values() if p["head"] == head])
        if request.method == "PATCH" and path.startswith("/repos/acme/corpus/pulls/"):
            number = int(path.rsplit("/", 1)[1])
            self.pulls[number].update(json.loads(request.content))
            return httpx.Response(200, json=self.pulls[number])
        return httpx.Response(404, json={"message": "Not Found"})


def test_push_and_pull_request_through_the_github_api(
    temp_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(temp_repo, "remote", "add", "origin", str(remote))
    monkeypatch.setenv("GITHUB_TOKEN", FAKE_GITHUB_TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/corpus")
    monkeypatch.setenv("GITHUB_API_URL", "https://api.github.test")
    fake = FakeGitHub()
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    lines: list[str] = []
    first = publish(submitted(temp_repo, notes_spec()), temp_repo, http_client=client, progress=lines.append)
    assert first.pr_url == "https://github.com/acme/corpus/pull/1"
    assert git(remote, "rev-parse", "proposal/notes_clean") == first.commit  # pushed
    create = fake.requests[0]
    assert create.url.host == "api.github.test" and create.headers["authorization"] == f"Bearer {FAKE_GITHUB_TOKEN}"
    body = json.loads(create.content)
    assert body["head"] == "proposal/notes_clean" and body["base"] == "main" and "## Dry run" in body["body"]
    # a revised proposal force-pushes and updates the open pull request
    v2 = notes_spec(description="English notes, second version")
    second = publish(submitted(temp_repo, v2), temp_repo, http_client=client, progress=lines.append)
    assert second.pr_url == first.pr_url and [r.method for r in fake.requests] == ["POST", "POST", "GET", "PATCH"]
    assert git(remote, "rev-parse", "proposal/notes_clean") == second.commit
    assert "pull request updated" in lines[-1]
    for request in fake.requests:
        assert FAKE_GITHUB_TOKEN not in request.content.decode()  # only in the Authorization header
    assert not any(FAKE_GITHUB_TOKEN in line for line in lines)


def test_github_api_errors_are_reported_without_the_token() -> None:
    target = GitHubTarget("acme/corpus", "origin", FAKE_GITHUB_TOKEN, "https://api.github.test")
    assert FAKE_GITHUB_TOKEN not in repr(target)
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(403, json={"message": f"Bad credentials for {FAKE_GITHUB_TOKEN}"})
        )
    )
    with pytest.raises(ProposalError) as exc:
        open_pull_request(target, "proposal/x", "main", "t", "b", client)
    assert "GitHub API error 403" in str(exc.value) and FAKE_GITHUB_TOKEN not in str(exc.value)
    assert parse_github_slug("git@github.com:acme/corpus.git") == "acme/corpus"
    assert parse_github_slug("https://github.com/acme/corpus") == "acme/corpus"
    assert parse_github_slug("/srv/git/corpus.git") is None


def test_secrets_appear_nowhere(temp_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake keys in the environment, a token inside a document, the key echoed by the model: all scrubbed."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_ANTHROPIC_KEY)
    monkeypatch.setenv("GITHUB_TOKEN", FAKE_GITHUB_TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/corpus")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(temp_repo, "remote", "add", "origin", str(remote))
    write_jsonl(temp_repo / "data" / "sources" / "notes" / "notes.jsonl", notes_records(secret=FAKE_GITHUB_TOKEN))
    leaky = notes_spec(description=f"notes; key {FAKE_ANTHROPIC_KEY}")
    model = ScriptedModel(
        [
            message(tool_use("sample_documents", {"source": "notes", "n": 3})),
            message(tool_use("dry_run", {"spec": leaky, "n": 40})),
            message(
                tool_use(
                    "submit_proposal",
                    {
                        "spec": leaky,
                        "rationale": f"Found a token {FAKE_GITHUB_TOKEN} in a document; "
                        f"my key is {FAKE_ANTHROPIC_KEY}.",
                    },
                )
            ),
        ]
    )
    fake = FakeGitHub()
    lines: list[str] = []
    proposal, published = propose(
        f"clean notes {FAKE_ANTHROPIC_KEY}",
        ["data/sources/notes"],
        temp_repo,
        planner="claude",
        client=model.client(),
        agent_config=AgentConfig(model="m", max_turns=5),
        http_client=httpx.Client(transport=httpx.MockTransport(fake.handler)),
        progress=lines.append,
    )
    texts = {
        "PROPOSAL.md": git(temp_repo, "show", "proposal/notes_clean:platform_assets/defs/notes_clean/PROPOSAL.md"),
        "defs.yaml": git(temp_repo, "show", "proposal/notes_clean:platform_assets/defs/notes_clean/defs.yaml"),
        "commit": git(temp_repo, "log", "-1", "--format=%B", "proposal/notes_clean"),
        "logs": "\n".join(lines),
        "pull request": "\n".join(r.content.decode() for r in fake.requests),
        "tool results": json.dumps([m for req in model.requests for m in req["messages"] if m["role"] == "user"]),
    }
    assert "sample_documents" in texts["logs"] and "[redacted]" in texts["PROPOSAL.md"]
    for where, content in texts.items():
        assert FAKE_ANTHROPIC_KEY not in content, f"the API key leaked into {where}"
        assert FAKE_GITHUB_TOKEN not in content, f"the GitHub token leaked into {where}"
    assert published.pr_url is not None and proposal.spec.description == "notes; key [redacted]"


def test_push_credential_is_scoped_to_the_remote_host(temp_repo: Path) -> None:
    """A GitHub Enterprise remote gets the token too (it was sent only to https://github.com/)."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from agent.proposal import credential_scope, push_branch

    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # git's first smart-HTTP request: /info/refs?service=git-receive-pack
            seen.append(self.headers.get("Authorization"))
            self.send_response(403)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        git(temp_repo, "remote", "add", "ghe", f"http://127.0.0.1:{port}/acme/corpus.git")
        git(temp_repo, "branch", "-f", "proposal/x")
        target = GitHubTarget("acme/corpus", "ghe", FAKE_GITHUB_TOKEN, f"http://127.0.0.1:{port}/api/v3")
        with pytest.raises(ProposalError) as exc:
            push_branch(temp_repo, target, "proposal/x")
        assert FAKE_GITHUB_TOKEN not in str(exc.value)
    finally:
        server.shutdown()
    basic = base64.b64encode(f"x-access-token:{FAKE_GITHUB_TOKEN}".encode()).decode()
    assert seen and seen[0] is not None and seen[0].lower() == f"basic {basic}".lower()
    assert (
        credential_scope("git@ghe.acme.test:acme/corpus.git", "https://ghe.acme.test/api/v3")
        == "https://ghe.acme.test/"
    )
    assert credential_scope("git@github.com:acme/corpus.git", "https://api.github.com") == "https://github.com/"
    assert credential_scope("https://x@github.com/acme/corpus", "https://api.github.com") == "https://github.com/"
