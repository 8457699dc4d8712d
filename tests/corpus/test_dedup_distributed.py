"""Global dedup as tasks (signatures per shard, buckets per partition, one merge) equals the single-process operator.

The drop tables the apply stage reads must be the same bytes as ``run_global_index_in_process``
writes, for every partition count and every executor; an index grown by a new source must equal
a full build over the union.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpus import runner
from corpus.dedup_index import load_state
from corpus.io import CorpusStore
from resources.compute import ComputeEngine
from tests.corpus.dedupcorpus import (
    SOURCES,
    dedup_spec,
    index_files,
    read_raw,
    write_sources,
)

OPS = [
    ("dedup_minhash@1", None),
    ("dedup_exact@1", None),
    ("dedup_minhash@1", {"remove_exact_duplicates": False}),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("dd")
    write_sources(base / "src")
    read_raw(dedup_spec(base / "src"), base / "raw", base / "src")
    return base


def fresh(corpus: Path, dest: Path) -> CorpusStore:
    shutil.copytree(corpus / "raw", dest)
    return CorpusStore(root=str(dest))


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, bytes]]:
    """The single-process operator's index files, per operator configuration."""
    out = {}
    for op, config in OPS:
        dest = tmp_path_factory.mktemp("ref") / "store"
        runner.run_global_index_in_process(
            dedup_spec(corpus / "src", op=op, config=config), "deduped", fresh(corpus, dest)
        )
        out[(op, json.dumps(config))] = index_files(dest)
    return out


def test_reference_has_both_kinds_of_duplicates_across_sources(reference):
    summary = json.loads(reference[("dedup_minhash@1", "null")][runner.INDEX_SUMMARY])
    reasons = {r for per in summary["per_source"].values() for r in per}
    assert reasons == {"exact_duplicate", "near_duplicate"} and summary["cross_source"] > 10


@pytest.mark.parametrize("partitions", [1, 4, 13])
@pytest.mark.parametrize(("op", "config"), OPS)
def test_tasks_give_the_single_process_bytes(corpus, reference, tmp_path, op, config, partitions):
    spec = dedup_spec(corpus / "src", op=op, config=config)
    summary = runner.run_global_index(spec, "deduped", fresh(corpus, tmp_path / "s"), partitions=partitions)
    assert summary["index"]["partitions"] == partitions and summary["index"]["shards_signed"] == 27
    assert index_files(tmp_path / "s") == reference[(op, json.dumps(config))]


def test_process_pool_gives_the_serial_bytes(corpus, reference, tmp_path):
    spec = dedup_spec(corpus / "src")
    runner.run_global_index(
        spec,
        "deduped",
        fresh(corpus, tmp_path / "s"),
        partitions=5,
        executor=ComputeEngine(backend="processes", workers=2).executor(),
    )
    assert index_files(tmp_path / "s") == reference[("dedup_minhash@1", "null")]


def test_local_ray_gives_the_serial_bytes(corpus, reference, tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        spec = dedup_spec(corpus / "src")
        runner.run_global_index(
            spec,
            "deduped",
            fresh(corpus, tmp_path / "s"),
            partitions=5,
            executor=ComputeEngine(backend="ray").executor(),
        )
    finally:
        ray.shutdown()
    assert index_files(tmp_path / "s") == reference[("dedup_minhash@1", "null")]


def test_a_new_source_is_deduplicated_against_the_stored_index(corpus, reference, tmp_path):
    store = fresh(corpus, tmp_path / "s")
    first = runner.run_global_index(dedup_spec(corpus / "src", sources=SOURCES[:2]), "deduped", store, partitions=4)
    assert first["index"]["mode"] == "full" and first["index"]["shards_signed"] == 18
    grown = runner.run_global_index(dedup_spec(corpus / "src"), "deduped", store)
    info = grown["index"]
    assert (info["mode"], info["index_version"], info["shards_signed"], info["partitions"]) == ("incremental", 2, 9, 4)
    assert index_files(tmp_path / "s") == reference[("dedup_minhash@1", "null")], (
        "survivors differ from a full run over the union"
    )
    state = load_state(store, runner.index_dir("dd", "deduped"))
    assert state is not None and state.version == 2 and set(state.shards) == set(SOURCES)
    again = runner.run_global_index(dedup_spec(corpus / "src"), "deduped", store)
    assert (again["index"]["mode"], again["index"]["index_version"]) == ("unchanged", 2)
    assert index_files(tmp_path / "s") == reference[("dedup_minhash@1", "null")]


def test_a_new_source_listed_first_rebuilds_the_index(corpus, tmp_path):
    """A new source ahead of the others changes every rank (the survivor priority): no increment is valid."""
    store = fresh(corpus, tmp_path / "s")
    runner.run_global_index(dedup_spec(corpus / "src", sources=("b", "c")), "deduped", store, partitions=2)
    rebuilt = runner.run_global_index(dedup_spec(corpus / "src", sources=("a", "b", "c")), "deduped", store)
    assert rebuilt["index"]["mode"] == "full" and rebuilt["index"]["shards_signed"] == 27


def test_a_changed_shard_rebuilds_and_earlier_versions_are_removed(corpus, reference, tmp_path):
    store = fresh(corpus, tmp_path / "s")
    spec = dedup_spec(corpus / "src")
    runner.run_global_index(spec, "deduped", store, partitions=3)
    runner.run_raw(
        spec.model_copy(update={"shard_docs": 12}),
        "b",
        store,
        source_location=CorpusStorageLocation.of(corpus / "src" / "b"),
    )
    again = runner.run_global_index(spec, "deduped", store)
    assert again["index"]["mode"] == "full"
    state_dir = tmp_path / "s" / "dd" / "deduped_index" / "_state"
    versions = sorted(p.name for p in state_dir.iterdir() if p.is_dir())
    assert versions == ["v00002"], f"earlier versions and working folders must be removed, found {versions}"


def test_a_repeated_document_id_is_a_clear_error(corpus, tmp_path):
    store = fresh(corpus, tmp_path / "s")
    a = tmp_path / "s" / "dd" / "raw" / "a"
    shutil.copy(a / "part-00000.parquet", a / "part-00001.parquet")  # the same records read twice
    manifest = json.loads((a / "_manifest.json").read_text())
    manifest["shards"][1] = {**manifest["shards"][0], "name": "part-00001.parquet"}
    (a / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="ids must be unique across all sources"):
        runner.run_global_index(dedup_spec(corpus / "src"), "deduped", store, partitions=2)


class CorpusStorageLocation:
    @staticmethod
    def of(path: Path):
        import pyarrow.fs as pafs

        return pafs.LocalFileSystem(), str(path)
