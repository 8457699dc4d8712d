"""Run links from a mixture version back to its inputs and forward to its evaluation.

Two rounds of the learning loop on a small pipeline (in-process, one Dagster instance):
``mixture[m0001]`` links the ``tokenized`` runs it draws tokens from; ``proxy_eval[m0001]``
links the run that planned the version it trained on; ``mixture[m0002]`` links the
evaluation run whose metrics records produced its weights.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from platform_assets.learning_demo import run_learning_loop
from platform_assets.orchestrate import materialize_pipeline
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.platform_assets.smallcorpus import small_spec, small_spec_dict


def latest(instance: dg.DagsterInstance, key: list[str], partition: str) -> dg.EventLogRecord:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition]), limit=1
    ).records
    assert records, f"{key}[{partition}] was never materialized"
    return records[0]


def run_link(record: dg.EventLogRecord, label: str) -> str:
    value = record.asset_materialization.metadata[label]
    assert isinstance(value, dg.DagsterRunMetadataValue), f"{label} is {type(value).__name__}, not a run link"
    return value.run_id


def test_mixture_versions_link_inputs_evaluations_and_feedback(small_corpus: Path, tmp_path: Path):
    base = small_spec_dict(small_corpus)
    spec = small_spec(
        small_corpus,
        sources=[s for s in base["sources"] if s["name"] != "pages"],
        stages=[{"name": "normalized", "op": "normalize_text@1"}, {"name": "deduped", "op": "dedup_minhash@1"}],
        mixture={**base["mixture"], "rounds": 2},
    )
    resources = {**default_resources(), "storage": CorpusStorage(root=str(tmp_path / "store"))}
    instance = dg.DagsterInstance.ephemeral()
    materialize_pipeline(spec, resources=resources, instance=instance, parallel=1, progress=lambda _: None)
    state = run_learning_loop(spec, resources, instance, log=lambda _: None)
    assert [v.version for v in state.versions] == ["m0001", "m0002"]

    m1 = latest(instance, ["small", "mixture"], "m0001")
    for domain in ("docs", "code"):
        assert run_link(m1, f"tokenized_run/{domain}") == latest(instance, ["small", "tokenized"], domain).run_id
    assert not [
        k for k in m1.asset_materialization.metadata if k.startswith("source_eval_run/")
    ]  # the first version has no feedback

    e1 = latest(instance, ["small", "proxy_eval"], "m0001")
    assert run_link(e1, "mixture_run") == m1.run_id
    trainer_run = e1.asset_materialization.metadata["run_id"].value

    m2 = latest(instance, ["small", "mixture"], "m0002")
    md2 = m2.asset_materialization.metadata
    assert run_link(m2, "source_eval_run/m0001") == e1.run_id
    assert md2["produced_from_runs"].value == [trainer_run]
    assert md2["produced_from_records"].value and all("/m0001/" in r for r in md2["produced_from_records"].value)
    assert run_link(latest(instance, ["small", "proxy_eval"], "m0002"), "mixture_run") == m2.run_id
