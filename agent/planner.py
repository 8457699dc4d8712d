"""The offline planner: the same tools as the model, deterministic rules instead of a model.

It profiles every given source, chooses and configures operators by the rules below, dry-runs
the spec, revises it once from what the dry run shows, and submits the same kind of proposal
(spec + rationale) the model would. It is the default when no ``ANTHROPIC_API_KEY`` is set,
and what ``make demo`` runs.

Rules (each decision is written into the rationale with the figure it rests on):

* **extraction** (``extract_html@1``) for sources with HTML (WARC crawls);
* **normalization** (``normalize_text@1``) for text that is not source code;
* **language** (``language_filter@1``) for multilingual sources: the languages that make up at
  least 2% of the sample (or the languages the goal names); a source spread over so many
  languages that those cover less than 80% keeps every language and only drops texts whose
  language is not identified, with ``min_score`` lowered when CLD2 is unsure of many;
* **quality** filters for prose, not for code: each filter is kept for a source when the share
  of documents it would drop (in the languages kept) is at most 25% (50% for crawled HTML,
  where boilerplate and junk are expected), and only while all the filters kept together stay
  within the source's drop budget: 5% for curated data (no HTML, no URLs: problem sets, books,
  articles), 30% for web text, 60% for crawled HTML, less when the goal asks to keep more;
  this is what keeps math word problems, tables and verse from being thrown away by rules
  written for web prose;
* **the goal's constraints** (:mod:`agent.goals`): named languages, the N most common
  languages, dedup or not, PII redaction or not, no quality filtering, a share to keep; each is
  listed in the rationale as honoured or not, and what is not understood is listed too;
* **dedup** when the samples show duplicates: ``dedup_minhash@1`` when near duplicates are
  seen, ``dedup_exact@1`` when only exact copies are;
* **PII redaction** (``redact_pii@1``) for sources where the sample has hits;
* **model-based selection** (``quality_classifier@2``, DCLM recipe) when the goal names some
  sources as reference quality ("reference: a, b") and other prose sources are left to filter:
  the classifier is trained on the reference sources against a random sample of the others
  and keeps the top half (a conservative cut; DCLM keeps 10% of far larger pools).

Revision after the dry run (:mod:`agent.revise`): a stage that keeps under 10% of a source's
documents is loosened (the config of the filter behind the main drop reason) or no longer
applied to that source, and a stage that changed nothing anywhere is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.dryrun import DryRunResult
from agent.goals import Constraint, check_constraints, find, parse_goal
from agent.planner_rules import (
    CODE_SHARE,
    Plan,
    _hits,
    _pct,
    choose_dedup,
    choose_languages,
    choose_quality,
    choose_selection,
)
from agent.revise import revise
from agent.sources import slug
from agent.tools import SubmittedProposal, Toolbox
from agent.untrusted_text import plain_line

__all__ = [
    "Plan",
    "PlannerError",
    "choose_languages",
    "choose_quality",
    "choose_selection",
    "choose_spec",
    "goal_languages",
    "plan_offline",
    "rationale",
]


class PlannerError(RuntimeError):
    """The planner could not produce a valid proposal; the message says which step failed and why."""


def goal_languages(goal: str | list[Constraint]) -> list[str] | str | tuple[str, int] | None:
    """Languages the goal asks for: codes, "any", ("top", n) for the n most common, None when it says nothing."""
    constraints = parse_goal(goal) if isinstance(goal, str) else goal
    top = find(constraints, "top_languages")
    if top is not None:
        return ("top", int(top.value))
    if find(constraints, "any_language") is not None:
        return "any"
    named = find(constraints, "languages")
    return list(named.value) if named is not None else None


def _group(assignments: dict[str, Any]) -> list[tuple[Any, list[str]]]:
    """Sources grouped by equal assignment, in source order: one stage per distinct setting."""
    groups: list[tuple[Any, list[str]]] = []
    for source, value in assignments.items():
        for existing, members in groups:
            if existing == value:
                members.append(source)
                break
        else:
            groups.append((value, [source]))
    return groups


def _stage(name: str, steps: list[dict[str, Any]], sources: list[str], all_sources: list[str]) -> dict[str, Any]:
    stage: dict[str, Any] = {"name": name, "steps": steps}
    if sorted(sources) != sorted(all_sources):
        stage["sources"] = list(sources)
    return stage


def _stage_names(base: str, groups: list[tuple[Any, list[str]]]) -> list[str]:
    if len(groups) == 1:
        return [base]
    return [slug(f"{base}_{'_'.join(members)}")[:48].rstrip("_") for _, members in groups]


def choose_spec(goal: str, pipeline: str, sources: dict[str, Any], profiles: dict[str, dict[str, Any]]) -> Plan:
    """The first spec, by the rules in the module docstring."""
    names = list(sources)
    constraints = parse_goal(goal)
    plan = Plan(
        constraints=constraints,
        spec={
            "pipeline": pipeline,
            "description": _description(goal),
            "sources": [s.model_dump(mode="json", exclude_defaults=True) for s in sources.values()],
            "stages": [],
        },
    )
    stages: list[dict[str, Any]] = plan.spec["stages"]
    html = [n for n in names if profiles[n].get("html_share", 0.0) > 0]
    if html:
        stages.append(_stage("extracted", [{"op": "extract_html@1"}], html, names))
        plan.decisions.append(
            "Extraction (`extract_html@1`) for "
            + ", ".join(f"`{n}` ({_pct(profiles[n]['html_share'])} HTML)" for n in html)
            + ": the main text without menus and footers."
        )
    prose = [n for n in names if profiles[n].get("code_share", 0.0) < CODE_SHARE]
    if prose:
        stages.append(_stage("normalized", [{"op": "normalize_text@1"}], prose, names))
        plan.decisions.append(
            f"Normalization (`normalize_text@1`) for {', '.join(f'`{n}`' for n in prose)}: Unicode repair, NFC, "
            "whitespace."
        )
    wanted = goal_languages(constraints)
    lang_cfgs = {n: choose_languages(n, profiles[n], wanted, plan) for n in names}
    lang_groups = _group({n: c for n, c in lang_cfgs.items() if c is not None})
    for stage_name, (cfg, members) in zip(_stage_names("language", lang_groups), lang_groups, strict=True):
        stages.append(_stage(stage_name, [{"op": "language_filter@1", "config": cfg}], members, names))
    quality = {n: tuple(choose_quality(n, profiles[n], lang_cfgs[n], plan, sources[n])) for n in names}
    q_groups = _group({n: ops for n, ops in quality.items() if ops})
    for stage_name, (ops, members) in zip(_stage_names("quality", q_groups), q_groups, strict=True):
        stages.append(_stage(stage_name, [{"op": op} for op in ops], members, names))
    dedup = choose_dedup(names, profiles, plan)
    if dedup and find(constraints, "no_dedup") is not None:
        plan.decisions.append("No dedup after all: the goal asks to keep duplicates.")
        dedup = None
    elif dedup is None and find(constraints, "dedup") is not None:
        plan.decisions.append("Global dedup with `dedup_minhash@1` as the goal asks, although the samples show none.")
        dedup = "dedup_minhash@1"
    if dedup:
        stages.append({"name": "deduped", "steps": [{"op": dedup}]})
    pii = [n for n in names if profiles[n].get("pii", {}).get("total_hits", 0) > 0]
    if find(constraints, "no_pii") is not None:
        plan.decisions.append(
            "No PII redaction, as the goal asks" + (f" (the samples of {', '.join(pii)} have hits)." if pii else ".")
        )
        pii = []
    elif find(constraints, "pii") is not None and len(pii) < len(names):
        plan.decisions.append("PII redaction on every source, as the goal asks.")
        pii = list(names)
    if pii:
        stages.append(_stage("redacted", [{"op": "redact_pii@1"}], pii, names))
        plan.decisions.append(
            "PII redaction (`redact_pii@1`) for " + ", ".join(f"`{n}` ({_hits(profiles[n])})" for n in pii) + "."
        )
    else:
        plan.decisions.append("No PII redaction: no e-mail address, public IP or phone number in the samples.")
    choose_selection(goal, names, prose, profiles, stages, plan)
    if len(names) > 1:
        plan.spec["mixture"] = {"policy": "excess_loss", "initial": "natural"}
        plan.decisions.append(
            "A mixture over the sources (excess-loss policy, starting from natural proportions), "
            "so the learning loop can weigh them."
        )
    return plan


def _description(goal: str) -> str:
    from corpus.spec import check_text

    text = plain_line(goal, 300) or "proposed pipeline"
    try:
        return check_text(f"Proposed for: {text}")
    except ValueError:
        return "Proposed pipeline (the goal text is in PROPOSAL.md)"


# --- the whole planner ---------------------------------------------------------------------------


def _require(result: Any, step: str) -> Any:
    if result.is_error:
        raise PlannerError(f"{step} failed: {result.content}")
    return result.content


def default_pipeline_name(toolbox: Toolbox) -> str:
    names = list(toolbox.sources)
    return slug("_".join(names) if len(names) <= 3 else f"{names[0]}_and_{len(names) - 1}_more", fallback="proposal")


def plan_offline(
    goal: str,
    toolbox: Toolbox,
    *,
    pipeline: str | None = None,
    dry_run_docs: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> SubmittedProposal:
    """Profile, choose, dry-run, revise once, submit. Raises PlannerError naming the failed step."""
    say = progress or (lambda _: None)
    if not toolbox.sources:
        problems = "; ".join(toolbox.source_errors.values()) or "no source was given"
        raise PlannerError(f"no readable source: {problems}")
    _require(toolbox.call("list_sources", {}), "list_sources")
    _require(toolbox.call("list_operators", {}), "list_operators")
    profiles = {
        name: _require(toolbox.call("profile_source", {"source": name}), f"profile_source({name})")
        for name in toolbox.sources
    }
    name = slug(pipeline) if pipeline else default_pipeline_name(toolbox)
    plan = choose_spec(goal, name, toolbox.sources, profiles)
    say(f"planner: first spec has stages {', '.join(s['name'] for s in plan.spec['stages']) or '(none)'}")
    check = _require(toolbox.call("validate_spec", {"spec": plan.spec}), "validate_spec")
    if not check["valid"]:
        raise PlannerError(f"the planner built an invalid spec: {check['errors']}")
    n = dry_run_docs or toolbox.limits.dry_run_docs
    _require(toolbox.call("dry_run", {"spec": plan.spec, "n": n}), "dry_run")
    assert toolbox.last_dry_run is not None
    if revise(plan, toolbox.last_dry_run):
        say(f"planner: revised: {' '.join(plan.revisions)}")
        check = _require(toolbox.call("validate_spec", {"spec": plan.spec}), "validate_spec (revised)")
        if not check["valid"]:
            raise PlannerError(f"the revised spec is invalid: {check['errors']}")
    else:
        plan.revisions.append("The dry run needed no revision: every stage did some work and none emptied a source.")
    if plan.revisions and not plan.revisions[-1].startswith("The dry run needed no revision"):
        # the spec as submitted, dry-run at the size submit_proposal checks it (the result is reused there)
        _require(toolbox.call("dry_run", {"spec": plan.spec, "n": toolbox.limits.dry_run_docs}), "dry_run (revised)")
    text = rationale(goal, plan, toolbox.last_dry_run, profiles)
    _require(toolbox.call("submit_proposal", {"spec": plan.spec, "rationale": text}), "submit_proposal")
    assert toolbox.submitted is not None
    return toolbox.submitted


def rationale(
    goal: str, plan: Plan, result: DryRunResult | None = None, profiles: dict[str, dict[str, Any]] | None = None
) -> str:
    lines = ["Chosen by the offline planner from the profiles of the sources (rules in `agent/planner.py`).", ""]
    lines += [f"- {d}" for d in plan.decisions]
    lines += ["", "After the dry run:", ""]
    lines += [f"- {r}" for r in plan.revisions]
    if plan.constraints:
        from corpus.spec import parse_spec

        spec = parse_spec(plan.spec)
        verdicts = check_constraints(plan.constraints, spec, result, profiles or {})
        lines += ["", "What the goal asks, and whether this spec does it:", ""]
        for v in verdicts:
            mark = {True: "honoured", False: "NOT honoured", None: "not handled"}[v.honoured]
            lines.append(f'- {v.constraint.describe()} ("{v.constraint.asked}"): {mark}: {v.how}')
    return "\n".join(lines)
