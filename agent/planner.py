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
  where boilerplate and junk are expected); this is what keeps math word problems, tables and
  verse from being thrown away by rules written for web prose;
* **dedup** when the samples show duplicates: ``dedup_minhash@1`` when near duplicates are
  seen, ``dedup_exact@1`` when only exact copies are;
* **PII redaction** (``redact_pii@1``) for sources where the sample has hits;
* **model-based selection** (``quality_classifier@1``, DCLM recipe) when the goal names some
  sources as reference quality ("reference: a, b") and other prose sources are left to filter:
  the classifier is trained on the reference sources against a random sample of the others
  and keeps the top half (a conservative cut; DCLM keeps 10% of far larger pools).

Revision after the dry run: a stage that keeps under 10% of a source's documents is loosened
(the config of the filter behind the main drop reason) or no longer applied to that source,
and a stage that changed nothing anywhere is removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.dryrun import DryRunResult
from agent.sources import slug
from agent.tools import SubmittedProposal, Toolbox
from corpus.ops import registry

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
COLLAPSE_KEEP = 0.1

LANGUAGE_NAMES = {
    "english": "en", "german": "de", "deutsch": "de", "french": "fr", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "polish": "pl", "russian": "ru", "chinese": "zh", "japanese": "ja",
    "korean": "ko", "arabic": "ar", "hindi": "hi", "turkish": "tr", "swedish": "sv", "danish": "da",
    "norwegian": "no", "finnish": "fi", "czech": "cs", "greek": "el", "hebrew": "he", "ukrainian": "uk",
    "vietnamese": "vi", "indonesian": "id", "swahili": "sw", "catalan": "ca", "romanian": "ro", "hungarian": "hu",
}
ANY_LANGUAGE_WORDS = ("multilingual", "any language", "all languages", "every language", "many languages")

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


class PlannerError(RuntimeError):
    """The planner could not produce a valid proposal; the message says which step failed and why."""


@dataclass
class Plan:
    """A spec under construction and the decisions behind it, in order."""

    spec: dict[str, Any]
    decisions: list[str] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)


def goal_languages(goal: str) -> list[str] | None | str:
    """Languages the goal asks for: a list of codes, "any" for a multilingual goal, None when it says nothing."""
    text = goal.lower()
    if any(w in text for w in ANY_LANGUAGE_WORDS):
        return "any"
    found = [code for name, code in LANGUAGE_NAMES.items() if re.search(rf"\b{name}\b", text)]
    return sorted(set(found)) or None


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


def choose_languages(name: str, profile: dict[str, Any], wanted: list[str] | None | str, plan: Plan) -> dict[str, Any] | None:
    """The language filter config for one source, or None when it needs none."""
    langs = [x for x in profile.get("languages", []) if x["language"] != "unknown"]
    frequent = [x for x in langs if x["share"] >= LANGUAGE_MIN_SHARE and x["docs"] >= LANGUAGE_MIN_DOCS]
    low_conf = profile.get("language_low_confidence_share", 0.0)
    summary = ", ".join(f"{x['language']} {_pct(x['share'])}" for x in langs[:5])
    if isinstance(wanted, list):
        outside = sum(x["share"] for x in profile.get("languages", []) if x["language"] not in wanted)
        inside = 1.0 - outside
        if outside < LANGUAGE_MIN_SHARE:
            plan.decisions.append(f"`{name}`: no language filter: {_pct(inside)} of the sample is already in {', '.join(wanted)} ({summary}).")
            return None
        if inside < 0.05:
            plan.decisions.append(f"`{name}`: no language filter although the goal asks for {', '.join(wanted)}: only "
                                  f"{_pct(inside)} of the sample is in them ({summary}); reconsider this source.")
            return None
        plan.decisions.append(f"`{name}`: language filter keeps {', '.join(wanted)} as the goal asks; it removes about "
                              f"{_pct(outside)} of the sample ({summary}).")
        return {"languages": wanted, "min_score": 0.5}
    multilingual = len(frequent) > 1 or (langs and langs[0]["share"] < 0.9)
    if not multilingual:
        plan.decisions.append(f"`{name}`: no language filter: the sample is monolingual ({summary}).")
        return None
    coverage = sum(x["share"] for x in frequent)
    min_score = 0.5
    if low_conf > LOW_CONFIDENCE_LIMIT:
        p25 = profile.get("language_score_quantiles", {}).get("p25", 0.5)
        min_score = max(0.1, min(0.5, int(p25 * 100) / 100))
    if wanted != "any" and coverage >= LANGUAGE_COVERAGE and len(frequent) <= MAX_LISTED_LANGUAGES:
        codes = sorted(x["language"] for x in frequent)
        plan.decisions.append(f"`{name}`: multilingual ({summary}; {profile.get('languages_seen')} languages seen): the language "
                              f"filter keeps {', '.join(codes)}, each at least {_pct(LANGUAGE_MIN_SHARE)} of the sample "
                              f"({_pct(coverage)} together).")
        return {"languages": codes, "min_score": min_score}
    why = "the goal asks for any language" if wanted == "any" else (
        f"the {len(frequent)} languages with at least {_pct(LANGUAGE_MIN_SHARE)} cover only {_pct(coverage)}")
    score_note = (f"; CLD2 is unsure of {_pct(low_conf)} of the sample (many languages it scores low), so min_score is "
                  f"lowered to {min_score} (the sample's 25th percentile)") if min_score < 0.5 else ""
    plan.decisions.append(f"`{name}`: multilingual ({profile.get('languages_seen')} languages seen; {summary}) and {why}: the "
                          f"language filter keeps every language, tags each document's language and drops texts whose "
                          f"language is not identified{score_note}.")
    return {"languages": None, "min_score": min_score}


