"""The capacity model: slopes from ``bench_scale_out.py``'s scaling rows (``capacity_model``), rendered from
``results/scale_out.json`` into ``docs/scale.md`` (between its markers).

Every figure in that section comes from the JSON the benchmark wrote; nothing is typed in.

    python benchmarks/capacity.py            # rewrite the section
    python benchmarks/capacity.py --check    # exit 1 when the section differs from the JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale_out.json"
DOC = ROOT / "docs" / "scale.md"
START, END = "<!-- capacity:start -->", "<!-- capacity:end -->"


def capacity_model(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Least-squares slopes over the scales, and what they predict for 1B documents / 10 TB."""
    import numpy as np

    docs = np.array([r["documents"] for r in rows], dtype=float)
    mb = np.array([r["mb"] for r in rows], dtype=float)

    def slope(y: list[float], x: np.ndarray) -> float:
        return float(np.polyfit(x, np.array(y, dtype=float), 1)[0])

    sig_s_per_mb = slope([r["seconds_signatures"] for r in rows], mb)
    bucket_s_per_doc = slope([r["seconds_buckets"] for r in rows], docs)
    merge_s_per_member = slope(
        [r["seconds_merge"] for r in rows], np.array([r["cluster_members"] for r in rows], dtype=float)
    )
    shuffle_b_per_doc = slope([r["bytes_shuffled"] for r in rows], docs)
    index_b_per_doc = slope([r["index_bytes"] for r in rows], docs)
    single_rss_per_doc = slope([r["single_process_peak_rss"] for r in rows], docs)
    members_per_doc = slope([r["cluster_members"] for r in rows], docs)
    docs_per_partition = float(np.mean(docs / np.array([r["partitions"] for r in rows])))
    task_rss = max(max(r["max_signature_task_rss"], r["max_bucket_task_rss"]) for r in rows)
    bytes_per_doc = float(np.mean(mb * 1e6 / docs))
    target_docs, target_tb = 1e9, 10.0
    doc_for_tb = target_tb * 1e12 / bytes_per_doc
    cores = [8, 64, 512]

    def hours(n_docs: float, n_mb: float, n_cores: int) -> float:
        parallel = sig_s_per_mb * n_mb + bucket_s_per_doc * n_docs  # signatures and buckets spread over the cores
        serial = merge_s_per_member * members_per_doc * n_docs  # the merge is one task
        return (parallel / n_cores + serial) / 3600

    return {
        "slopes": {
            "signature_s_per_mb": sig_s_per_mb,
            "bucket_s_per_doc": bucket_s_per_doc,
            "merge_s_per_cluster_member": merge_s_per_member,
            "bytes_shuffled_per_doc": shuffle_b_per_doc,
            "index_bytes_per_doc": index_b_per_doc,
            "single_process_rss_per_doc": single_rss_per_doc,
            "cluster_members_per_doc": members_per_doc,
            "text_bytes_per_doc": bytes_per_doc,
        },
        "measured": {"docs_per_partition": docs_per_partition, "max_task_rss": task_rss},
        "predictions": [
            {
                "target": label,
                "documents": n_docs,
                "tb": n_docs * bytes_per_doc / 1e12,
                "cores": c,
                "hours": hours(n_docs, n_docs * bytes_per_doc / 1e6, c),
                "partitions": int(np.ceil(n_docs / docs_per_partition)),
                "bytes_shuffled_tb": shuffle_b_per_doc * n_docs / 1e12,
                "merge_members": members_per_doc * n_docs,
                "single_process_index_gb": single_rss_per_doc * n_docs / 1e9,
            }
            for label, n_docs in (("1B documents", target_docs), ("10 TB of text", doc_for_tb))
            for c in cores
        ],
    }


