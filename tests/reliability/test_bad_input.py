"""Bad input through the whole build loop in Dagster: nothing crashes, every record is accounted for.

Sources in every format mix good documents with broken ones (truncated gzip and zstd,
invalid UTF-8, NUL bytes, wrong JSON types, missing fields, Parquet with the wrong schema
or cut short, WARC records cut short or not HTML, binary text files, empty files), a 10.5 MB
document and 200,000 one-line documents (``tests/reliability/badinput.py``). The demo's
stages (extract, normalize, language, quality, dedup, PII) and the tokenizer run over them
through ``materialize_pipeline``. Then:

* every blocking check (conservation, non-empty, schema) was evaluated and passed;
* conservation holds at every stage of every source, and each stage reads exactly what the
  previous one kept; the dropped and quarantine outputs hold as many rows as the reports say;
* the raw quarantine holds the file, the record offset, a clear error (class + what and
  where + how to fix) and the raw record for every broken record, and nothing else.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from corpus import runner
from corpus.spec import PipelineSpec, parse_spec
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.orchestrate import materialize_pipeline, stage_names
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.reliability.badinput import (
    EMPTY_FILES,
    EXPECTED_RAW_DROPS,
    EXPECTED_RAW_ERRORS,
    HUGE_CHARS,
    TINY_DOCS,
    TRUNCATED_STREAMS,
    bad_spec_dict,
    write_bad_corpus,
)
from tests.reliability.helpers import prose


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("bad")
    spec = parse_spec(bad_spec_dict(write_bad_corpus(base / "sources")))
    resources = default_resources()
    resources["storage"] = CorpusStorage(root=str(base / "store"))
    instance = dg.DagsterInstance.ephemeral()
    materialize_pipeline(spec, resources=resources, instance=instance, parallel=1, progress=lambda _: None)
    return spec, resources["storage"].store(), instance


def test_every_stage_ran_and_every_check_passed(built) -> None:
    spec, _store, instance = built
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=100_000
    )
    checks = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    failed = [(c.asset_key.to_user_string(), c.check_name, c.metadata) for c in checks if not c.passed]
    assert failed == []
    evaluated = {(c.asset_key.to_user_string(), c.check_name) for c in checks}
    for stage in stage_names(spec):
        for check in ("conservation", "non_empty", "schema"):
            assert (f"bad/{stage}", check) in evaluated
    failures = instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_FAILURE), limit=10)
    assert failures == []


def test_conservation_at_every_stage_and_nothing_lost_between_stages(built) -> None:
    spec, store, _ = built
    for source in spec.source_names:
        previous_kept = None
        for stage in stage_names(spec):
            rep = runner.read_report(store, "bad", stage, source)
            assert rep.conserved, (stage, source, rep.docs_in, rep.kept, rep.dropped, rep.quarantined)
            if previous_kept is not None:
                assert rep.docs_in == previous_kept, (
                    f"{stage}[{source}] read {rep.docs_in}, the stage before kept {previous_kept}"
                )
            previous_kept = rep.kept
            if stage == "tokenized":
                continue
            kept = store.read_partition(runner.stage_dir("bad", stage, source))
            dropped = store.read_partition(runner.dropped_dir("bad", stage, source))
            quarantined = store.read_partition(runner.quarantine_dir("bad", stage, source))
            assert (kept.height, dropped.height, quarantined.height) == (
                rep.kept,
                rep.dropped_total,
                rep.quarantined_total,
            ), (stage, source)
            if dropped.height:
                assert dropped["drop_reason"].null_count() == 0 and dropped["drop_step"].null_count() == 0
                assert (
                    dict(zip(*dropped["drop_reason"].value_counts().to_dict(as_series=False).values(), strict=True))
                    == rep.dropped
                )
    tiny = runner.read_report(store, "bad", "raw", "tiny")
    assert tiny.docs_in == TINY_DOCS and tiny.kept == TINY_DOCS and tiny.shards == 10


@pytest.mark.parametrize("source", list(EXPECTED_RAW_ERRORS))
def test_raw_quarantine_holds_file_offset_clear_error_and_record(built, source: str) -> None:
    _spec, store, _ = built
    q = store.read_partition(runner.quarantine_dir("bad", "raw", source))
    rep = runner.read_report(store, "bad", "raw", source)
    expected = EXPECTED_RAW_ERRORS[source]
    streams = TRUNCATED_STREAMS.get(source, {})
    assert q.height == len(expected) + len(streams) == rep.quarantined_total
    if not q.height:
        return
    assert q["file"].null_count() == 0 and q["offset"].null_count() == 0 and q["raw"].null_count() == 0
    assert set(q["stage"]) == {"raw"}
    by_place = {(r["file"], r["offset"]): r for r in q.iter_rows(named=True)}
    for (file, offset), (kind, fragment) in expected.items():
        row = by_place.get((file, offset))
        assert row is not None, f"nothing quarantined at {file}:{offset}; quarantine: {sorted(by_place)}"
        error = row["error"]
        assert error.startswith(f"{kind}: "), error
        assert file in error and fragment in error, error
        assert len(error) > 60, f"too terse to act on: {error!r}"
    for file, fragment in streams.items():
        (row,) = [r for r in by_place.values() if r["file"] == file]
        assert row["error"].startswith("truncated_stream: ") and fragment in row["error"]
        assert "before it were kept" in row["error"] and "Re-download or re-compress" in row["error"]
    # the raw record is there to look at: the bad line itself, or the beginning of the oversized one
    if source == "docs":
        assert by_place[("b_types.jsonl", 1)]["raw"] == '{"text": broken json'
        assert by_place[("b_types.jsonl", 2)]["raw"].startswith('{"text": "caf')
        huge = by_place[("f_huge.jsonl", 0)]
        assert len(huge["raw"]) == 65536 and f"{HUGE_CHARS:,} characters" in huge["error"]
    assert rep.quarantined == dict(pl.Series([e.split(":", 1)[0] for e in q["error"]]).value_counts().iter_rows())


def test_raw_drops_empty_files_and_repairs_are_reported(built) -> None:
    spec, store, _ = built
    for source in spec.source_names:
        rep = runner.read_report(store, "bad", "raw", source)
        assert rep.dropped == EXPECTED_RAW_DROPS.get(source, {}), source
        assert rep.extra.get("empty_file_names", []) == EMPTY_FILES.get(source, []), source
    docs = runner.read_report(store, "bad", "raw", "docs")
    assert docs.extra["repairs"] == {"nul_removed": 1}
    kept = store.read_partition(runner.stage_dir("bad", "raw", "docs"))
    assert not kept["text"].str.contains("\x00", literal=True).any()
    assert set(kept["file"]) == {"a_good.jsonl", "b_types.jsonl", "d_cut.jsonl.gz"}
    web_dropped = store.read_partition(runner.dropped_dir("bad", "raw", "web"))
    assert sorted(web_dropped["url"]) == [
        "https://web.example/api",
        "https://web.example/logo.png",
        "https://web.example/missing",
    ]


def test_html_was_extracted_and_every_source_reached_the_tokenizer(built) -> None:
    spec, store, _ = built
    web = store.read_partition(runner.stage_dir("bad", "extracted", "web"))
    assert web.height == 5 and set(web["content_type"]) == {"text/plain"}
    assert not web["text"].str.contains("<p>", literal=True).any()
    for source in spec.source_names:
        rep = runner.read_report(store, "bad", "tokenized", source)
        assert rep.kept > 0 and rep.extra["tokens_train"] + rep.extra["tokens_val"] > 0, source


def test_the_huge_document_passes_when_allowed(tmp_path: Path) -> None:
    """With max_doc_chars raised, the 10.5 MB document is an ordinary one: read, normalized, filtered, accounted for."""
    folder = tmp_path / "huge"
    folder.mkdir()
    rng = random.Random(3)
    text = "\n\n".join(prose(rng, 6) for _ in range(HUGE_CHARS // 300 + 1))[:HUGE_CHARS]
    (folder / "huge.jsonl").write_text(json.dumps({"text": text}) + "\n")
    spec = PipelineSpec.model_validate(
        {
            "pipeline": "huge",
            "sources": [{"name": "huge", "location": str(folder), "format": "jsonl", "max_doc_chars": 20_000_000}],
            "stages": [
                {"name": "normalized", "op": "normalize_text@1"},
                {"name": "language", "op": "language_filter@1"},
                {"name": "redacted", "op": "redact_pii@1"},
            ],
        }
    )
    resources = default_resources()
    resources["storage"] = CorpusStorage(root=str(tmp_path / "store"))
    assets = list(build_pipeline_defs(spec).assets)
    result = dg.materialize(
        assets,
        selection=[dg.AssetKey(["huge", s]) for s in ("raw", "normalized", "language", "redacted")],
        partition_key="huge",
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    store = resources["storage"].store()
    for stage in ("raw", "normalized", "language", "redacted"):
        rep = runner.read_report(store, "huge", stage, "huge")
        assert rep.conserved and rep.docs_in == 1 and rep.kept == 1, (stage, rep)
    out = store.read_partition(runner.stage_dir("huge", "redacted", "huge"))
    assert out["text"].str.len_chars()[0] > 10_000_000
