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

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.dryrun import DryRunResult
from agent.goals import Constraint, check_constraints, find, parse_goal
from agent.profile import LANGUAGE_MIN_SCORE, LOW_CONFIDENCE
from agent.revise import revise
from agent.sources import slug
from agent.tools import SubmittedProposal, Toolbox
from agent.untrusted_text import plain_line

QUALITY_ORDER = ("gopher_repetition@1", "gopher_quality@1", "c4_quality@1", "fineweb_quality@1")
QUALITY_DROP_LIMIT = 0.25
QUALITY_DROP_LIMIT_HTML = 0.5
LANGUAGE_MIN_SHARE = 0.02
LANGUAGE_MIN_DOCS = 3
LANGUAGE_COVERAGE = 0.8
MAX_LISTED_LANGUAGES = 8
LOW_CONFIDENCE_LIMIT = 0.25
NEAR_DUPLICATE_MIN = 0.005
CODE_SHARE = 0.5
# the share of a source all quality filters together may drop: curated data (no HTML, no URLs:
# problem sets, books, articles) is not web text, and rules written for web prose cost it real documents
CURATED_DROP_BUDGET = 0.05
WEB_DROP_BUDGET = 0.3
HTML_DROP_BUDGET = 0.6


class PlannerError(RuntimeError):
    """The planner could not produce a valid proposal; the message says which step failed and why."""


@dataclass
class Plan:
    """A spec under construction and the decisions behind it, in order."""

    spec: dict[str, Any]
    decisions: list[str] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)


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


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


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


# --- choosing ------------------------------------------------------------------------------------


def _shares(profile: dict[str, Any]) -> dict[str, float]:
    """The full language distribution of a profile (low-confidence guesses in their own bucket)."""
    return profile.get("language_shares") or {x["language"]: x["share"] for x in profile.get("languages", [])}


def choose_languages(name: str, profile: dict[str, Any], wanted: Any, plan: Plan) -> dict[str, Any] | None:
    """The language filter config for one source, or None when it needs none."""
    shares = _shares(profile)
    langs = [x for x in profile.get("languages", []) if x["language"] not in ("unknown", LOW_CONFIDENCE)]
    frequent = [x for x in langs if x["share"] >= LANGUAGE_MIN_SHARE and x["docs"] >= LANGUAGE_MIN_DOCS]
    low_conf = profile.get("language_low_confidence_share", 0.0)
    summary = ", ".join(f"{x['language']} {_pct(x['share'])}" for x in profile.get("languages", [])[:5])
    if low_conf:
        summary += f"; {_pct(low_conf)} of the sample CLD2 cannot place confidently"
    if isinstance(wanted, tuple):  # ("top", n): the n most common languages
        n = wanted[1]
        ranked = sorted(
            ((v, k) for k, v in shares.items() if k not in ("unknown", LOW_CONFIDENCE)), key=lambda x: (-x[0], x[1])
        )
        codes = sorted(k for _, k in ranked[:n])
        covered = sum(shares[c] for c in codes)
        if len(ranked) <= n and low_conf < LANGUAGE_MIN_SHARE:
            plan.decisions.append(
                f"`{name}`: no language filter: the goal asks for the {n} most common languages and the "
                f"sample has only {len(ranked)} ({summary})."
            )
            return None
        plan.decisions.append(
            f"`{name}`: the goal asks for the {n} most common languages: the language filter keeps "
            f"{', '.join(codes)} ({_pct(covered)} of the sample; {len(ranked)} languages seen)."
        )
        return {"languages": codes, "min_score": LANGUAGE_MIN_SCORE}
    if isinstance(wanted, list):
        inside = sum(shares.get(code, 0.0) for code in wanted)  # from the whole distribution, confident guesses only
        outside = 1.0 - inside
        if outside < LANGUAGE_MIN_SHARE:
            plan.decisions.append(
                f"`{name}`: no language filter: {_pct(inside)} of the sample is already in {', '.join(wanted)} ({summary})."
            )
            return None
        if inside < 0.05:
            plan.decisions.append(
                f"`{name}`: no language filter although the goal asks for {', '.join(wanted)}: only "
                f"{_pct(inside)} of the sample is in them ({summary}); reconsider this source."
            )
            return None
        plan.decisions.append(
            f"`{name}`: language filter keeps {', '.join(wanted)} as the goal asks; it removes about "
            f"{_pct(outside)} of the sample ({summary})."
        )
        return {"languages": wanted, "min_score": LANGUAGE_MIN_SCORE}
    multilingual = len(frequent) > 1 or (bool(langs) and langs[0]["share"] < 0.9)
    if not multilingual:
        plan.decisions.append(f"`{name}`: no language filter: the sample is monolingual ({summary}).")
        return None
    coverage = sum(x["share"] for x in frequent)
    min_score = LANGUAGE_MIN_SCORE
    if low_conf > LOW_CONFIDENCE_LIMIT:
        p25 = profile.get("language_score_quantiles", {}).get("p25", 0.5)
        min_score = max(0.1, min(0.5, int(p25 * 100) / 100))
    if wanted != "any" and coverage >= LANGUAGE_COVERAGE and len(frequent) <= MAX_LISTED_LANGUAGES:
        codes = sorted(x["language"] for x in frequent)
        plan.decisions.append(
            f"`{name}`: multilingual ({summary}; {profile.get('languages_seen')} languages seen): the language "
            f"filter keeps {', '.join(codes)}, each at least {_pct(LANGUAGE_MIN_SHARE)} of the sample "
            f"({_pct(coverage)} together)."
        )
        return {"languages": codes, "min_score": min_score}
    why = (
        "the goal asks for any language"
        if wanted == "any"
        else (f"the {len(frequent)} languages with at least {_pct(LANGUAGE_MIN_SHARE)} cover only {_pct(coverage)}")
    )
    score_note = (
        (
            f"; CLD2 is unsure of {_pct(low_conf)} of the sample (many languages it scores low), so min_score is "
            f"lowered to {min_score} (the sample's 25th percentile)"
        )
        if min_score < 0.5
        else ""
    )
    plan.decisions.append(
        f"`{name}`: multilingual ({profile.get('languages_seen')} languages seen; {summary}) and {why}: the "
        f"language filter keeps every language, tags each document's language and drops texts whose "
        f"language is not identified{score_note}."
    )
    return {"languages": None, "min_score": min_score}


