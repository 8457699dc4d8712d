"""Quality filters: ours (vectorized polars / numpy) against datatrove 0.10.1, one CPU core.

For each filter (Gopher quality, Gopher repetition, C4 quality, FineWeb quality) this
measures documents/s and MB/s of ``corpus.ops.quality`` on >= 50 MB of real text (the shared
corpora, replicated with deterministic perturbation), the same for datatrove's filter, their
ratio, and how often the two agree: the keep/drop decision, and the reason on documents both
drop. datatrove runs well under 1 MB/s per core, so it is timed on an evenly strided subset
of the same documents and its rate extrapolated per document (the output says so); agreement
is measured on that subset. Ours and datatrove's runs are interleaved, and CPU seconds are
recorded beside wall-clock seconds, so that load from other processes on a shared machine
affects both sides alike.

    python benchmarks/bench_quality.py [--mb 50] [--datatrove-mb 6] [--batch-rows 20000] [--repeats 3]

Writes benchmarks/results/quality.json and prints a table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pin_to_one_core

pin_to_one_core()

import os  # noqa: E402
import statistics  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl  # noqa: E402
from _common import (  # noqa: E402
    Timing,
    load_real_documents,
    print_table,
    replicate_to_size,
    timed,
    utf8_bytes,
    write_results,
)

from corpus.ops import quality  # noqa: E402

FILTERS = {
    "gopher_quality": (quality.score_gopher_quality, quality.GopherQualityConfig, "GopherQualityFilter"),
    "gopher_repetition": (quality.score_gopher_repetition, quality.GopherRepetitionConfig, "GopherRepetitionFilter"),
    "c4_quality": (quality.score_c4_quality, quality.C4QualityConfig, "C4QualityFilter"),
    "fineweb_quality": (quality.score_fineweb_quality, quality.FineWebQualityConfig, "FineWebQualityFilter"),
}


def run_ours(name: str, batches: list[pl.DataFrame]) -> list[str | None]:
    fn, config_model, _ = FILTERS[name]
    config = config_model()
    reasons: list[str | None] = []
    for batch in batches:
        reasons.extend(fn(batch, config)["_drop"].to_list())
    return reasons


def run_datatrove(name: str, texts: list[str]) -> list[str | None]:
    from datatrove.data import Document
    from datatrove.pipeline import filters

    step = getattr(filters, FILTERS[name][2])()
    out: list[str | None] = []
    for i, text in enumerate(texts):
        verdict = step.filter(Document(text=text, id=str(i)))
        out.append(None if verdict is True else (verdict[1] if isinstance(verdict, tuple) else "dropped"))
    return out


def agreement(ours: list[str | None], theirs: list[str | None]) -> dict[str, float | int]:
    same_decision = sum((a is None) == (b is None) for a, b in zip(ours, theirs, strict=True))
    both_drop = [(a, b) for a, b in zip(ours, theirs, strict=True) if a is not None and b is not None]
    return {
        "documents": len(ours),
        "decision_agreement": same_decision / len(ours),
        "both_drop": len(both_drop),
        "same_reason_on_drops": sum(a == b for a, b in both_drop) / max(len(both_drop), 1),
        "datatrove_drops": sum(b is not None for b in theirs),
        "our_drops": sum(a is not None for a in ours),
    }


def measure(name: str, batches: list[pl.DataFrame], subset: list[str], repeats: int) -> dict[str, object]:
    """Time ours on all documents, datatrove and ours on the subset, interleaved per repeat.

    Interleaving puts the three under the same load when the machine is shared; the
    medians are taken per measurement.
    """
    subset_batch = [pl.DataFrame({"text": subset})]
    runs: dict[str, list[Timing]] = {"ours": [], "ours_subset": [], "datatrove": []}
    ours_subset: list[str | None] = []
    theirs: list[str | None] = []
    run_datatrove(name, subset[:50])  # warm up: spaCy loads its tokenizer on first use
    run_ours(name, [subset_batch[0].head(50)])  # and polars compiles the regexes
    for _ in range(repeats):
        runs["ours"].append(timed(lambda: run_ours(name, batches))[0])
        timing, theirs = timed(lambda: run_datatrove(name, subset))
        runs["datatrove"].append(timing)
        timing, ours_subset = timed(lambda: run_ours(name, subset_batch))
        runs["ours_subset"].append(timing)
    medians = {
        k: {"wall_s": statistics.median(t.wall for t in v), "cpu_s": statistics.median(t.cpu for t in v)}
        for k, v in runs.items()
    }
    return {"medians": medians, "agreement": agreement(ours_subset, theirs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="MB of text for our filters (default 50)")
    parser.add_argument("--datatrove-mb", type=float, default=6.0, help="MB of the same text for datatrove (default 6)")
    parser.add_argument("--batch-rows", type=int, default=20_000, help="documents per batch for our filters")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(FILTERS), choices=list(FILTERS))
    args = parser.parse_args()

    originals = [d.text for d in load_real_documents()]
    texts = replicate_to_size(originals, int(args.mb * 1_000_000))
    total_mb = utf8_bytes(texts) / 1e6
    stride = max(1, round(total_mb / args.datatrove_mb))
    subset = texts[::stride]
    subset_mb = utf8_bytes(subset) / 1e6
    frame = pl.DataFrame({"text": texts})
    batches = [frame.slice(i, args.batch_rows) for i in range(0, frame.height, args.batch_rows)]
    print(
        f"{len(texts):,} documents, {total_mb:.1f} MB ({len(originals):,} real documents replicated with "
        f"perturbation); datatrove on every {stride}th: {len(subset):,} documents, {subset_mb:.1f} MB, "
        f"its rate extrapolated per document",
        flush=True,
    )

    rows, results = [], {}
    for name in args.only:
        m = measure(name, batches, subset, args.repeats)
        med, agree = m["medians"], m["agreement"]
        rate = {  # documents/s and MB/s, by wall clock and per CPU second
            "ours": (len(texts), total_mb, med["ours"]),
            "ours_on_datatrove_subset": (len(subset), subset_mb, med["ours_subset"]),
            "datatrove": (len(subset), subset_mb, med["datatrove"]),
        }
        entry = {
            key: {
                "documents": docs,
                "mb": mb,
                **t,
                "docs_per_s": docs / t["wall_s"],
                "mb_per_s": mb / t["wall_s"],
                "docs_per_cpu_s": docs / t["cpu_s"],
                "mb_per_cpu_s": mb / t["cpu_s"],
            }
            for key, (docs, mb, t) in rate.items()
        }
        entry["datatrove"]["note"] = f"timed on every {stride}th document; rate extrapolated per document"
        speedup = entry["ours"]["docs_per_s"] / entry["datatrove"]["docs_per_s"]
        speedup_cpu = entry["ours"]["docs_per_cpu_s"] / entry["datatrove"]["docs_per_cpu_s"]
        entry |= {
            "speedup_docs_per_s": speedup,
            "speedup_docs_per_cpu_s": speedup_cpu,
            "speedup_same_subset": entry["ours_on_datatrove_subset"]["docs_per_s"] / entry["datatrove"]["docs_per_s"],
            "agreement": agree,
        }
        results[name] = entry
        rows.append(
            {
                "filter": name,
                "ours docs/s": entry["ours"]["docs_per_s"],
                "ours MB/s": entry["ours"]["mb_per_s"],
                "datatrove docs/s": entry["datatrove"]["docs_per_s"],
                "datatrove MB/s": entry["datatrove"]["mb_per_s"],
                "speedup": speedup,
                "speedup (CPU s)": speedup_cpu,
                "same decision": f"{100 * agree['decision_agreement']:.2f}%",
                "same reason": f"{100 * agree['same_reason_on_drops']:.2f}%",
            }
        )
        print(rows[-1], flush=True)

    path = write_results(
        "quality",
        {
            "documents": len(texts),
            "mb": total_mb,
            "real_documents": len(originals),
            "datatrove_subset": {"stride": stride, "documents": len(subset), "mb": subset_mb},
            "batch_rows": args.batch_rows,
            "repeats": args.repeats,
            "timing": "median of repeats; ours and datatrove interleaved per repeat; one core "
            "(sched_setaffinity, single-threaded polars/numpy); CPU seconds of this process alongside wall clock",
            "filters": results,
        },
    )
    print_table(
        rows,
        title=f"\nQuality filters on {total_mb:.0f} MB, one core, median of {args.repeats} "
        f"(datatrove on a {subset_mb:.0f} MB strided subset, rate per document)",
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
