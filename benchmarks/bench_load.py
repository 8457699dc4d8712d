"""How long the code location takes to load: what ``dagster dev``, the daemon and every run pay.

Three figures, each the median of ``--repeats`` fresh processes (nothing cached in memory):

* ``validate``: ``dagster definitions validate -w workspace.yaml``, the whole CLI, end to end;
* ``import``: ``import platform_assets.definitions`` (Dagster, the operators, resources);
* ``build``: building the Definitions from ``platform_assets/defs/*/defs.yaml`` after the
  import (spec validation, assets, checks, sensors, automation conditions).

The target is under 10 s for ``validate``. The machine's load average is recorded with the
figures: other processes on the same cores slow every start alike.

    python benchmarks/bench_load.py [--repeats 3]

Writes ``benchmarks/results/load.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PROJECT_ROOT, print_table, write_results

TARGET_VALIDATE_S = 10.0

_PROBE = """
import json, time
t0 = time.perf_counter()
import platform_assets.definitions as m
t1 = time.perf_counter()
d = m.defs()
graph = d.resolve_asset_graph()
repo = d.get_repository_def()
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "assets": len(graph.get_all_asset_keys()),
                  "checks": len(graph.asset_check_keys), "sensors": len(repo.sensor_defs)}))
"""


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")),
    }


def time_validate() -> float:
    dagster = Path(sys.executable).parent / "dagster"
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"dagster definitions validate failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    return seconds


def time_import_and_build() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=PROJECT_ROOT, env=_env(), capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        raise SystemExit(f"loading platform_assets.definitions failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    validate = [time_validate() for _ in range(args.repeats)]
    probes = [time_import_and_build() for _ in range(args.repeats)]
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    rows = [
        {
            "what": "dagster definitions validate",
            "median_s": statistics.median(validate),
            "min_s": min(validate),
            "max_s": max(validate),
        },
        {
            "what": "import platform_assets.definitions",
            "median_s": statistics.median(p["import"] for p in probes),
            "min_s": min(p["import"] for p in probes),
            "max_s": max(p["import"] for p in probes),
        },
        {
            "what": "build Definitions (after import)",
            "median_s": statistics.median(p["build"] for p in probes),
            "min_s": min(p["build"] for p in probes),
            "max_s": max(p["build"] for p in probes),
        },
    ]
    shape = {k: probes[-1][k] for k in ("assets", "checks", "sensors")}
    path = write_results(
        "load",
        {
            "repeats": args.repeats,
            "target_validate_s": TARGET_VALIDATE_S,
            "within_target": statistics.median(validate) < TARGET_VALIDATE_S,
            "load_average_1min": {"before": load_before, "after": load_after},
            "definitions": shape,
            "rows": rows,
            "validate_s": validate,
        },
    )
    print_table(
        rows,
        title=f"code location load ({shape['assets']} assets, {shape['checks']} checks, {shape['sensors']} sensors; "
        f"load average {load_before:.1f} -> {load_after:.1f})"
        if load_before is not None
        else "code location load",
    )
    print(
        f"\ntarget: validate < {TARGET_VALIDATE_S:.0f} s -> "
        f"{'met' if statistics.median(validate) < TARGET_VALIDATE_S else 'NOT met'}; results in "
        f"{path.relative_to(PROJECT_ROOT)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
