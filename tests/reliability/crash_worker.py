"""Materialize a pipeline's whole build loop through Dagster in this process: the victim of the crash tests.

``python -m tests.reliability.crash_worker SPEC_JSON ROOT`` runs every build-loop asset of the
spec (raw, stages, dedup index, tokenizer, tokenized) with storage at ROOT on an in-memory
Dagster instance, the way ``platform_assets.orchestrate.materialize_pipeline`` does for the CLI.
The tests kill it with SIGKILL part-way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from corpus.spec import PipelineSpec
from platform_assets.orchestrate import materialize_pipeline
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage


def main(spec_path: str, root: str) -> None:
    spec = PipelineSpec.model_validate_json(Path(spec_path).read_text())
    resources = default_resources()
    resources["storage"] = CorpusStorage(root=root)
    print("started", flush=True)
    materialize_pipeline(
        spec, resources=resources, instance=dg.DagsterInstance.ephemeral(), parallel=1, progress=lambda _: None
    )
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
