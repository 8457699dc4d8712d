"""Resume inside a partition: a stage, the dedup index or the token shards of one partition, killed with
SIGKILL at several points, resume from the shards they finished, and the result is byte-identical to an
uninterrupted run.

The victim (``tests/reliability/resume_worker.py``) runs one partition's work in a subprocess over many
10-document shards and is killed once a given number of its output files exist. Each following run
(killed again, later, and finally left to finish) must recompute at most the one shard that was in
flight at the kill: a shard whose output was written before the kill is rewritten only if its receipt
was not.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from corpus import runner
from corpus.io import CorpusStore
from corpus.spec import PipelineSpec, parse_spec
from tests.reliability.helpers import committed_outputs, write_prose_jsonl
from tests.reliability.resume_worker import run

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120.0
KILL_POINTS = (3, 9, 9)  # files each run writes before its kill; about half of the 50 shards in all


def resume_spec(src: Path) -> PipelineSpec:
    return parse_spec(
        {
            "pipeline": "rs",
            "shard_docs": 10,
            "sources": [{"name": "a", "location": str(src / "a"), "format": "jsonl", "url_field": "url"}],
            "stages": [{"name": "quality", "op": "gopher_quality@1"}, {"name": "deduped", "op": "dedup_minhash@1"}],
            "tokenizer": {"vocab_size": 300, "sample_docs": 100, "val_min_docs": 2},
        }
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[PipelineSpec, Path, Path]:
    """A root with every output of source ``a`` committed by uninterrupted runs (the reference)."""
    base = tmp_path_factory.mktemp("resume")
    write_prose_jsonl(base / "src" / "a" / "f.jsonl", 500, seed=3)
    spec = resume_spec(base / "src")
    store = CorpusStore(root=str(base / "ref"))
    runner.run_raw(spec, "a", store, source_location=(pafs.LocalFileSystem(), str(base / "src" / "a")))
    runner.run_stage(spec, "quality", "a", store)
    runner.run_global_index(spec, "deduped", store, partitions=6)
    runner.run_stage(spec, "deduped", "a", store)
    runner.run_tokenizer(spec, store)
    runner.run_tokenized(spec, "a", store)
    spec_file = base / "spec.json"
    spec_file.write_text(spec.model_dump_json())
    return spec, spec_file, base / "ref"


def outputs_of(root: Path) -> list[Path]:
    """The files whose writes the tests count: kept shards of quality/a, token shards of a, signature files."""
    found = []
    for folder, _, files in os.walk(root):
        found += [Path(folder) / f for f in files if f.endswith(".parquet") and not f.startswith(".")]
    return found


def task_of(path: Path) -> str:
    """The task that wrote ``path``: a signature task writes one file per partition (``a.00003.p00002.parquet``)."""
    name = path.name
    return str(path.parent / name.split(".p0")[0]) if "/sig/" in str(path) else str(path)


def written_since(paths: list[Path], since_ns: int, where: str) -> set[str]:
    """The tasks that wrote a file under ``where`` at or after ``since_ns``."""
    out = set()
    for p in paths:
        try:
            if where in str(p) and p.stat().st_mtime_ns >= since_ns:
                out.add(task_of(p))
        except FileNotFoundError:
            pass
    return out


def run_and_kill(kind: str, spec_file: Path, root: Path, where: str, after: int) -> tuple[int, set[str]]:
    """Start the victim; SIGKILL it once ``after`` files under ``where`` were written. Returns (start ns, files
    written)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.resume_worker", kind, str(spec_file), str(root)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"started"
        since = time.time_ns()
        deadline = time.monotonic() + TIMEOUT_S
        while len(written := written_since(outputs_of(root), since, where)) < after:
            if proc.poll() is not None:
                pytest.fail(f"the {kind} worker finished before writing {after} files ({len(written)})")
            if time.monotonic() > deadline:
                pytest.fail(f"the {kind} worker wrote only {len(written)} files in {TIMEOUT_S}s")
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        return since, written_since(outputs_of(root), since, where)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


CASES = {
    # kind: (the files its progress is counted by, what to remove so that the work is redone)
    "stage": ("/rs/quality/a/part-", None),
    "tokenized": ("/rs/tokenized/a/part-", None),
    "index": ("/sig/", "rs/deduped_index"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_sigkill_at_several_points_resumes_and_matches_an_uninterrupted_run(prepared, tmp_path, kind):
    spec, spec_file, ref = prepared
    where, remove = CASES[kind]
    root = tmp_path / "root"
    shutil.copytree(ref, root)
    if remove:
        shutil.rmtree(root / remove)
    expected = committed_outputs(ref)

    done_before: set[str] = set()
    for point in KILL_POINTS:
        since, written = run_and_kill(kind, spec_file, root, where, point)
        recomputed = written & done_before
        assert len(recomputed) <= 1, (
            f"{kind}: shards finished before the kill were computed again: {sorted(recomputed)[:4]}"
        )
        done_before |= written
    since = time.time_ns()
    result = run(kind, spec, CorpusStore(root=str(root)))
    if kind == "index":  # a finished build removes its working files: count its tasks instead
        info = result["index"]
        computed = info["shards_signed"] - info["tasks_resumed"]
        never_started = info["shards_signed"] - len(done_before)
        assert info["tasks_resumed"] >= sum(KILL_POINTS) - len(KILL_POINTS) and never_started > 0
        assert computed - never_started <= 1, (
            f"index: the final run recomputed {computed - never_started} finished signature tasks"
        )
    else:
        rewritten = written_since(outputs_of(root), since, where)
        assert rewritten, "the final run had work left: the kills came too late to test anything"
        assert len(rewritten & done_before) <= 1, (
            f"{kind}: the final run recomputed {len(rewritten & done_before)} finished shards"
        )
    assert committed_outputs(root) == expected, f"{kind}: the resumed output differs from an uninterrupted run"
    receipts = root / "rs" / "_receipts"
    assert not receipts.exists() or not any(p.is_file() for p in receipts.rglob("*")), (
        "receipts must be removed after commit"
    )