def _language_shares(profile: dict[str, Any]) -> dict[str, int]:
    return {x["language"]: x["docs"] for x in profile.get("languages", [])}


def is_curated(source: Any, profile: dict[str, Any]) -> bool:
    """Curated data (problem sets, books, articles, speeches): no HTML, not a crawl, no URL per record."""
    fmt = getattr(source, "format", None) or profile.get("source", {}).get("format")
    url = getattr(source, "url_field", None) or profile.get("source", {}).get("url_field")
    return profile.get("html_share", 0.0) == 0 and fmt != "warc" and not url


def drop_budget(source: Any, profile: dict[str, Any], constraints: list[Constraint]) -> tuple[float, str]:
    """The share of a source its quality filters together may drop, and why."""
    if profile.get("html_share", 0.0) >= 0.5:
        budget, why = HTML_DROP_BUDGET, "crawled HTML"
    elif is_curated(source, profile):
        budget, why = CURATED_DROP_BUDGET, "curated data: no HTML and no URLs, so not web text"
    else:
        budget, why = WEB_DROP_BUDGET, "web text without HTML"
    keep = find(constraints, "min_keep")
    if keep is not None and 1.0 - keep.value < budget:
        budget, why = round(1.0 - keep.value, 4), f"the goal asks to keep at least {_pct(keep.value)}"
    return budget, why


def _combined(profile: dict[str, Any], ops: list[str]) -> float:
    if not ops:
        return 0.0
    if len(ops) == 1:
        return profile.get("quality", {}).get(ops[0], {}).get("drop_share", 0.0)
    return profile.get("quality_combined", {}).get("+".join(sorted(ops)), 1.0)


