"""Guessing a source's text field picks only keys a spec can name."""

from __future__ import annotations

import json
from pathlib import Path

from agent.sources import guess_source
from corpus.spec import PathPolicy


def test_a_key_no_spec_can_name_is_skipped_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "sources" / "crawl"
    folder.mkdir(parents=True)
    rows = [{"body (raw)": "a long page body " * 40, "summary": f"short text {i}"} for i in range(5)]
    (folder / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    src = guess_source("data/sources/crawl", PathPolicy.default(tmp_path))
    assert src.format == "jsonl"
    assert src.text_field == "summary"
