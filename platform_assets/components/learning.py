"""Learning-loop assets of a pipeline: ``mixture[version]`` and ``proxy_eval[version]``.

Both are partitioned by mixture version (m0001 ... m<rounds>, static: the versions the spec allows).
``mixture`` plans which training tokens a version uses (weights from run config, else the
spec's initial weights); ``proxy_eval`` trains the proxy GPT on it in a subprocess through
Dagster Pipes and writes per-domain validation losses to the metrics store. The
``eval_feedback`` sensor closes the loop.
"""

import os
import sys
from typing import Any

import dagster as dg

from corpus import learning
from corpus.metrics import version_name, version_number
from corpus.mixing.policies import initial_weights
from corpus.mixing.weights import WeightsError, validate_weights
from corpus.runner import spec_fingerprint
from corpus.spec import PipelineSpec
from platform_assets.checks import LOSSES_FINITE, WEIGHTS_VALID, check_spec, losses_check, mixture_check
from resources.metrics import MetricsStore
from resources.storage import PROJECT_ROOT, CorpusStorage


def mixture_config_schema(spec: PipelineSpec) -> dict[str, dg.Field]:
    """Run config of a mixture version, typed by the pipeline's domains.

    ``weights`` names every domain and nothing else, so the launchpad refuses an unknown or
    missing domain before any run exists; non-negativity and the sum of 1 are checked when
    the run starts, before anything is written."""
    weights = dg.Shape(
        {d: dg.Field(float, description=f"weight of {d} (>= 0; all weights sum to 1)") for d in spec.trained_sources}
    )
    return {
        "weights": dg.Field(
            weights, is_required=False, description="weight per domain; default: the spec's initial mixture"
        ),
        "reason": dg.Field(str, default_value="", description="why these weights (the policy's explanation)"),
        "source_records": dg.Field([str], default_value=[], description="metrics records that produced these weights"),
        "source_runs": dg.Field(
            [str], default_value=[], description="training runs whose records produced these weights"
        ),
    }


def versions_partitions(spec: PipelineSpec) -> dg.StaticPartitionsDefinition:
    """Mixture versions m0001 ... m<rounds>: the versions the feedback sensor may create.

    Static, so no other key can be added or launched from the UI; versions not made yet show as missing."""
    assert spec.mixture is not None
    return dg.StaticPartitionsDefinition([version_name(i) for i in range(1, spec.mixture.rounds + 1)])


def mixture_job_name(spec: PipelineSpec) -> str:
    return f"{spec.pipeline}_mixture_round"


