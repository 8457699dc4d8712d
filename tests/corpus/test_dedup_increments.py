"""A dedup index grown by several increments (delta key files, compaction) equals a full build every time.

The raw partitions of the three planted-duplicate sources are exposed a few shards at a time
(their manifests list a growing prefix); after every step the grown index's drop tables and
summary must be the bytes a full build over the same shards writes. Compaction is forced by
a small ``max_deltas``, and a build that is killed part-way (an executor that stops after a
few tasks) leaves the committed index whole and resumes to the same bytes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from corpus import dedup_build, runner
from corpus.dedup_state import TASK_ROWS, Compaction, IndexState, group_members, load_state, plan_groups
from corpus.io import CorpusStore
from corpus.ops import registry
from tests.corpus.dedupcorpus import SOURCES, dedup_spec, read_raw, write_sources

OP = "dedup_minhash@1"
INDEX = runner.index_dir("dd", "deduped")
STEPS = ({"a": 3, "b": 3, "c": 3}, {"a": 5, "b": 4, "c": 3}, {"a": 6, "b": 6, "c": 5}, {"a": 8, "b": 7, "c": 6})
ALL = {s: 9 for s in SOURCES}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("inc")
    write_sources(base / "src")
    read_raw(dedup_spec(base / "src"), base / "raw", base / "src")
    return base / "raw"


def expose(root: Path, raw: Path, counts: dict[str, int]) -> None:
    """Make each source's raw partition list only its first ``counts[s]`` shards (a growing corpus)."""
    for s, n in counts.items():
        doc = json.loads((raw / "dd" / "raw" / s / "_manifest.json").read_text())
        assert len(doc["shards"]) >= n
        doc["shards"] = doc["shards"][:n]
        (root / "dd" / "raw" / s / "_manifest.json").write_text(json.dumps(doc))


