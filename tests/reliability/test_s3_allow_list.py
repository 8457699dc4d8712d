"""S3 locations are allowed only under the prefixes of the allow-list that also holds the local roots."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.tools import Toolbox
from corpus.spec import PathPolicy, SpecError, load_spec, load_spec_file


def spec(location: str) -> dict:
    return {"pipeline": "probe", "sources": [{"name": "a", "location": location, "format": "jsonl"}]}


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A local 'S3 endpoint' that only counts the connections made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    hits: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.getsockname()[1]}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    yield hits
    stop.set()
    thread.join(2)
    server.close()


@pytest.mark.parametrize("allowed", ["", "s3://corpus-data/sources", "/tmp:s3://corpus-data/sources/"])
def test_a_bucket_outside_the_allow_list_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allowed: str
) -> None:
    monkeypatch.setenv("CORPUS_ALLOWED_ROOTS", allowed)
    policy = PathPolicy.default(tmp_path)
    for location in ("s3://other-bucket/", "s3://corpus-data/sourcesx/a", "s3://corpus-data/other"):
        with pytest.raises(SpecError) as exc:
            load_spec(spec(location), policy)
        assert [i.field for i in exc.value.issues] == ["sources[0].location"]
        assert "outside the allowed S3 prefixes" in str(exc.value) and "CORPUS_ALLOWED_ROOTS" in str(exc.value)
    if allowed:
        assert (
            load_spec(spec("s3://corpus-data/sources/web"), policy).sources[0].location
            == "s3://corpus-data/sources/web"
        )
        assert load_spec(spec("s3://corpus-data/sources"), policy)


def test_the_cli_loader_refuses_an_outside_bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUS_ALLOWED_ROOTS", "s3://corpus-data")
    path = tmp_path / "defs.yaml"
    path.write_text(
        "type: platform_assets.components.PipelineComponent\nattributes:\n  pipeline: probe\n"
        "  sources: [{name: a, location: 's3://other-bucket/x', format: jsonl}]\n"
    )
    with pytest.raises(SpecError, match="outside the allowed S3 prefixes"):
        load_spec_file(path, PathPolicy.default(tmp_path))


def test_agent_tools_never_contact_a_bucket_outside_the_allow_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: list[int]
) -> None:
    monkeypatch.setenv("CORPUS_ALLOWED_ROOTS", "s3://corpus-data")
    (tmp_path / "data").mkdir()
    toolbox = Toolbox(tmp_path, [])
    for tool, args in [
        ("sample_documents", {"source": "s3://other-bucket/x"}),
        ("profile_source", {"source": "s3://other-bucket/x"}),
    ]:
        result = toolbox.call(tool, args)
        assert result.is_error and "outside the allowed S3 prefixes" in str(result.content)
    assert toolbox.call("list_sources", {}).content["s3"].startswith("s3:// locations under s3://corpus-data")
    assert hits_after(listener) == 0


def hits_after(hits: list[int]) -> int:
    import time

    time.sleep(0.3)  # a connection in flight would be accepted by now
    return len(hits)


def test_a_malformed_s3_entry_in_the_allow_list_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORPUS_ALLOWED_ROOTS", "s3://Bad_Bucket")
    with pytest.raises(ValueError, match="CORPUS_ALLOWED_ROOTS: 's3://Bad_Bucket' is not an s3://bucket/prefix"):
        PathPolicy.default(tmp_path)
