"""The metrics client a trainer process uses loads without Dagster."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_metrics_client_does_not_load_dagster(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        from corpus.io import CorpusStore
        from corpus.metrics import MetricsRecord
        from resources.metrics_client import MetricsClient
        client = MetricsClient(CorpusStore(root={str(tmp_path)!r}))
        client.append(MetricsRecord(pipeline="p", mixture_version="m0001", run_id="r", step=1, tokens_seen=10,
                                    val_loss={{"docs": 3.0}}))
        assert len(client.read("p").records) == 1
        loaded = sorted(m for m in sys.modules if m == "dagster" or m.startswith("dagster."))
        print("DAGSTER:" + ",".join(loaded))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("DAGSTER:"), out


def test_old_import_path_still_works() -> None:
    from resources import metrics, metrics_client

    assert metrics.MetricsClient is metrics_client.MetricsClient
    assert metrics.StoredRecords is metrics_client.StoredRecords
