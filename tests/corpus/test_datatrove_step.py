"""datatrove_step@1: datatrove's filters, extractors and formatters as an operator, with an allowlist."""

from __future__ import annotations

import polars as pl
import pytest

from corpus import runner
from corpus.ops import registry
from corpus.spec import parse_spec, validate_spec

OP = registry.get_operator("datatrove_step@1")

PROSE = (
    "The committee met on Tuesday to review the annual budget. Members discussed several proposals in detail. "
    "The chair thanked everyone for their work. A final vote is planned for next month. "
    "Minutes will be published online soon."
)


def run(config: dict, texts: list[str | None], **columns: list) -> pl.DataFrame:
    batch = pl.DataFrame(
        {"id": [f"d{i}" for i in range(len(texts))], "text": texts, "source": "s", **columns},
        schema_overrides={"text": pl.String},
    )
    out = OP.fn(batch, OP.parse_config(config))
    assert out.height == batch.height and out["id"].to_list() == batch["id"].to_list()
    return out


def test_filter_drops_with_datatroves_reason_and_keeps_its_rewritten_text() -> None:
    kept_doc = PROSE + "\nMenu | Home | Contact\nRead more"  # C4 removes the lines without terminal punctuation
    out = run({"step": "C4QualityFilter"}, [kept_doc, "Too short.", PROSE + "\nlorem ipsum dolor sit amet, they said."])
    assert out["_drop"].to_list() == [
        None,
        "datatrove:C4QualityFilter:too_few_sentences",
        "datatrove:C4QualityFilter:lorem_ipsum",
    ]
    assert out["text"][0] == PROSE
    assert out["text"][1] == "Too short."  # a dropped document keeps its text
    assert out["_error"].null_count() == 3


def test_filter_arguments_reach_the_step() -> None:
    texts = [PROSE, " ".join(["word"] * 10)]
    default = run({"step": "GopherQualityFilter"}, texts)["_drop"].to_list()
    assert default == ["datatrove:GopherQualityFilter:gopher_short_doc"] * 2  # under 50 words
    loosened = run({"step": "GopherQualityFilter", "args": {"min_doc_words": 20}}, texts)["_drop"].to_list()
    assert loosened == [None, "datatrove:GopherQualityFilter:gopher_short_doc"]
    rep = run({"step": "GopherRepetitionFilter"}, [PROSE, "spam spam spam spam " * 20])["_drop"].to_list()
    assert rep[0] is None and rep[1].startswith("datatrove:GopherRepetitionFilter:")


def test_earlier_drops_are_kept_and_not_evaluated() -> None:
    out = run({"step": "FineWebQualityFilter"}, ["x", PROSE], _drop=["gopher_short_doc", None])
    assert out["_drop"].to_list() == ["gopher_short_doc", None]


def test_formatters_rewrite_text() -> None:
    out = run({"step": "PIIFormatter"}, ["Mail jane.doe@example.org or 93.184.216.34 now.", "No PII here."])
    assert out["text"].to_list() == ["Mail email@example.com or 22.214.171.124 now.", "No PII here."]
    fixed = run({"step": "FTFYFormatter"}, ["cafÃ© au lait", "   "])
    assert fixed["text"][0] == "café au lait"
    assert fixed["_drop"].to_list() == [None, "datatrove:FTFYFormatter:empty_text"]
    kept = run({"step": "PIIFormatter", "args": {"remove_ips": False}}, ["at 93.184.216.34"])
    assert kept["text"][0] == "at 93.184.216.34"


def test_extractor_turns_html_rows_into_text() -> None:
    page = (
        f"<html><head><title>Budget</title></head><body><nav>Home</nav><article><p>{PROSE}</p></article></body></html>"
    )
    out = run(
        {"step": "Trafilatura"},
        [page, PROSE, "<html><body></body></html>"],
        content_type=["text/html; charset=utf-8", "text/plain", "text/html"],
        title=[None, None, None],
    )
    assert out["text"][0].startswith("The committee met") and "<" not in out["text"][0]
    assert out["content_type"].to_list() == ["text/plain", "text/plain", "text/plain"]
    assert out["title"][0] == "Budget"
    assert out["text"][1] == PROSE  # not HTML: untouched
    assert out["_drop"].to_list() == [None, None, "datatrove:Trafilatura:empty_extraction"]


