"""The Dagster code location: composition only.

Pipelines come from ``platform_assets/defs/<pipeline>/defs.yaml`` (one PipelineComponent
each, approved by merging a proposal); resources are the storage root, the compute
engine and the metrics store, configured from the environment at run time.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from corpus.spec import PathPolicy
from corpus.specfile import load_defs_folder
from platform_assets.resources import default_resources
from resources.storage import PROJECT_ROOT


@dg.definitions
def defs() -> dg.Definitions:
    # every defs.yaml is checked before Dagster's loader reads it: `type:` would import any module,
    # and Dagster's own keys (post_processing, ...) render templates
    load_defs_folder(Path(__file__).parent / "defs", PathPolicy.default(PROJECT_ROOT))
    pipelines = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(pipelines, dg.Definitions(resources=default_resources()))
