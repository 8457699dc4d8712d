"""The S3 code path against a local moto server on 127.0.0.1: same outputs as local storage."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from corpus import runner
from corpus.io import CorpusStore, S3Options
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.platform_assets.smallcorpus import small_spec

pytestmark = pytest.mark.s3


@pytest.fixture
def bucket(moto_endpoint, monkeypatch, request):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # one bucket per test on the shared server
    name = f"corpus-{hashlib.md5(request.node.nodeid.encode()).hexdigest()[:10]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def s3_storage(endpoint: str, root: str) -> CorpusStorage:
    return CorpusStorage(
        root=root,
        s3=S3Resource(
            endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        ),
    )


def test_store_roundtrip_and_atomic_manifest(moto_endpoint, bucket):
    store = CorpusStore(
        root=f"s3://{bucket}/x",
        s3=S3Options(
            endpoint_url=moto_endpoint, region="us-east-1", access_key_id="testing", secret_access_key="testing"
        ),
    )
    w = store.partition_writer("p/stage/src")
    w.write_shard(0, __import__("polars").DataFrame({"id": ["a"], "text": ["hello"]}))
    with pytest.raises(Exception, match="no committed output"):
        store.read_manifest("p/stage/src")  # shards without a manifest are invisible
    w.commit()
    assert store.read_partition("p/stage/src")["text"].to_list() == ["hello"]
    assert "testing" not in repr(store.s3)  # credentials never printed


def test_pipeline_on_s3_matches_local(small_corpus: Path, tmp_path: Path, moto_endpoint, bucket):
    """Sources read from S3, shards written to S3: byte-identical to the local run."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    for f in small_corpus.rglob("*"):
        if f.is_file():
            s3.upload_file(str(f), bucket, f"sources/{f.relative_to(small_corpus)}")
    local_spec = small_spec(small_corpus)
    s3_spec = local_spec.model_copy(
        update={
            "sources": [
                s.model_copy(update={"location": f"s3://{bucket}/sources/{s.name}"}) for s in local_spec.sources
            ]
        }
    )
    keys = ["raw", "extracted", "normalized", "language", "quality"]

    def run(spec, storage):
        res = default_resources()
        res["storage"] = storage
        assets = list(build_pipeline_defs(spec).assets)
        inst = dg.DagsterInstance.ephemeral()
        for src in spec.source_names:
            dg.materialize(
                assets,
                selection=[dg.AssetKey([spec.pipeline, k]) for k in keys],
                partition_key=src,
                resources=res,
                instance=inst,
            )
        dg.materialize(assets, selection=[dg.AssetKey([spec.pipeline, "deduped_index"])], resources=res, instance=inst)
        for src in spec.source_names:
            dg.materialize(
                assets,
                selection=[dg.AssetKey([spec.pipeline, "deduped"])],
                partition_key=src,
                resources=res,
                instance=inst,
            )

    run(local_spec, CorpusStorage(root=str(tmp_path / "local")))
    run(s3_spec, s3_storage(moto_endpoint, f"s3://{bucket}/store"))
    local = CorpusStorage(root=str(tmp_path / "local")).store()
    remote = s3_storage(moto_endpoint, f"s3://{bucket}/store").store()
    for stage in [*keys, "deduped"]:
        for src in local_spec.source_names:
            rel = runner.stage_dir("small", stage, src)
            l_shards, r_shards = local.shard_paths(rel), remote.shard_paths(rel)
            assert [Path(p).name for p in l_shards] == [Path(p).name for p in r_shards]
            for lp, rp in zip(l_shards, r_shards, strict=True):
                assert local.read_bytes(lp) == remote.read_bytes(rp), f"{stage}/{src}/{lp}"
