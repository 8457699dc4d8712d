"""Fixtures for the agent tests (helpers in tests/agent/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.helpers import make_repo

SECRET_ENV = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "ANTHROPIC_API_KEY",
    "CORPUS_ALLOWED_ROOTS",
)


@pytest.fixture
def temp_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository (branch main, one commit) with the demo defs, pyproject.toml and small sources; no secrets in
    the env."""
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    return make_repo(tmp_path)