def build_learning_defs(spec: PipelineSpec) -> dg.Definitions:
    assert spec.mixture is not None
    m = spec.mixture
    p = spec.pipeline
    versions = versions_partitions(spec)
    mixture_key = dg.AssetKey([p, "mixture"])
    eval_key = dg.AssetKey([p, "proxy_eval"])
    tokenized_key = dg.AssetKey([p, "tokenized"])

    @dg.asset(
        key=mixture_key,
        partitions_def=versions,
        deps=[dg.AssetDep(tokenized_key, partition_mapping=dg.AllPartitionMapping())],
        code_version=f"mixture@1:{m.seed}:{m.budget_tokens}:{m.max_epochs}"
        + (
            f":selection-{spec_fingerprint({d: s.model_dump(mode='json') for d, s in m.selection.items()})}"
            if m.selection
            else ""
        ),
        config_schema=mixture_config_schema(spec),
        check_specs=check_spec(mixture_key, WEIGHTS_VALID, versions),
        description=f"A mixture version: weights per domain, a {m.budget_tokens:,}-token budget, at most "
        f"{m.max_epochs:g} epochs per domain, and the deterministic sample of training tokens it implies (never from "
        "the validation split).",
        kinds={"json"},
        group_name=p,
        owners=list(spec.owners) or None,
    )
    def mixture(context: dg.AssetExecutionContext, storage: CorpusStorage) -> dg.MaterializeResult:
        version = context.partition_key
        if version_number(version) is None:
            raise dg.Failure(f"partition {version!r} is not a mixture version name (m0001, m0002, ...)")
        config = context.op_execution_context.op_config or {}
        store = storage.store()
        natural = learning.natural_weights(spec, store)
        source_records, source_runs = list(config.get("source_records", [])), list(config.get("source_runs", []))
        if config.get("weights") is None:
            weights = initial_weights(m.initial, spec.trained_sources, natural)
            reason = (
                config.get("reason")
                or f"initial mixture ({m.initial if isinstance(m.initial, str) else 'explicit'} weights)"
            )
        else:
            try:
                weights = validate_weights(config["weights"], spec.trained_sources)
            except WeightsError as exc:
                raise dg.Failure(f"run config ops.{spec.pipeline}__mixture.config.weights: {exc}") from None
            reason = config.get("reason", "")
        plan = learning.plan_version(
            spec,
            store,
            version,
            weights,
            provenance={
                "reason": reason,
                "source_records": source_records,
                "source_runs": source_runs,
                "run_id": context.run_id,
            },
        )
        context.log.info(f"{version}: {reason}")
        md: dict[str, Any] = {
            "weights": dg.MetadataValue.json(plan.requested_weights),
            "effective_weights": dg.MetadataValue.json(plan.effective_weights),
            "total_tokens": plan.total_tokens,
            "budget_tokens": plan.budget_tokens,
            "capped_domains": dg.MetadataValue.json(plan.capped),
            "reason": dg.MetadataValue.text(reason or "-"),
            "domains": dg.MetadataValue.md(_plan_markdown(plan)),
            "plan": dg.MetadataValue.path(store.display(learning.plan_rel(p, version))),
            "produced_from_records": dg.MetadataValue.json(source_records),
            "produced_from_runs": dg.MetadataValue.json(source_runs),
        }
        for d, dp in plan.domains.items():
            md[f"weight/{d}"] = round(float(dp.requested_weight), 4)
            md[f"tokens/{d}"] = int(dp.tokens)
            md[f"epochs/{d}"] = round(float(dp.epochs), 3)
        if plan.notes:
            md["notes"] = dg.MetadataValue.text("\n".join(plan.notes))
        if m.selection:  # the selection rule per domain and what it kept
            md["selection"] = dg.MetadataValue.json(store.read_json(learning.plan_rel(p, version)).get("selection", {}))
        md.update(_mixture_lineage(context.instance, spec, eval_key, source_runs))
        return dg.MaterializeResult(metadata=md, check_results=[mixture_check(mixture_key, plan, spec.trained_sources)])

    @dg.asset(
        key=eval_key,
        partitions_def=versions,
        deps=[dg.AssetDep(mixture_key)],
        code_version="proxy_eval@1",
        check_specs=check_spec(eval_key, LOSSES_FINITE, versions),
        description="Trains the proxy GPT on a mixture version (a subprocess through Dagster Pipes, the protocol "
        "external trainers use too) and evaluates per-domain validation loss on the fixed split; records go to the "
        "metrics store.",
        kinds={"torch"},
        group_name=p,
        owners=list(spec.owners) or None,
    )
    def proxy_eval(
        context: dg.AssetExecutionContext,
        storage: CorpusStorage,
        metrics: MetricsStore,
        pipes_subprocess_client: dg.PipesSubprocessClient,
    ) -> dg.MaterializeResult:
        version = context.partition_key
        s3 = storage.s3_options()
        extras = {
            "spec": spec.model_dump_json(),
            "version": version,
            "storage_root": storage.resolved_root(),
            "metrics_root": metrics.root or os.environ.get("CORPUS_METRICS_ROOT"),
            "project_root": str(PROJECT_ROOT),
            "run_id": f"{version}-{context.run_id[:8]}",
            "s3_endpoint_url": s3.endpoint_url,
            "s3_region": s3.region,
        }
        env = dict(os.environ)  # credentials (if any) travel in the environment only
        if s3.access_key_id:
            env.update({"AWS_ACCESS_KEY_ID": s3.access_key_id, "AWS_SECRET_ACCESS_KEY": s3.secret_access_key or ""})
            if s3.session_token:
                env["AWS_SESSION_TOKEN"] = s3.session_token
        cmd = [sys.executable, "-m", "platform_assets.proxy_pipes"]
        result = pipes_subprocess_client.run(
            command=cmd, context=context, extras=extras, env=env, cwd=str(PROJECT_ROOT)
        ).get_materialize_result()
        # link the evaluation to the run that planned the mixture version it trained on
        mixture_run = _latest_run_id(context.instance, mixture_key, version)
        lineage = {"mixture_run": dg.MetadataValue.dagster_run(mixture_run)} if mixture_run else {}
        md = {**(result.metadata or {}), **lineage}
        losses = {d: _value(md.get(f"val_loss/{d}")) for d in spec.source_names if f"val_loss/{d}" in md}
        md.update(eval_curve_metadata(_value(md.get("eval_curve")) or []))
        return result._replace(metadata=md, check_results=[losses_check(eval_key, losses, spec.source_names)])

    job = dg.define_asset_job(
        mixture_job_name(spec),
        selection=dg.AssetSelection.assets(mixture_key, eval_key),
        partitions_def=versions,
        description=f"One round of the learning loop of {p}: plan a mixture version, train and evaluate the proxy on "
        "it.",
    )
    from platform_assets.automation import sensor_interval_seconds
    from sensors.eval_feedback import build_eval_feedback_sensor

    sensor = build_eval_feedback_sensor(spec, job, versions, sensor_interval_seconds())
    return dg.Definitions(
        assets=[mixture, proxy_eval],
        jobs=[job],
        sensors=[sensor],
    )


