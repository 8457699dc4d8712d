"""PROPOSAL.md sections a reviewer checks the planner against: the goal's constraints, what the samples
covered, what was quarantined, the tool calls made, and the proxy evidence.

All text that may come from the data or the goal (tool summaries, error messages, reasons)
is shown inside table cells or code spans with markup characters neutralized, so it can
neither break the table nor inject HTML into the rendered pull request.
"""

from __future__ import annotations

import json
from typing import Any

from agent.goals import check_constraints, parse_goal, verdicts_json

MAX_TRACE_CALLS = 200
MAX_CELL = 300


def cell(value: Any, limit: int = MAX_CELL) -> str:
    """One table cell: no newlines, no table pipes, no HTML tags, bounded length."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("`", "'")


def _pct(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


def constraints_section(goal: str, spec: Any, dry_run: Any, profiles: dict[str, dict[str, Any]]) -> str:
    verdicts = verdicts_json(check_constraints(parse_goal(goal), spec, dry_run, profiles))
    if not verdicts:
        return (
            "## Goal constraints\n\nThe goal states no constraint the planner recognizes (languages, the N most common "
            "languages, dedup, PII redaction, quality filtering, a share of documents to keep).\n"
        )
    lines = [
        "## Goal constraints",
        "",
        "Each requirement read from the goal, and whether the proposed spec and its dry run "
        "honour it (checked on the spec itself, whoever planned it).",
        "",
        "| asked | read as | honoured | how |",
        "|---|---|---|---|",
    ]
    for v in verdicts:
        mark = {True: "yes", False: "**no**", None: "not handled"}[v["honoured"]]
        lines.append(f"| {cell(v['asked'])} | {cell(v['meaning'])} | {mark} | {cell(v['how'])} |")
    return "\n".join(lines) + "\n"


def coverage_section(profiles: dict[str, dict[str, Any]], dry_run: Any) -> str:
    lines = [
        "## Sample coverage",
        "",
        "Records are drawn at random (seeded) over each source's files; this is how much "
        "of each source the profile and the dry run saw.",
        "",
        "| source | files in source | files read (profile) | share of bytes seen (profile) | records profiled "
        "| files read (dry run) | records dry-run | records read by encoding |",
        "|---|---|---|---|---|---|---|---|",
    ]
    dry_cov = getattr(dry_run, "coverage", {}) or {}
    for name in sorted(set(profiles) | set(dry_cov)):
        pc = (profiles.get(name) or {}).get("coverage") or {}
        dc = dry_cov.get(name) or {}
        total = pc.get("files_total", dc.get("files_total", "?"))
        enc = (profiles.get(name) or {}).get("sample", {}).get("records_read_by_encoding") or {}
        enc_text = ", ".join(f"{k} {v}" for k, v in enc.items()) or "-"
        lines.append(
            f"| {cell(name)} | {total} | {pc.get('files_read', '-')} | {_pct(pc.get('byte_share'))} | "
            f"{pc.get('records_sampled', '-')} | {dc.get('files_read', '-')} | {dc.get('records_sampled', '-')} | "
            f"{cell(enc_text)} |"
        )
    return "\n".join(lines) + "\n"


def quarantine_section(profiles: dict[str, dict[str, Any]], dry_run: Any) -> str:
    rows = []
    for name, p in profiles.items():
        for reason, n in (p.get("sample", {}).get("quarantined") or {}).items():
            rows.append(("profile sample", name, "raw", reason, n))
    for r in getattr(dry_run, "rows", []):
        for reason, n in r.quarantined.items():
            rows.append(("dry run", r.source, r.stage, reason, n))
    lines = ["## Quarantined records", ""]
    if not rows:
        return "\n".join([*lines, "No record was quarantined in the samples or the dry run.", ""])
    lines += [
        "Quarantined records are kept with their file, offset and error (never lost); by reason:",
        "",
        "| where | source | stage | reason | records |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {w} | {cell(s)} | {cell(st)} | {cell(reason)} | {n} |" for w, s, st, reason, n in rows]
    return "\n".join(lines) + "\n"


def _args(arguments: dict[str, Any]) -> str:
    parts = []
    for k, v in arguments.items():
        if k == "spec" and isinstance(v, dict):
            stages = v.get("stages") if isinstance(v.get("stages"), list) else []
            names = [str(s.get("name")) for s in stages if isinstance(s, dict)]
            parts.append(f"spec={v.get('pipeline', '?')} [{', '.join(names)}]")
        elif k == "rationale":
            parts.append(f"rationale ({len(str(v))} chars)")
        else:
            parts.append(f"{k}={json.dumps(v, ensure_ascii=False, default=str)[:80]}")
    return ", ".join(parts)


def trace_section(calls: list[Any]) -> str:
    """Every tool call of the session, collapsed: a rejected submission or a failed dry run stays visible."""
    if not calls:
        return ""
    errors = sum(1 for c in calls if c.is_error)
    lines = [
        "## Tool calls",
        "",
        f"<details><summary>{len(calls)} tool calls, {errors} answered with an error (click to expand)</summary>",
        "",
        "| # | tool | arguments | result | summary |",
        "|---|---|---|---|---|",
    ]
    for i, c in enumerate(calls[:MAX_TRACE_CALLS], 1):
        lines.append(
            f"| {i} | {cell(c.name, 60)} | {cell(_args(c.arguments), 200)} | {'**error**' if c.is_error else 'ok'} | "
            f"{cell(c.summary, 200)} |"
        )
    if len(calls) > MAX_TRACE_CALLS:
        lines.append(f"| … | {len(calls) - MAX_TRACE_CALLS} more calls not shown | | | |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def reviewer_sections(proposal: Any) -> str:
    """The sections added after the dry run in PROPOSAL.md."""
    parts = [
        evidence_section(getattr(proposal.dry_run, "evidence", None)),
        constraints_section(proposal.goal, proposal.spec, proposal.dry_run, proposal.profiles),
        coverage_section(proposal.profiles, proposal.dry_run),
        quarantine_section(proposal.profiles, proposal.dry_run),
        trace_section(proposal.tool_calls),
    ]
    return "\n".join(p for p in parts if p)


def evidence_section(evidence: Any) -> str:
    if evidence is None:
        return ""
    from agent.evidence import render_evidence

    return render_evidence(evidence)
