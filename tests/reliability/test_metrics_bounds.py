"""Metrics records are bounded: absurd finite values never steer the mixture, and pipeline names are
names, never paths.

* a finished record with ``val_loss`` 1e308 for one domain: the sensor skips it (the weights stay
  put) instead of moving most of the weight to that domain; the CLI and ``MetricsClient`` refuse
  to write it; ``tokens_seen`` 1e30 is refused;
* ``corpus-metrics report --pipeline ..`` and ``--pipeline ../main`` are refused, nothing is
  written outside ``_metrics/<pipeline>``, and no name is rewritten into another.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from corpus.metrics import MAX_LOSS, MetricsRecord, parse_record, record_problems
from resources.metrics import METRICS_DIR, MetricsClient
from resources.metrics_cli import main as metrics_cli
from resources.storage import CorpusStorage
from tests.reliability.test_feedback_robustness import LOSSES, Loop, assert_valid_weights, skip_text


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_an_absurd_finite_loss_is_skipped_and_moves_no_weight(tmp_path: Path) -> None:
    loop = Loop(tmp_path)
    first, cursor = loop.tick(None)
    assert isinstance(first, dg.SensorResult)
    m0001 = loop.weights(first.run_requests[0])
    # written the way an older writer or a hand-made file leaves it: straight into the store
    loop.folder.mkdir(parents=True, exist_ok=True)
    record = json.loads(
        MetricsRecord(
            run_id="absurd",
            pipeline="fb",
            mixture_version="m0001",
            step=100,
            tokens_seen=10_000,
            val_loss={**LOSSES, "docs": 4.0},
            finished=True,
        ).model_dump_json()
    )
    record["val_loss"]["pages"] = 1e308
    (loop.folder / "00000000000000000010-absurd-00000100.json").write_text(json.dumps(record))
    result, cursor = loop.tick(cursor)
    assert "implausible validation loss: pages=1e+308" in skip_text(result)
    loop.report("m0001", LOSSES, run="sane", minutes=5)
    result, _ = loop.tick(cursor)
    assert isinstance(result, dg.SensorResult)
    weights = loop.weights(result.run_requests[0])
    assert_valid_weights(weights, floor=0.01)
    assert weights["pages"] < 0.6, f"one domain took the mixture: {weights} (m0001: {m0001})"


@pytest.mark.parametrize(
    "losses, expected",
    [
        ({"a": 1e308}, "implausible validation loss: a=1e+308"),
        ({"a": MAX_LOSS + 1}, "implausible validation loss"),
        ({"a": -0.5}, "negative validation loss: a=-0.5"),
    ],
)
def test_implausible_losses_are_record_problems(losses: dict[str, float], expected: str) -> None:
    rec = MetricsRecord(run_id="r", pipeline="p", mixture_version="m0001", step=1, tokens_seen=1, val_loss=losses)
    assert any(expected in p for p in record_problems(rec))


def test_absurd_tokens_and_steps_do_not_parse() -> None:
    base = {"run_id": "r", "pipeline": "p", "mixture_version": "m0001", "val_loss": {"a": 2.0}}
    for field, value in (("tokens_seen", 10**30), ("step", 10**20)):
        rec, problems = parse_record({**base, "step": 1, "tokens_seen": 1, field: value})
        assert rec is None and problems[0].message.startswith(f"{field}: Input should be less than or equal to")


def test_the_cli_refuses_absurd_values_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "store"
    common = ["--root", str(root), "report", "--pipeline", "demo", "--version", "m0001", "--run-id", "r", "--finished"]
    assert metrics_cli([*common, "--val-loss", "docs=1e308"]) == 1
    assert "refused: record demo/m0001/r/0 not written: implausible validation loss" in capsys.readouterr().err
    assert metrics_cli([*common, "--val-loss", "docs=2.5", "--tokens", str(10**30)]) == 1
    assert "refused: report: tokens_seen" in capsys.readouterr().err
    assert not root.exists() or files_under(root) == []
    with pytest.raises(ValueError, match="not written"):
        MetricsClient(CorpusStorage(root=str(root)).store()).append(
            MetricsRecord(
                run_id="r", pipeline="demo", mixture_version="m0001", step=0, tokens_seen=0, val_loss={"a": 1e300}
            )
        )
    assert metrics_cli([*common, "--val-loss", "docs=2.5"]) == 0
    assert [Path(f).parts[:2] for f in files_under(root)] == [(METRICS_DIR, "demo")]


@pytest.mark.parametrize("name", ["..", "../main", "demo/../../x", "Demo", "a b", ".hidden"])
def test_pipeline_names_are_names_never_paths(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "store"
    code = metrics_cli(
        [
            "--root",
            str(root),
            "report",
            "--pipeline",
            name,
            "--version",
            "m0001",
            "--run-id",
            "r",
            "--val-loss",
            "docs=2.5",
        ]
    )
    assert code == 1 and "refused: report: pipeline" in capsys.readouterr().err
    assert metrics_cli(["--root", str(root), "list", "--pipeline", name]) == 2
    assert "is not a pipeline name" in capsys.readouterr().err
    assert not root.exists() or files_under(root) == []
    with pytest.raises(ValueError, match="is not a pipeline name"):
        MetricsClient(CorpusStorage(root=str(root)).store()).read(name)
