"""The benchmark harness: what ``make bench`` runs and what the quick sizes measure."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    """Run ``code`` with benchmarks/ on the path in a fresh process (the scripts pin their process to one core)."""
    prelude = f"import sys; sys.path.insert(0, {str(PROJECT / 'benchmarks')!r}); sys.path.insert(0, {str(PROJECT)!r})\n"
    proc = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_bench_runs_the_load_benchmark() -> None:
    from benchmarks.run import BENCHMARKS, summary_rows

    assert BENCHMARKS["load"].script == "bench_load.py" and (PROJECT / "benchmarks" / "bench_load.py").exists()
    rows = summary_rows(["load"])
    if (PROJECT / "benchmarks" / "results" / "load.json").exists():
        assert any("definitions validate" in r["figure"] for r in rows)


def test_quick_dedup_corpus_plants_near_duplicates() -> None:
    """At the quick size (5 MB) the originals alone used to fill the corpus: no plants, recall nan."""
    out = _run("""
        import json, bench_dedup
        from _common import RealDocument, utf8_bytes
        words = [f"w{i}" for i in range(5000)]
        docs = [RealDocument("web", " ".join(words[(i * 7 + j) % 5000] for j in range(180))) for i in range(12000)]
        bench_dedup.load_real_documents = lambda: docs  # about 12 MB of originals, like the shared corpora
        texts, plants = bench_dedup.build_corpus(5.0)
        print(json.dumps({"mb": utf8_bytes(texts) / 1e6, "plants": len(plants), "texts": len(texts)}))
    """)
    got = json.loads(out.strip().splitlines()[-1])
    assert got["plants"] > 1000 and 4.9 < got["mb"] < 5.2
    assert got["texts"] - got["plants"] <= 12000 // 4  # originals fill about half
