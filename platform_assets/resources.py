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


def resources_to_config(resources: dict[str, Any]) -> dict[str, Any]:
    """Plain values of the platform's resources, to rebuild them in a worker process."""
    return {k: resources[k].model_dump() for k in ("storage", "compute", "metrics") if k in resources}


def resources_from_config(config: dict[str, Any]) -> dict[str, Any]:
    from dagster_aws.s3 import S3Resource

    res = default_resources()
    if "storage" in config:
        st = dict(config["storage"])
        res["storage"] = CorpusStorage(root=st.get("root"), s3=S3Resource(**(st.get("s3") or {})))
    if "compute" in config:
        res["compute"] = ComputeEngine(**config["compute"])
    if "metrics" in config:
        res["metrics"] = MetricsStore(**config["metrics"])
    return res
