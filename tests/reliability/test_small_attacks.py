"""The smaller findings: NaN in a threshold, a duplicate stage name, garbage HTML in a WARC, and names
of folders outside the roots listed through symbolic links.

(Pipeline names of the metrics command line are in test_metrics_bounds.py.)
"""

from __future__ import annotations

import io
import math
import os
import random
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.fs as pafs
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from agent.sources import Location, list_files
from corpus import schema
from corpus.ops import registry
from corpus.readers import list_source_files, read_source
from corpus.spec import SourceSpec, SpecError, load_spec

FS = pafs.LocalFileSystem()


def spec(**extra: Any) -> dict[str, Any]:
    return {"pipeline": "p", "sources": [{"name": "a", "location": "data/a", "format": "jsonl"}], **extra}


def issues(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as exc:
        load_spec(data)
    return {i.field: i.message for i in exc.value.issues}


# --- NaN and infinities in numbers ---------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_in_an_operator_threshold_is_not_called_out_of_range(value: float) -> None:
    found = issues(
        spec(stages=[{"name": "q", "op": "gopher_quality@1", "config": {"max_non_alpha_words_ratio": value}}])
    )
    assert found == {"stages[0].steps[0].config.max_non_alpha_words_ratio": "Input should be a finite number"}


@pytest.mark.parametrize(
    "section",
    [
        {"tokenizer": {"val_fraction": math.nan}},
        {"mixture": {"max_epochs": math.nan}},
        {"mixture": {"policy_config": {"floor": math.nan}}},
        {"mixture": {"policy": "regression", "policy_config": {"explore_concentration": math.inf}}},
    ],
)
def test_nan_anywhere_in_a_spec_is_reported_as_not_finite(section: dict[str, Any]) -> None:
    found = issues(spec(**section))
    assert len(found) == 1 and next(iter(found.values())) == "Input should be a finite number", found


# --- a duplicate stage name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "stages",
    [
        [{"name": "x", "op": "normalize_text@1"}, {"name": "x", "op": "normalize_text@1"}],
        [
            {"name": "a", "op": "normalize_text@1"},
            {"name": "b", "op": "normalize_text@1"},
            {"name": "a", "op": "normalize_text@1", "input": "b"},
        ],
    ],
)
def test_a_duplicate_stage_name_is_one_issue_and_no_cycle(stages: list[dict[str, Any]]) -> None:
    found = issues(spec(stages=stages))
    assert list(found) == [f"stages[{len(stages) - 1}].name"] and "duplicate asset name" in next(iter(found.values()))
    assert not any("cycle" in m for m in found.values())


def test_a_real_cycle_is_still_reported() -> None:
    found = issues(
        spec(
            stages=[
                {"name": "a", "op": "normalize_text@1", "input": "b"},
                {"name": "b", "op": "normalize_text@1", "input": "a"},
            ]
        )
    )
    assert any("cycle: a -> b -> a" in m for m in found.values())


# --- garbage HTML in a WARC ----------------------------------------------------------------------


def write_warc(path: Path, bodies: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=False)
    for name, body in bodies.items():
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(
            w.create_warc_record(
                f"https://example.org/{name}", "response", payload=io.BytesIO(body), http_headers=headers
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


PAGE = (
    b"<html><head><title>t</title></head><body><p>"
    + b"Rivers run through the valley past the old mill. " * 20
    + b"</p></body></html>"
)


def test_garbage_declared_html_is_dropped_by_the_reader(tmp_path: Path) -> None:
    rng = random.Random(7)
    write_warc(
        tmp_path / "w" / "crawl.warc",
        {
            "binary": bytes(rng.randrange(256) for _ in range(4000)),
            "noise": "".join(rng.choice("abcdefghij klmnop\n") for _ in range(4000)).encode(),
            "page": PAGE,
        },
    )
    (batch,) = read_source(SourceSpec(name="w", location="data/w", format="warc"), FS, str(tmp_path / "w"))
    assert batch.docs["url"].to_list() == ["https://example.org/page"]
    assert dict(zip(batch.dropped["url"], batch.dropped["drop_reason"], strict=True)) == {
        "https://example.org/binary": "warc_not_html",
        "https://example.org/noise": "warc_not_html",
    }
    assert batch.records == 3


def test_markup_debris_is_not_extracted_text() -> None:
    debris = "<html><body><p>" + "&lt;&lt;&gt;&gt; ;;; ## {} [] 0x1f " * 40 + "</p></body></html>"
    batch = pl.DataFrame(
        {
            schema.TEXT: [debris, PAGE.decode()],
            schema.CONTENT_TYPE: ["text/html", "text/html"],
            schema.TITLE: [None, None],
        }
    )
    op = registry.get_operator("extract_html@1")
    out = op.fn(batch, op.parse_config({}))
    assert out[schema.DROP].to_list() == ["extraction_not_text", None]
    assert "extraction_not_text" in op.reasons


# --- folders outside the roots, through links ----------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    outside = tmp_path / "outside" / "private-folder"
    outside.mkdir(parents=True)
    (outside / "salaries-2025.jsonl").write_text('{"text": "x"}\n')
    (outside / "sub").mkdir()
    (outside / "sub" / "medical-records.jsonl").write_text('{"text": "y"}\n')
    src = tmp_path / "data" / "src"
    src.mkdir(parents=True)
    (src / "a.jsonl").write_text('{"text": "a real document"}\n')
    (src / "inside").mkdir()
    (src / "inside" / "b.jsonl").write_text('{"text": "another one"}\n')
    (src / "ext").symlink_to(outside, target_is_directory=True)
    (src / "alias").symlink_to(src / "inside", target_is_directory=True)
    (src / "inside" / "loop").symlink_to(src, target_is_directory=True)  # a loop of links ends
    return src


def test_names_inside_an_outside_folder_are_never_listed(linked: Path) -> None:
    source = SourceSpec(name="src", location="data/src", format="jsonl")
    files = list_source_files(source, FS, str(linked))
    assert files == ["a.jsonl", "alias/b.jsonl", "ext", "inside/b.jsonl"]
    batches = list(read_source(source, FS, str(linked)))
    quarantine = pl.concat([b.quarantine for b in batches])
    assert quarantine["file"].to_list() == ["ext"] and quarantine["error"][0].startswith("outside_location: ext ")
    listing = list_files(Location("data/src", FS, str(linked)))
    assert [rel for rel, _ in listing.files] == ["a.jsonl", "alias/b.jsonl", "inside/b.jsonl"]
    shown = " ".join(files) + " ".join(quarantine["error"]) + " ".join(rel for rel, _ in listing.files)
    for secret in ("salaries", "medical", "private-folder", "sub"):
        assert secret not in shown
    assert os.path.islink(linked / "ext")
