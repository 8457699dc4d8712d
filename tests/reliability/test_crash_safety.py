"""Crash safety: a build loop killed with SIGKILL at any point exposes no partial output, and a
re-run produces exactly what an uninterrupted run does.

The victim is a real materialization of every build-loop asset through Dagster
(``tests/reliability/crash_worker.py``: ``materialize_pipeline`` over ``build_pipeline_defs``)
in a subprocess, on a spec with many small shards (``shard_docs: 10``), killed when a given
number of shard files has been written since it started. After each kill:

* every visible ``part-*.parquet`` is a complete Parquet file (temporary names + rename);
* every manifest lists shards that exist with the row counts and sizes it states;
* a partition a reader can see (it has a manifest) is the previous committed output, byte
  for byte, never a mix of old and new shards.

The last run completes, and every committed output equals the uninterrupted reference run's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from corpus import runner
from corpus.io import MANIFEST, CorpusStore, PartitionNotFound
from corpus.spec import PipelineSpec, parse_spec
from platform_assets.orchestrate import materialize_pipeline
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.reliability.helpers import (
    committed_outputs,
    manifest_problems,
    unreadable_shards,
    visible_shards,
    write_prose_jsonl,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120.0


def crash_spec(src: Path) -> PipelineSpec:
    return parse_spec(
        {
            "pipeline": "crash",
            "shard_docs": 10,
            "sources": [
                {"name": "a", "location": str(src / "a"), "format": "jsonl", "url_field": "url"},
                {"name": "b", "location": str(src / "b"), "format": "jsonl", "url_field": "url"},
            ],
            "stages": [
                {"name": "normalized", "op": "normalize_text@1"},
                {"name": "quality", "op": "gopher_quality@1"},
                {"name": "deduped", "op": "dedup_minhash@1"},
            ],
            "tokenizer": {"vocab_size": 300, "sample_docs": 100, "val_min_docs": 2},
        }
    )


def write_sources(src: Path, version: int = 1) -> None:
    for i in range(2):
        write_prose_jsonl(src / "a" / f"f{i}.jsonl", 200, seed=100 * version + i)
    write_prose_jsonl(src / "b" / "g.jsonl", 150, seed=100 * version + 50)


def run_inline(spec: PipelineSpec, root: Path) -> None:
    resources = default_resources()
    resources["storage"] = CorpusStorage(root=str(root))
    materialize_pipeline(
        spec, resources=resources, instance=dg.DagsterInstance.ephemeral(), parallel=1, progress=lambda _: None
    )


def new_shards(root: Path, since_ns: int) -> int:
    n = 0
    for p in visible_shards(root) if root.exists() else []:
        try:
            if p.stat().st_mtime_ns >= since_ns:
                n += 1
        except FileNotFoundError:  # deleted as stale by a commit while we looked
            pass
    return n


def run_and_kill(spec_file: Path, root: Path, after_shards: int) -> int:
    """Start the worker; SIGKILL it once ``after_shards`` shard files were written by it. Returns that count."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_worker", str(spec_file), str(root)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"started"
        since = time.time_ns()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            written = new_shards(root, since)
            if written >= after_shards:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                pytest.fail(
                    f"the worker finished (exit {proc.returncode}) before writing {after_shards} shards ({written})"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"the worker wrote only {written} shards in {STARTUP_TIMEOUT_S}s")
            time.sleep(0.002)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        return written
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def assert_no_partial_output(root: Path, previous: dict[str, str]) -> None:
    """Visible shards are whole; manifests are consistent; what a reader can see is ``previous`` (or nothing)."""
    assert unreadable_shards(root) == []
    assert manifest_problems(root) == []
    for rel, digest in committed_outputs(root).items():
        assert previous.get(rel) == digest, f"{rel} is visible to readers but is not the previous committed output"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[PipelineSpec, Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("crash")
    write_sources(base / "src")
    spec = crash_spec(base / "src")
    run_inline(spec, base / "reference")
    outputs = committed_outputs(base / "reference")
    assert len([k for k in outputs if k.endswith(".parquet")]) > 250  # many shards: many places to die in
    return spec, base, outputs


def test_sigkill_at_several_points_then_rerun_matches_an_uninterrupted_run(reference, tmp_path: Path) -> None:
    spec, _base, expected = reference
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.model_dump_json())
    root = tmp_path / "root"
    store = CorpusStore(root=str(root))

    # 1. killed inside the first raw partition (40 shards) of a fresh root: nothing is committed, readers see nothing
    written = run_and_kill(spec_file, root, after_shards=15)
    assert_no_partial_output(root, expected)
    assert visible_shards(root), "the kill came before any shard was written"
    if written <= 30:  # the kill surely landed before raw[a] could commit (the poll may lag the writer a little)
        assert not (root / "crash" / "raw" / "a" / MANIFEST).exists()
        with pytest.raises(PartitionNotFound, match="materialize the upstream asset"):
            store.read_partition(runner.stage_dir("crash", "raw", "a"))

    # 2./3. killed again later on (inside the per-source stages, then around dedup): what readers see is
    # always the previous committed output, which for the same input is the reference's
    for after in (110, 240):
        run_and_kill(spec_file, root, after_shards=after)
        assert_no_partial_output(root, expected)

    # 4. the re-run completes and every committed output is the uninterrupted run's, byte for byte
    run_inline(spec, root)
    assert committed_outputs(root) == expected
    leftovers = [p for p in root.rglob(".*tmp-*")]
    assert leftovers == [], f"temporary files of the killed runs were left behind: {leftovers[:5]}"
    for src in spec.source_names:
        assert runner.read_report(store, "crash", "tokenized", src).conserved


def test_crash_while_rewriting_with_new_input_never_mixes_old_and_new(reference, tmp_path: Path) -> None:
    """A re-run over changed input overwrites shard names the old manifest lists: readers must not see the mix."""
    spec, _base, expected = reference
    src = tmp_path / "src"
    write_sources(src, version=1)
    spec = crash_spec(src)
    root = tmp_path / "root"
    run_inline(spec, root)
    before = committed_outputs(root)
    assert before == expected  # same input, same outputs, wherever the source lives
    store = CorpusStore(root=str(root))
    old_raw = store.read_partition(runner.stage_dir("crash", "raw", "a"))

    write_sources(src, version=2)  # new documents under the same file names
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.model_dump_json())
    run_and_kill(spec_file, root, after_shards=12)
    assert unreadable_shards(root) == [] and manifest_problems(root) == []
    try:
        seen = store.read_partition(runner.stage_dir("crash", "raw", "a"))
    except PartitionNotFound:
        seen = None
    assert seen is None or seen.equals(old_raw), "readers saw a mix of the old and the new raw shards"
    # partitions the killed run never reached still hold the previous committed output
    assert_no_partial_output(root, before)

    run_inline(spec, root)
    after = committed_outputs(root)
    assert after != before and manifest_problems(root) == []
    new_raw = store.read_partition(runner.stage_dir("crash", "raw", "a"))
    assert new_raw.height == 400 and not new_raw["id"].is_in(old_raw["id"].implode()).any()
    for stage in ("raw", "normalized", "quality", "deduped", "tokenized"):
        for s in spec.source_names:
            assert runner.read_report(store, "crash", stage, s).conserved
    report = json.loads((root / "crash" / "raw" / "a" / MANIFEST).read_text())
    assert report["rows"] == 400
