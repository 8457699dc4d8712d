"""S3 faults: throttling and transient errors are retried; a failed upload leaves nothing half-written.

A local moto server (127.0.0.1) sits behind a fault-injecting proxy (``tests/reliability/faultproxy.py``)
that answers ``503 SlowDown`` or ``500 InternalError``, or drops the connection half-way through a
request or a response, for the requests a rule picks, and counts every request. ``CorpusStore``'s
S3 path (pyarrow, ``AwsStandardS3RetryStrategy``) talks to the proxy; the tests check what the
proxy saw (the retries really happened) and what the bucket holds afterwards (read directly from
moto, past the proxy).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import polars as pl
import pyarrow.fs as pafs
import pytest
from botocore.exceptions import ClientError

from corpus import runner
from corpus.io import CorpusStore, PartitionNotFound, S3Options, StorageError
from corpus.spec import parse_spec
from tests.reliability.faultproxy import FaultProxy, Rule
from tests.reliability.helpers import write_prose_jsonl

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def proxy(moto_endpoint: str):
    p = FaultProxy(moto_endpoint).start()
    yield p
    p.stop()


@pytest.fixture
def bucket(
    moto_endpoint: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"faults-{hashlib.md5(request.node.nodeid.encode()).hexdigest()[:10]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    proxy.reset()
    return name


def store_via(proxy: FaultProxy, bucket: str, max_attempts: int = 8) -> CorpusStore:
    return CorpusStore(
        root=f"s3://{bucket}/root",
        s3=S3Options(
            endpoint_url=proxy.url,
            region="us-east-1",
            access_key_id="testing",
            secret_access_key="testing",
            max_attempts=max_attempts,
        ),
    )


def direct(moto_endpoint: str):
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


def object_or_none(moto_endpoint: str, bucket: str, key: str) -> bytes | None:
    try:
        return direct(moto_endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("NoSuchKey", "404")
        return None


def pending_uploads(moto_endpoint: str, bucket: str) -> list[str]:
    return [u["Key"] for u in direct(moto_endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


# --- retried faults ----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["slowdown", "internal", "drop_request"])
def test_transient_write_faults_are_retried_until_the_write_succeeds(proxy, bucket, moto_endpoint, action: str) -> None:
    store = store_via(proxy, bucket)
    proxy.add(Rule(action, "PUT", "/root/obj.bin", times=2))
    data = bytes(range(256)) * 400
    store.write_bytes("obj.bin", data)
    puts = proxy.requests("PUT", "/root/obj.bin")
    assert [p.outcome for p in puts] == [action, action, "forwarded 200"]  # one object, one PUT, retried twice
    assert object_or_none(moto_endpoint, bucket, "root/obj.bin") == data
    assert pending_uploads(moto_endpoint, bucket) == []


@pytest.mark.parametrize("action", ["slowdown", "internal", "drop_response"])
def test_transient_read_faults_are_retried_until_the_read_succeeds(proxy, bucket, moto_endpoint, action: str) -> None:
    store = store_via(proxy, bucket)
    frame = pl.DataFrame({"id": [str(i) for i in range(2000)], "text": [f"document {i}" for i in range(2000)]})
    store.write_table("t/part-00000.parquet", frame)
    store.write_bytes("b.bin", b"payload" * 1000)
    proxy.reset()
    proxy.add(Rule(action, "GET", "/root/b.bin", times=2), Rule(action, "GET", "/root/t/part-00000.parquet", times=2))
    assert store.read_bytes("b.bin") == b"payload" * 1000
    assert pl.from_arrow(store.read_table("t/part-00000.parquet")).equals(frame)
    for key in ("/root/b.bin", "/root/t/part-00000.parquet"):
        outcomes = [p.outcome for p in proxy.requests("GET", key)]
        assert (
            outcomes[:2] == [action, action]
            and outcomes[2:]
            and all(o == "forwarded 206" or o == "forwarded 200" for o in outcomes[2:])
        )


def test_a_store_wide_storm_of_faults_changes_no_byte(proxy, bucket, moto_endpoint, tmp_path: Path) -> None:
    """Raw and normalized stages on S3 with about a third of the requests failing: the same shards as on local disk."""
    src = tmp_path / "src"
    write_prose_jsonl(src / "a.jsonl", 90, seed=9)
    spec = parse_spec(
        {
            "pipeline": "flaky",
            "shard_docs": 30,
            "sources": [{"name": "a", "location": str(src), "format": "jsonl"}],
            "stages": [{"name": "normalized", "op": "normalize_text@1"}],
        }
    )
    local = CorpusStore(root=str(tmp_path / "local"))
    remote = store_via(proxy, bucket)
    proxy.add(
        Rule("slowdown", None, "/root/", times=None, every=5), Rule("internal", None, "/root/", times=None, every=7)
    )
    for store in (local, remote):
        runner.run_raw(spec, "a", store, source_location=(pafs.LocalFileSystem(), str(src)))
        runner.run_stage(spec, "normalized", "a", store)
    faults = {f.outcome for f in proxy.faults()}
    assert len(proxy.faults()) >= 15 and faults == {"slowdown", "internal"}
    for stage in ("raw", "normalized"):
        rel = runner.stage_dir("flaky", stage, "a")
        names = [Path(p).name for p in local.shard_paths(rel)]
        assert names == [Path(p).name for p in remote.shard_paths(rel)] and len(names) == 3
        for p in local.shard_paths(rel):
            assert local.read_bytes(p) == object_or_none(moto_endpoint, bucket, f"root/{p}")


# --- faults that do not go away ----------------------------------------------------------------


@pytest.mark.parametrize(
    "action, aws_error",
    [("slowdown", "SLOW_DOWN"), ("internal", "INTERNAL_FAILURE"), ("drop_request", "NETWORK_CONNECTION")],
)
def test_a_failed_upload_leaves_nothing_and_says_why(proxy, bucket, moto_endpoint, action: str, aws_error: str) -> None:
    store = store_via(proxy, bucket, max_attempts=3)
    proxy.add(Rule(action, "PUT", "/root/p/part-00000.parquet", times=None))
    with pytest.raises(OSError) as exc:
        store.write_table("p/part-00000.parquet", pl.DataFrame({"id": ["a"], "text": ["hello"]}))
    message = str(exc.value)
    assert "'p/part-00000.parquet'" in message or "root/p/part-00000.parquet" in message
    assert bucket in message and aws_error in message
    assert len(proxy.requests("PUT", "/root/p/part-00000.parquet")) == 3  # max_attempts, then it gave up
    assert object_or_none(moto_endpoint, bucket, "root/p/part-00000.parquet") is None
    assert pending_uploads(moto_endpoint, bucket) == []  # not even an incomplete multipart upload


def test_a_failed_commit_exposes_nothing_and_a_retry_commits(proxy, bucket, moto_endpoint) -> None:
    store = store_via(proxy, bucket, max_attempts=2)
    writer = store.partition_writer("p/stage/src")
    for i in range(3):
        writer.write_shard(i, pl.DataFrame({"id": [f"{i}"], "text": [f"doc {i}"]}))
    proxy.add(Rule("drop_request", "PUT", "_manifest.json", times=None))
    with pytest.raises(OSError, match=r"_manifest\.json"):
        writer.commit()
    with pytest.raises(PartitionNotFound, match="no committed output"):
        store.read_partition("p/stage/src")
    assert object_or_none(moto_endpoint, bucket, "root/p/stage/src/_manifest.json") is None
    proxy.reset()
    writer.commit()
    assert store.read_partition("p/stage/src")["text"].to_list() == ["doc 0", "doc 1", "doc 2"]


def test_a_stage_that_cannot_commit_leaves_readers_nothing_then_recovers(
    proxy, bucket, moto_endpoint, tmp_path: Path
) -> None:
    """The raw stage re-run on S3 while manifests cannot be written: the old output is withdrawn, no mix is visible."""
    src = tmp_path / "src"
    write_prose_jsonl(src / "a.jsonl", 60, seed=2)
    spec = parse_spec(
        {"pipeline": "commit", "shard_docs": 20, "sources": [{"name": "a", "location": str(src), "format": "jsonl"}]}
    )
    store = store_via(proxy, bucket, max_attempts=2)
    location = (pafs.LocalFileSystem(), str(src))
    runner.run_raw(spec, "a", store, source_location=location)
    before = store.read_partition(runner.stage_dir("commit", "raw", "a"))
    write_prose_jsonl(src / "a.jsonl", 60, seed=3)  # new input under the same name
    proxy.add(Rule("slowdown", "PUT", "raw/a/_manifest.json", times=None))
    with pytest.raises(OSError, match="SLOW_DOWN"):
        runner.run_raw(spec, "a", store, source_location=location)
    with pytest.raises(PartitionNotFound):
        store.read_partition(runner.stage_dir("commit", "raw", "a"))
    proxy.reset()
    runner.run_raw(spec, "a", store, source_location=location)
    after = store.read_partition(runner.stage_dir("commit", "raw", "a"))
    assert after.height == 60 and not after["id"].is_in(before["id"].implode()).any()


def test_missing_objects_are_a_clear_error_not_a_retry_storm(proxy, bucket) -> None:
    store = store_via(proxy, bucket)
    with pytest.raises(StorageError, match=f"not found: s3://{bucket}/root/nothing.bin"):
        store.read_bytes("nothing.bin")
    with pytest.raises(PartitionNotFound, match="materialize the upstream asset"):
        store.read_manifest("no/such/partition")
    assert len(proxy.requests()) <= 3  # a 404 is an answer, not a fault: no retries