def _language_shares(profile: dict[str, Any]) -> dict[str, int]:
    return {x["language"]: x["docs"] for x in profile.get("languages", [])}


def choose_quality(name: str, profile: dict[str, Any], lang_cfg: dict[str, Any] | None, plan: Plan) -> list[str]:
    """The quality filters that fit one source (in the canonical order)."""
    if profile.get("code_share", 0.0) >= CODE_SHARE:
        plan.decisions.append(f"`{name}`: no quality filters: {_pct(profile['code_share'])} of it is source code, and the "
                              "quality rules are written for prose.")
        return []
    limit = QUALITY_DROP_LIMIT_HTML if profile.get("html_share", 0.0) >= 0.5 else QUALITY_DROP_LIMIT
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
        if share <= limit:
            chosen.append(op)
            notes.append(f"{op} kept (would drop {_pct(share)}: {top})")
        else:
            notes.append(f"{op} left out (would drop {_pct(share)}: {top})")
    where = " in the languages kept" if kept_langs else ""
    plan.decisions.append(f"`{name}`: quality filters with at most {_pct(limit)} of the sample dropped{where}"
                          f"{' (crawled HTML)' if limit == QUALITY_DROP_LIMIT_HTML else ''}: " + "; ".join(notes) + ".")
    return chosen


def choose_spec(goal: str, pipeline: str, sources: dict[str, Any], profiles: dict[str, dict[str, Any]]) -> Plan:
    """The first spec, by the rules in the module docstring."""
    names = list(sources)
    plan = Plan(spec={
        "pipeline": pipeline,
        "description": _description(goal),
        "sources": [s.model_dump(mode="json", exclude_defaults=True) for s in sources.values()],
        "stages": [],
    })
    stages: list[dict[str, Any]] = plan.spec["stages"]
    html = [n for n in names if profiles[n].get("html_share", 0.0) > 0]
    if html:
        stages.append(_stage("extracted", [{"op": "extract_html@1"}], html, names))
        plan.decisions.append("Extraction (`extract_html@1`) for " + ", ".join(
            f"`{n}` ({_pct(profiles[n]['html_share'])} HTML)" for n in html) + ": the main text without menus and footers.")
    prose = [n for n in names if profiles[n].get("code_share", 0.0) < CODE_SHARE]
    if prose:
        stages.append(_stage("normalized", [{"op": "normalize_text@1"}], prose, names))
        plan.decisions.append(f"Normalization (`normalize_text@1`) for {', '.join(f'`{n}`' for n in prose)}: Unicode repair, NFC, whitespace.")
    wanted = goal_languages(goal)
    lang_cfgs = {n: choose_languages(n, profiles[n], wanted, plan) for n in names}
    lang_groups = _group({n: c for n, c in lang_cfgs.items() if c is not None})
    for stage_name, (cfg, members) in zip(_stage_names("language", lang_groups), lang_groups, strict=True):
        stages.append(_stage(stage_name, [{"op": "language_filter@1", "config": cfg}], members, names))
    quality = {n: tuple(choose_quality(n, profiles[n], lang_cfgs[n], plan)) for n in names}
    q_groups = _group({n: ops for n, ops in quality.items() if ops})
    for stage_name, (ops, members) in zip(_stage_names("quality", q_groups), q_groups, strict=True):
        stages.append(_stage(stage_name, [{"op": op} for op in ops], members, names))
    dedup = choose_dedup(names, profiles, plan)
    if dedup:
        stages.append({"name": "deduped", "steps": [{"op": dedup}]})
    pii = [n for n in names if profiles[n].get("pii", {}).get("total_hits", 0) > 0]
    if pii:
        stages.append(_stage("redacted", [{"op": "redact_pii@1"}], pii, names))
        plan.decisions.append("PII redaction (`redact_pii@1`) for " + ", ".join(
            f"`{n}` ({_hits(profiles[n])})" for n in pii) + ".")
    else:
        plan.decisions.append("No PII redaction: no e-mail address, public IP or phone number in the samples.")
    choose_selection(goal, names, prose, profiles, stages, plan)
    if len(names) > 1:
        plan.spec["mixture"] = {"policy": "excess_loss", "initial": "natural"}
        plan.decisions.append("A mixture over the sources (excess-loss policy, starting from natural proportions), "
                              "so the learning loop can weigh them.")
    return plan