def test_extractor_timeout_quarantines_the_page() -> None:
    """A page over the step's per-document timeout is quarantined with the reason, not lost (the page takes seconds)."""
    big = "<html><body>" + "".join(f"<div><p>{PROSE} {i}</p></div>" for i in range(5000)) + "</body></html>"
    kept, dropped, quarantined, _ = runner.apply_steps(
        pl.DataFrame({"id": ["d0"], "text": [big], "source": "s", "content_type": ["text/html"]}),
        [(OP, OP.parse_config({"step": "Trafilatura", "args": {"timeout": 0.05}}))],
        "extracted",
    )
    assert quarantined["error"][0].startswith("datatrove_step_failed: Trafilatura took longer than its timeout")
    assert kept.height == 0 and dropped.height == 0 and quarantined.height == 1
    assert quarantined["step"][0] == "datatrove_step@1"


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"step": "Nope"}, "step", ["unknown datatrove step 'Nope'", "GopherQualityFilter"]),
        ({"step": "LanguageFilter"}, "step", ["not offered", "downloads a fastText", "language_filter@1"]),
        ({"step": "C4BadWordsFilter"}, "step", ["not offered", "downloads its word lists"]),
        ({"step": "UnigramLogProbFilter"}, "step", ["downloads a unigram frequency list"]),
        ({"step": "LambdaFilter"}, "step", ["nothing in a spec is executed"]),
        ({"step": "datatrove.pipeline.filters.GopherQualityFilter"}, "step", ["unknown datatrove step"]),
        (
            {"step": "C4QualityFilter", "args": {"min_num_sentences": -5}},
            "args",
            ["C4QualityFilter argument min_num_sentences", "greater than or equal to -1", "got -5"],
        ),
        (
            {"step": "GopherQualityFilter", "args": {"exclusion_writer": "x"}},
            "args",
            ["no argument 'exclusion_writer'", "its arguments: min_doc_words"],
        ),
        ({"step": "Trafilatura", "args": {"output_format": "xml"}}, "args", ["no argument 'output_format'"]),
        ({"step": "C4ParagraphFilter", "args": {"min_paragraphs": 1}}, "args", ["it takes none"]),
        ({"step": "PIIFormatter", "args": {"email_replacement": []}}, "args", ["email_replacement"]),
        ({"step": "GopherQualityFilter", "extra": 1}, "extra", ["Extra inputs are not permitted"]),
    ],
)
def test_bad_config_names_the_field_and_the_fix(config: dict, field: str, words: list[str]) -> None:
    errors = registry.config_errors(OP, config)
    assert [f for f, _ in errors] == [field], errors
    for w in words:
        assert w in errors[0][1], errors


def test_spec_validation_reports_the_spec_field() -> None:
    spec = parse_spec(
        {
            "pipeline": "p",
            "sources": [{"name": "a", "location": "/tmp/a", "format": "jsonl"}],
            "stages": [
                {
                    "name": "q",
                    "op": "datatrove_step@1",
                    "config": {"step": "GopherQualityFilter", "args": {"min_doc_words": "many"}},
                }
            ],
        }
    )
    problems = [str(p) for p in validate_spec(spec)]
    assert any("stages[0].steps[0].config.args" in p and "min_doc_words" in p for p in problems), problems


def test_described_with_datatroves_reasons() -> None:
    info = OP.describe()
    assert "datatrove:GopherQualityFilter:gopher_short_doc" in info["drop_reasons"]
    assert "datatrove:Trafilatura:empty_extraction" in info["drop_reasons"]
    assert info["kind"] == "map" and "GopherQualityFilter" in info["config_schema"]["properties"]["step"]["description"]
    steps = info["config_schema"]["datatrove_steps"]
    assert steps["C4QualityFilter"]["kind"] == "filter" and "min_num_sentences" in steps["C4QualityFilter"]["args"]
    assert "LanguageFilter" not in steps
