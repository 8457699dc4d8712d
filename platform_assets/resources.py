"""Default resources of the code location. Values come from the environment at run time."""

from __future__ import annotations

from typing import Any

import dagster as dg

from resources.compute import ComputeEngine
from resources.metrics import MetricsStore
from resources.storage import CorpusStorage


def default_resources() -> dict[str, Any]:
    return {
        "storage": CorpusStorage(),
        "compute": ComputeEngine(),
        "metrics": MetricsStore(),
        # proxy_eval launches the trainer as a subprocess through Dagster Pipes
        "pipes_subprocess_client": dg.PipesSubprocessClient(),
    }