def choose_quality(
    name: str, profile: dict[str, Any], lang_cfg: dict[str, Any] | None, plan: Plan, source: Any = None
) -> list[str]:
    """The quality filters that fit one source (in the canonical order), within its combined drop budget."""
    if profile.get("code_share", 0.0) >= CODE_SHARE:
        plan.decisions.append(
            f"`{name}`: no quality filters: {_pct(profile['code_share'])} of it is source code, and the "
            "quality rules are written for prose."
        )
        return []
    if find(plan.constraints, "no_quality") is not None:
        plan.decisions.append(f"`{name}`: no quality filters, as the goal asks.")
        return []
    limit = QUALITY_DROP_LIMIT_HTML if profile.get("html_share", 0.0) >= 0.5 else QUALITY_DROP_LIMIT
    budget, why = drop_budget(source, profile, plan.constraints)
    limit = min(limit, budget)
    kept_langs = (lang_cfg or {}).get("languages")
    docs_by_lang = _language_shares(profile)
    chosen, notes = [], []
    for op in QUALITY_ORDER:
        entry = profile.get("quality", {}).get(op)
        if entry is None:
            continue
        share = entry["drop_share"]
        by_lang = entry.get("drop_share_by_language") or {}
        if kept_langs and by_lang:
            weights = {lang: docs_by_lang.get(lang, 0) for lang in kept_langs if lang in by_lang}
            total = sum(weights.values())
            if total:
                share = sum(by_lang[lang] * w for lang, w in weights.items()) / total
        top = ", ".join(f"{r} {_pct(v)}" for r, v in list(entry.get("reasons", {}).items())[:2]) or "nothing"
        together = _combined(profile, [*chosen, op])
        if share > limit:
            notes.append(f"{op} left out (would drop {_pct(share)}: {top})")
        elif chosen and together > budget:
            notes.append(
                f"{op} left out (would drop {_pct(share)} alone, but {_pct(together)} together with "
                f"{', '.join(chosen)}: over the budget)"
            )
        else:
            chosen.append(op)
            notes.append(f"{op} kept (would drop {_pct(share)}: {top})")
    where = " in the languages kept" if kept_langs else ""
    plan.decisions.append(
        f"`{name}`: quality filters within a combined drop budget of {_pct(budget)} ({why}), each at "
        f"most {_pct(limit)}{where}: "
        + "; ".join(notes)
        + f". Together they would drop {_pct(_combined(profile, chosen))} of the sample."
    )
    return chosen


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
            f"Normalization (`normalize_text@1`) for {', '.join(f'`{n}`' for n in prose)}: Unicode repair, NFC, whitespace."
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


REFERENCE_RE = re.compile(r"\breferences?(?: sources?)?\s*:\s*([a-z0-9_, ]+)", re.I)
SELECTION_MIN_DOCS = 50
SELECTION_KEEP = 0.5


def choose_selection(
    goal: str,
    names: list[str],
    prose: list[str],
    profiles: dict[str, dict[str, Any]],
    stages: list[dict[str, Any]],
    plan: Plan,
) -> None:
    """A quality_classifier stage when the goal names reference sources and other prose sources remain."""
    m = REFERENCE_RE.search(goal)
    if not m:
        return
    refs = [n for n in (x.strip() for x in m.group(1).split(",")) if n in names]
    others = [n for n in prose if n not in refs]
    docs = {n: int(profiles[n].get("sample", {}).get("documents", 0)) for n in refs + others}
    if not refs or not others:
        return
    if min(docs[n] for n in refs) < SELECTION_MIN_DOCS:
        plan.decisions.append(
            f"No quality classifier: reference sources {refs} have under {SELECTION_MIN_DOCS} sampled documents."
        )
        return
    stages.append(
        {
            "name": "selected",
            "steps": [
                {
                    "op": "quality_classifier@2",
                    "config": {"reference_sources": refs, "filter_sources": others, "top_fraction": SELECTION_KEEP},
                }
            ],
        }
    )
    plan.decisions.append(
        f"Quality classifier (`quality_classifier@2`) trained on the reference sources {refs} against a random "
        f"sample of {others}; keeps the top {_pct(SELECTION_KEEP)} by score."
    )


def _hits(profile: dict[str, Any]) -> str:
    pii = profile.get("pii", {})
    hits = ", ".join(f"{v} {k}" for k, v in pii.get("hits", {}).items() if v)
    return f"{hits} in {_pct(pii.get('docs_with_hits_share', 0.0))} of the sample"


def choose_dedup(names: list[str], profiles: dict[str, dict[str, Any]], plan: Plan) -> str | None:
    near = {n: profiles[n].get("duplicates", {}).get("near_share", 0.0) for n in names}
    exact = {n: profiles[n].get("duplicates", {}).get("exact_share", 0.0) for n in names}
    seen = ", ".join(f"`{n}` exact {_pct(exact[n])}, near {_pct(near[n])}" for n in names)
    if max(near.values()) >= NEAR_DUPLICATE_MIN:
        plan.decisions.append(f"Global dedup with `dedup_minhash@1`: near duplicates in the samples ({seen}).")
        return "dedup_minhash@1"
    if max(exact.values()) > 0:
        plan.decisions.append(
            f"Global dedup with `dedup_exact@1`: exact copies but no near duplicates in the samples ({seen})."
        )
        return "dedup_exact@1"
    plan.decisions.append(
        f"No dedup: no duplicate in the samples ({seen}); a sample shows a lower bound, so add "
        "`dedup_minhash@1` if the full data is known to repeat."
    )
    return None


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
