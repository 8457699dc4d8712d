"""Shared fixtures. Tests run offline: nothing is fetched from a model hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CORPUS_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora beside the checkout (../shared/data); skips the test when absent."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(
            f"real corpora not found at {SHARED_DATA} (set CORPUS_SHARED_DATA or place ../shared/data beside the "
            "checkout)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real corpus (pydoc prose, pydoc HTML pages as WARC, stdlib code), built in-process."""
    from tests.platform_assets.smallcorpus import write_small_corpus

    root = tmp_path_factory.mktemp("corpus")
    write_small_corpus(root)
    return root


@pytest.fixture(scope="session")
def moto_endpoint():
    """A local S3 (moto's server) on 127.0.0.1; the S3 code paths run against it, never against mocks of boto."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