REFERENCE_RE = re.compile(r"\breferences?(?: sources?)?\s*:\s*([a-z0-9_, ]+)", re.I)
SELECTION_MIN_DOCS = 50
SELECTION_KEEP = 0.5


def choose_selection(goal: str, names: list[str], prose: list[str], profiles: dict[str, dict[str, Any]],
                     stages: list[dict[str, Any]], plan: Plan) -> None:
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
        plan.decisions.append(f"No quality classifier: reference sources {refs} have under {SELECTION_MIN_DOCS} sampled documents.")
        return
    stages.append({"name": "selected", "steps": [{"op": "quality_classifier@1", "config": {
        "reference_sources": refs, "filter_sources": others, "top_fraction": SELECTION_KEEP}}]})
    plan.decisions.append(f"Quality classifier (`quality_classifier@1`) trained on the reference sources {refs} against a random "
                          f"sample of {others}; keeps the top {_pct(SELECTION_KEEP)} by score.")


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
        plan.decisions.append(f"Global dedup with `dedup_exact@1`: exact copies but no near duplicates in the samples ({seen}).")
        return "dedup_exact@1"
    plan.decisions.append(f"No dedup: no duplicate in the samples ({seen}); a sample shows a lower bound, so add "
                          "`dedup_minhash@1` if the full data is known to repeat.")
    return None


def _description(goal: str) -> str:
    from corpus.spec import check_text

    text = " ".join(goal.split())[:300] or "proposed pipeline"
    try:
        return check_text(f"Proposed for: {text}")
    except ValueError:
        return "Proposed pipeline (the goal text is in PROPOSAL.md)"


# --- revising ------------------------------------------------------------------------------------


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
                plan.revisions.append(f"Stage `{stage['name']}` {lost} and has no looser setting for that: no longer "
                                      f"applied to `{row.source}`.")
            changed = True
        if stage.get("sources") == []:
            spec["stages"].remove(stage)
            plan.revisions.append(f"Stage `{stage['name']}` no longer applies to any source: removed.")
            continue
        if all(r.changed_nothing for r in rows) and not any(k[0] == stage["name"] for k in loosened):
            spec["stages"].remove(stage)
            plan.revisions.append(f"Stage `{stage['name']}` changed nothing in the dry run ({sum(r.docs_in for r in rows)} "
                                  "documents in, all kept unchanged): removed.")
            changed = True
    return changed


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
    profiles = {name: _require(toolbox.call("profile_source", {"source": name}), f"profile_source({name})") for name in toolbox.sources}
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
    _require(toolbox.call("submit_proposal", {"spec": plan.spec, "rationale": rationale(goal, plan)}), "submit_proposal")
    assert toolbox.submitted is not None
    return toolbox.submitted


def rationale(goal: str, plan: Plan) -> str:
    lines = ["Chosen by the offline planner from the profiles of the sources (rules in `agent/planner.py`).", ""]
    lines += [f"- {d}" for d in plan.decisions]
    lines += ["", "After the dry run:", ""]
    lines += [f"- {r}" for r in plan.revisions]
    return "\n".join(lines)
