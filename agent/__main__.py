"""Command line: ``python -m agent propose ...`` and ``python -m agent review ...``.

    python -m agent propose --goal "clean English web text" --source data/sources/crawl [--source ...]
                            [--pipeline NAME] [--planner claude|offline|auto] [--base main] [--no-push]
    python -m agent review [--base main] [--head proposal/x] [--dagster | --no-dagster]

``propose`` prints one line per tool call and ends with the branch and the pull request link,
or the commands to review and merge locally. ``review`` is the reviewer's check (also run by
CI on pull requests from ``proposal/*`` branches).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

from agent.secrets import scrub


def project_root(start: Path | None = None) -> Path:
    """The project folder: the nearest parent of the working directory with platform_assets/ and pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "platform_assets").is_dir() and (p / "pyproject.toml").exists():
            return p
    return Path(__file__).resolve().parents[1]


def _say(message: str) -> None:
    print(scrub(message), flush=True)


def cmd_propose(args: argparse.Namespace) -> int:
    from agent.loop import AgentError
    from agent.planner import PlannerError
    from agent.proposal import ProposalError
    from agent.propose import propose

    t0 = time.perf_counter()
    root = project_root()
    try:
        proposal, published = propose(
            args.goal,
            args.source,
            root,
            pipeline=args.pipeline,
            planner=args.planner,
            base=args.base,
            push=not args.no_push,
            progress=_say,
        )
    except (AgentError, PlannerError, ProposalError) as exc:
        _say(f"error: {exc}")
        return 1
    kept = proposal.dry_run.final_kept()
    _say("")
    _say(f"proposal for pipeline {proposal.pipeline!r} ({proposal.planner}, {time.perf_counter() - t0:.0f}s)")
    _say(f"  stages: {' -> '.join(['raw', *[s.name for s in proposal.spec.stages], 'tokenized'])}")
    _say(f"  dry run kept: {', '.join(f'{k} {v}' for k, v in kept.items())}")
    diff = published.graph_diff
    _say(
        f"  asset graph: {len(diff.get('added', []))} added, {len(diff.get('removed', []))} removed, "
        f"{len(diff.get('changed', {}))} changed"
    )
    if published.where == "branch":
        _say(
            f"  branch: {published.branch} ({published.status}, commit "
            f"{published.commit[:12] if published.commit else '?'})"
        )
    else:
        _say(f"  written to: {published.folder}")
    if published.pr_url:
        _say(f"  pull request: {published.pr_url}")
    for line in published.instructions:
        _say(f"  {line}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from agent.proposal import ProposalError
    from agent.review import review

    try:
        result = review(project_root(), args.base, args.head, run_dagster=args.dagster, out=_say)
    except ProposalError as exc:
        _say(f"error: {exc}")
        return 2
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")
    p = argparse.ArgumentParser(
        prog="python -m agent", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("propose", help="propose a pipeline for new data as a branch / pull request")
    pr.add_argument("--goal", required=True, help="what the pipeline is for, in words")
    pr.add_argument(
        "--source", action="append", required=True, help="a data location (path or s3://bucket/prefix); repeat for more"
    )
    pr.add_argument("--pipeline", help="pipeline name (default: from the source names)")
    pr.add_argument(
        "--planner",
        choices=["claude", "offline", "auto"],
        default="auto",
        help="auto (default): Claude when ANTHROPIC_API_KEY is set, else the offline planner",
    )
    pr.add_argument("--base", default="main", help="the branch the proposal is made against (default main)")
    pr.add_argument(
        "--no-push", action="store_true", help="never push or open a pull request, even with GITHUB_TOKEN set"
    )
    rv = sub.add_parser("review", help="validate a proposal branch and show its asset-graph change")
    rv.add_argument("--base", default="main")
    rv.add_argument("--head", help="the proposal branch (default: the current branch)")
    g = rv.add_mutually_exclusive_group()
    g.add_argument(
        "--dagster",
        dest="dagster",
        action="store_true",
        default=None,
        help="run `dagster definitions validate` (default: only in a checkout of the head)",
    )
    g.add_argument("--no-dagster", dest="dagster", action="store_false")
    sub.add_parser("demo", help="step 4 of `make demo`: the offline planner proposes a pipeline for the demo pages")
    args = p.parse_args(argv)
    return {"propose": cmd_propose, "review": cmd_review, "demo": cmd_demo}[args.cmd](args)


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from agent.demo import run_agent_demo

    run_agent_demo(console=Console(highlight=False, width=None if sys.stdout.isatty() else 160))
    return 0


if __name__ == "__main__":
    sys.exit(main())
