"""The dry run follows the stage graph: a stage runs after the stage it reads, wherever the spec lists it."""

from __future__ import annotations

from pathlib import Path

from agent.dryrun import dry_run
from corpus.spec import PathPolicy, parse_spec
from tests.agent.helpers import notes_records, write_jsonl


def test_a_stage_reading_a_later_listed_stage_runs_after_it(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data" / "notes" / "n.jsonl", notes_records(20))
    spec = parse_spec(
        {
            "pipeline": "order",
            "sources": [{"name": "notes", "location": "data/notes", "format": "jsonl", "url_field": "url"}],
            "stages": [
                # listed first, but it reads "normalized", listed second
                {"name": "redacted", "op": "redact_pii@1", "input": "normalized"},
                {"name": "normalized", "op": "normalize_text@1", "input": "raw"},
            ],
            "tokenizer": {"input": "redacted"},
        }
    )
    result = dry_run(spec, PathPolicy.default(tmp_path), n=50)
    assert [r.stage for r in result.rows] == ["raw", "normalized", "redacted"]
    normalized, redacted = result.rows_of("normalized")[0], result.rows_of("redacted")[0]
    assert redacted.docs_in == normalized.kept == 21  # 20 notes and one exact copy
    assert redacted.extra["pii_email"] == 1  # notes_records plants one address
    assert result.final_kept() == {"notes": redacted.kept}  # what the tokenizer reads
    assert not result.timed_out and not result.not_run
