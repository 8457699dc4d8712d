"""Named jobs of a pipeline, and the tags every run of the pipeline carries.

Every asset of a pipeline has a job ``<pipeline>_<asset>`` (``demo_quality``,
``demo_deduped_index``, ``demo_proxy_eval``): what a schedule launches and what a person
finds under *Jobs*. ``<pipeline>_per_source`` holds every per-source stage; the command
line runs a stretch of stages for one source through it with an asset selection, so its
runs are named and tagged like any other. Run tags: ``corpus/pipeline``, ``corpus/stage``,
``corpus/source`` (per-source partitions), ``corpus/mixture_version`` (learning loop) and
``corpus/launched_by`` (``cli``, ``schedule:<name>``, ``sensor:<name>``).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from corpus.spec import PipelineSpec

LEARNING_ASSETS = ("mixture", "proxy_eval")  # partitioned by mixture version, not by source

TAG_PIPELINE = "corpus/pipeline"
TAG_STAGE = "corpus/stage"
TAG_SOURCE = "corpus/source"
TAG_VERSION = "corpus/mixture_version"
TAG_LAUNCHED_BY = "corpus/launched_by"


def job_name(spec: PipelineSpec, asset: str) -> str:
    return f"{spec.pipeline}_{asset}"


def per_source_job_name(spec: PipelineSpec) -> str:
    return f"{spec.pipeline}_per_source"


def run_tags(
    spec: PipelineSpec,
    stages: Sequence[str],
    *,
    source: str | None = None,
    version: str | None = None,
    launched_by: str | None = None,
) -> dict[str, str]:
    """The tags of one run of ``stages`` (asset names) of ``spec``."""
    tags = {TAG_PIPELINE: spec.pipeline, TAG_STAGE: ",".join(stages)[:200]}
    if source is not None:
        tags[TAG_SOURCE] = source
    if version is not None:
        tags[TAG_VERSION] = version
    if launched_by is not None:
        tags[TAG_LAUNCHED_BY] = launched_by
    return tags


def build_jobs(spec: PipelineSpec, assets: Sequence[dg.AssetsDefinition]) -> list[dg.UnresolvedAssetJobDefinition]:
    """One job per asset of ``assets``, plus the per-source job over the partitioned build-loop assets."""
    jobs = []
    per_source = []
    for a in assets:
        for key in a.keys:
            name = key.path[-1]
            jobs.append(
                dg.define_asset_job(
                    job_name(spec, name),
                    selection=dg.AssetSelection.assets(key),
                    tags={TAG_PIPELINE: spec.pipeline, TAG_STAGE: name},
                    description=f"Materializes {spec.pipeline}/{name}"
                    + (" for one partition." if a.partitions_def else "."),
                )
            )
            if a.partitions_def is not None and name not in LEARNING_ASSETS:
                per_source.append(key)
    if per_source:
        jobs.append(
            dg.define_asset_job(
                per_source_job_name(spec),
                selection=dg.AssetSelection.assets(*per_source),
                tags={TAG_PIPELINE: spec.pipeline},
                description=f"The per-source stages of {spec.pipeline!r}, for one source; the command line runs "
                "a stretch of them through this job with an asset selection.",
            )
        )
    return jobs
