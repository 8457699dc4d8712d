"""``corpus-metrics`` reports and lists records without loading Dagster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_RUN = textwrap.dedent(
    """
    import json, sys
    from resources.metrics_cli import main
    report = ["--root", sys.argv[1], "report", "--pipeline", "demo", "--version", "m0002", "--run-id", "ext-1",
              "--step", "100", "--tokens", "20000", "--val-loss", "docs=3.25", "--val-loss", "code=2.5", "--finished"]
    codes = [main(report), main(["--root", sys.argv[1], "list", "--pipeline", "demo"])]
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dagster", "dagster_aws", "dagster_pipes"))
    print("RESULT " + json.dumps({"codes": codes, "dagster": loaded}))
    """
)


def test_corpus_metrics_cli_runs_without_dagster(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.rsplit("RESULT ", 1)[1])
    assert result == {"codes": [0, 0], "dagster": []}
    listed = [line for line in proc.stdout.splitlines() if " m0002 ext-1 " in line]
    assert len(listed) == 1 and "docs=3.2500, code=2.5000" in listed[0] and "finished=True" in listed[0]
    written = list((tmp_path / "_metrics" / "demo").glob("*.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["val_loss"] == {"code": 2.5, "docs": 3.25}


def test_cli_and_resource_share_the_storage_defaults(monkeypatch, tmp_path: Path) -> None:
    from resources.storage import CorpusStorage
    from resources.storage_env import store_from_env

    monkeypatch.setenv("CORPUS_STORAGE_ROOT", str(tmp_path))
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    resource = CorpusStorage()
    assert store_from_env().root == resource.store().root
    assert resource.s3_options().endpoint_url == "http://127.0.0.1:9"
    assert resource.s3_options().region == "eu-west-3"
    assert resource.s3_options().max_attempts == 5
