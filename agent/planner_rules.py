"""The offline planner's rules for one source at a time: which languages to keep, which quality
filters fit within the source's drop budget, model-based selection from reference sources, and
dedup; each decision is written into the plan with the figure it rests on (see :mod:`agent.planner`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent.goals import Constraint, find
from agent.profile import LANGUAGE_MIN_SCORE, LOW_CONFIDENCE

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


@dataclass
class Plan:
    """A spec under construction and the decisions behind it, in order."""

    spec: dict[str, Any]
    decisions: list[str] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


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
                f"`{name}`: no language filter: {_pct(inside)} of the sample is already in {', '.join(wanted)} "
                f"({summary})."
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
