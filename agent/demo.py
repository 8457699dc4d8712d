"""Step 4 of ``make demo``: the offline planner proposes a pipeline for one demo source.

It profiles ``data/demo_sources/pages`` (the WARC of rendered documentation pages), chooses
and dry-runs a pipeline, and writes it as the branch ``proposal/demo_pages_proposal`` of the
project's repository (without touching the working tree), or to
``.proposals/demo_pages_proposal/`` outside a git repository. Re-running replaces the branch.
Nothing is pushed: the demo is local whatever the environment holds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

DEMO_PIPELINE = "demo_pages_proposal"
DEMO_SOURCE = "data/demo_sources/pages"
DEMO_GOAL = "Clean English documentation text from the crawled pages, ready to add to the training mixture."


def _base(root: Path) -> str:
    from agent.proposal import git, git_toplevel, rev

    repo = git_toplevel(root)
    if repo is None or rev(repo, "main"):
        return "main"
    return git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False) or "HEAD"


def run_agent_demo(
    spec: Any = None,
    console: Any = None,
    *,
    project_root: Path | None = None,
    source: str = DEMO_SOURCE,
    pipeline: str = DEMO_PIPELINE,
) -> Any:
    """Propose ``pipeline`` for ``source`` with the offline planner and print the summary; returns (proposal,
    published).

    ``spec`` (the demo pipeline that just ran) only names the source's folder when it has a
    ``pages`` source; the proposal is a new pipeline beside it.
    """
    from rich.markup import escape
    from rich.table import Table

    from agent.propose import propose
    from resources.storage import PROJECT_ROOT

    root = Path(project_root or PROJECT_ROOT)
    if spec is not None:
        src = next((s for s in getattr(spec, "sources", []) if s.name == "pages"), None)
        if src is not None:
            source = src.location

    def print_(message: str) -> None:  # plain text: tool output may hold brackets that are not markup
        if console is not None:
            console.print(message, markup=False, highlight=False)
        else:
            print(message)

    t0 = time.perf_counter()
    base = _base(root)
    proposal, published = propose(
        DEMO_GOAL,
        [source],
        root,
        pipeline=pipeline,
        planner="offline",
        base=base,
        push=False,
        progress=lambda m: print_(f"  {m}"),
    )
    table = Table(
        title=f"proposal {proposal.pipeline!r}: dry run on {proposal.dry_run.n} records drawn over the source"
    )
    for col in ("stage", "source", "in", "kept", "top drop reasons"):
        table.add_column(col, justify="right" if col in ("in", "kept") else "left")
    for r in proposal.dry_run.rows:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.dropped.items(), key=lambda x: -x[1])[:2])
        table.add_row(escape(r.stage), escape(r.source), str(r.docs_in), str(r.kept), escape(reasons))
    if console is not None:
        console.print(table)
    ev = proposal.dry_run.evidence
    if ev is not None and ev.available:
        etable = Table(
            title=f"evidence: proxy loss, pipeline output vs raw sample ({ev.budget_tokens:,} tokens, "
            f"seeds {', '.join(map(str, ev.seeds))})"
        )
        for col in ("target", "raw", "pipeline", "pipeline - raw [95% interval]", "verdict"):
            etable.add_column(col)
        for target, d in ev.delta.items():
            etable.add_row(
                target,
                f"{ev.arms['raw']['loss'][target]:.3f}",
                f"{ev.arms['pipeline']['loss'][target]:.3f}",
                f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]",
                d["verdict"],
            )
        if console is not None:
            console.print(etable)
        else:
            print_(f"  evidence: {ev.delta}")
    elif ev is not None:
        print_(f"  evidence: no comparison ({ev.error})")
    diff = published.graph_diff
    print_(f"  asset graph: {len(diff.get('added', []))} assets added, {len(diff.get('changed', {}))} changed")
    if published.where == "branch":
        print_(f"  branch {published.branch} ({published.status}); review and approve it with:")
        for line in published.instructions:
            print_(f"    {line}")
    else:
        print_(f"  not a git repository: the proposal is in {published.folder} (defs.yaml + PROPOSAL.md)")
    print_(f"  agent step done in {time.perf_counter() - t0:.1f}s")
    return proposal, published
