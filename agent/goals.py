"""A goal's constraints made explicit, and whether a proposal honours each one.

The goal is free text; the sentences that ask for something the planner can act on become
:class:`Constraint` objects (languages, the N most common languages, any language, dedup or
not, PII redaction or not, no quality filtering, a minimum share of documents kept). A
sentence that sounds like a requirement ("keep", "only", "must", "at least", ...) but matches
none of them is kept as an ``unparsed`` constraint, so it is listed as not handled instead
of being dropped silently. :func:`check_constraints` looks at a finished spec and its dry
run, whoever planned it, and says for each constraint whether it is honoured and why.

The goal text is untrusted: it is only matched against fixed patterns, never executed, and
what is quoted back is cut short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LANGUAGE_NAMES = {
    "english": "en",
    "german": "de",
    "deutsch": "de",
    "french": "fr",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "polish": "pl",
    "russian": "ru",
    "chinese": "zh",
    "japanese": "ja",
    "korean": "ko",
    "arabic": "ar",
    "hindi": "hi",
    "turkish": "tr",
    "swedish": "sv",
    "danish": "da",
    "norwegian": "no",
    "finnish": "fi",
    "czech": "cs",
    "greek": "el",
    "hebrew": "he",
    "ukrainian": "uk",
    "vietnamese": "vi",
    "indonesian": "id",
    "swahili": "sw",
    "catalan": "ca",
    "romanian": "ro",
    "hungarian": "hu",
}
ANY_LANGUAGE_WORDS = ("multilingual", "any language", "all languages", "every language", "many languages")
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
}
_NUM = r"(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")"
TOP_LANGUAGES = (
    re.compile(rf"\btop\s+{_NUM}\s+languages?\b"),
    re.compile(rf"\b{_NUM}\s+most\s+(?:common|frequent|used|spoken|represented)\s+languages?\b"),
    re.compile(rf"\bkeep\s+(?:only\s+)?(?:the\s+)?{_NUM}\s+(?:largest\s+|biggest\s+)?languages?\b"),
)
MIN_KEEP = re.compile(r"\bkeep\s+at\s+least\s+(\d{1,3}(?:\.\d+)?)\s*%")
NO_DEDUP = re.compile(
    r"\b(?:no|without|skip|don'?t|do not)\s+(?:any\s+)?(?:dedup\w*|de-dup\w*|duplicate removal)"
    r"|\bkeep\s+(?:the\s+)?duplicates\b"
)
DEDUP = re.compile(r"\b(?:dedup\w*|de-dup\w*|remove\s+(?:the\s+)?duplicates|drop\s+(?:the\s+)?duplicates)\b")
NO_PII = re.compile(
    r"\b(?:no|without|skip|don'?t|do not)\s+(?:pii\s+)?redact\w*|\bkeep\s+(?:the\s+)?(?:pii|e-?mail|personal)"
)
PII = re.compile(
    r"\b(?:redact\w*|remove\s+(?:the\s+)?(?:pii|personal|e-?mail)|scrub\s+(?:the\s+)?(?:pii|personal)|pii)\b"
)
NO_QUALITY = re.compile(r"\b(?:no|without|skip)\s+quality\s+filter\w*")
REQUIREMENT_WORDS = re.compile(r"\b(?:keep|only|must|exclude|without|at least|at most|never|drop|remove|no)\b")
MAX_QUOTE = 120


@dataclass(frozen=True)
class Constraint:
    """One thing the goal asks for: a kind, its value and the words it came from."""

    kind: str  # languages, top_languages, any_language, dedup, no_dedup, pii, no_pii, no_quality, min_keep, unparsed
    value: Any
    asked: str

    def describe(self) -> str:
        v = self.value
        if self.kind == "languages":
            return f"only {', '.join(v)}"
        if self.kind == "top_languages":
            return f"keep the {v} most common languages"
        if self.kind == "min_keep":
            return f"keep at least {v:.0%} of each source"
        return {
            "any_language": "keep every language",
            "dedup": "remove duplicates",
            "no_dedup": "keep duplicates (no dedup)",
            "pii": "redact personal data",
            "no_pii": "no PII redaction",
            "no_quality": "no quality filtering",
        }.get(self.kind, "not understood by the planner")


@dataclass(frozen=True)
class Verdict:
    constraint: Constraint
    honoured: bool | None  # None: cannot be checked (not understood)
    how: str


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "…"


def _number(word: str | None) -> int | None:
    if not word:
        return None
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word)


def _sentences(goal: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.;!?])\s+|\n+", goal) if s.strip()]


def parse_goal(goal: str) -> list[Constraint]:
    """The constraints of ``goal`` (see the module docstring), in the order they appear."""
    out: list[Constraint] = []
    for sentence in _sentences(goal[:4000]):
        low = sentence.lower()
        found: list[Constraint] = []
        top = next((m for rx in TOP_LANGUAGES if (m := rx.search(low))), None)
        n = _number(top.group(1)) if top else None
        if n:
            found.append(Constraint("top_languages", n, _quote(sentence)))
        if not top and any(w in low for w in ANY_LANGUAGE_WORDS):
            found.append(Constraint("any_language", None, _quote(sentence)))
        if not top:
            codes = sorted({code for name, code in LANGUAGE_NAMES.items() if re.search(rf"\b{name}\b", low)})
            if codes:
                found.append(Constraint("languages", codes, _quote(sentence)))
        if NO_DEDUP.search(low):
            found.append(Constraint("no_dedup", None, _quote(sentence)))
        elif DEDUP.search(low):
            found.append(Constraint("dedup", None, _quote(sentence)))
        if NO_PII.search(low):
            found.append(Constraint("no_pii", None, _quote(sentence)))
        elif PII.search(low):
            found.append(Constraint("pii", None, _quote(sentence)))
        if NO_QUALITY.search(low):
            found.append(Constraint("no_quality", None, _quote(sentence)))
        keep = MIN_KEEP.search(low)
        if keep:
            found.append(Constraint("min_keep", min(1.0, float(keep.group(1)) / 100), _quote(sentence)))
        if not found and REQUIREMENT_WORDS.search(low):
            found.append(Constraint("unparsed", None, _quote(sentence)))
        out.extend(found)
    return out


def find(constraints: list[Constraint], kind: str) -> Constraint | None:
    return next((c for c in constraints if c.kind == kind), None)


# --- checking a finished proposal -----------------------------------------------------------------


def _ops(spec: Any) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """operator key -> [(stage, config)] of a PipelineSpec."""
    out: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for stage in spec.stages:
        for step in stage.steps:
            out.setdefault(step.op, []).append((stage, dict(step.config)))
    return out


def _applies(stage: Any, source: str) -> bool:
    return stage.sources is None or source in stage.sources


def _language_sets(spec: Any) -> dict[str, list[str] | str | None]:
    """source -> the languages its language filter keeps (None: every language; "none": no filter)."""
    ops = _ops(spec)
    out: dict[str, list[str] | str | None] = {}
    for src in spec.source_names:
        configs = [cfg for stage, cfg in ops.get("language_filter@1", []) if _applies(stage, src)]
        out[src] = "none" if not configs else configs[-1].get("languages")
    return out


def _top_codes(profile: dict[str, Any], n: int) -> list[str]:
    shares = profile.get("language_shares") or {x["language"]: x["share"] for x in profile.get("languages", [])}
    ranked = sorted(
        ((v, k) for k, v in shares.items() if k not in ("low_confidence", "unknown")), key=lambda x: (-x[0], x[1])
    )
    return sorted(k for _, k in ranked[:n])


def check_constraints(
    constraints: list[Constraint], spec: Any, dry_run: Any, profiles: dict[str, dict[str, Any]]
) -> list[Verdict]:
    """Whether ``spec`` (and its dry run) honours each constraint, with the evidence."""
    ops = _ops(spec)
    langs = _language_sets(spec)
    kept = dry_run.final_kept() if dry_run is not None else {}
    raw = {r.source: r.docs_in for r in dry_run.rows if r.stage == "raw"} if dry_run is not None else {}
    out: list[Verdict] = []
    for c in constraints:
        if c.kind == "languages":
            bad = []
            for src, kept_langs in langs.items():
                shares = profiles.get(src, {}).get("language_shares", {})
                outside = 1.0 - sum(shares.get(code, 0.0) for code in c.value) if shares else None
                if isinstance(kept_langs, list) and set(kept_langs) <= set(c.value):
                    continue
                if kept_langs == "none" and outside is not None and outside < 0.02:
                    continue
                bad.append(
                    f"`{src}` keeps {', '.join(kept_langs) if isinstance(kept_langs, list) else 'every language'}"
                )
            out.append(
                Verdict(
                    c, not bad, "; ".join(bad) or f"every source is filtered to {', '.join(c.value)} or already in them"
                )
            )
        elif c.kind == "top_languages":
            bad, notes = [], []
            for src, kept_langs in langs.items():
                n_kept = len(kept_langs) if isinstance(kept_langs, list) else None
                top = _top_codes(profiles.get(src, {}), c.value)
                if n_kept is not None and n_kept <= c.value and set(kept_langs) <= set(top):
                    notes.append(f"`{src}` keeps {', '.join(kept_langs)}")
                else:
                    seen = profiles.get(src, {}).get("languages_seen", "?")
                    bad.append(f"`{src}` keeps {n_kept if n_kept is not None else f'all {seen}'} languages")
            out.append(Verdict(c, not bad, "; ".join(bad or notes)))
        elif c.kind == "any_language":
            bad = [s for s, v in langs.items() if isinstance(v, list)]
            out.append(
                Verdict(
                    c,
                    not bad,
                    f"restricted on {', '.join(bad)}" if bad else "no source is restricted to some languages",
                )
            )
        elif c.kind in ("dedup", "no_dedup"):
            present = [k for k in ops if k.startswith("dedup_")]
            ok = bool(present) == (c.kind == "dedup")
            out.append(Verdict(c, ok, f"stage with {', '.join(present)}" if present else "no dedup stage"))
        elif c.kind in ("pii", "no_pii"):
            stages = ops.get("redact_pii@1", [])
            covered = [s for s in spec.source_names if any(_applies(st, s) for st, _ in stages)]
            if c.kind == "pii":
                missing = [s for s in spec.source_names if s not in covered]
                out.append(
                    Verdict(
                        c,
                        not missing,
                        f"not redacted: {', '.join(missing)}" if missing else "redact_pii@1 on every source",
                    )
                )
            else:
                out.append(
                    Verdict(
                        c, not covered, f"redact_pii@1 on {', '.join(covered)}" if covered else "no redaction stage"
                    )
                )
        elif c.kind == "no_quality":
            from corpus.ops import registry

            q = [k for k in ops if "quality" in registry.get_operator(k).tags]
            out.append(Verdict(c, not q, f"quality filters present: {', '.join(q)}" if q else "no quality filter"))
        elif c.kind == "min_keep":
            shares = {s: kept.get(s, 0) / raw[s] for s in raw if raw[s]}
            low = {s: v for s, v in shares.items() if v < c.value}
            desc = ", ".join(f"`{s}` {v:.0%}" for s, v in shares.items())
            out.append(Verdict(c, not low and bool(shares), f"dry run keeps {desc}" if desc else "no dry run"))
        else:
            out.append(Verdict(c, None, "not understood by the offline planner: check it by hand"))
    return out


def verdicts_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [
        {
            "kind": v.constraint.kind,
            "asked": v.constraint.asked,
            "meaning": v.constraint.describe(),
            "honoured": v.honoured,
            "how": v.how,
        }
        for v in verdicts
    ]
