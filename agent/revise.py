"""Revising a spec after its dry run: loosen a filter that empties a source, remove a stage that does nothing.

A stage that keeps under 10% of a source's documents is loosened (the config knob behind
its main drop reason, from :data:`LOOSER`) or no longer applied to that source, and a stage
that changed nothing anywhere is removed. Each change is written down for the rationale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.dryrun import DryRunResult
from corpus.ops import registry

if TYPE_CHECKING:
    from agent.planner import Plan

COLLAPSE_KEEP = 0.1

# reason -> (operator, config field, looser value): the knob behind each drop reason
LOOSER: dict[str, tuple[str, str, Any]] = {
    "gopher_short_doc": ("gopher_quality@1", "min_doc_words", 10),
    "gopher_enough_stop_words": ("gopher_quality@1", "min_stop_words", None),
    "gopher_below_alpha_threshold": ("gopher_quality@1", "max_non_alpha_words_ratio", 0.5),
    "gopher_below_avg_threshold": ("gopher_quality@1", "min_avg_word_length", 2.0),
    "gopher_above_avg_threshold": ("gopher_quality@1", "max_avg_word_length", 15.0),
    "too_few_sentences": ("c4_quality@1", "min_num_sentences", 1),
    "curly_bracket": ("c4_quality@1", "filter_curly_bracket", False),
    "line_punct_ratio": ("fineweb_quality@1", "line_punct_thr", 0.03),
    "short_line_ratio": ("fineweb_quality@1", "short_line_thr", 0.9),
    "char_dup_ratio": ("fineweb_quality@1", "char_duplicates_ratio", 0.1),
    "list_ratio": ("fineweb_quality@1", "new_line_ratio", 0.6),
    "dup_line_frac": ("gopher_repetition@1", "dup_line_frac", 0.5),
    "dup_para_frac": ("gopher_repetition@1", "dup_para_frac", 0.5),
    "dup_line_char_frac": ("gopher_repetition@1", "dup_line_char_frac", 0.4),
    "dup_para_char_frac": ("gopher_repetition@1", "dup_para_char_frac", 0.4),
}


def _reason_ops(stage: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for step in stage["steps"]:
        for reason in registry.get_operator(step["op"]).reasons:
            out.setdefault(reason, step["op"])
    return out


def revise(plan: Plan, result: DryRunResult) -> bool:
    """Loosen collapsing stages and remove idle ones, from one dry run. True when the spec changed."""
    spec = plan.spec
    all_sources = [s["name"] for s in spec["sources"]]
    changed = False
    loosened: set[tuple[str, str, str]] = set()  # (stage, operator, field) loosened in this revision
    for stage in list(spec["stages"]):
        rows = [r for r in result.rows_of(stage["name"]) if not r.passthrough and r.docs_in > 0]
        if not rows:
            continue
        for row in rows:
            if row.kept >= COLLAPSE_KEEP * row.docs_in or not row.dropped:
                continue
            reason = max(row.dropped, key=lambda r: row.dropped[r])
            op = _reason_ops(stage).get(reason)
            knob = LOOSER.get(reason)
            step = next((s for s in stage["steps"] if knob and s["op"] == knob[0]), None)
            lost = f"kept {row.kept} of {row.docs_in} documents of `{row.source}` (mostly {reason})"
            if knob and step is not None and (stage["name"], knob[0], knob[1]) in loosened:
                plan.revisions.append(f"Stage `{stage['name']}` {lost}: covered by the loosened {knob[0]} `{knob[1]}`.")
                continue
            if knob and step is not None and step.get("config", {}).get(knob[1], "unset") != knob[2]:
                step.setdefault("config", {})[knob[1]] = knob[2]
                loosened.add((stage["name"], knob[0], knob[1]))
                plan.revisions.append(f"Stage `{stage['name']}` {lost}: loosened {knob[0]} `{knob[1]}: {knob[2]}`.")
            elif op == "language_filter@1" and reason == "language_low_confidence":
                if (stage["name"], op, "min_score") in loosened:
                    continue
                cfg = stage["steps"][0].setdefault("config", {})
                cfg["min_score"] = round(cfg.get("min_score", 0.5) / 2, 3)
                loosened.add((stage["name"], op, "min_score"))
                plan.revisions.append(f"Stage `{stage['name']}` {lost}: halved min_score to {cfg['min_score']}.")
            else:
                members = stage.get("sources") or list(all_sources)
                stage["sources"] = [s for s in members if s != row.source]
                plan.revisions.append(
                    f"Stage `{stage['name']}` {lost} and has no looser setting for that: no longer "
                    f"applied to `{row.source}`."
                )
            changed = True
        if stage.get("sources") == []:
            spec["stages"].remove(stage)
            plan.revisions.append(f"Stage `{stage['name']}` no longer applies to any source: removed.")
            continue
        if all(r.changed_nothing for r in rows) and not any(k[0] == stage["name"] for k in loosened):
            spec["stages"].remove(stage)
            plan.revisions.append(
                f"Stage `{stage['name']}` changed nothing in the dry run ({sum(r.docs_in for r in rows)} "
                "documents in, all kept unchanged): removed."
            )
            changed = True
    return changed
