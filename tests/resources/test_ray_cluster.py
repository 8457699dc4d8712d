"""The whole build loop on a real multi-node Ray cluster: a head and two worker nodes, each its own
``ray start`` process on this machine with its own CPU and resources, gives the serial run's outputs
byte for byte (every committed shard, manifest, dedup index file and the tokenizer).

Each build runs in its own process (``tests/reliability/crash_worker.py``: ``materialize_pipeline``
through Dagster), with the compute backend and the cluster's address and token in its environment,
as a Dagster run pod would have them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.spec import PipelineSpec, parse_spec
from tests.reliability.helpers import committed_outputs, write_prose_jsonl

pytestmark = pytest.mark.slow
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cluster_spec(src: Path) -> PipelineSpec:
    return parse_spec(
        {
            "pipeline": "rc",
            "shard_docs": 25,
            "sources": [
                {"name": s, "location": str(src / s), "format": "jsonl", "url_field": "url"} for s in ("a", "b")
            ],
            "stages": [
                {"name": "normalized", "op": "normalize_text@1"},
                {"name": "quality", "op": "gopher_quality@1"},
                {"name": "deduped", "op": "dedup_minhash@1"},
            ],
            "tokenizer": {"vocab_size": 300, "sample_docs": 60, "val_min_docs": 2},
        }
    )


def build(spec_file: Path, root: Path, env: dict[str, str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1", **env}
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.crash_worker", str(spec_file), str(root)],
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and "finished" in done.stdout, done.stderr[-3000:]


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the ray extra is not installed")
def test_build_loop_on_a_three_node_cluster_equals_serial(tmp_path):
    from resources.ray_local import LocalRayCluster

    src = tmp_path / "src"
    write_prose_jsonl(src / "a" / "f.jsonl", 150, seed=1)
    write_prose_jsonl(src / "a" / "g.jsonl", 60, seed=1)  # the same documents again: duplicates inside a
    write_prose_jsonl(src / "b" / "f.jsonl", 120, seed=2)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(cluster_spec(src).model_dump_json())
    build(spec_file, tmp_path / "serial", {"CORPUS_COMPUTE_BACKEND": "serial"})

    with LocalRayCluster(workers=2, cpus_per_node=1, base_port=36_500) as cluster:
        assert cluster.alive_nodes() == 3
        build(spec_file, tmp_path / "ray", {"CORPUS_COMPUTE_BACKEND": "ray", **cluster.client_env()})
        assert cluster.alive_nodes() == 3, "a node died during the build"
        used = cluster.nodes_that_ran_tasks()
    assert len(used) >= 2, f"shard tasks ran on {used} only"
    serial, on_ray = committed_outputs(tmp_path / "serial"), committed_outputs(tmp_path / "ray")
    assert len([k for k in serial if k.endswith(".parquet")]) > 40
    assert on_ray == serial