def _mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def render(data: dict[str, Any]) -> str:
    rows = data["scaling"]
    model = data["capacity_model"]
    s, m = model["slopes"], model["measured"]
    acc = data["acceptance"]
    out = [
        (
            f"Measured by `benchmarks/bench_scale_out.py` on {data['machine']['cpu_count']} shared cores "
            f"({data['measured_at']}); rendered from `benchmarks/results/scale_out.json` by `benchmarks/capacity.py`."
        ),
        "",
        "| scale | documents | MB | partitions | CPU s (serial) | bytes shuffled | largest index task "
        "| single-process index |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        task = max(r["max_signature_task_rss"], r["max_bucket_task_rss"])
        out.append(
            f"| {r['scale']}x | {r['documents']:,} | {r['mb']:.1f} | {r['partitions']} | {r['cpu_s']:.1f} | "
            f"{r['bytes_shuffled'] / 1e6:.1f} MB | {_mib(task)} | {_mib(r['single_process_peak_rss'])} |"
        )
    base = rows[0]["task_baseline_rss"]
    out += [
        "",
        (
            f"A process that only imports a task's modules peaks at {_mib(base)}; the largest index task at 8x over "
            "the "
            f"largest at 1x: {acc['index_peak_rss_ratio_8x_vs_1x']:.2f} (partitions scaled with the corpus, about "
            f"{m['docs_per_partition']:,.0f} documents each). The single-process operator's peak grows by "
            f"{s['single_process_rss_per_doc']:,.0f} B per document over these sizes (its index plus the working "
            "buffers of its larger batches: a rough slope from small corpora, used below as such)."
        ),
        "",
        "Slopes (least squares over the five scales; phase times are wall seconds of the serial build on the "
        "shared machine, so they carry its load):",
        "",
        f"* signatures: {s['signature_s_per_mb']:.3f} s per MB of text;",
        f"* buckets: {s['bucket_s_per_doc'] * 1e6:.1f} s per million documents;",
        (
            f"* merge (one task): {s['merge_s_per_cluster_member'] * 1e6:.1f} s per million documents that have a "
            "duplicate "
            f"({s['cluster_members_per_doc']:.2f} per document in this corpus);"
        ),
        (
            f"* shuffled (signature files written and read once): {s['bytes_shuffled_per_doc']:,.0f} B per document; "
            "the stored "
            f"index (distinct keys): {s['index_bytes_per_doc']:,.0f} B per document;"
        ),
        f"* text: {s['text_bytes_per_doc']:,.0f} B per document on average.",
        "",
        (
            "What that predicts (signatures and buckets spread over the cores, the merge on one; reading and writing "
            "S3 not included):"
        ),
        "",
        "| target | documents | TB of text | cores | hours | partitions | shuffled | merge holds "
        "| one-process index would need |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in model["predictions"]:
        out.append(
            f"| {p['target']} | {p['documents']:,.3g} | {p['tb']:.2f} | {p['cores']} | {p['hours']:.2f} | "
            f"{p['partitions']:,} | {p['bytes_shuffled_tb']:.2f} TB | {p['merge_members']:,.3g} members | "
            f"{p['single_process_index_gb']:,.0f} GB |"
        )
    inc, res = data["incremental"], data["resume"]
    lo, hi = inc.get("fraction_min_max") or inc["fraction_ci95"]
    middle = inc.get("fraction_median", inc["fraction_mean"])
    out += [
        "",
        (
            f"Incremental: a new source of {inc['new_mb']:.1f} MB against the stored index of {inc['base_mb']:.1f} "
            f"MB costs {middle:.3f} of a full re-dedup's CPU time (median of {len(inc['fraction_per_pair'])} rounds, "
            f"{lo:.3f} to {hi:.3f}); same survivors as the full run: {inc['same_survivors_as_full']}."
        ),
        (
            f"Resume: killed after {', '.join(str(p['killed_after_shards']) for p in res['points'])} of "
            f"{res['shards']} shards, "
            f"the re-runs computed again at most {acc['resume_recomputed_shards']} finished shard(s); byte-identical: "
            f"{all(p['byte_identical'] for p in res['points'])}."
        ),
    ]
    ray = data.get("ray_cluster")
    if ray:
        out.append(
            f"Three-node Ray cluster on one machine ({ray['nodes']} nodes, tasks ran on nodes "
            f"{', '.join(map(str, ray['nodes_that_ran_tasks']))}): the build loop's {ray['files_compared']} committed "
            f"files equal the serial run's: {ray['identical']}."
        )
    e2e_path = ROOT / "benchmarks" / "results" / "end_to_end.json"
    if e2e_path.exists():
        out += ["", *render_end_to_end(json.loads(e2e_path.read_text()))]
    return "\n".join(out)


def render_end_to_end(e2e: dict[str, Any]) -> list[str]:
    ours, theirs = e2e["ours"], e2e["datatrove"]
    out = [
        (
            f"End to end (`benchmarks/bench_end_to_end.py`, {e2e['corpus']['mb']:.1f} MB, one core each, "
            f"{e2e['repeats']} run(s) each, {e2e['measured_at']}): ours through Dagster "
            f"{ours['mb_per_s_per_core']:.3f} MB/s ({ours['wall_s']:.0f} s wall, {ours['cpu_s']:.0f} CPU s), "
            "datatrove's "
            f"LocalPipelineExecutor {theirs['mb_per_s_per_core']:.3f} MB/s ({theirs['wall_s']:.0f} s wall, "
            f"{theirs['cpu_s']:.0f} CPU s): {e2e['speedup_mb_per_s_per_core']:.1f}x per core on wall time, "
            f"{e2e['speedup_mb_per_cpu_s']:.1f}x on CPU time. Where ours goes:"
        ),
        "",
        "| stage | seconds | share |",
        "|---|---|---|",
    ]
    out += [f"| {k} | {v:.1f} | {v / ours['wall_s']:.0%} |" for k, v in ours["per_stage_s"].items()]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    args = parser.parse_args()
    data = json.loads(RESULTS.read_text())
    doc = DOC.read_text()
    if START not in doc or END not in doc:
        print(f"{DOC} lacks the markers {START} ... {END}", file=sys.stderr)
        return 1
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{render(data)}\n{END}{tail}"
    if args.check:
        return 0 if new == doc else 1
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
