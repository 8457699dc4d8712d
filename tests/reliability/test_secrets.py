"""Secrets come from the environment through resources and appear nowhere else.

Fake secrets are set in the environment (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``ANTHROPIC_API_KEY``, ``GITHUB_TOKEN``); the storage resource reaches a local S3 (moto) with an
``S3Resource`` whose credentials are ``dg.EnvVar``s, and also with the secret given as a plain
value. The build loop materializes through Dagster on a persistent instance, once successfully
and three times failing (a missing source, a bucket that does not exist, a stage run before
its input exists). Then every place a secret could end up is scanned:

* stdout and stderr of the process (Dagster's console log included);
* every event record of every run (log messages, metadata, errors with their stack traces),
  run configs and tags, and every file of the Dagster instance's folder (its SQLite databases);
* every object written to S3, and the exception text of the failed runs;
* the ``repr`` of the storage options.

Proposals, pull requests and agent logs are covered by tests/agent/test_proposal.py
(``test_secrets_appear_nowhere``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster._serdes import serialize_value
from dagster_aws.s3 import S3Resource

from corpus.io import S3Options
from corpus.spec import PipelineSpec, parse_spec
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.orchestrate import materialize_pipeline
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.reliability.helpers import write_prose_jsonl

pytestmark = pytest.mark.s3

SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "FAKEawsSecretKey+0123456789/abcdefghijKLMN",
    "AWS_SESSION_TOKEN": "FAKEsessionToken0123456789abcdefghijklmnopqrstuvwxyz",
    "ANTHROPIC_API_KEY": "sk-ant-api03-FAKEanthropicKEY0123456789abcdef",
    "GITHUB_TOKEN": "ghp_FAKEgithubTOKEN0123456789abcdefghijkl",
}
ACCESS_KEY_ID = "AKIAFAKEACCESSKEY123"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return SECRETS


def storage_for(endpoint: str, root: str, *, literal: bool = False) -> CorpusStorage:
    secret = SECRETS["AWS_SECRET_ACCESS_KEY"] if literal else dg.EnvVar("AWS_SECRET_ACCESS_KEY")
    token = SECRETS["AWS_SESSION_TOKEN"] if literal else dg.EnvVar("AWS_SESSION_TOKEN")
    return CorpusStorage(
        root=root,
        s3=S3Resource(
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=secret,
            aws_session_token=token,
        ),
    )


def spec_for(src: Path, pipeline: str, stages: list[dict] | None = None) -> PipelineSpec:
    return parse_spec(
        {
            "pipeline": pipeline,
            "sources": [{"name": "notes", "location": str(src), "format": "jsonl"}],
            "stages": stages
            or [{"name": "normalized", "op": "normalize_text@1"}, {"name": "deduped", "op": "dedup_exact@1"}],
            "tokenizer": {"vocab_size": 300, "sample_docs": 50, "val_min_docs": 1},
        }
    )


def run_texts(instance: dg.DagsterInstance) -> dict[str, str]:
    """Everything the instance recorded, as text: event records, run configs, tags."""
    out = {}
    for run in instance.get_runs():
        out[f"run {run.run_id} config+tags"] = serialize_value(run.run_config) + serialize_value(dict(run.tags))
        out[f"run {run.run_id} events"] = "\n".join(serialize_value(e) for e in instance.all_logs(run.run_id))
    return out


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def s3_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def leaks(named: dict[str, str | bytes]) -> list[str]:
    found = []
    for where, content in named.items():
        data = content.encode("utf-8", "replace") if isinstance(content, str) else content
        for name, value in SECRETS.items():
            if value.encode() in data:
                found.append(f"{name} in {where}")
    return found


@pytest.mark.parametrize("literal", [False, True], ids=["envvar", "literal"])
def test_secrets_never_leave_the_environment(
    tmp_path: Path, moto_endpoint: str, secret_env, capfd, literal: bool
) -> None:
    bucket = f"secrets-{hashlib.md5(str(tmp_path).encode()).hexdigest()[:10]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    write_prose_jsonl(tmp_path / "src" / "notes.jsonl", 60, seed=4)
    failures: list[str] = []
    # a persistent (SQLite) instance, so its files can be scanned; on a RAM disk where there is one, since every
    # event is a database commit
    ram = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=ram) as home_dir, dg.instance_for_test(temp_dir=home_dir) as instance:
        home = Path(home_dir)
        resources = default_resources()
        resources["storage"] = storage_for(moto_endpoint, f"s3://{bucket}/store", literal=literal)
        # 1. the whole build loop through the CLI's code path (with a plain-value secret: its first segment)
        ok = spec_for(tmp_path / "src", "ok")
        if literal:
            dg.materialize(
                list(build_pipeline_defs(ok).assets),
                selection=[dg.AssetKey(["ok", "raw"]), dg.AssetKey(["ok", "normalized"])],
                partition_key="notes",
                resources=resources,
                instance=instance,
            )
        else:
            materialize_pipeline(ok, resources=resources, instance=instance, parallel=1, progress=print)
        # 2. failing runs: a source that is not there, a bucket that does not exist, a stage before its input
        cases = [
            (spec_for(tmp_path / "missing", "missing"), resources, ["raw"]),
            (
                spec_for(tmp_path / "src", "nobucket"),
                {**resources, "storage": storage_for(moto_endpoint, "s3://no-such-bucket-x/store", literal=literal)},
                ["raw"],
            ),
            (spec_for(tmp_path / "src", "early"), resources, ["normalized"]),
        ]
        for spec, res, keys in cases:
            result = dg.materialize(
                list(build_pipeline_defs(spec).assets),
                selection=[dg.AssetKey([spec.pipeline, k]) for k in keys],
                partition_key="notes",
                resources=res,
                instance=instance,
                raise_on_error=False,
            )
            assert not result.success, spec.pipeline
            for event in result.all_events:
                if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                    failures.append(event.step_failure_data.error.to_string())
        recorded = run_texts(instance)
        instance_files = files_under(home)
    out, err = capfd.readouterr()
    assert any("FileNotFoundError" in f and "does not exist" in f for f in failures)
    assert any("no-such-bucket-x" in f for f in failures)
    assert any("materialize the upstream asset" in f for f in failures)
    places: dict[str, str | bytes] = {
        "stdout": out,
        "stderr": err,
        **{f"failure {i}": f for i, f in enumerate(failures)},
        **recorded,
        **instance_files,
        **s3_objects(moto_endpoint, bucket),
        "S3Options repr": repr(resources["storage"].s3_options()),
    }
    # the scan sees what it must: log messages (the raw asset logs its source location) and the objects written
    assert str(tmp_path / "src") in "".join(recorded.values()) and str(tmp_path / "src") in err
    written = "".join(k for k in places if isinstance(k, str))
    assert "ok/normalized/notes/_manifest.json" in written and (
        literal or "ok/tokenized/notes/_manifest.json" in written
    )
    assert leaks(places) == []


def test_s3_options_repr_and_display_hide_credentials() -> None:
    opts = S3Options(
        endpoint_url="http://127.0.0.1:9000",
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRETS["AWS_SECRET_ACCESS_KEY"],
        session_token=SECRETS["AWS_SESSION_TOKEN"],
    )
    text = repr(opts) + str(opts)
    assert (
        SECRETS["AWS_SECRET_ACCESS_KEY"] not in text
        and SECRETS["AWS_SESSION_TOKEN"] not in text
        and ACCESS_KEY_ID not in text
    )
    assert "credentials=set" in text
