"""A proposal rendered: the ``defs.yaml`` a merge approves and the ``PROPOSAL.md`` a reviewer reads.

Everything from the data or the model is escaped or fenced (:mod:`agent.untrusted_text`) and scrubbed.
"""

from __future__ import annotations

from typing import Any

from agent.dryrun import DryRunResult
from agent.proposal.model import Proposal
from agent.report import reviewer_sections
from agent.secrets import scrub
from agent.untrusted_text import escape_markup, verbatim_block
from corpus.spec import PathPolicy, PipelineSpec, load_spec, spec_to_yaml
from corpus.specfile import COMPONENT_TYPE, defs_attributes_from_text


def render_defs_yaml(proposal: Proposal) -> str:
    body = spec_to_yaml(proposal.spec)
    text = (
        f"# Proposed pipeline {proposal.pipeline!r} ({proposal.planner}); "
        "the evidence is in PROPOSAL.md beside this file.\n"
        f"type: {COMPONENT_TYPE}\nattributes:\n"
        + "".join(f"  {line}\n" if line else "\n" for line in body.splitlines())
    )
    return scrub(text)


def check_defs_yaml(text: str, policy: PathPolicy) -> PipelineSpec:
    """Load rendered defs.yaml text exactly as the component will (raises SpecError)."""
    return load_spec(defs_attributes_from_text(text, "defs.yaml"), policy, where="defs.yaml")


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _pct(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


def profile_table(profiles: dict[str, dict[str, Any]]) -> str:
    ops = sorted({op for p in profiles.values() for op in p.get("quality", {})})
    head = [
        "source",
        "format",
        "files",
        "docs sampled",
        "HTML",
        "languages",
        "words p10/p50/p90",
        "exact dup",
        "near dup",
        "PII hits",
    ]
    head += [f"drop: {op}" for op in ops]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, p in profiles.items():
        langs = ", ".join(f"{x['language']} {_pct(x['share'])}" for x in p.get("languages", [])[:3])
        if p.get("languages_seen", 0) > 3:
            langs += f" (+{p['languages_seen'] - 3})"
        w = p.get("length_words", {})
        dup = p.get("duplicates", {})
        pii = p.get("pii", {})
        row = [
            name,
            p.get("source", {}).get("format", "?"),
            p.get("files", "?"),
            p.get("sample", {}).get("documents", 0),
            _pct(p.get("html_share")),
            langs or "-",
            f"{w.get('p10', 0)}/{w.get('p50', 0)}/{w.get('p90', 0)}" if w else "-",
            _pct(dup.get("exact_share")),
            _pct(dup.get("near_share")),
            pii.get("total_hits", 0),
        ]
        row += [_pct(p.get("quality", {}).get(op, {}).get("drop_share")) for op in ops]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def dry_run_table(result: DryRunResult) -> str:
    lines = ["| stage | source | in | kept | dropped | top drop reasons |", "|---|---|---|---|---|---|"]
    for r in result.rows:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.dropped.items(), key=lambda x: -x[1])[:3])
        if r.quarantined:
            reasons += (
                (", " if reasons else "") + "quarantined: " + ", ".join(f"{k} {v}" for k, v in r.quarantined.items())
            )
        src = r.source + (" (passes through)" if r.passthrough else "")
        lines.append(
            f"| {_cell(r.stage)} | {_cell(src)} | {r.docs_in} | {r.kept} | {r.dropped_total} "
            f"| {_cell(reasons) or '-'} |"
        )
    return "\n".join(lines)


def _examples_block(result: DryRunResult) -> str:
    if not result.examples:
        return ""
    out = ["<details><summary>Example drops (text from the data, shortened)</summary>", ""]
    for stage, rows in result.examples.items():
        for ex in rows:
            text = str(ex.get("text", "")).replace("```", "'''")
            out += [
                f"- `{stage}` / `{ex.get('source')}`: {ex.get('reason')}",
                "",
                "  ```text",
                *[f"  {line}" for line in text.splitlines()[:6]],
                "  ```",
            ]
    out += ["", "</details>"]
    return "\n".join(out)


def render_proposal_md(proposal: Proposal, graph_md: str, base: str) -> str:
    sources = ["| source | location | format | options |", "|---|---|---|---|"]
    for s in proposal.spec.sources:
        opts = s.model_dump(mode="json", exclude_defaults=True)
        opts = {k: v for k, v in opts.items() if k not in ("name", "location", "format")}
        options = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in opts.items())
        sources.append(f"| {s.name} | `{_cell(s.location)}` | {s.format} | {_cell(options) if options else '-'} |")
    kept = proposal.dry_run.final_kept()
    raw = {r.source: r.docs_in for r in proposal.dry_run.rows if r.stage == "raw"}
    summary = ", ".join(f"{s}: {kept[s]} of {raw.get(s, '?')} kept" for s in kept)
    md = f"""# Proposal: pipeline `{proposal.pipeline}`

Proposed by the {proposal.planner}. A person reviews this pull request; merging it is the approval,
and only merged definitions are loaded by Dagster.

## Goal

{verbatim_block(proposal.goal)}

## Sources

{chr(10).join(sources)}

## Data profile

Measured on a sample of each source (records drawn at random over its files, seeded) with the platform's own
operators, on the text the filters see (extracted, normalized); "drop" columns are the share of the sample each
quality filter would drop with its default config.

{profile_table(proposal.profiles)}

## Rationale

{escape_markup(proposal.rationale.strip())}

## Dry run

The spec run on {proposal.dry_run.n} records drawn over each source ({summary}; no tokenizer trained).

{dry_run_table(proposal.dry_run)}

{_examples_block(proposal.dry_run)}

{reviewer_sections(proposal)}

## Asset graph changes against `{base}`

{graph_md}
## How to review

```bash
python -m agent review --base {base} --head {proposal.branch}   # validate the definitions, show the graph change
git diff {base}...{proposal.branch}
git merge --no-ff {proposal.branch}                             # approve: merge into {base}
```
"""
    return scrub(md)
