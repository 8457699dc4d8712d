"""The pipeline Component: an approved spec (defs.yaml) -> Dagster assets and checks.

One asset per stage, partitioned by source, keyed ``<pipeline>/<stage>``::

    raw -> <stages...> -> tokenized      (per source)
                  tokenizer ─┘            (global: trained on a sample of all sources)
    <dedup stage>_index                   (global: duplicates across all sources)

plus the learning-loop assets (mixture, proxy_eval) when the spec has a ``mixture``.
Assets are thin: they resolve resources, call :mod:`corpus.runner` and return metadata
and blocking check results.
"""

import posixpath
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from corpus import runner
from corpus.ops import registry
from corpus.spec import PathPolicy, PipelineSpec, SpecError, SpecIssue, validate_spec
from corpus.specfile import defs_attributes_from_text, read_text
from corpus.stage_graph import index_name, is_global_op, stage_graph
from platform_assets.automation import build_automation_defs, partitioned_check_specs, stage_condition
from platform_assets.checks import INDEX_ACCOUNTED, ROUND_TRIP, check_spec, index_check, tokenizer_check
from platform_assets.components.attributes import PipelineAttributes, PipelineScaffolder
from platform_assets.metadata import (
    TOKEN_LINEAGE,
    column_schema,
    columns_metadata,
    content_version,
    document_column_schema,
    global_version,
    report_checks,
    report_metadata,
    selection_metadata,
    stage_check_specs,
    stage_description,
)
from platform_assets.schedules import build_run_defs, with_freshness
from resources.compute import ComputeEngine
from resources.storage import PROJECT_ROOT, CorpusStorage
from sensors.new_data import FINGERPRINT_METADATA_KEY, fingerprint_source

READER_VERSION = "read@1"
TOKENIZE_VERSION = "tokenize@1"
KIND_BY_TAG = {
    "extract": "html",
    "language": "cld2",
    "quality": "polars",
    "dedup": "numpy",
    "pii": "polars",
    "normalize": "ftfy",
    "selection": "numpy",
    "decontamination": "numpy",
}


class SourcesConfig(dg.Config):
    """Run config of the global assets (dedup index, tokenizer)."""

    exclude_sources: list[str] = Field(
        default_factory=list,
        description="sources left out of this run; the command line leaves out sources that failed an earlier stage",
    )

    def included(self, spec: PipelineSpec) -> list[str]:
        return [s for s in spec.source_names if s not in self.exclude_sources]


@dg.scaffold_with(PipelineScaffolder)
class PipelineComponent(dg.Component):
    """A corpus pipeline from a PipelineSpec: sources, ordered stages, tokenizer, mixture.

    The spec is validated when definitions load; an invalid spec fails the load with
    every problem listed by field (unknown operator, unknown dependency, cycle, location
    outside the allowed roots, value out of range, ...).
    """

    def __init__(self, spec: PipelineSpec, project_root: Path | None = None):
        self.spec = spec
        self.project_root = project_root or PROJECT_ROOT

    @classmethod
    def get_schema(cls) -> type[PipelineSpec]:
        return PipelineAttributes  # validates as PipelineSpec; its JSON schema knows the one-step shorthand

    @classmethod
    def load(cls, attributes: Any, context: dg.ComponentLoadContext) -> "PipelineComponent":
        if not isinstance(attributes, PipelineSpec):
            raise SpecError(
                [
                    SpecIssue(
                        "attributes",
                        "a pipeline needs its spec under `attributes:` (see platform_assets/defs/demo/defs.yaml)",
                    )
                ],
                where=f"{context.path}/defs.yaml",
            )
        project_root = Path(context.project_root)
        defs_file = Path(context.path) / "defs.yaml"
        if defs_file.exists():  # the envelope too: Dagster's own keys (post_processing) would render templates
            defs_attributes_from_text(read_text(defs_file), str(defs_file))
        issues = validate_spec(attributes, PathPolicy.default(project_root))
        if issues:
            raise SpecError(issues, where=f"{context.path}/defs.yaml")
        return cls(attributes, project_root)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_pipeline_defs(self.spec)


# --- builders ----------------------------------------------------------------


