"""Command line: ``python -m platform_assets.cli demo | materialize | summary``.

``demo`` runs the whole platform end to end on the embedded default: local storage
(./data), the default SQLite Dagster instance ($DAGSTER_HOME, ./.dagster_home from
make), the offline planner. ``--data shared`` runs the same stages on the real
corpora in ../shared/data.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from resources.storage import PROJECT_ROOT

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _resources(args: argparse.Namespace) -> dict[str, Any]:
    from platform_assets.resources import default_resources
    from resources.compute import ComputeEngine
    from resources.storage import CorpusStorage

    res = default_resources()
    if getattr(args, "root", None):
        res["storage"] = CorpusStorage(root=args.root)
    if getattr(args, "backend", None):
        res["compute"] = ComputeEngine(backend=args.backend)
    return res


def _instance() -> Any:
    import dagster as dg

    home = os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home"))
    Path(home).mkdir(parents=True, exist_ok=True)
    (Path(home) / "dagster.yaml").touch()
    return dg.DagsterInstance.get()


def print_summary(spec: Any, store: Any) -> None:
    from platform_assets.orchestrate import summary_rows

    table = Table(title=f"pipeline {spec.pipeline!r}: documents per stage and source", show_lines=False)
    for col, just in [
        ("stage", "left"),
        ("source", "left"),
        ("in", "right"),
        ("kept", "right"),
        ("dropped", "right"),
        ("quarantined", "right"),
        ("top drop reasons", "left"),
        ("MB kept", "right"),
        ("tokens", "right"),
        ("s", "right"),
    ]:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    last_stage = None
    for r in summary_rows(spec, store):
        if "error" in r:
            table.add_row(r["stage"], r["source"], "-", "-", "-", "-", f"[red]{r['error'][:60]}[/red]", "", "", "")
            continue
        if last_stage is not None and r["stage"] != last_stage:
            table.add_section()
        last_stage = r["stage"]
        table.add_row(
            r["stage"],
            r["source"] + (" (pass)" if r["passthrough"] else ""),
            f"{r['in']:,}",
            f"{r['kept']:,}",
            f"{r['dropped']:,}",
            f"{r['quarantined']:,}" if r["quarantined"] == 0 else f"[yellow]{r['quarantined']:,}[/yellow]",
            r["top_reasons"],
            f"{r['mb_out']:.2f}",
            f"{r['tokens']:,}" if r["tokens"] else "",
            f"{r['seconds']:.1f}",
        )
    console.print(table)


def cmd_materialize(args: argparse.Namespace, pipeline: str | None = None) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from corpus.spec import SpecError
    from platform_assets.orchestrate import BuildLoopError, count_runs, load_pipeline_specs, materialize_pipeline

    try:
        specs = load_pipeline_specs()
    except SpecError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        sys.exit(2)
    name = pipeline or args.pipeline
    if name not in specs:
        console.print(f"[red]unknown pipeline {name!r}; pipelines: {', '.join(specs)}[/red]")
        sys.exit(2)
    spec = specs[name]
    resources = _resources(args)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}", markup=False),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(f"build loop of {spec.pipeline!r}", total=count_runs(spec), last="")
        try:
            timings = materialize_pipeline(
                spec,
                resources=resources,
                instance=_instance(),
                parallel=args.parallel,
                progress=lambda m: bar.console.print(m, markup=False, highlight=False),
                on_run_done=lambda label: bar.update(task, advance=1, last=label),
            )
        except BuildLoopError as exc:
            timings = {"failed": exc.failed, "error": str(exc)}
    store = resources["storage"].store()
    print_summary(spec, store)
    failed = timings.get("failed") or {}
    for source, why in failed.items():
        console.print(f"source {source!r} stopped: {why}", style="yellow", markup=False, highlight=False)
    if "error" in timings:
        console.print(f"build loop of {spec.pipeline!r} stopped: {timings['error']}", style="red", markup=False)
        sys.exit(1)
    console.print(
        f"build loop of {spec.pipeline!r} materialized in {timings['total']:.1f}s; "
        f"shards under {store.display(spec.pipeline)}"
        + (f"; {len(failed)} of {len(spec.sources)} sources stopped (above)" if failed else "")
    )
    if failed:
        sys.exit(1)
    return spec, resources, timings


def cmd_demo(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    if args.data == "shared":
        shared = PROJECT_ROOT.parent / "shared" / "data"
        if not (shared / "README.md").exists():
            console.print(f"[red]real corpora not found at {shared}; run `make demo` for the embedded demo[/red]")
            sys.exit(2)
        pipeline = "corpora"
    else:
        from corpus.demo_sources import write_demo_sources

        dest = PROJECT_ROOT / "data" / "demo_sources"
        console.rule("1. demo sources (offline: CPython's stdlib, pydoc topics and pages, Debian licences)")
        info = write_demo_sources(dest, scale=args.scale)
        for name, value in info.items():
            console.print(f"  {name}: {value}")
        pipeline = "demo"
    console.rule(
        f"2. build loop: pipeline {pipeline!r} through Dagster ($DAGSTER_HOME={os.environ.get('DAGSTER_HOME', '')})"
    )
    spec, resources, _ = cmd_materialize(args, pipeline)
    if spec.mixture is not None and not args.skip_learning:
        console.rule("3. learning loop: mixture -> proxy training -> eval feedback sensor -> new mixture")
        from platform_assets.learning_demo import run_learning_demo

        run_learning_demo(spec, resources, _instance(), console=console)
    if not args.skip_agent:
        console.rule("4. agent: offline planner proposes a pipeline as a branch for review")
        # the agent is its own command line (nothing imports the agent package)
        proc = subprocess.run([sys.executable, "-m", "agent", "demo"], cwd=PROJECT_ROOT)
        if proc.returncode != 0:
            console.print("[red]the agent demo failed (see above)[/red]")
            sys.exit(proc.returncode)
    console.rule(f"demo finished in {time.perf_counter() - t0:.0f}s; open the UI with `make ui`")


def cmd_summary(args: argparse.Namespace) -> None:
    from platform_assets.orchestrate import load_pipeline_specs

    spec = load_pipeline_specs()[args.pipeline]
    print_summary(spec, _resources(args)["storage"].store())


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore", message=r".*is currently in (preview|beta)")
    p = argparse.ArgumentParser(
        prog="corpus-platform", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root", help="storage root (default $CORPUS_STORAGE_ROOT or ./data; s3://bucket/prefix works)"
    )
    common.add_argument("--backend", choices=["serial", "processes", "ray"], help="compute backend for shard work")
    common.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="Dagster runs at once (default: $CORPUS_MAX_CONCURRENT_RUNS, else the cores; "
        "split with the shard workers and threads by resources/parallelism.py)",
    )
    d = sub.add_parser("demo", parents=[common], help="run the platform end to end")
    d.add_argument(
        "--data",
        choices=["demo", "shared"],
        default="demo",
        help="embedded demo sources, or the real corpora in ../shared/data",
    )
    d.add_argument("--scale", type=int, default=1, help="demo corpus size multiplier")
    d.add_argument("--skip-learning", action="store_true")
    d.add_argument("--skip-agent", action="store_true")
    m = sub.add_parser("materialize", parents=[common], help="materialize a pipeline's build loop")
    m.add_argument("pipeline")
    s = sub.add_parser("summary", parents=[common], help="print the per-stage summary of a pipeline")
    s.add_argument("pipeline")
    args = p.parse_args(argv)
    {"demo": cmd_demo, "materialize": cmd_materialize, "summary": cmd_summary}[args.cmd](args)


if __name__ == "__main__":
    main()