def build(store: CorpusStore, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    cfg = registry.get_operator(OP).parse_config({})
    inputs = {s: runner.stage_dir("dd", "raw", s) for s in SOURCES}
    return dedup_build.build_index(store, OP, cfg, inputs, INDEX, partitions=kw.pop("partitions", 4), **kw)


def outputs(root: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """What the apply stage reads: the drop tables' bytes, and the summary without its timing."""
    files = {p.name: p.read_bytes() for p in sorted((root / INDEX).glob("*.parquet"))}
    return {**files, "summary": {k: v for k, v in summary.items() if k != "seconds"}}


def full_reference(raw: Path, tmp: Path, counts: dict[str, int]) -> dict[str, Any]:
    shutil.copytree(raw, tmp)
    expose(tmp, raw, counts)
    summary, info = build(CorpusStore(root=str(tmp)), incremental=False)
    assert info["mode"] == "full"
    return outputs(tmp, summary)


def state_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in (root / INDEX / "_state").rglob("*") if p.is_file()}


@pytest.mark.parametrize("task_rows", [1, TASK_ROWS], ids=["task-per-partition", "grouped"])
def test_successive_increments_with_compaction_equal_a_full_build_each_time(raw, tmp_path, task_rows):
    root = tmp_path / "grown"
    shutil.copytree(raw, root)
    store = CorpusStore(root=str(root))
    policy = Compaction(max_deltas=2, max_delta_fraction=100.0)  # compact when a third delta would be added
    seen_deltas, compacted_at = 0, []
    for i, counts in enumerate((*STEPS, ALL)):
        expose(root, raw, counts)
        summary, info = build(store, compaction=policy, task_rows=task_rows)
        assert info["mode"] == ("full" if i == 0 else "incremental"), info
        grouped = i > 0 and task_rows == TASK_ROWS  # a small increment: every partition in one task
        assert info["bucket_tasks"] == (1 if grouped else info["partitions_bucketed"]), info
        assert outputs(root, summary) == full_reference(raw, tmp_path / f"full{i}", counts), (
            f"step {i}: the grown index's survivors differ from a full build over the same shards"
        )
        state = load_state(store, INDEX)
        assert state is not None and state.version == i + 1
        deltas = max(len(files) - 1 for files in state.keys.values())
        assert deltas <= policy.max_deltas, f"step {i}: {deltas} deltas kept, more than the policy allows"
        seen_deltas = max(seen_deltas, deltas)
        if info["partitions_compacted"]:
            compacted_at.append(i)
        # every file the state lists exists; nothing else is left but the state files themselves
        listed = {f for files in state.keys.values() for f, _ in files} | {state.clusters}
        on_disk = {f for f in state_files(root) if not f.endswith(".json")}
        assert listed == on_disk, f"step {i}: stored files {sorted(on_disk ^ listed)} are not what the state lists"
        for files in state.keys.values():
            assert sum(n for _, n in files) == sum(pl.read_parquet(root / f).height for f, _ in files), (
                "the key counts the state records must match the files"
            )
    assert seen_deltas == policy.max_deltas, "the increments should have piled up deltas before compacting"
    assert compacted_at == [3], f"compaction expected at the step adding a third delta, happened at {compacted_at}"


def test_the_default_policy_adds_deltas_and_compacts_past_the_size_fraction(raw, tmp_path):
    root = tmp_path / "s"
    shutil.copytree(raw, root)
    store = CorpusStore(root=str(root))
    expose(root, raw, {"a": 9, "b": 9, "c": 4})
    build(store)
    expose(root, raw, {"a": 9, "b": 9, "c": 5})  # +1 shard of 23: deltas far below half the base
    _, info = build(store)
    assert info["partitions_compacted"] == 0 and info["delta_files"] == info["partitions_bucketed"] > 0
    expose(root, raw, ALL)  # 4 more shards: deltas still below half the base, a second delta
    _, info = build(store)
    assert info["partitions_compacted"] == 0 and info["delta_files"] == 2 * info["partitions_bucketed"]
    _, info = build(store, compaction=Compaction(max_deltas=0))  # nothing new: no build, so nothing compacts
    assert info["mode"] == "unchanged" and info["delta_files"] == 2 * info["partitions"]


class Killed(Exception):
    pass


class StopAfter:
    """A serial executor killed after ``n`` finished tasks of the map with ``fn_name`` (the receipts stay)."""

    name = "serial"

    def __init__(self, fn_name: str, n: int):
        self.fn_name, self.n = fn_name, n

    def map(self, fn, tasks):
        for done, t in enumerate(tasks):
            if t[4].__name__ == self.fn_name and done >= self.n:  # (receipt, fingerprint, encode, store, fn, ...)
                raise Killed(f"stopped after {done} tasks of {self.fn_name}")
            yield fn(*t)


def grouping_rows(store: CorpusStore, state: IndexState) -> int:
    """A ``task_rows`` that groups the next increment's partitions into more than one task but fewer than one each."""
    covered = {(s, tuple(e)) for s, entries in state.shards.items() for e in entries}
    new_docs = sum(
        e["rows"]
        for s in SOURCES
        for e in store.read_manifest(runner.stage_dir("dd", "raw", s))["shards"]
        if (s, (e["name"], e["rows"], e["bytes"])) not in covered
    )
    new_rows = new_docs * 15  # minhash with exact dedup: 14 bands and the exact-text hash
    total = sum(n for files in state.keys.values() for _, n in files) + new_rows
    for rows in range(total // state.partitions, total, max(1, total // 200)):
        if 1 < len(plan_groups(state, new_rows, rows)) < state.partitions:
            return rows
    raise AssertionError("no task_rows groups these partitions")


@pytest.mark.parametrize(
    ("fn_name", "n", "grouped"), [("signature_task", 2, False), ("bucket_task", 2, False), ("bucket_task", 1, True)]
)
def test_a_compacting_build_killed_part_way_keeps_the_index_and_resumes_to_the_same_bytes(
    raw, tmp_path, fn_name, n, grouped
):
    root = tmp_path / "s"
    shutil.copytree(raw, root)
    store = CorpusStore(root=str(root))
    expose(root, raw, STEPS[0])
    build(store)
    expose(root, raw, STEPS[1])
    build(store)
    before = load_state(store, INDEX)
    assert before is not None and before.version == 2
    before_files = state_files(root)
    policy = Compaction(max_deltas=1, max_delta_fraction=100.0)  # the next increment compacts
    expose(root, raw, ALL)
    task_rows = grouping_rows(store, before) if grouped else 1  # grouped: several tasks of several partitions
    with pytest.raises(Killed):
        build(store, compaction=policy, executor=StopAfter(fn_name, n), task_rows=task_rows)
    kept = load_state(store, INDEX)
    assert kept == before, "a killed build must leave the committed state as it was"
    assert before_files <= state_files(root), "a killed build must not remove files the committed state lists"
    summary, info = build(store, compaction=policy, task_rows=task_rows)
    assert info["tasks_resumed"] >= n and info["partitions_compacted"] == info["partitions_bucketed"]
    assert (1 < info["bucket_tasks"] < info["partitions_bucketed"]) == grouped, info
    assert outputs(root, summary) == full_reference(raw, tmp_path / "full", ALL)
    state = load_state(store, INDEX)
    assert state is not None and all(len(files) == 1 for files in state.keys.values())
    assert not any("/work-" in f for f in state_files(root)), "working files must be removed after the commit"


def test_an_index_stored_with_one_key_file_per_partition_is_grown_and_compacted(raw, tmp_path):
    """The state written before delta files listed one file per partition: it still loads and grows."""
    root = tmp_path / "s"
    shutil.copytree(raw, root)
    store = CorpusStore(root=str(root))
    expose(root, raw, STEPS[0])
    build(store)
    current = json.loads((root / INDEX / "_state" / "CURRENT.json").read_text())
    doc = json.loads((root / current["state"]).read_text())
    doc["keys"] = {p: files[0][0] for p, files in doc["keys"].items()}
    (root / current["state"]).write_text(json.dumps(doc))
    expose(root, raw, ALL)
    summary, info = build(store)
    assert info["mode"] == "incremental" and info["partitions_compacted"] == info["partitions_bucketed"]
    assert outputs(root, summary) == full_reference(raw, tmp_path / "full", ALL)


@pytest.mark.parametrize(
    "bad", [{"max_deltas": -1}, {"max_delta_fraction": -0.5}, {"max_delta_fraction": float("inf")}]
)
def test_a_bad_compaction_policy_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"Compaction\.max_delta"):
        Compaction(**bad)


def test_a_new_entry_that_is_already_a_stored_anchor_is_a_clear_error(tmp_path):
    from corpus.dedup_buckets import bucket_task
    from corpus.dedup_index import ENTRY_SCHEMA, IndexJob

    store = CorpusStore(root=str(tmp_path))
    job = IndexJob("dedup_minhash@1", "{}", 1, "ix/work-00ff", "ix/v00002")
    row = {"kind": [0], "h1": [7], "h2": [0], "rank": [0], "id": ["doc-1"]}
    store.write_table("ix/v00001/keys/p-00000.base.parquet", pl.DataFrame(row, schema=ENTRY_SCHEMA))
    other = {**row, "rank": [1], "id": ["doc-2"]}
    store.write_table("ix/work-00ff/sig/new.parquet", pl.DataFrame(other, schema=ENTRY_SCHEMA))
    stored = {"0": [["ix/v00001/keys/p-00000.base.parquet", 1]]}
    result = bucket_task(store, job, [0], ["ix/work-00ff/sig/new.parquet"], stored)
    assert result["edges_inline"]["u_id"] == ["doc-2"] and result["edges_inline"]["v_id"] == ["doc-1"]
    assert result["new_keys"] == 0 and result["files"] == stored
    store.write_table("ix/work-00ff/sig/again.parquet", pl.DataFrame(row, schema=ENTRY_SCHEMA))
    with pytest.raises(ValueError, match="are already in the stored index"):
        bucket_task(store, job, [0], ["ix/work-00ff/sig/again.parquet"], stored)
    with pytest.raises(ValueError, match="appear more than once"):
        bucket_task(store, job, [0], ["ix/work-00ff/sig/new.parquet"] * 2, {})


def test_run_global_index_passes_the_compaction_policy_on(raw, tmp_path):
    root = tmp_path / "s"
    shutil.copytree(raw, root)
    store = CorpusStore(root=str(root))
    spec = dedup_spec(raw.parent / "src")
    expose(root, raw, STEPS[0])
    runner.run_global_index(spec, "deduped", store, partitions=4)
    expose(root, raw, STEPS[1])
    info = runner.run_global_index(spec, "deduped", store, partitions=4, compaction=Compaction(max_deltas=0))["index"]
    assert info["mode"] == "incremental" and info["partitions_compacted"] == info["partitions_bucketed"] > 0
    assert info["delta_files"] == 0, "max_deltas=0 compacts every partition the increment touches"


def test_plan_groups_fills_tasks_up_to_task_rows_and_keeps_partitions_of_unknown_size_alone():
    def state(sizes: list[int]) -> IndexState:
        keys = {str(p): [[f"p{p}.base", n]] for p, n in enumerate(sizes)}
        return IndexState(1, OP, "{}", len(sizes), {"a": 0}, {"a": []}, keys, "", 0)

    # 4 partitions of 100 stored keys, 40 new entries (10 each): tasks of at most 250 rows hold two
    assert plan_groups(state([100] * 4), 40, 250) == (0, 2)
    assert plan_groups(state([100] * 4), 40, 10_000) == (0,)
    assert plan_groups(state([100] * 4), 40, 109) == (), "no room for two: one task per partition"
    assert plan_groups(state([100, 0, 100, 100]), 40, 10_000) == (), "a base of unknown size keeps its own task"
    assert group_members((0, 2), 4) == {0: [0, 1], 2: [2, 3]}
    with pytest.raises(ValueError, match="task_rows must be >= 1"):
        plan_groups(state([100] * 4), 40, 0)