def _key(spec: PipelineSpec, name: str) -> dg.AssetKey:
    return dg.AssetKey([spec.pipeline, name])


def _stage_kinds(stage_ops: list[str]) -> set[str]:
    kinds = {"parquet"}
    for op_name in stage_ops:
        for tag in registry.get_operator(op_name).tags:
            if tag in KIND_BY_TAG:
                kinds.add(KIND_BY_TAG[tag])
    return kinds


def _common(spec: PipelineSpec) -> dict[str, Any]:
    return {"group_name": spec.pipeline, "owners": list(spec.owners) or None}


def _partitions(spec: PipelineSpec) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(spec.source_names)


def build_raw_asset(spec: PipelineSpec) -> dg.AssetsDefinition:
    key = _key(spec, "raw")
    sources = {s.name: s.model_dump(mode="json") for s in spec.sources}

    @dg.asset(
        key=key,
        partitions_def=_partitions(spec),
        code_version=f"{READER_VERSION}:{runner.spec_fingerprint([sources, spec.shard_docs])}",
        description="Raw documents read from each source (JSONL, Parquet, text or WARC), with provenance. "
        "Malformed records are quarantined with file, offset and error.",
        kinds={"parquet"},
        check_specs=partitioned_check_specs(stage_check_specs(key, stage_label="raw"), _partitions(spec)),
        metadata={
            "sources": dg.MetadataValue.json(
                {n: {k: v for k, v in s.items() if k in ("location", "format")} for n, s in sources.items()}
            ),
            "dagster/column_schema": document_column_schema(),
        },
        **_common(spec),
    )
    def raw(context: dg.AssetExecutionContext, storage: CorpusStorage) -> dg.MaterializeResult:
        source = context.partition_key
        store = storage.store()
        src = spec.source(source)
        context.log.info(f"reading source {source!r} ({src.format}) from {src.location}")
        # fingerprint first: files changing during the read show up as a change on the sensor's next tick
        fingerprint = fingerprint_source(src, *storage.source_location(src.location))
        report = runner.run_raw(
            spec, source, store, source_location=storage.source_location(src.location), progress=context.log.info
        )
        return dg.MaterializeResult(
            metadata={
                **report_metadata(report, location=store.display(runner.stage_dir(spec.pipeline, "raw", source))),
                **columns_metadata(store, runner.stage_dir(spec.pipeline, "raw", source), None),
                FINGERPRINT_METADATA_KEY: fingerprint.digest,
            },
            check_results=report_checks(report, key),
            data_version=content_version(store, runner.stage_dir(spec.pipeline, "raw", source)),
        )

    return raw


