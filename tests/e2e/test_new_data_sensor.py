"""The new-raw-data sensor, called directly: fingerprints, cursor, run requests, baselines."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.fs as pafs
import pytest

from corpus.spec import parse_spec, validate_spec
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from sensors.new_data import FINGERPRINT_METADATA_KEY, fingerprint_source, parse_cursor

RAW = dg.AssetKey(["watched", "raw"])


def spec_dict(corpus: Path) -> dict[str, Any]:
    return {
        "pipeline": "watched",
        "sources": [
            {"name": "docs", "location": str(corpus / "docs"), "format": "jsonl"},
            {"name": "code", "location": str(corpus / "code"), "format": "jsonl"},
        ],
        "stages": [{"name": "normalized", "op": "normalize_text@1"}],
        "shard_docs": 16,
    }


@pytest.fixture()
def corpus(small_corpus: Path, tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for name in ("docs", "code"):
        shutil.copytree(small_corpus / name, root / name)
    return root


@pytest.fixture()
def setup(corpus: Path, tmp_path: Path):
    spec = parse_spec(spec_dict(corpus))
    assert validate_spec(spec) == []
    resources = {**default_resources(), "storage": CorpusStorage(root=str(tmp_path / "store"))}
    defs = dg.Definitions.merge(build_pipeline_defs(spec), dg.Definitions(resources=resources))
    sensor = defs.get_repository_def().get_sensor_def("watched_new_raw_data")
    return spec, defs, resources, sensor, dg.DagsterInstance.ephemeral()


def tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, resources: dict[str, Any], cursor: str | None
) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"storage": resources["storage"]}) as ctx:
        result = sensor(ctx)
    assert isinstance(result, dg.SensorResult)
    return result


def add_doc(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(json.dumps({"text": text}) + "\n")


def test_fingerprint_follows_files_not_contents_read(corpus: Path):
    spec = parse_spec(spec_dict(corpus))
    fs = pafs.LocalFileSystem()
    docs = spec.source("docs")
    first = fingerprint_source(docs, fs, str(corpus / "docs"))
    assert first.files == 1 and first.bytes == (corpus / "docs" / "topics.jsonl").stat().st_size
    assert fingerprint_source(docs, fs, str(corpus / "docs")) == first
    # a writer's temporary file and files of another format are not part of the source
    (corpus / "docs" / ".part-0.jsonl.tmp").write_text("{}\n")
    (corpus / "docs" / "notes.txt").write_text("not jsonl")
    assert fingerprint_source(docs, fs, str(corpus / "docs")).digest == first.digest
    add_doc(corpus / "docs", "more.jsonl", "another document")
    second = fingerprint_source(docs, fs, str(corpus / "docs"))
    assert second.files == 2 and second.digest != first.digest
    # same size, new mtime: a rewritten file counts as changed
    st = (corpus / "docs" / "more.jsonl").stat()
    os.utime(corpus / "docs" / "more.jsonl", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert fingerprint_source(docs, fs, str(corpus / "docs")).digest != second.digest


def test_requests_only_changed_sources_and_keeps_a_cursor(setup, corpus: Path):
    _spec, _, resources, sensor, instance = setup
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    first = tick(sensor, instance, resources, None)
    # never materialized: both sources are new
    assert sorted(r.partition_key for r in first.run_requests) == ["code", "docs"]
    assert all(
        list(r.asset_selection) == [RAW] and r.tags["corpus/trigger"] == "new_raw_data" for r in first.run_requests
    )
    assert set(parse_cursor(first.cursor)) == {"docs", "code"}

    second = tick(sensor, instance, resources, first.cursor)
    assert not second.run_requests
    assert "no new or changed files in docs, code" in second.skip_reason.skip_message

    add_doc(corpus / "code", "extra.jsonl", "def added():\n    return 1\n")
    third = tick(sensor, instance, resources, second.cursor)
    assert [r.partition_key for r in third.run_requests] == ["code"]
    assert third.run_requests[0].tags["corpus/source_files"] == "2"
    assert parse_cursor(third.cursor)["docs"] == parse_cursor(second.cursor)["docs"]
    assert parse_cursor(third.cursor)["code"] != parse_cursor(second.cursor)["code"]


def test_unreadable_source_is_reported_and_others_still_watched(setup, corpus: Path):
    _, _, resources, sensor, instance = setup
    first = tick(sensor, instance, resources, None)
    shutil.rmtree(corpus / "docs")
    quiet = tick(sensor, instance, resources, first.cursor)
    assert not quiet.run_requests
    message = quiet.skip_reason.skip_message
    assert "could not check: docs" in message and "does not exist" in message and "fix sources[].location" in message
    add_doc(corpus / "code", "extra.jsonl", "def added():\n    return 1\n")
    result = tick(sensor, instance, resources, quiet.cursor)
    assert [r.partition_key for r in result.run_requests] == ["code"]
    # the vanished source keeps its last fingerprint: when it comes back unchanged, nothing runs twice
    assert parse_cursor(result.cursor)["docs"] == parse_cursor(first.cursor)["docs"]


def test_turned_on_after_a_build_requests_nothing_until_files_change(setup, corpus: Path):
    spec, defs, resources, sensor, instance = setup
    for src in spec.source_names:
        result = dg.materialize(
            list(defs.assets or []), selection=[RAW], partition_key=src, instance=instance, resources=resources
        )
        md = result.asset_materializations_for_node("watched__raw")[0].metadata
        assert (
            md[FINGERPRINT_METADATA_KEY].value
            == fingerprint_source(spec.source(src), pafs.LocalFileSystem(), str(corpus / src)).digest
        )
    quiet = tick(sensor, instance, resources, None)  # no cursor: compares with the materializations
    assert not quiet.run_requests
    add_doc(corpus / "docs", "late.jsonl", "A late addition to the prose source, long enough to read.")
    woke = tick(sensor, instance, resources, quiet.cursor)
    assert [r.partition_key for r in woke.run_requests] == ["docs"]
