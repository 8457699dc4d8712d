"""A source that loses every document is a result for that source, not the end of the build loop.

With the default thresholds of ``gopher_quality`` a source of short notes keeps nothing. Its
``quality`` partition fails the blocking ``non_empty`` check (naming what removed the documents);
the other sources go on through dedup, redaction and tokenization; the command line says which
source stopped and why, without a traceback, and exits non-zero.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from corpus import runner
from corpus.spec import PipelineSpec, parse_spec
from platform_assets import cli, orchestrate
from platform_assets.orchestrate import BuildLoopError, materialize_pipeline
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.reliability.helpers import write_prose_jsonl

REASON = "quality: check non_empty failed: no document survived (30 in; dropped: gopher_short_doc 30)"


def make_spec(base: Path, sources: tuple[str, ...] = ("good", "tiny", "other")) -> PipelineSpec:
    write_prose_jsonl(base / "src" / "good" / "a.jsonl", 60, seed=1)
    write_prose_jsonl(base / "src" / "other" / "a.jsonl", 60, seed=2)
    (base / "src" / "tiny").mkdir(parents=True, exist_ok=True)
    (base / "src" / "tiny" / "a.jsonl").write_text(
        "".join(json.dumps({"text": f"short note {i}"}) + "\n" for i in range(30))
    )
    return parse_spec(
        {
            "pipeline": "mixed",
            "sources": [{"name": n, "location": str(base / "src" / n), "format": "jsonl"} for n in sources],
            "stages": [
                {"name": "quality", "op": "gopher_quality@1"},
                {"name": "deduped", "op": "dedup_exact@1"},
                {"name": "redacted", "op": "redact_pii@1"},
            ],
            "tokenizer": {"vocab_size": 300, "val_min_docs": 2},
        }
    )


def assert_others_went_on(spec: PipelineSpec, store) -> None:
    for source in ("good", "other"):
        for stage in ("deduped", "redacted", "tokenized"):
            assert runner.read_report(store, "mixed", stage, source).kept > 0, (stage, source)
    empty = runner.read_report(store, "mixed", "quality", "tiny")
    assert (
        empty.docs_in == 30 and empty.kept == 0 and empty.dropped == {"gopher_short_doc": 30}
    )  # the result, committed
    summary = json.loads(store.read_bytes(f"{runner.index_dir('mixed', 'deduped')}/_summary.json"))
    assert summary["excluded_sources"] == ["tiny"]
    with pytest.raises(Exception, match="no committed output"):
        runner.read_report(store, "mixed", "redacted", "tiny")


def test_the_cli_reports_the_empty_source_and_the_others_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    spec = make_spec(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(orchestrate, "load_pipeline_specs", lambda: {"mixed": spec})
    with pytest.raises(SystemExit) as exit_:
        cli.main(["materialize", "mixed", "--root", str(tmp_path / "store"), "--parallel", "1"])
    assert exit_.value.code == 1
    out, err = capfd.readouterr()
    text = " ".join((out + err).split())
    assert f"source 'tiny' stopped: {REASON}" in text
    assert "Traceback" not in out + err and "Stack Trace" not in out + err
    assert "1 of 3 sources stopped" in text
    assert_others_went_on(spec, CorpusStorage(root=str(tmp_path / "store")).store())
    instance = dg.DagsterInstance.get()
    checks = [
        r.event_log_entry.dagster_event.event_specific_data
        for r in instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=1000
        )
    ]
    failed = [(c.asset_key.to_user_string(), c.check_name, c.partition) for c in checks if not c.passed]
    assert failed == [("mixed/quality", "non_empty", "tiny")]


@pytest.mark.slow
def test_worker_processes_report_the_empty_source_too(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    res = default_resources()
    res["storage"] = CorpusStorage(root=str(tmp_path / "store"))
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        timings = materialize_pipeline(spec, resources=res, instance=instance, parallel=2, progress=lambda _: None)
    assert timings["failed"] == {
        "tiny": REASON + "; loosen the thresholds of the stage's filters for this source, or "
        "limit the stage to other sources (stage.sources)"
    }
    assert_others_went_on(spec, res["storage"].store())


def test_when_every_source_stops_the_loop_says_so(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, sources=("tiny",))
    res = default_resources()
    res["storage"] = CorpusStorage(root=str(tmp_path / "store"))
    with pytest.raises(BuildLoopError, match="every source of 'mixed' stopped") as exc:
        materialize_pipeline(
            spec, resources=res, instance=dg.DagsterInstance.ephemeral(), parallel=1, progress=lambda _: None
        )
    assert exc.value.failed["tiny"].startswith(REASON)


def test_a_missing_source_folder_stops_that_source_only(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    (tmp_path / "src" / "tiny" / "a.jsonl").unlink()
    (tmp_path / "src" / "tiny").rmdir()
    res = default_resources()
    res["storage"] = CorpusStorage(root=str(tmp_path / "store"))
    timings = materialize_pipeline(
        spec, resources=res, instance=dg.DagsterInstance.ephemeral(), parallel=1, progress=lambda _: None
    )
    assert list(timings["failed"]) == ["tiny"]
    assert timings["failed"]["tiny"].startswith("raw: FileNotFoundError: source 'tiny': location")
    assert "does not exist" in timings["failed"]["tiny"]
    store = res["storage"].store()
    assert runner.read_report(store, "mixed", "tokenized", "good").kept > 0