def build_stage_asset(spec: PipelineSpec, index: int) -> list[dg.AssetsDefinition]:
    stage = spec.stages[index]
    graph = stage_graph(spec)
    input_stage = graph.input_of(stage.name)
    key = _key(spec, stage.name)
    ops = [s.op for s in stage.steps]
    is_global = graph.is_global(stage.name)
    description = stage_description(spec, index)
    out: list[dg.AssetsDefinition] = []
    deps: list[Any] = [dg.AssetDep(_key(spec, input_stage))]
    code_version = runner.stage_code_version(stage)

    if is_global:
        index_key = _key(spec, index_name(stage.name))
        deps.append(dg.AssetDep(index_key))
        global_op = registry.get_operator(next(op for op in ops if is_global_op(op)))
        if "model" not in global_op.tags and global_op.name != "soft_dedup":
            index_description = (
                f"Duplicates across all sources of the pipeline ({global_op.key}): which document each removed one "
                "duplicates. Earlier sources in the spec win; within a source the smaller id wins."
            )
        else:
            index_description = (
                f"{global_op.key} across the pipeline's sources: {global_op.description} "
                "The trained model file (if any) and its held-out figures live here."
            )

        @dg.asset(
            key=index_key,
            deps=[dg.AssetDep(_key(spec, input_stage), partition_mapping=dg.AllPartitionMapping())],
            code_version=code_version,
            description=index_description,
            kinds={"parquet", "numpy"},
            automation_condition=stage_condition(),
            check_specs=check_spec(index_key, INDEX_ACCOUNTED),
            **_common(spec),
        )
        def stage_index(
            context: dg.AssetExecutionContext, config: SourcesConfig, storage: CorpusStorage, compute: ComputeEngine
        ) -> dg.MaterializeResult:
            store = storage.store()
            summary = runner.run_global_index(
                spec,
                stage.name,
                store,
                progress=context.log.info,
                sources=config.included(spec),
                executor=compute.executor(),
            )
            md: dict[str, Any] = {
                "docs_in": summary["docs_in"],
                "duplicates": summary["duplicates"],
                "cross_source_duplicates": summary["cross_source"],
                "duplicates_by_source": dg.MetadataValue.json(summary["per_source"]),
                "seconds": round(summary["seconds"], 3),
                "location": dg.MetadataValue.path(store.display(runner.index_dir(spec.pipeline, stage.name))),
            }
            if summary["excluded_sources"]:
                md["excluded_sources"] = dg.MetadataValue.json(summary["excluded_sources"])
            for src, reasons in summary["per_source"].items():
                md[f"duplicates/{src}"] = sum(reasons.values())
            md.update(selection_metadata(summary.get("model") or {}))
            for name, value in (summary.get("index") or {}).items():  # version, full | incremental, tasks, bytes
                md[f"index/{name}"] = round(value, 3) if isinstance(value, float) else value
            included = config.included(spec)
            own = [posixpath.join(runner.index_dir(spec.pipeline, stage.name), f"{src}.parquet") for src in included]
            inputs = [runner.stage_dir(spec.pipeline, input_stage, src) for src in included]
            present = [src for src, rel in zip(included, own, strict=True) if store.exists(rel)]
            return dg.MaterializeResult(
                metadata=md,
                data_version=global_version(store, own, inputs),
                check_results=[index_check(index_key, summary, included, present)],
            )

        out.append(stage_index)

    @dg.asset(
        key=key,
        deps=deps,
        partitions_def=_partitions(spec),
        code_version=code_version,
        description=description,
        kinds=_stage_kinds(ops),
        check_specs=partitioned_check_specs(stage_check_specs(key, stage_label=stage.name), _partitions(spec)),
        automation_condition=stage_condition([index_key] if is_global else []),
        metadata={
            "operators": dg.MetadataValue.json([s.model_dump(mode="json") for s in stage.steps]),
            "dagster/column_schema": document_column_schema(),
        },
        **_common(spec),
    )
    def stage_asset(
        context: dg.AssetExecutionContext, storage: CorpusStorage, compute: ComputeEngine
    ) -> dg.MaterializeResult:
        source = context.partition_key
        store = storage.store()
        report = runner.run_stage(
            spec, stage.name, source, store, executor=compute.executor(), progress=context.log.info
        )
        out_rel = runner.stage_dir(spec.pipeline, stage.name, source)
        return dg.MaterializeResult(
            metadata={
                **report_metadata(report, location=store.display(out_rel)),
                **columns_metadata(store, out_rel, _key(spec, input_stage)),
            },
            check_results=report_checks(report, key),
            data_version=content_version(store, runner.stage_dir(spec.pipeline, stage.name, source)),
        )

    out.append(stage_asset)
    return out


