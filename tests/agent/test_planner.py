"""The offline planner: sensible, valid proposals from profiles, on small fixtures and on the real corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.dryrun import DryRunResult, StageRow
from agent.planner import Plan, choose_spec, goal_languages, plan_offline, revise
from agent.tools import Toolbox, ToolLimits
from corpus.spec import PathPolicy, load_spec
from tests.agent.helpers import write_jsonl


def stage_ops(spec) -> dict[str, list[str]]:
    return {s.name: [st.op for st in s.steps] for s in spec.stages}


def all_ops(spec) -> set[str]:
    return {op for ops in stage_ops(spec).values() for op in ops}


def test_goal_languages() -> None:
    assert goal_languages("clean English and German web text") == ["de", "en"]
    assert goal_languages("a multilingual corpus") == "any"
    assert goal_languages("clean web text") is None


def test_planner_on_small_sources(temp_repo: Path) -> None:
    code = [
        {"text": f"def f{i}(x):\n    return x * {i}\n\n\nclass C{i}:\n    pass\n", "path": f"m{i}.py"}
        for i in range(20)
    ]
    write_jsonl(temp_repo / "data" / "sources" / "code" / "code.jsonl", code)
    toolbox = Toolbox(temp_repo, ["data/sources/notes", "data/sources/pages"])
    sub = plan_offline("clean English text", toolbox, pipeline="small")
    spec = sub.spec
    assert load_spec(spec.model_dump(mode="json"), PathPolicy.default(temp_repo)) == spec
    ops = stage_ops(spec)
    assert ops["extracted"] == ["extract_html@1"] and spec.stage("extracted").sources == ["pages"]  # HTML only
    assert "dedup_exact@1" in all_ops(spec)  # the notes hold an exact copy
    assert spec.stage("redacted").sources == ["notes"]  # the e-mail address is in the notes
    assert "language_filter@1" not in all_ops(spec)  # monolingual English, as the goal asks
    assert all(v > 0 for v in sub.dry_run.final_kept().values())
    assert "exact_duplicate" in sub.dry_run.rows_of("deduped")[0].dropped
    assert spec.mixture is not None  # two sources: a mixture to weigh them
    assert "`notes`" in sub.rationale and "quality filters" in sub.rationale


def test_code_gets_no_prose_filters(temp_repo: Path) -> None:
    folder = temp_repo / "data" / "sources" / "code"
    folder.mkdir(parents=True)
    for i in range(12):
        (folder / f"handler_{i}.py").write_text(
            f"import os\n\n\ndef handler_{i}(event, context):\n    value = os.environ.get('K{i}')\n"
            f"    return {{'status': {i}, 'value': value}}\n"
        )
    toolbox = Toolbox(temp_repo, ["data/sources/code"])
    assert toolbox.sources["code"].format == "text"
    sub = plan_offline("clean Python code", toolbox)
    assert toolbox.profiles["code"]["code_share"] == 1.0
    assert not any(
        op in all_ops(sub.spec)
        for op in ("gopher_quality@1", "c4_quality@1", "fineweb_quality@1", "gopher_repetition@1", "normalize_text@1")
    )
    assert "source code" in sub.rationale and sub.dry_run.final_kept() == {"code": 12}


def row(stage: str, source: str, docs_in: int, kept: int, dropped: dict[str, int] | None = None, **kw) -> StageRow:
    return StageRow(
        stage,
        source,
        docs_in,
        kept,
        dropped or {},
        {},
        bytes_in=kw.get("bytes_in", 100),
        bytes_out=kw.get("bytes_out", 100),
        extra=kw.get("extra", {}),
    )


def test_revise_loosens_a_filter_that_drops_everything_and_removes_an_idle_stage() -> None:
    plan = Plan(
        spec={
            "pipeline": "p",
            "sources": [{"name": "a"}, {"name": "b"}],
            "stages": [
                {"name": "quality", "steps": [{"op": "gopher_repetition@1"}, {"op": "c4_quality@1"}]},
                {
                    "name": "language",
                    "steps": [{"op": "language_filter@1", "config": {"languages": ["en"]}}],
                    "sources": ["a", "b"],
                },
                {"name": "redacted", "steps": [{"op": "redact_pii@1"}]},
            ],
        }
    )
    result = DryRunResult(
        "p",
        50,
        rows=[
            row("quality", "a", 50, 2, {"too_few_sentences": 45, "dup_line_frac": 3}),
            row("quality", "b", 50, 3, {"too_few_sentences": 47}),
            row("language", "a", 2, 2),
            row("language", "b", 3, 0, {"language_not_allowed": 3}),
            row("redacted", "a", 2, 2),
            row("redacted", "b", 0, 0),
        ],
    )
    assert revise(plan, result)
    stages = {s["name"]: s for s in plan.spec["stages"]}
    assert stages["quality"]["steps"][1] == {"op": "c4_quality@1", "config": {"min_num_sentences": 1}}
    assert stages["language"]["sources"] == ["a"]  # no looser setting for "not allowed": not applied to b
    assert "redacted" not in stages  # nothing redacted, nothing changed
    assert "quality" in stages and "sources" not in stages["quality"]  # loosened once, for both sources
    assert len(plan.revisions) == 4 and "loosened c4_quality@1 `min_num_sentences: 1`" in plan.revisions[0]
    assert "covered by the loosened" in plan.revisions[1]


REAL_SOURCES = {
    "web": "web",
    "gsm8k": "math/gsm8k-train.jsonl",
    "wikitext": "encyclopedia/wikitext2-valid.txt",
    "udhr": "multilingual/udhr",
}


@pytest.fixture(scope="module")
def real_proposals(shared_data: Path) -> dict[str, tuple]:
    """The offline planner on each real corpus (one run each, shared by the tests below)."""
    root = Path(__file__).resolve().parents[2]
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORPUS_ALLOWED_ROOTS", str(shared_data))  # wherever the corpora are, they are allowed
        for key, rel in REAL_SOURCES.items():
            toolbox = Toolbox(root, [os.path.relpath(shared_data / rel, root)], limits=ToolLimits(profile_docs=120))
            out[key] = (
                plan_offline(
                    "clean text for language-model training", toolbox, pipeline=f"real_{key}", dry_run_docs=60
                ),
                toolbox,
            )
    return out


@pytest.mark.parametrize("key", list(REAL_SOURCES))
def test_real_source_proposal_validates_and_keeps_documents(real_proposals, key: str) -> None:
    sub, toolbox = real_proposals[key]
    assert load_spec(sub.spec.model_dump(mode="json"), toolbox.policy) == sub.spec
    kept = sub.dry_run.final_kept()
    assert kept and all(v >= 1 for v in kept.values()), kept


def test_real_sources_choices(real_proposals) -> None:
    web, _web_tb = real_proposals["web"]
    assert stage_ops(web.spec)["extracted"] == ["extract_html@1"]  # HTML
    lang = web.spec.stage("language").steps[0].config["languages"]
    assert {"de", "en"} <= set(lang)  # mostly German and English pages: both kept
    udhr, _ = real_proposals["udhr"]
    assert "language_filter@1" in all_ops(udhr.spec)  # 150+ languages
    assert "extract_html@1" not in all_ops(udhr.spec)
    gsm, gsm_tb = real_proposals["gsm8k"]
    assert "gopher_quality@1" not in all_ops(gsm.spec)  # would drop nearly every math word problem
    assert gsm_tb.profiles[next(iter(gsm_tb.profiles))]["quality"]["gopher_quality@1"]["drop_share"] > 0.9
    assert "language_filter@1" not in all_ops(gsm.spec)  # English only
    wiki, _ = real_proposals["wikitext"]
    assert wiki.spec.sources[0].split == "wikitext"
    for key, (_sub, tb) in real_proposals.items():
        profile = next(iter(tb.profiles.values()))
        dups = profile["duplicates"]["exact_share"] + profile["duplicates"]["near_share"]
        first = choose_spec("clean text", "x", tb.sources, tb.profiles).spec
        has_dedup = any(st["op"].startswith("dedup_") for s in first["stages"] for st in s["steps"])
        assert has_dedup == (dups > 0), key  # dedup exactly when the sample shows duplicates