def _value(entry: Any) -> Any:
    return entry.value if isinstance(entry, dg.MetadataValue) else entry


def eval_curve_metadata(curve: list[dict[str, Any]]) -> dict[str, Any]:
    """The evaluations during training as a table (step, tokens, average validation loss), and
    the final point as numbers, which the *Plots* tab draws across mixture versions."""
    if not curve:
        return {}
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("step", "int"),
            dg.TableColumn("tokens", "int"),
            dg.TableColumn("average_val_loss", "float"),
        ]
    )
    rows = [
        dg.TableRecord(
            {"step": int(p["step"]), "tokens": int(p["tokens"]), "average_val_loss": round(float(p["average"]), 4)}
        )
        for p in curve
    ]
    return {"eval_curve": dg.MetadataValue.table(records=rows, schema=schema), "eval_points": len(curve)}


def _latest_run_id(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> str | None:
    """The Dagster run of the latest materialization of ``key[partition]``, if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0].run_id if records else None


def _mixture_lineage(
    instance: dg.DagsterInstance, spec: PipelineSpec, eval_key: dg.AssetKey, source_runs: list[str]
) -> dict[str, Any]:
    """Run links a person follows from a mixture version: the token shards it draws from
    (``tokenized_run/<domain>``) and the evaluations whose records produced its weights
    (``source_eval_run/<version>``; external trainers' runs have no Dagster run and are
    listed in ``produced_from_runs`` only)."""
    md: dict[str, Any] = {}
    for domain in spec.trained_sources:
        run_id = _latest_run_id(instance, dg.AssetKey([spec.pipeline, "tokenized"]), domain)
        if run_id:
            md[f"tokenized_run/{domain}"] = dg.MetadataValue.dagster_run(run_id)
    wanted = set(source_runs)
    if wanted:
        for rec in instance.fetch_materializations(eval_key, limit=1000).records:
            trainer_run = rec.asset_materialization.metadata.get("run_id") if rec.asset_materialization else None
            if trainer_run is not None and str(trainer_run.value) in wanted and rec.partition_key:
                md.setdefault(f"source_eval_run/{rec.partition_key}", dg.MetadataValue.dagster_run(rec.run_id))
    return md


def _plan_markdown(plan: Any) -> str:
    rows = ["| domain | weight | effective | tokens | epochs | cap binding |", "|---|---:|---:|---:|---:|---|"]
    for r in plan.table():
        rows.append(
            f"| {r['domain']} | {r['requested_weight']:.4f} | {r['effective_weight']:.4f} | {r['tokens']:,} | "
            f"{r['epochs']:.2f} | {'yes' if r['cap_binding'] else ''} |"
        )
    return "\n".join(rows)
