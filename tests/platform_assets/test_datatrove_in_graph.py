"""datatrove's steps inside the asset graph: a spec using datatrove_step@1 materializes through Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from corpus import runner
from corpus.spec import parse_spec, validate_spec
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.platform_assets.smallcorpus import small_spec_dict

STAGES = ("extracted", "quality", "redacted")


@pytest.mark.slow
def test_datatrove_steps_materialize_as_assets(small_corpus: Path, tmp_path: Path) -> None:
    d = small_spec_dict(small_corpus)
    d = {k: v for k, v in d.items() if k not in ("tokenizer", "mixture")}
    d["pipeline"] = "dt"
    d["sources"] = [s for s in d["sources"] if s["name"] in ("docs", "pages")]
    d["stages"] = [
        {
            "name": "extracted",
            "op": "datatrove_step@1",
            "config": {"step": "Trafilatura", "args": {"timeout": 30}},
            "sources": ["pages"],
        },
        {
            "name": "quality",
            "steps": [
                {"op": "datatrove_step@1", "config": {"step": "FTFYFormatter"}},
                {
                    "op": "datatrove_step@1",
                    "config": {
                        "step": "GopherQualityFilter",
                        "args": {"min_doc_words": 120, "max_non_alpha_words_ratio": 0.5},
                    },
                },
            ],
        },
        {"name": "redacted", "op": "datatrove_step@1", "config": {"step": "PIIFormatter"}, "sources": ["docs"]},
    ]
    spec = parse_spec(d)
    assert validate_spec(spec) == []
    defs = build_pipeline_defs(spec)
    resources = {**default_resources(), "storage": CorpusStorage(root=str(tmp_path / "store"))}
    selection = [dg.AssetKey(["dt", "raw"]), *(dg.AssetKey(["dt", s]) for s in STAGES)]
    for source in ("docs", "pages"):
        result = dg.materialize(
            list(defs.assets),
            selection=selection,
            partition_key=source,
            resources=resources,
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert result.success
    store = CorpusStorage(root=str(tmp_path / "store")).store()
    reasons: set[str] = set()
    for stage in STAGES:
        for source in ("docs", "pages"):
            rep = runner.read_report(store, "dt", stage, source)
            assert rep.conserved and rep.kept > 0, (stage, source, rep)
            reasons |= set(rep.dropped)
    assert reasons and all(r.startswith("datatrove:GopherQualityFilter:") for r in reasons), reasons
    pages = store.read_partition(runner.stage_dir("dt", "extracted", "pages"))
    assert set(pages["content_type"]) == {"text/plain"} and not pages["text"].str.contains("<html").any()
    docs = store.read_partition(runner.stage_dir("dt", "redacted", "docs"))
    text = "\n".join(docs["text"].to_list())
    assert "maintainer.person@example.org" not in text and "93.184.216.34" not in text
    assert "email@example.com" in text or "firstname.lastname@example.org" in text
    dropped = store.read_partition(runner.dropped_dir("dt", "quality", "docs"))
    assert set(dropped["drop_step"]) == {"datatrove_step@1"}
