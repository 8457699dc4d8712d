"""Decontamination: planted evaluation items are found (verbatim and lightly edited), clean text is kept."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest

from corpus.ops import registry
from corpus.ops.decontam import DecontaminateConfig, decontaminate
from corpus.runner import apply_steps
from corpus.selection.decontam import EvalIndex, EvalSetError, read_items
from corpus.selection.planting import edited_span, light_edit, plant
from corpus.spec import PathPolicy, load_spec

ITEM = "Natalia sold clips to 48 of her friends in April and then she sold half as many clips in May"


def test_exact_and_edited_spans_match_clean_text_does_not():
    index = EvalIndex.build({"quiz": [ITEM]}, n=13, max_edits=1)
    rng = random.Random(1)
    docs = [
        "Preamble. " + ITEM.upper().replace(" ", "  ") + "!!! trailing text",
        "Some words. " + light_edit(" ".join(ITEM.split()[2:15]), rng) + " more words",
        "Natalia sold clips to 48 of her friends in April, and that is all we know about her.",
        "",
    ]
    first, hits, found = index.scan(docs)
    assert first.tolist() == [0, 0, -1, -1]
    assert found[0] == {0} and hits[2] == 0
    strict = EvalIndex.build({"quiz": [ITEM]}, n=13, max_edits=0)
    assert strict.scan(docs)[0].tolist() == [0, -1, -1, -1]  # an edited word needs max_edits=1


def test_short_items_are_matched_whole():
    index = EvalIndex.build({"q": ["What is the capital of France today", "Hi there"]}, n=13, min_item_words=5)
    first, _, _ = index.scan(["Quiz: what is the CAPITAL of France today? Paris.", "hi there friend"])
    assert first.tolist() == [0, -1]  # the 2-word item is too short to be evidence
    assert index.skipped_short == [1]


def _write_gsm8k_eval(tmp_path: Path, shared_data: Path, k: int) -> tuple[Path, list[str], list[str]]:
    lines = (shared_data / "math" / "gsm8k-train.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    eval_recs, other = recs[:k], recs[k:]
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps({"question": r["question"], "answer": r["answer"]}) + "\n" for r in eval_recs))
    return path, [r["question"] for r in eval_recs], [r["question"] + "\n" + r["answer"] for r in other]


@pytest.mark.shared_data
def test_planted_items_found_and_clean_kept_on_real_text(tmp_path, shared_data):
    path, questions, other_math = _write_gsm8k_eval(tmp_path, shared_data, 150)
    speeches = [p.read_text(errors="replace") for p in sorted((shared_data / "speeches" / "inaugural").glob("*.txt"))]
    wiki = (shared_data / "encyclopedia" / "wikitext2-valid.txt").read_text().split("\n \n")
    clean = (
        [t for t in wiki if len(t.split()) > 30] + speeches + other_math[:3000]
    )  # other GSM8K problems: hard negatives
    docs, plants = plant(clean, questions, 13, seed=0)
    cfg = DecontaminateConfig(eval_sets=[{"name": "gsm8k", "path": str(path), "fields": ["question"]}])
    batch = pl.DataFrame({"id": [str(i) for i in range(len(docs))], "text": docs})
    out = decontaminate(batch, cfg)
    dropped = set(out.with_row_index().filter(pl.col("_drop") == "contaminated")["index"].to_list())
    hosts = {p.doc for p in plants}
    assert {p.kind for p in plants} == {"exact", "edited"}
    missed = [p for p in plants if p.doc not in dropped]
    assert not missed, missed[:5]
    false = dropped - hosts
    assert len(false) / (len(docs) - len(hosts)) <= 0.001, [docs[i][:200] for i in list(false)[:3]]


def test_operator_reports_shares_and_keeps_prior_drops(tmp_path):
    path = tmp_path / "eval.txt"
    path.write_text(
        ITEM + "\n" + "A second evaluation question about the number of apples in the red basket on the table\n"
    )
    op = registry.get_operator("decontaminate@1")
    cfg = op.parse_config({"eval_sets": [{"name": "quiz", "path": str(path), "format": "text"}]})
    batch = pl.DataFrame(
        {"id": ["a", "b", "c"], "text": ["x " + ITEM, "clean text here", ITEM], "_drop": [None, None, "too_short"]}
    )
    kept, dropped, _, extra = apply_steps(batch, [(op, cfg)], "decont")
    assert kept["id"].to_list() == ["b"]
    assert dict(zip(dropped["id"], dropped["drop_reason"], strict=True)) == {"a": "contaminated", "c": "too_short"}
    assert extra["contaminated_docs"] == {"quiz": 1}
    assert op.summarize(extra, cfg) == {"contamination_share/quiz": 0.5}


def test_bad_eval_files_are_named(tmp_path):
    with pytest.raises(EvalSetError, match=r"eval_sets\[0\].path: evaluation file .* not found"):
        read_items(str(tmp_path / "nope.jsonl"), "jsonl", where="config.eval_sets[0]")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": "x"}\n')
    with pytest.raises(EvalSetError, match=r"fields: .* has none of the fields \['question'\]"):
        read_items(str(bad), "jsonl", ["question"], where="config.eval_sets[0]")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(EvalSetError, match="holds no evaluation items"):
        read_items(str(empty), "text")


def test_spec_names_a_missing_or_outside_eval_file(tmp_path):
    root = tmp_path / "proj"
    (root / "data" / "src").mkdir(parents=True)
    (root / "data" / "src" / "a.jsonl").write_text('{"text": "hello"}\n')
    policy = PathPolicy(project_root=root, allowed_roots=(root / "data",))
    spec = {
        "pipeline": "p",
        "sources": [{"name": "a", "location": "data/src", "format": "jsonl"}],
        "stages": [
            {
                "name": "decont",
                "op": "decontaminate@1",
                "config": {"eval_sets": [{"name": "e", "path": "data/missing.jsonl"}]},
            }
        ],
    }
    with pytest.raises(
        Exception, match=r"stages\[0\].steps\[0\].config.eval_sets\[0\].path: file 'data/missing.jsonl' not found"
    ):
        load_spec(spec, policy)
    spec["stages"][0]["config"]["eval_sets"][0]["path"] = "../outside.jsonl"
    with pytest.raises(Exception, match=r"eval_sets\[0\].path: .*outside the allowed roots"):
        load_spec(spec, policy)
    spec["stages"][0]["config"] = {"eval_sets": []}
    with pytest.raises(Exception, match=r"config.eval_sets: List should have at least 1 item"):
        load_spec(spec, policy)


def test_edited_span_is_n_words():
    span = edited_span(ITEM, 13, random.Random(0))
    assert span is not None and len(span.split()) in (13, 14)
    assert edited_span("too short", 13, random.Random(0)) is None


def test_stage_report_carries_contamination_share(tmp_path):
    import pyarrow.fs as pafs

    from corpus import runner
    from corpus.io import CorpusStore
    from corpus.spec import PipelineSpec

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.jsonl").write_text(
        json.dumps({"text": "intro " + ITEM}) + "\n" + json.dumps({"text": "clean"}) + "\n"
    )
    (tmp_path / "eval.txt").write_text(
        ITEM + "\nanother item that nobody copied into the corpus at all, not even once\n"
    )
    spec = PipelineSpec.model_validate(
        {
            "pipeline": "d",
            "sources": [{"name": "a", "location": str(tmp_path / "src"), "format": "jsonl"}],
            "stages": [
                {
                    "name": "decont",
                    "op": "decontaminate@1",
                    "config": {"eval_sets": [{"name": "quiz", "path": str(tmp_path / "eval.txt"), "format": "text"}]},
                }
            ],
        }
    )
    store = CorpusStore(root=str(tmp_path / "store"))
    runner.run_raw(spec, "a", store, source_location=(pafs.LocalFileSystem(), str(tmp_path / "src")))
    report = runner.run_stage(spec, "decont", "a", store)
    assert report.conserved and report.kept == 1 and report.dropped == {"contaminated": 1}
    assert report.extra["contamination_share/quiz"] == 0.5 and report.extra["contaminated_docs"] == {"quiz": 1}
    assert "contaminated_items" not in report.extra
