"""The offline planner adds a quality classifier only when the goal names reference sources."""

from __future__ import annotations

from agent.planner import Plan, choose_selection
from corpus.spec import load_spec


def _profiles(docs: int) -> dict:
    return {n: {"sample": {"documents": docs}} for n in ("wiki", "web", "code")}


def test_reference_sources_in_the_goal_add_a_classifier_stage(tmp_path):
    plan, stages = Plan(spec={}), []
    choose_selection(
        "clean web text; reference: wiki", ["wiki", "web", "code"], ["wiki", "web"], _profiles(200), stages, plan
    )
    assert stages == [
        {
            "name": "selected",
            "steps": [
                {
                    "op": "quality_classifier@2",
                    "config": {"reference_sources": ["wiki"], "filter_sources": ["web"], "top_fraction": 0.5},
                }
            ],
        }
    ]
    assert "quality_classifier@2" in plan.decisions[0]
    spec = {
        "pipeline": "p",
        "sources": [{"name": n, "location": str(tmp_path), "format": "jsonl"} for n in ("wiki", "web", "code")],
        "stages": stages,
    }
    load_spec(spec)  # valid as written


def test_no_reference_or_too_few_documents_no_classifier():
    for goal, docs in (("clean web text", 200), ("reference: wiki", 10), ("reference: unknown", 200)):
        plan, stages = Plan(spec={}), []
        choose_selection(goal, ["wiki", "web", "code"], ["wiki", "web"], _profiles(docs), stages, plan)
        assert stages == [], goal
