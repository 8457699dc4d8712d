"""The build loop through Dagster: definitions load, the whole pipeline materializes with its
checks passing, re-runs are byte-identical, and bad input is quarantined, never lost."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from corpus import runner
from corpus.spec import parse_spec
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.orchestrate import build_segments, materialize_pipeline, stage_names
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.platform_assets.smallcorpus import small_spec


def resources_for(root: Path) -> dict:
    res = default_resources()
    res["storage"] = CorpusStorage(root=str(root))
    return res


def graph_of(spec):
    return dg.Definitions.merge(
        build_pipeline_defs(spec), dg.Definitions(resources=default_resources())
    ).resolve_asset_graph()


def shard_digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and (p.suffix in (".parquet", ".json"))
    }


@pytest.fixture(scope="module")
def built(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    spec = small_spec(small_corpus)
    root = tmp_path_factory.mktemp("store")
    instance = dg.DagsterInstance.ephemeral()
    timings = materialize_pipeline(
        spec, resources=resources_for(root), instance=instance, parallel=1, progress=lambda _: None
    )
    return spec, root, instance, timings


def test_workspace_definitions_load(project_root):
    from platform_assets.definitions import defs

    d = defs()
    keys = {k.to_user_string() for k in d.resolve_asset_graph().get_all_asset_keys()}
    for stage in (
        "raw",
        "extracted",
        "quality",
        "deduped_index",
        "deduped",
        "tokenizer",
        "tokenized",
        "mixture",
        "proxy_eval",
    ):
        assert f"demo/{stage}" in keys
    assert d.resolve_sensor_def("demo_eval_feedback") is not None


def test_dagster_definitions_validate_cli(project_root):
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_graph_shape(small_corpus):
    spec = small_spec(small_corpus)
    graph = graph_of(spec)
    deduped = dg.AssetKey(["small", "deduped"])
    assert dg.AssetKey(["small", "deduped_index"]) in graph.get(deduped).parent_keys
    assert graph.get(dg.AssetKey(["small", "quality"])).partitions_def.get_partition_keys() == ["docs", "pages", "code"]
    # code versions follow operator versions and configs
    v1 = graph.get(dg.AssetKey(["small", "language"])).code_version
    changed = small_spec(
        small_corpus,
        stages=[
            {**s, "config": {"languages": ["en", "de"]}} if s["name"] == "language" else s
            for s in __import__("tests.platform_assets.smallcorpus", fromlist=["x"]).small_spec_dict(small_corpus)[
                "stages"
            ]
        ],
    )
    v2 = graph_of(changed).get(dg.AssetKey(["small", "language"])).code_version
    assert v1 != v2 and v1.startswith("language_filter@1:")
    assert [s.keys for s in build_segments(spec)][:3] == [
        ("raw", "extracted", "normalized", "language", "quality"),
        ("deduped_index",),
        ("deduped", "redacted"),
    ]


def test_pipeline_materializes_with_checks_passing(built):
    spec, root, instance, _ = built
    store = CorpusStorage(root=str(root)).store()
    for stage in stage_names(spec):
        for src in spec.source_names:
            rep = runner.read_report(store, spec.pipeline, stage, src)
            assert rep.conserved, (stage, src, rep)
            assert rep.kept > 0, (stage, src)
            assert not rep.schema_problems
    # every blocking check was evaluated and passed
    planned = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=10_000
    )
    results = [r.event_log_entry.dagster_event.event_specific_data for r in planned]
    assert results and all(r.passed for r in results)
    assert {r.check_name for r in results} == {"conservation", "non_empty", "schema", "index_accounted", "round_trip"}
    # extraction produced text with titles; quality applied only to docs; pages passed through it
    pages = store.read_partition(runner.stage_dir("small", "extracted", "pages"))
    assert pages["content_type"].unique().to_list() == ["text/plain"] and pages["title"].null_count() == 0
    assert runner.read_report(store, "small", "quality", "pages").passthrough


def test_cli_runs_are_named_jobs_with_tags(built):
    _spec, _, instance, _ = built
    runs = instance.get_runs()
    assert {r.job_name for r in runs} == {"small_per_source", "small_deduped_index", "small_tokenizer"}
    for run in runs:
        assert run.tags["corpus/pipeline"] == "small" and run.tags["corpus/launched_by"] == "cli"
        assert "dagster/sensor_name" not in run.tags
        if run.job_name == "small_per_source":
            assert run.tags["corpus/source"] == run.tags["dagster/partition"]
            assert {k.path[-1] for k in run.asset_selection} == set(run.tags["corpus/stage"].split(","))
    first = [r for r in runs if r.tags.get("corpus/source") == "docs" and r.tags["corpus/stage"].startswith("raw,")]
    assert len(first) == 1 and first[0].tags["corpus/stage"] == "raw,extracted,normalized,language,quality"


def test_stage_metadata_has_columns_lineage_and_content_version(built):
    spec, root, instance, _ = built
    key = dg.AssetKey(["small", "quality"])
    rec = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=["docs"]), limit=1
    ).records[0]
    mat = rec.asset_materialization
    columns = {c.name: c for c in mat.metadata["dagster/column_schema"].schema.columns}
    assert {"id", "text", "source", "url", "language"} <= set(columns) and columns[
        "text"
    ].description == "the document text"
    lineage = mat.metadata["dagster/column_lineage"].column_lineage.deps_by_column
    assert lineage["text"] == [dg.TableColumnDep(asset_key=dg.AssetKey(["small", "language"]), column_name="text")]
    digest = CorpusStorage(root=str(root)).store().content_digest(runner.stage_dir("small", "quality", "docs"))
    assert mat.tags["dagster/data_version"] == digest
    graph = graph_of(spec)
    assert [c.name for c in graph.get(key).metadata["dagster/column_schema"].columns][:3] == ["id", "text", "source"]
    toks = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["small", "tokenized"]), asset_partitions=["docs"]), limit=1
    )
    tok_lineage = toks.records[0].asset_materialization.metadata["dagster/column_lineage"].column_lineage.deps_by_column
    assert tok_lineage["tokens"][0].column_name == "text"


def test_dedup_is_global_and_records_survivor(built):
    _spec, root, _, _ = built
    store = CorpusStorage(root=str(root)).store()
    dropped = store.read_partition(runner.dropped_dir("small", "deduped", "pages"))
    # the mirror copy of json.html is dropped in favour of the docs.example.org copy (same source, smaller offset)
    assert dropped.height >= 1 and set(dropped["drop_reason"]) <= {"exact_duplicate", "near_duplicate"}
    kept_ids = set(store.read_partition(runner.stage_dir("small", "deduped", "pages"))["id"])
    assert set(dropped["duplicate_of"]) <= kept_ids
    docs_dropped = store.read_partition(runner.dropped_dir("small", "deduped", "docs"))
    assert "exact_duplicate" in docs_dropped["drop_reason"].to_list()


def test_pii_redacted_and_counted(built):
    _spec, root, _, _ = built
    store = CorpusStorage(root=str(root)).store()
    docs = store.read_partition(runner.stage_dir("small", "redacted", "docs"))
    text = "\n".join(docs["text"].to_list())
    assert "maintainer.person@example.org" not in text and "93.184.216.34" not in text and "415-555-0142" not in text
    rep = runner.read_report(store, "small", "redacted", "docs")
    assert rep.extra["pii_email"] >= 1 and rep.extra["pii_ip"] >= 1 and rep.extra["pii_phone"] >= 1


def test_tokenized_has_fixed_validation_split(built):
    spec, root, _, _ = built
    store = CorpusStorage(root=str(root)).store()
    for src in spec.source_names:
        toks = store.read_partition(runner.stage_dir("small", "tokenized", src))
        assert set(toks["split"]) == {"train", "val"}
        assert (toks["n_tokens"] == toks["tokens"].list.len()).all()


def test_rerun_is_byte_identical(built, tmp_path):
    spec, root, _, _ = built
    before = shard_digests(root / "small")
    materialize_pipeline(
        spec,
        resources=resources_for(root),
        instance=dg.DagsterInstance.ephemeral(),
        parallel=1,
        progress=lambda _: None,
    )
    after = shard_digests(root / "small")
    parquet = {k: v for k, v in before.items() if k.endswith(".parquet")}
    assert parquet and parquet == {k: v for k, v in after.items() if k.endswith(".parquet")}


def test_bad_input_is_quarantined_never_lost(tmp_path):
    src = tmp_path / "bad"
    src.mkdir()
    good = "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet forest."
    (src / "a.jsonl").write_bytes(
        b'{"text": "'
        + good.encode()
        + b'"}\n{"text": broken json\n{"text": "caf\xe9 invalid utf8"}\n{"content": "no text field"}\n'
    )
    (src / "empty.jsonl").write_bytes(b"")
    full = gzip.compress(b"".join(json.dumps({"text": f"{good} {i}"}).encode() + b"\n" for i in range(50)))
    (src / "cut.jsonl.gz").write_bytes(full[: len(full) // 2])
    (src / "huge.jsonl").write_text(json.dumps({"text": "word " * 2_100_000}) + "\n")
    spec = parse_spec(
        {
            "pipeline": "bad",
            "sources": [{"name": "bad", "location": str(src), "format": "jsonl"}],
            "stages": [{"name": "normalized", "op": "normalize_text@1"}],
        }
    )
    defs = build_pipeline_defs(spec)
    result = dg.materialize(
        list(defs.assets),
        selection=[dg.AssetKey(["bad", "raw"]), dg.AssetKey(["bad", "normalized"])],
        partition_key="bad",
        resources=resources_for(tmp_path / "store"),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    store = CorpusStorage(root=str(tmp_path / "store")).store()
    rep = runner.read_report(store, "bad", "raw", "bad")
    assert rep.conserved and rep.kept >= 1
    # one of each: broken json, invalid utf-8, missing field, truncated gzip, huge doc
    kinds = ("invalid_json", "invalid_utf8", "missing_text_field", "truncated_stream", "doc_too_long")
    assert rep.quarantined == dict.fromkeys(kinds, 1)
    q = store.read_partition(runner.quarantine_dir("bad", "raw", "bad"))
    assert set(q["file"]) >= {"a.jsonl", "cut.jsonl.gz", "huge.jsonl"}
    assert all(q["error"].str.len_chars() > 10)
    assert q.filter(pl.col("file") == "a.jsonl")["offset"].sort().to_list() == [1, 2, 3]
    assert "max_doc_chars" in q.filter(pl.col("file") == "huge.jsonl")["error"][0]
    assert rep.extra.get("empty_files") == 1
    mat = result.asset_materializations_for_node("bad__raw")[0]
    assert mat.metadata["docs_quarantined"].value == rep.quarantined_total
