"""Global selection operators through the stage runner: classifier, reference-LM loss, soft dedup; bad input named."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.fs as pafs
import pytest

from corpus import runner
from corpus.io import CorpusStore
from corpus.ops import registry
from corpus.ops.selection import SelectionError, quality_classifier, soft_dedup
from corpus.selection.classifier import QualityModel
from corpus.selection.softdedup import softdedup_weights
from corpus.spec import PipelineSpec, SpecError, load_spec

SENTENCES = [
    "The committee published its annual report on the state of the river and its fish.",
    "Historians agree that the bridge was completed in the spring of that year.",
    "The museum keeps a collection of maps drawn by sailors of the northern coast.",
    "In the following decade the town grew quickly as the railway reached it.",
    "Her second novel was translated into several languages and widely reviewed.",
    "The cathedral was damaged by fire and rebuilt over the next forty years.",
]
SPAM = [
    "BUY NOW cheap pills",
    "click here win $$$ free",
    "login | register | cart (0)",
    "cookies accept all 100% off",
    "best casino bonus",
]


def _prose(rng: random.Random) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(5))


def _spam(rng: random.Random) -> str:
    return "\n".join(rng.choice(SPAM) + f" {rng.randint(0, 999)}" for _ in range(12))


def _write(path: Path, texts: list[str]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "docs.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))


@pytest.fixture()
def corpus(tmp_path):
    rng = random.Random(0)
    _write(tmp_path / "ref", [_prose(rng) for _ in range(80)])
    web = [_prose(rng) for _ in range(60)] + [_spam(rng) for _ in range(140)]
    _write(tmp_path / "web", web)
    return tmp_path


def _spec(root: Path, stage: dict) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "pipeline": "sel",
            "sources": [
                {"name": "ref", "location": str(root / "ref"), "format": "jsonl"},
                {"name": "web", "location": str(root / "web"), "format": "jsonl"},
            ],
            "stages": [stage],
        }
    )


def _run(spec: PipelineSpec, root: Path) -> tuple[CorpusStore, dict]:
    store = CorpusStore(root=str(root / "store"))
    for s in spec.sources:
        runner.run_raw(spec, s.name, store, source_location=(pafs.LocalFileSystem(), s.location))
    summary = runner.run_global_index(spec, spec.stages[0].name, store)
    for s in spec.sources:
        report = runner.run_stage(spec, spec.stages[0].name, s.name, store)
        assert report.conserved
    return store, summary


def test_quality_classifier_keeps_prose_drops_spam_and_keeps_its_model(corpus):
    spec = _spec(
        corpus,
        {
            "name": "select",
            "op": "quality_classifier@2",
            "config": {"reference_sources": ["ref"], "top_fraction": 0.3, "backend": "fasttext"},
        },
    )
    store, summary = _run(spec, corpus)
    model = summary["model"]
    # negatives are a random sample of the web source, 30% of it prose like the positives: AUC is bounded well below 1
    assert model["auc"] > 0.75 and model["positives"] == 80 and model["kept"] == 60
    assert set(model["histogram"]) == {"edges", "positives", "negatives"} and model["examples"]
    kept = store.read_partition("sel/select/web")
    assert kept.height == 60 and "score/quality" in kept.columns
    assert all(any(s in t for s in SENTENCES) for t in kept["text"].to_list())  # the prose survived
    dropped = store.read_partition("sel/_dropped/select/web")
    assert set(dropped["drop_reason"].to_list()) == {"low_quality_score"} and dropped.height == 140
    assert store.read_partition("sel/select/ref").height == 80  # reference documents pass, unscored
    files = list((corpus / "store").rglob("model.bin"))
    assert len(files) == 1
    reloaded = QualityModel.load(files[0])
    rng = random.Random(9)  # the saved model (trained on every negative) ranks new prose above new spam
    fresh = reloaded.score([_prose(rng) for _ in range(5)] + [_spam(rng) for _ in range(5)])
    assert fresh[:5].min() > fresh[5:].max()


def test_soft_dedup_weights_reach_the_documents(corpus):
    base = [" ".join(f"w{i}x{j}" for j in range(40)) for i in range(10)]  # documents sharing no n-gram
    _write(corpus / "web", base + [base[0] + f" Copy {k}." for k in range(4)])  # near copies: same text, new ending
    spec = _spec(corpus, {"name": "soft", "op": "soft_dedup@1"})
    store, summary = _run(spec, corpus)
    web = store.read_partition("sel/soft/web")
    assert web.height == 14 and "weight/softdedup" in web.columns  # nothing dropped
    w = dict(zip(web["text"].to_list(), web["weight/softdedup"].to_list(), strict=True))
    assert (
        w[base[1]] == 1.0 and 0.2 < w[base[0]] < 0.3 and 0.2 < w[base[0] + " Copy 1."] < 0.3
    )  # five copies: ~1/5 each
    assert summary["duplicates"] == 0 and summary["model"]["kind"] == "soft_dedup"


def test_softdedup_copies_share_one_weight():
    a, b = "one two three four five six seven eight", "alpha beta gamma delta epsilon zeta eta theta"
    w = softdedup_weights([a, a, a, a, b], n=3)
    assert w.tolist() == pytest.approx([0.25, 0.25, 0.25, 0.25, 1.0])


@pytest.mark.slow
def test_lm_score_bands_drop_the_spam(corpus):
    spec = _spec(
        corpus,
        {
            "name": "lm",
            "op": "lm_score@1",
            "config": {
                "reference_sources": ["ref"],
                "keep_bands": ["head"],
                "budget_tokens": 20_000,
                "vocab_size": 300,
            },
        },
    )
    store, summary = _run(spec, corpus)
    assert summary["model"]["bands"]["head"] >= 60
    kept = store.read_partition("sel/lm/web")
    prose = sum(any(s in t for s in SENTENCES) for t in kept["text"].to_list())
    assert prose == 60 and kept.height <= 67 and "score/lm" in kept.columns  # head = lowest third: every prose document
    assert set(store.read_partition("sel/_dropped/lm/web")["drop_reason"].to_list()) == {"perplexity_band"}


def _batch(texts: list[str], source: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [f"{source}{i}" for i in range(len(texts))], "text": texts, "source": [source] * len(texts)}
    )


def test_one_class_or_empty_reference_is_a_named_error():
    op = registry.get_operator("quality_classifier@2")
    cfg = op.parse_config({"reference_sources": ["ref"]})
    web = _batch([_spam(random.Random(i)) for i in range(20)], "web")
    with pytest.raises(SelectionError, match=r"config.reference_sources: 0 non-empty positive documents"):
        quality_classifier(iter([_batch(["", " "], "ref"), web]), cfg)
    with pytest.raises(SelectionError, match=r"config.filter_sources: no documents to score"):
        quality_classifier(iter([_batch(["a b c", "d e f"], "ref")]), cfg)
    lab = op.parse_config({"labelled_file": {"path": "/nonexistent/labels.jsonl"}})
    with pytest.raises(SelectionError, match=r"config.labelled_file.path: '/nonexistent/labels.jsonl' not found"):
        quality_classifier(iter([web]), lab)
    assert soft_dedup(iter([web]), registry.get_operator("soft_dedup@1").parse_config({}))[0].height == 20


def test_spec_errors_name_the_field(tmp_path):
    base = {"pipeline": "p", "sources": [{"name": "a", "location": str(tmp_path), "format": "jsonl"}]}
    for config, message in [
        ({"reference_sources": ["nope"]}, r"config.reference_sources\[0\]: unknown source 'nope'"),
        ({}, "give exactly one of reference_sources"),
        ({"reference_sources": ["a"], "top_fraction": 0.2, "threshold": 0.5}, "top_fraction or threshold, not both"),
    ]:
        with pytest.raises(SpecError, match=message):
            load_spec({**base, "stages": [{"name": "s", "op": "quality_classifier@2", "config": config}]})
    with pytest.raises(SpecError, match="reference_sources: name at least one source"):
        load_spec({**base, "stages": [{"name": "s", "op": "lm_score@1", "config": {}}]})


def test_linear_backend_saves_and_reloads_without_pickle(tmp_path):
    from corpus.selection.classifier import ClassifierOptions, train_classifier

    rng = random.Random(2)
    model, report = train_classifier(
        [_prose(rng) for _ in range(60)], [_spam(rng) for _ in range(60)], ClassifierOptions(backend="linear")
    )
    assert report.auc > 0.95 and report.backend == "linear"
    model.save(tmp_path / "m.bin")
    again = QualityModel.load(tmp_path / "m.bin")
    texts = [_prose(rng), _spam(rng)]
    assert again.backend == "linear" and np.allclose(again.score(texts), model.score(texts))
    assert again.score(texts)[0] > 0.5 > again.score(texts)[1]
