"""The code location of the end-to-end tests: pipelines built from specs the test wrote.

``$CORPUS_E2E_SPECS`` names a JSON file holding a list of pipeline specs (plain dicts over
a small corpus in a temporary folder). Each spec goes through the same validation and the
same builder (:func:`platform_assets.components.pipeline.build_pipeline_defs`) as an
approved ``defs.yaml``; only the executor differs: steps run in the run's own process,
so a run costs one process start instead of one per step.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from corpus.spec import SpecError, parse_spec, validate_spec
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.resources import default_resources

SPECS_ENV = "CORPUS_E2E_SPECS"


@dg.definitions
def defs() -> dg.Definitions:
    path = os.environ.get(SPECS_ENV)
    if not path:
        raise RuntimeError(f"{SPECS_ENV} is not set: the end-to-end tests set it to a JSON file listing pipeline specs")
    pipelines = []
    for i, data in enumerate(json.loads(Path(path).read_text())):
        spec = parse_spec(data, where=f"{path}[{i}]")
        issues = validate_spec(spec)
        if issues:
            raise SpecError(issues, where=f"{path}[{i}]")
        pipelines.append(build_pipeline_defs(spec))
    return dg.Definitions.merge(
        *pipelines, dg.Definitions(resources=default_resources(), executor=dg.in_process_executor)
    )
