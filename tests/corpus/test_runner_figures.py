"""The runner adds up the figures operators report; it knows no operator's columns.

Also: the shard task is a typed, picklable value that names itself in errors; every
executor satisfies one protocol; the quarantine's raw cap has one definition.
"""

from __future__ import annotations

import ast
import pickle
from dataclasses import asdict
from pathlib import Path

import polars as pl

from corpus import executor, resume, runner, schema
from corpus.io import CorpusStore
from corpus.ops import registry
from resources import compute

ROOT = Path(__file__).resolve().parents[2]
RUNNER_MODULES = ("runner", "stage_report", "shard_task", "stage_run", "global_index", "token_run", "executor")

MAIL = "Write to jane.doe@example.com or call (415) 555-2671 about the meeting on the second floor."


def docs(texts: list[str], **cols: list) -> pl.DataFrame:
    n = len(texts)
    base = {schema.ID: [f"d{i}" for i in range(n)], schema.TEXT: texts, schema.SOURCE: ["s"] * n}
    return schema.conform(pl.DataFrame({**base, **cols}))


def steps(*ops: tuple[str, dict]) -> list[tuple[registry.Operator, registry.OpConfig]]:
    return [(registry.get_operator(op), registry.get_operator(op).parse_config(cfg)) for op, cfg in ops]


def test_redactions_are_counted_once_per_stage_whatever_follows() -> None:
    batch = docs([MAIL, "Nothing personal in this one at all, just words about gardens."])
    _, _, _, extra = runner.apply_steps(
        batch, steps(("redact_pii@1", {}), ("normalize_text@1", {})), "redacted"
    )  # the step after the redaction carries its columns along; that is no second redaction
    assert extra["pii_email"] == 1 and extra["pii_phone"] == 1 and extra["pii_ip"] == 0


def test_a_stage_that_redacts_nothing_reports_no_redactions() -> None:
    # documents of an earlier redaction stage still carry its count columns
    carried = docs([MAIL], pii_email=[1], pii_ip=[0], pii_phone=[1])
    _, _, _, extra = runner.apply_steps(carried, steps(("normalize_text@1", {})), "later")
    assert not any(k.startswith("pii_") for k in extra)


def test_languages_are_those_kept_and_travel_with_the_documents() -> None:
    texts = [
        "The committee met on Tuesday to discuss the budget for the coming year and agreed on most points.",
        "Der Ausschuss hat am Dienstag über den Haushalt für das kommende Jahr beraten und sich geeinigt.",
        "The weather was pleasant, and the children played in the park until the sun went down.",
    ]
    kept, dropped, _, extra = runner.apply_steps(
        docs(texts), steps(("language_filter@1", {"languages": ["en"], "min_score": 0.3})), "language"
    )
    assert kept.height == 2 and dropped.height == 1
    assert extra["languages"] == {"en": 2}  # the kept documents only
    _, _, _, later = runner.apply_steps(kept, steps(("normalize_text@1", {})), "normalized")
    assert later["languages"] == {"en": 2}  # a later stage's kept documents still carry the language column
    assert runner.kept_figures(docs(["no language column here"])) == {}


def test_shard_task_is_typed_picklable_and_named_in_errors(tmp_path: Path) -> None:
    store = CorpusStore(root=str(tmp_path))
    task = runner.ShardTask(store, "{}", "quality", "docs", "raw", "part-00003.parquet", 3, None)
    again = pickle.loads(pickle.dumps(task))
    assert again == task and again.index == 3 and again.drop_table_rel is None
    # what a process pool receives from a resumable map: receipt, fingerprint, encoder, store, function, task
    sent = ("rel", "fp", asdict, store, resume.run_with_receipt, task)
    assert compute._describe(sent) == "stage quality, source docs, shard part-00003.parquet"
    assert compute._describe((store, 1, "x")) == "a shard task"


def test_every_executor_satisfies_the_protocol() -> None:
    assert isinstance(runner.SerialExecutor(), executor.Executor)
    assert isinstance(compute.ProcessExecutor(2), executor.Executor)
    assert isinstance(compute.ComputeEngine(backend="serial").executor(), executor.Executor)
    assert list(runner.SerialExecutor().map(pow, [(2, 3), (3, 2)])) == [8, 9]


def test_raw_cap_has_one_definition() -> None:
    from corpus import readers

    assert runner.RAW_CAP is schema.RAW_CAP and readers.RAW_CAP is schema.RAW_CAP
    assigned = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "corpus").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "RAW_CAP" for t in node.targets)
        and not (isinstance(node.value, ast.Attribute) and node.value.attr == "RAW_CAP")
    ]
    assert assigned == ["corpus/schema.py"]


def test_runner_modules_are_small_and_do_not_import_the_facade() -> None:
    for name in RUNNER_MODULES:
        source = (ROOT / "corpus" / f"{name}.py").read_text()
        assert source.count("\n") < 500, name
        if name == "runner":
            continue
        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported |= {node.module or ""} | {f"{node.module}.{alias.name}" for alias in node.names}
        assert "corpus.runner" not in imported and "dagster" not in imported, name
