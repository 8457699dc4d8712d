"""ComputeEngine backends: serial, a spawn process pool and Ray write byte-identical shards.

One stage (two quality filters over a source cut into several 10-document shards) runs
once per backend into its own storage root; every Parquet file (kept, dropped,
quarantined) and the committed shard lists must match the serial run exactly.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from corpus import runner
from corpus.io import CorpusStore, S3Options
from corpus.spec import PipelineSpec
from resources.compute import ComputeEngine, ProcessExecutor, _shared_pool
from resources.storage import CorpusStorage
from tests.platform_assets.smallcorpus import small_spec

STAGE = "quality"


def stage_spec(corpus: Path) -> PipelineSpec:
    return small_spec(
        corpus,
        sources=[
            {
                "name": "docs",
                "location": str(corpus / "docs"),
                "format": "jsonl",
                "url_field": "url",
                "title_field": "title",
            }
        ],
        stages=[
            {
                "name": STAGE,
                "steps": [
                    {"op": "gopher_repetition@1"},
                    {"op": "gopher_quality@1", "config": {"max_non_alpha_words_ratio": 0.3}},
                ],
            }
        ],
        shard_docs=10,
    )


@pytest.fixture(scope="module")
def raw_root(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw partition of the docs source, written once and copied for each backend."""
    spec = stage_spec(small_corpus)
    root = tmp_path_factory.mktemp("raw")
    storage = CorpusStorage(root=str(root))
    report = runner.run_raw(
        spec, "docs", storage.store(), source_location=storage.source_location(str(small_corpus / "docs"))
    )
    assert report.shards >= 4, "the test needs several shards to exercise the backends"
    return root


def run_backend(small_corpus: Path, raw_root: Path, dest: Path, engine: ComputeEngine) -> runner.StageReport:
    shutil.copytree(raw_root, dest)
    return runner.run_stage(
        stage_spec(small_corpus), STAGE, "docs", CorpusStore(root=str(dest)), executor=engine.executor()
    )


def stage_files(root: Path) -> dict[str, bytes]:
    """Every Parquet file the stage wrote, and each manifest without its timing."""
    import json

    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if not p.is_file() or "/raw/" in f"/{rel}":
            continue
        if p.suffix == ".parquet":
            out[rel] = p.read_bytes()
        elif p.name == "_manifest.json":  # the shard list and the summary (samples included), timings left out
            doc = json.loads(p.read_text())
            doc["summary"].pop("seconds", None)
            out[rel] = json.dumps(doc, sort_keys=True).encode()
    return out


@pytest.fixture(scope="module")
def serial_run(
    small_corpus: Path, raw_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[runner.StageReport, dict[str, bytes]]:
    dest = tmp_path_factory.mktemp("serial") / "store"
    report = run_backend(small_corpus, raw_root, dest, ComputeEngine(backend="serial"))
    return report, stage_files(dest)


def test_serial_reference_is_meaningful(serial_run):
    report, files = serial_run
    assert report.conserved and report.shards >= 4
    assert report.kept > 0 and report.dropped_total > 0, "both outcomes must occur for the comparison to mean something"
    assert any("_dropped" in f for f in files)


def test_processes_backend_writes_identical_shards(small_corpus, raw_root, serial_run, tmp_path):
    report = run_backend(small_corpus, raw_root, tmp_path / "store", ComputeEngine(backend="processes", workers=2))
    assert stage_files(tmp_path / "store") == serial_run[1]
    assert (report.kept, report.dropped) == (serial_run[0].kept, serial_run[0].dropped)


def test_ray_backend_writes_identical_shards(small_corpus, raw_root, serial_run, tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # the caller's local Ray, as in a notebook
    try:
        executor = ComputeEngine(backend="ray").executor()
        assert executor.name == "ray" and ray.cluster_resources().get("CPU") == 2
        report = run_backend(small_corpus, raw_root, tmp_path / "store", ComputeEngine(backend="ray"))
    finally:
        ray.shutdown()
    assert stage_files(tmp_path / "store") == serial_run[1]
    assert (report.kept, report.dropped) == (serial_run[0].kept, serial_run[0].dropped)


def test_corpus_store_survives_pickling(tmp_path):
    local = CorpusStore(root=str(tmp_path / "store"))
    back = pickle.loads(pickle.dumps(local))
    assert (back.uri, back.path("a/b"), back.is_local) == (local.uri, local.path("a/b"), True)
    back.write_bytes("x/y.bin", b"ok")
    assert local.read_bytes("x/y.bin") == b"ok"

    s3 = CorpusStore(root="s3://bucket/prefix", s3=S3Options(endpoint_url="http://127.0.0.1:9", region="us-east-1"))
    back = pickle.loads(pickle.dumps(s3))
    assert back.uri == "s3://bucket/prefix" and isinstance(back.filesystem, pafs.S3FileSystem)
    assert back.path("p") == "bucket/prefix/p"


def _pid(_: int) -> int:
    return os.getpid()


def _fail_on_three(i: int) -> int:
    if i == 3:
        raise ValueError(f"shard {i} is broken")
    return i


def test_process_pool_is_kept_between_stages():
    executor = ProcessExecutor(2)
    first = set(executor.map(_pid, [(i,) for i in range(6)]))
    pool = _shared_pool(2)
    second = set(executor.map(_pid, [(i,) for i in range(6)]))
    assert os.getpid() not in first
    assert _shared_pool(2) is pool, "a second stage must reuse the pool instead of spawning new workers"
    assert first | second <= set(pool._processes)


def test_process_backend_raises_the_shard_error():
    with pytest.raises(ValueError, match="shard 3 is broken"):
        list(ProcessExecutor(2).map(_fail_on_three, [(i,) for i in range(6)]))
    # the pool still works afterwards
    assert sorted(ProcessExecutor(2).map(_fail_on_three, [(0,), (1,)])) == [0, 1]


def test_backend_comes_from_the_environment_when_unset(monkeypatch):
    monkeypatch.delenv("CORPUS_COMPUTE_BACKEND", raising=False)
    assert ComputeEngine().executor().name == "serial"
    monkeypatch.setenv("CORPUS_COMPUTE_BACKEND", "processes")
    assert ComputeEngine(workers=2).executor().name == "processes"
    assert ComputeEngine(backend="serial").executor().name == "serial", "an explicit backend wins over the environment"
    monkeypatch.setenv("CORPUS_COMPUTE_BACKEND", "spark")
    with pytest.raises(ValueError, match=r"unknown compute backend 'spark'.*serial, processes, ray"):
        ComputeEngine().executor()


def test_unknown_backend_is_refused_when_configured():
    with pytest.raises(ValueError, match="unknown compute backend 'spark'"):
        ComputeEngine(backend="spark")


def _die_on_one(i: int) -> int:
    if i == 1:
        os._exit(3)  # a worker killed mid-task (as by the OOM killer)
    return i


def test_a_dead_worker_is_reported_and_the_pool_replaced():
    with pytest.raises(RuntimeError, match="worker process died"):
        list(ProcessExecutor(2).map(_die_on_one, [(i,) for i in range(4)]))
    assert sorted(ProcessExecutor(2).map(_die_on_one, [(0,), (2,), (3,)])) == [0, 2, 3]
