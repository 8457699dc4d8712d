"""The proxy trainer as an external process, launched by ``proxy_eval`` through Dagster Pipes.

It speaks the same protocol any external trainer can: read the run's extras (pipeline
spec, mixture version, storage root), train, write one metrics record per evaluation to
the metrics store, and report the final per-domain losses back as materialization
metadata. Credentials arrive through the environment, never through extras.
"""

from __future__ import annotations

import json
import math

from dagster_pipes import open_dagster_pipes


def main() -> None:
    with open_dagster_pipes() as pipes:
        from corpus.io import CorpusStore, S3Options
        from corpus.learning import train_version
        from corpus.spec import PipelineSpec
        from resources.metrics_client import MetricsClient

        extras = pipes.extras
        spec = PipelineSpec.model_validate_json(extras["spec"])
        version = extras["version"]
        s3 = S3Options(endpoint_url=extras.get("s3_endpoint_url"), region=extras.get("s3_region"))
        store = CorpusStore(root=extras["storage_root"], base_dir=extras["project_root"], s3=s3)
        metrics_store = CorpusStore(
            root=extras.get("metrics_root") or extras["storage_root"], base_dir=extras["project_root"], s3=s3
        )
        client = MetricsClient(metrics_store)
        written: list[str] = []

        def report(record):
            written.append(client.append(record))

        result, run_id = train_version(
            spec, store, version, run_id=extras.get("run_id"), report=report, log=pipes.log.info
        )
        losses = {d: float(v) for d, v in result.val_loss.items()}
        worst = max(losses, key=lambda d: losses[d]) if losses else None
        metadata = {
            "run_id": run_id,
            "mixture_version": version,
            "trained_on": {"raw_value": f"{spec.pipeline}/mixture[{version}]", "type": "text"},
            "average_val_loss": round(result.average_loss, 4),
            "worst_domain": worst or "",
            "worst_val_loss": round(losses[worst], 4) if worst else math.nan,
            "tokens_seen": result.tokens_seen,
            "steps": result.steps,
            "n_params": result.n_params,
            "device": result.device,
            "seconds": round(result.seconds, 2),
            "val_loss": {"raw_value": losses, "type": "json"},
            "val_loss_se": {
                "raw_value": {d: v for d, v in result.val_loss_se.items() if math.isfinite(v)},
                "type": "json",
            },
            "tokens_per_s": round(result.tokens_per_s, 1),
            "achieved_gflops": round(result.achieved_flops / 1e9, 3),
            "metrics_records": {"raw_value": written, "type": "json"},
            "eval_curve": {
                "raw_value": [{"step": e.step, "tokens": e.tokens_seen, "average": e.average} for e in result.evals],
                "type": "json",
            },
        }
        for d, v in losses.items():
            metadata[f"val_loss/{d}"] = round(v, 4)
        if spec.mixture is not None and spec.mixture.proxy.online_sampler:
            metadata["weight_trajectory"] = {
                "raw_value": json.loads(json.dumps(result.weight_trajectory)),
                "type": "json",
            }
        if result.notes:
            metadata["notes"] = {"raw_value": "\n".join(result.notes), "type": "text"}
        pipes.report_asset_materialization(metadata=metadata, data_version=run_id)


if __name__ == "__main__":
    main()
