"""HTML extraction engines: quality against gold snippets, and speed per core.

Reads ``web/crawl-sample.warc.gz`` through the project's WARC reader and extracts every page
with each engine configuration of ``extract_html@1``. Quality is scored against
``web/extraction-gold.json`` (the trafilatura evaluation set): per page, snippets that a good
extraction keeps (``with``) and boilerplate it drops (``without``), matched as substrings after
whitespace normalization. Reported: share of ``with`` snippets kept (recall), share of
``without`` snippets dropped, precision / F1 in trafilatura's evaluation sense, and pages/s and
MB/s of HTML on one core (median of 3 runs), by wall clock and per CPU-second of the process
(the per-core rate even when other work shares the core).

    python benchmarks/bench_extract.py [--repeats 3]

Writes ``benchmarks/results/extract.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pin_to_one_core

pin_to_one_core()

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pyarrow.fs as pafs  # noqa: E402
from _common import SHARED_DATA, median_time, print_table, write_results  # noqa: E402

from corpus.ops.extract import ExtractHtmlConfig, make_extractor  # noqa: E402
from corpus.readers import read_source  # noqa: E402
from corpus.spec import SourceSpec  # noqa: E402

CONFIGS: dict[str, dict[str, object]] = {
    "resiliparse": {"engine": "resiliparse"},
    "trafilatura": {"engine": "trafilatura"},
    "trafilatura_precision": {"engine": "trafilatura", "favor_precision": True},
}
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _WS.sub(" ", text).strip()


def load_pages(root: Path) -> list[tuple[str, str]]:
    """(url, html) of every HTML response in the sample WARC, through corpus.readers."""
    source = SourceSpec(name="web", location="web", format="warc")
    pages: list[tuple[str, str]] = []
    for batch in read_source(source, pafs.LocalFileSystem(), str(root / "web" / "crawl-sample.warc.gz")):
        pages += list(zip(batch.docs["url"].to_list(), batch.docs["text"].to_list(), strict=True))
    return pages


def score(outputs: dict[str, str], gold: dict[str, dict[str, list[str]]]) -> dict[str, float | int]:
    """Snippet counts in trafilatura's evaluation sense: kept `with` = TP, kept `without` = FP."""
    tp = fn = fp = tn = pages = 0
    for url, expected in gold.items():
        if url not in outputs:
            continue
        pages += 1
        text = normalize(outputs[url])
        for snippet in expected.get("with", []):
            if normalize(snippet) in text:
                tp += 1
            else:
                fn += 1
        for snippet in expected.get("without", []):
            if normalize(snippet) in text:
                fp += 1
            else:
                tn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "pages_scored": pages,
        "with_kept": recall,
        "without_dropped": tn / (tn + fp) if tn + fp else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "accuracy": (tp + tn) / (tp + fn + fp + tn) if tp + fn + fp + tn else 0.0,
    }


def run(repeats: int) -> dict[str, object]:
    root = SHARED_DATA
    if not (root / "web" / "crawl-sample.warc.gz").exists():
        raise SystemExit(f"shared corpora not found at {root}; set CORPUS_SHARED_DATA to the data folder")
    gold = json.loads((root / "web" / "extraction-gold.json").read_text(encoding="utf-8"))
    pages = load_pages(root)
    html_mb = sum(len(h.encode("utf-8")) for _, h in pages) / 1e6
    rows = []
    for name, raw_config in CONFIGS.items():
        extract = make_extractor(ExtractHtmlConfig.model_validate(raw_config))
        for _, html in pages[:5]:  # warm-up: imports, lazy initialisation
            extract(html)

        slowest: list[float] = []
        cpu: list[float] = []

        def extract_all(fn=extract, cpu=cpu, slowest=slowest) -> dict[str, str]:
            out, worst = {}, 0.0
            cpu_start = time.process_time()
            for url, html in pages:
                start = time.perf_counter()
                out[url] = fn(html)
                worst = max(worst, time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
            slowest.append(worst)
            return out

        seconds, outputs = median_time(extract_all, repeats=repeats)
        cpu_seconds = statistics.median(cpu)
        empty = sum(1 for t in outputs.values() if not t.strip())
        rows.append(
            {
                "config": name,
                **score(outputs, gold),
                "empty_pages": empty,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "pages_per_s": len(pages) / seconds,
                "html_mb_per_s": html_mb / seconds,
                # per CPU-second of this process: the per-core rate even when other work shares the core
                "pages_per_cpu_s": len(pages) / cpu_seconds,
                "html_mb_per_cpu_s": html_mb / cpu_seconds,
                "slowest_page_s": min(slowest),
                "settings": raw_config,
            }
        )
        print(f"{name}: {len(pages) / seconds:,.1f} pages/s", file=sys.stderr)
    return {"pages": len(pages), "html_mb": html_mb, "repeats": repeats, "results": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    payload = run(args.repeats)
    best = max(payload["results"], key=lambda r: (r["f1"], r["pages_per_s"]))  # type: ignore[index]
    payload["best_f1"] = best["config"]
    payload["default_engine"] = ExtractHtmlConfig().engine
    path = write_results("extract", payload)
    print_table(
        payload["results"],  # type: ignore[arg-type]
        [
            "config",
            "with_kept",
            "without_dropped",
            "precision",
            "recall",
            "f1",
            "empty_pages",
            "pages_per_s",
            "html_mb_per_s",
            "pages_per_cpu_s",
            "html_mb_per_cpu_s",
            "slowest_page_s",
        ],
        title=f"HTML extraction, {payload['pages']} pages, {payload['html_mb']:.1f} MB of HTML, one core, median of "
        f"{args.repeats}",
    )
    print(f"default engine of extract_html@1: {payload['default_engine']}; best F1: {payload['best_f1']}; wrote {path}")


if __name__ == "__main__":
    main()