def build_token_assets(spec: PipelineSpec) -> list[dg.AssetsDefinition]:
    tok_key = _key(spec, "tokenizer")
    toks_key = _key(spec, "tokenized")
    tk = spec.tokenizer
    tok_version = f"train_bpe@1:{runner.spec_fingerprint(tk.model_dump(mode='json'))}"

    @dg.asset(
        key=tok_key,
        deps=[dg.AssetDep(_key(spec, spec.tokenizer_input), partition_mapping=dg.AllPartitionMapping())],
        code_version=tok_version,
        description=f"Byte-level BPE tokenizer ({tk.vocab_size} tokens) trained locally on up to {tk.sample_docs} "
        "clean documents per source."
        if tk.kind == "bpe"
        else "Tokenizer installed from a tokenizer.json file.",
        kinds={"tokenizers"},
        automation_condition=stage_condition(),
        check_specs=check_spec(tok_key, ROUND_TRIP),
        **_common(spec),
    )
    def tokenizer(
        context: dg.AssetExecutionContext, config: SourcesConfig, storage: CorpusStorage
    ) -> dg.MaterializeResult:
        store = storage.store()
        file_bytes = None
        if tk.kind == "file" and tk.path:
            fs, path = storage.source_location(tk.path)
            with fs.open_input_stream(path) as f:
                file_bytes = f.read()
        info = runner.run_tokenizer(
            spec, store, tokenizer_file=file_bytes, progress=context.log.info, sources=config.included(spec)
        )
        return dg.MaterializeResult(
            metadata={
                **(
                    {"excluded_sources": dg.MetadataValue.json(config.exclude_sources)}
                    if config.exclude_sources
                    else {}
                ),
                "vocab_size": info["vocab_size"],
                "sample_docs": info["sample_docs"],
                "sha256": info["sha256"],
                "seconds": round(info["seconds"], 3),
                "location": dg.MetadataValue.path(store.display(runner.tokenizer_rel(spec.pipeline))),
            },
            data_version=global_version(
                store,
                [info["sha256"]],
                [runner.stage_dir(spec.pipeline, spec.tokenizer_input, s) for s in config.included(spec)],
            ),
            check_results=[
                tokenizer_check(
                    tok_key,
                    store.read_bytes(runner.tokenizer_rel(spec.pipeline)),
                    tk.vocab_size if tk.kind == "bpe" else None,
                )
            ],
        )

    @dg.asset(
        key=toks_key,
        deps=[dg.AssetDep(tok_key), dg.AssetDep(_key(spec, spec.tokenizer_input))],
        partitions_def=_partitions(spec),
        code_version=f"{TOKENIZE_VERSION}:{runner.spec_fingerprint(tk.model_dump(mode='json'))}",
        description="Token shards per source with document boundaries, and the fixed per-domain validation split "
        f"({tk.val_fraction:.0%} of documents, {tk.val_min_docs}..{tk.val_max_docs}) that training never sees.",
        kinds={"parquet", "tokenizers"},
        check_specs=partitioned_check_specs(stage_check_specs(toks_key, stage_label="tokenized"), _partitions(spec)),
        automation_condition=stage_condition([tok_key]),
        metadata={
            "dagster/column_schema": column_schema(
                [
                    ("id", "string"),
                    ("source", "string"),
                    ("tokens", "list<uint16|uint32>"),
                    ("n_tokens", "int"),
                    ("split", "string"),
                ]
            )
        },
        **_common(spec),
    )
    def tokenized(
        context: dg.AssetExecutionContext, storage: CorpusStorage, compute: ComputeEngine
    ) -> dg.MaterializeResult:
        source = context.partition_key
        store = storage.store()
        report = runner.run_tokenized(spec, source, store, executor=compute.executor(), progress=context.log.info)
        return dg.MaterializeResult(
            metadata={
                **report_metadata(report, location=store.display(runner.stage_dir(spec.pipeline, "tokenized", source))),
                **columns_metadata(
                    store,
                    runner.stage_dir(spec.pipeline, "tokenized", source),
                    _key(spec, spec.tokenizer_input),
                    TOKEN_LINEAGE,
                ),
            },
            check_results=report_checks(report, toks_key),
            data_version=content_version(store, runner.stage_dir(spec.pipeline, "tokenized", source)),
        )

    return [tokenizer, tokenized]


def build_pipeline_defs(spec: PipelineSpec) -> dg.Definitions:
    assets: list[dg.AssetsDefinition] = [build_raw_asset(spec)]
    for i in range(len(spec.stages)):
        assets += build_stage_asset(spec, i)
    assets += build_token_assets(spec)
    extra: list[dg.Definitions] = [build_automation_defs(spec, assets, _key(spec, "raw"))]
    every_asset = list(assets)
    if spec.mixture is not None:
        from platform_assets.components.learning import build_learning_defs

        learning = build_learning_defs(spec)
        every_asset += list(learning.assets or [])
        extra.append(
            dg.Definitions(
                assets=with_freshness(spec, list(learning.assets or [])), jobs=learning.jobs, sensors=learning.sensors
            )
        )
    extra.append(build_run_defs(spec, every_asset))
    return dg.Definitions.merge(dg.Definitions(assets=with_freshness(spec, assets)), *extra)
