"""Tokenization as shard tasks writes the token shards of the one-process algorithm, byte for byte, on every
executor."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus import runner, tokenize
from corpus.io import PARQUET_OPTIONS, CorpusStore
from resources.compute import ComputeEngine
from tests.corpus.dedupcorpus import dedup_spec, read_raw, write_sources


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """Raw shards of three sources and a tokenizer trained on them (the tokenizer input is ``raw`` here)."""
    base = tmp_path_factory.mktemp("tok")
    write_sources(base / "src", docs=120)
    spec = dedup_spec(base / "src").model_copy(update={"stages": []})
    spec = spec.model_copy(
        update={"tokenizer": spec.tokenizer.model_copy(update={"val_fraction": 0.1, "val_max_docs": 7})}
    )
    store = read_raw(spec, base / "root", base / "src")
    runner.run_tokenizer(spec, store)
    return base, spec


def one_process_shards(store: CorpusStore, spec, source: str) -> dict[str, bytes]:
    """The reference: every id of the domain in memory, assign_split, then each shard encoded in order."""
    tok = tokenize.load_tokenizer(store.read_bytes(runner.tokenizer_rel(spec.pipeline)))
    rel = runner.stage_dir(spec.pipeline, "raw", source)
    ids = store.read_partition(rel, columns=["id"])["id"].to_list()
    tk = spec.tokenizer
    split = dict(zip(ids, tokenize.assign_split(ids, tk.val_fraction, tk.val_min_docs, tk.val_max_docs), strict=True))
    out = {}
    for i, shard in enumerate(store.shard_paths(rel)):
        t = store.read_table(shard, columns=["id", "source", "text"]).to_pydict()
        table = tokenize.token_shard_table(
            t["id"], t["source"], [split[d] for d in t["id"]], tokenize.tokenize_batch(tok, t["text"])
        )
        buf = io.BytesIO()
        pq.write_table(table, buf, **PARQUET_OPTIONS)
        out[f"part-{i:05d}.parquet"] = buf.getvalue()
    return out


def run_copy(trained, dest: Path, engine: ComputeEngine) -> dict[str, dict[str, bytes]]:
    base, spec = trained
    shutil.copytree(base / "root", dest)
    store = CorpusStore(root=str(dest))
    out = {}
    for source in spec.source_names:
        report = runner.run_tokenized(spec, source, store, executor=engine.executor())
        assert report.conserved and report.extra["docs_val"] == 7 and report.shards == 12
        folder = dest / spec.pipeline / "tokenized" / source
        out[source] = {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.parquet"))}
    return out


@pytest.fixture(scope="module")
def reference(trained) -> dict[str, dict[str, bytes]]:
    base, spec = trained
    store = CorpusStore(root=str(base / "root"))
    return {s: one_process_shards(store, spec, s) for s in spec.source_names}


def test_serial_tasks_equal_the_one_process_algorithm(trained, reference, tmp_path):
    assert run_copy(trained, tmp_path / "s", ComputeEngine(backend="serial")) == reference


def test_process_pool_equals_serial(trained, reference, tmp_path):
    assert run_copy(trained, tmp_path / "s", ComputeEngine(backend="processes", workers=2)) == reference


def test_local_ray_equals_serial(trained, reference, tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        got = run_copy(trained, tmp_path / "s", ComputeEngine(backend="ray"))
    finally:
        ray.shutdown()
    assert got == reference


def test_split_threshold_matches_assign_split_on_many_ids():
    from corpus.tokenize_shards import split_threshold

    ids = [f"doc-{i}" for i in range(5000)]
    expected = {d for d, s in zip(ids, tokenize.assign_split(ids, 0.05, 4, 120), strict=True) if s == "val"}
    shards = [ids[i : i + 333] for i in range(0, len(ids), 333)]
    results = [
        {"rows": len(s), "smallest": [list(x) for x in sorted((tokenize.split_rank_key(d), d) for d in s)[:120]]}
        for s in shards
    ]
    n, threshold = split_threshold(results, 0.05, 4, 120)
    got = {d for d in ids if (tokenize.split_rank_key(d), d) <= tuple(threshold)}
    assert n == 5000 and got == expected and len(got) == 120
