"""MinHash near-duplicate removal: ``dedup_minhash@1`` against datatrove's four-stage pipeline.

Corpus: every real document of the shared corpora (web pages, GSM8K, WikiText articles,
Shakespeare chunks, inaugural addresses, UDHR translations), then *planted* copies of
randomly chosen originals until the corpus holds ``--mb`` MB of UTF-8 (default 50). Each
planted copy is an exact copy (case and whitespace changed) or a word-level perturbation
(delete / replace / insert words at a per-word rate) spanning word-5-gram Jaccard
similarities from ~1.0 down to ~0.1, so the corpus has near-duplicates at every level and
the truth is known.

Both sides use the same shingling and LSH: datatrove's text normalization, word 5-grams,
112 hashes in 14 bands of 8, 64-bit values, seed 1.

* ours: ``dedup_minhash`` over polars batches of 10,000 documents (exact pass included),
  median of ``--repeats`` runs;
* datatrove 0.10.1: ``MinhashDedupSignature -> MinhashDedupBuckets -> MinhashDedupCluster
  -> MinhashDedupFilter``, each a ``LocalPipelineExecutor`` with ``workers=1`` writing to a
  temp dir. ``tasks=1`` everywhere except the buckets stage, which datatrove requires to
  run one task per bucket (``tasks=14``, run one after another on the same core). The
  documents are fed from memory on both sides; nothing is written but datatrove's own
  intermediate files. One run (it takes minutes), unless ``--datatrove-repeats``.

Quality on the planted pairs (true Jaccard computed with datatrove's ``simplify_text``
on a sample of ``--quality-sample`` pairs): recall = share of pairs with J >= 0.8 that end
in one cluster; merged-low = share of pairs with J < 0.5 that do (should be ~0); precision =
share of removed documents whose true Jaccard to the kept document of their cluster is >= 0.5.

    python benchmarks/bench_dedup.py [--mb 50] [--datatrove-mb 50] [--repeats 3]

``--datatrove-mb`` below ``--mb`` runs datatrove on the first documents of the corpus only;
ours is then timed on that same subset too, and the ratio compares MB/s on equal data.
Writes ``benchmarks/results/dedup.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pin_to_one_core

pin_to_one_core()

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from _common import load_real_documents, median_time, print_table, utf8_bytes, write_results  # noqa: E402
from dedup_quality import estimator_quality, jaccard, patch_datatrove_xxhash, quality  # noqa: E402

from corpus.ops import dedup  # noqa: E402
from corpus.ops.dedup import MinhashDedupConfig, dedup_minhash  # noqa: E402

# per-word edit rates of planted copies; 0.0 = exact copy (case / whitespace changed)
RATES = (0.0, 0.0, 0.004, 0.01, 0.015, 0.02, 0.03, 0.045, 0.06, 0.09, 0.13, 0.2, 0.35)
BATCH_ROWS = 10_000
ORIGINALS_MAX_SHARE = 0.5  # of the corpus; the rest is planted copies


# --------------------------------------------------------------------------- corpus


def perturb_words(text: str, rate: float, rng: random.Random, vocab: list[str]) -> str:
    """Delete, replace or insert words, each with probability rate/3 per word."""
    if rate == 0.0:
        return "  ".join(text.upper().split(" ")) + "\n"
    out: list[str] = []
    for word in text.split(" "):
        r = rng.random()
        if r < rate / 3:
            continue
        if r < 2 * rate / 3:
            out.append(rng.choice(vocab))
        elif r < rate:
            out += [word, rng.choice(vocab)]
        else:
            out.append(word)
    return " ".join(out)


def build_corpus(target_mb: float, seed: int = 0) -> tuple[list[str], list[tuple[int, int, float]]]:
    """Originals and planted copies up to ``target_mb``, shuffled; texts and (original row, copy row, rate).

    Originals fill at most half of the target: below twice their size (``--quick``) an evenly
    strided subset of them is kept, so that copies are still planted and recall is measured.
    """
    originals = [d.text for d in load_real_documents()]
    stride = math.ceil(utf8_bytes(originals) / (ORIGINALS_MAX_SHARE * target_mb * 1e6))
    originals = originals[:: max(1, stride)]
    rng = random.Random(seed)
    vocab = sorted({w for t in originals[:: max(1, len(originals) // 2000)] for w in t.split()})
    texts = list(originals)
    size = utf8_bytes(texts)
    plants: list[tuple[int, int, float]] = []
    while size < target_mb * 1e6:
        i = rng.randrange(len(originals))
        rate = rng.choice(RATES)
        copy = perturb_words(originals[i], rate, rng, vocab)
        plants.append((i, len(texts), rate))
        texts.append(copy)
        size += len(copy.encode("utf-8"))
    if not plants:
        raise ValueError(f"--mb {target_mb}: no near-duplicates planted; give a larger size")
    # shuffle, so that any prefix (the datatrove subset) holds originals and copies alike
    order = list(range(len(texts)))
    rng.shuffle(order)
    position = {old: new for new, old in enumerate(order)}
    return [texts[i] for i in order], [(position[i], position[j], rate) for i, j, rate in plants]


def batches_of(texts: list[str], ids: list[str]) -> list[pl.DataFrame]:
    return [
        pl.DataFrame(
            {"id": ids[i : i + BATCH_ROWS], "text": texts[i : i + BATCH_ROWS], "source": "bench", "source_rank": 0}
        )
        for i in range(0, len(texts), BATCH_ROWS)
    ]


# --------------------------------------------------------------------------- runs


def timed(fn):
    """Run ``fn``; (wall seconds, CPU seconds of this process, result). CPU time is the figure
    that survives other processes competing for the core; both are reported."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run_ours(texts: list[str], repeats: int) -> tuple[float, float, list[int]]:
    """Median wall and CPU seconds; cluster representative (kept document's row) per row."""
    ids = [f"{i:09d}" for i in range(len(texts))]  # id order = row order
    batches = batches_of(texts, ids)
    runs = [timed(lambda: dedup_minhash(batches, MinhashDedupConfig())) for _ in range(repeats)]
    seconds, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    out = runs[-1][2]
    rep = list(range(len(texts)))
    for doc, keep in zip(out["id"].to_list(), out["duplicate_of"].to_list(), strict=True):
        rep[int(doc)] = int(keep)
    return seconds, cpu, rep


def phase_times(texts: list[str]) -> dict[str, float]:
    """One instrumented pass: where our time goes (seconds)."""
    config = MinhashDedupConfig()
    hasher = dedup.MinHasher.from_config(config)
    t = dict.fromkeys(("normalize", "exact_hash", "shingles", "signatures_and_bands", "cluster"), 0.0)
    index = dedup._DocumentIndex(config.num_buckets)
    ids = [f"{i:09d}" for i in range(len(texts))]
    for batch in dedup._checked_batches(batches_of(texts, ids), "bench"):
        for chunk in dedup._byte_chunks(batch):
            t0 = time.perf_counter()
            exact_text = dedup._normalize(chunk["text"], config.exact)
            words = dedup._normalize(chunk["text"], config.normalization, words=True)
            t1 = time.perf_counter()
            exact = dedup._exact_hashes(*dedup._utf8_bytes(exact_text))
            t2 = time.perf_counter()
            shingles = hasher.shingles(*dedup._utf8_bytes(words))
            t3 = time.perf_counter()
            sig, has = hasher.signatures(shingles)
            index.add(chunk, exact, hasher.bands(sig, has, chunk.height))
            t4 = time.perf_counter()
            t["normalize"] += t1 - t0
            t["exact_hash"] += t2 - t1
            t["shingles"] += t3 - t2
            t["signatures_and_bands"] += t4 - t3
    t0 = time.perf_counter()
    index.resolve(use_exact=True, use_bands=True)
    t["cluster"] = time.perf_counter() - t0
    return t


def run_datatrove(texts: list[str], repeats: int) -> tuple[float, float, list[int], dict[str, float]]:
    """Median wall and CPU seconds of the four stages; cluster representative per row; per-stage wall seconds."""
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )

    patch_datatrove_xxhash()
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]

    def source(data, rank: int = 0, world_size: int = 1):
        yield from docs

    config = MinhashConfig()  # 5-grams, 14 x 8, 64-bit xxhash, seed 1
    runs: list[tuple[float, float, dict[str, float], Path]] = []
    keep_dir = tempfile.TemporaryDirectory(prefix="bench_dedup_dt_")
    for r in range(repeats):
        root = Path(keep_dir.name) / f"run{r}"
        stages = {
            "signature": LocalPipelineExecutor(
                [source, MinhashDedupSignature(output_folder=str(root / "sigs"), config=config)],
                tasks=1,
                workers=1,
                logging_dir=str(root / "logs/sigs"),
            ),
            "buckets": LocalPipelineExecutor(
                [
                    MinhashDedupBuckets(
                        input_folder=str(root / "sigs"), output_folder=str(root / "buckets"), config=config
                    )
                ],
                tasks=config.num_buckets,
                workers=1,
                logging_dir=str(root / "logs/buckets"),
            ),
            "cluster": LocalPipelineExecutor(
                [
                    MinhashDedupCluster(
                        input_folder=str(root / "buckets"),
                        output_folder=str(root / "remove"),
                        config=config,
                        save_cluster_id=True,
                    )
                ],
                tasks=1,
                workers=1,
                logging_dir=str(root / "logs/cluster"),
            ),
            "filter": LocalPipelineExecutor(
                [source, MinhashDedupFilter(input_folder=str(root / "remove"))],
                tasks=1,
                workers=1,
                logging_dir=str(root / "logs/filter"),
            ),
        }
        per_stage: dict[str, float] = {}
        cpu = 0.0
        with contextlib.redirect_stderr(io.StringIO()):
            for name, executor in stages.items():
                per_stage[name], stage_cpu, _ = timed(executor.run)
                cpu += stage_cpu
        runs.append((sum(per_stage.values()), cpu, per_stage, root))
        stage_text = "  ".join(f"{k} {v:.1f}" for k, v in per_stage.items())
        print(f"  datatrove run {r + 1}/{repeats}: {runs[-1][0]:.1f} s  {stage_text}")
    runs.sort(key=lambda x: x[0])
    seconds, cpu, per_stage, root = runs[len(runs) // 2]
    rep = _datatrove_representatives(root / "remove", len(texts))
    keep_dir.cleanup()
    return seconds, cpu, rep, per_stage


def _datatrove_representatives(remove_dir: Path, n: int) -> list[int]:
    """Per row, the kept row of its cluster (itself when unclustered), from .clusters/.remove."""
    pairs = np.frombuffer((remove_dir / "000000.clusters").read_bytes(), dtype="<u4").reshape(-1, 2)
    removed = set(np.frombuffer((remove_dir / "000000.remove").read_bytes(), dtype="<u4").tolist())
    kept_of_cluster = {int(c): int(d) for d, c in pairs if int(d) not in removed}
    rep = list(range(n))
    for d, c in pairs:
        rep[int(d)] = kept_of_cluster[int(c)]
    return rep


# --------------------------------------------------------------------------- quality


def rensa_signatures(texts: list[str]) -> dict[str, float | int | str] | None:
    """Our numpy MinHash step against rensa's Rust one on the same shingle hashes, if installed.

    Both run chunk by chunk, as the operator does (``dedup.CHUNK_BYTES`` of text at a time).
    """
    try:
        import rensa
    except ImportError:
        return None
    config = MinhashDedupConfig()
    hasher = dedup.MinHasher.from_config(config)
    ids = [str(i) for i in range(len(texts))]
    chunks = []
    for batch in dedup._checked_batches(batches_of(texts, ids), "bench"):
        for chunk in dedup._byte_chunks(batch):
            words = dedup._normalize(chunk["text"], config.normalization, words=True)
            shingles = hasher.shingles(*dedup._utf8_bytes(words))
            chunks.append((shingles, np.concatenate(([0], np.cumsum(shingles.counts))).astype(np.uint64)))
    numpy_s, _ = median_time(lambda: [hasher.signatures(sh) for sh, _ in chunks], 3)
    rensa_s, _ = median_time(
        lambda: [
            rensa.RMinHash.digest_matrix_from_flat_token_hashes(sh.hashes, off, config.num_hashes, config.seed)
            for sh, off in chunks
        ],
        3,
    )
    return {
        "shingles": int(sum(sh.hashes.size for sh, _ in chunks)),
        "numpy_s": numpy_s,
        "rensa_s": rensa_s,
        "rensa_version": importlib.metadata.version("rensa"),
        "rensa_value_bits": 32,
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="corpus size in MB of UTF-8 text")
    parser.add_argument("--datatrove-mb", type=float, default=None, help="run datatrove on the first MB only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datatrove-repeats", type=int, default=1)
    parser.add_argument("--quality-sample", type=int, default=3000, help="planted pairs whose true Jaccard is computed")
    args = parser.parse_args()

    t0 = time.perf_counter()
    texts, plants = build_corpus(args.mb)
    mb = utf8_bytes(texts) / 1e6
    print(
        f"corpus: {len(texts):,} documents, {mb:.1f} MB ({len(plants):,} planted copies), "
        f"built in {time.perf_counter() - t0:.0f} s"
    )

    sub_n = len(texts)
    if args.datatrove_mb is not None and args.datatrove_mb < mb:
        sizes = np.cumsum([len(t.encode("utf-8")) for t in texts])
        sub_n = int(np.searchsorted(sizes, args.datatrove_mb * 1e6)) + 1
    sub_texts = texts[:sub_n]
    sub_mb = utf8_bytes(sub_texts) / 1e6
    sub_plants = [k for k, p in enumerate(plants) if max(p[0], p[1]) < sub_n]
    rng = random.Random(2)
    sample = sorted(rng.sample(sub_plants, min(args.quality_sample, len(sub_plants))))
    jac = {plants[k][:2]: jaccard(texts[plants[k][0]], texts[plants[k][1]]) for k in sample}

    ours_s, ours_cpu, ours_rep = run_ours(texts, args.repeats)
    print(f"ours: {ours_s:.2f} s ({ours_cpu:.2f} s CPU) on {mb:.1f} MB")
    phases = phase_times(texts)
    if sub_n < len(texts):
        ours_sub_s, ours_sub_cpu, ours_sub_rep = run_ours(sub_texts, args.repeats)
    else:
        ours_sub_s, ours_sub_cpu, ours_sub_rep = ours_s, ours_cpu, ours_rep
    dt_s, dt_cpu, dt_rep, dt_stages = run_datatrove(sub_texts, args.datatrove_repeats)
    print(f"datatrove: {dt_s:.1f} s ({dt_cpu:.1f} s CPU) on {sub_mb:.1f} MB")

    estimator = estimator_quality(
        [(texts[plants[k][0]], texts[plants[k][1]]) for k in sample[:1000]],
        np.array([jac[plants[k][:2]] for k in sample[:1000]]),
    )
    rensa_cmp = rensa_signatures(texts)
    q_ours = quality(sub_texts, plants, sample, ours_sub_rep, jac)
    q_dt = quality(sub_texts, plants, sample, dt_rep, jac)
    rows = [
        {
            "engine": "dedup_minhash@1",
            "MB": sub_mb,
            "seconds": ours_sub_s,
            "cpu_s": ours_sub_cpu,
            "MB/s": sub_mb / ours_sub_s,
            "MB/cpu_s": sub_mb / ours_sub_cpu,
            **q_ours,
        },
        {
            "engine": "datatrove 4-stage",
            "MB": sub_mb,
            "seconds": dt_s,
            "cpu_s": dt_cpu,
            "MB/s": sub_mb / dt_s,
            "MB/cpu_s": sub_mb / dt_cpu,
            **q_dt,
        },
    ]
    if sub_n < len(texts):
        rows.insert(
            0,
            {
                "engine": "dedup_minhash@1 (full)",
                "MB": mb,
                "seconds": ours_s,
                "cpu_s": ours_cpu,
                "MB/s": mb / ours_s,
                "MB/cpu_s": mb / ours_cpu,
            },
        )
    speedup, speedup_cpu = dt_s / ours_sub_s, dt_cpu / ours_sub_cpu
    print_table(
        rows,
        [
            "engine",
            "MB",
            "seconds",
            "cpu_s",
            "MB/s",
            "MB/cpu_s",
            "removed",
            "recall_j_ge_0_8",
            "merged_j_lt_0_5",
            "precision",
            "exact_removed",
        ],
        title=f"\nMinHash dedup, one core (5-grams, 14 x 8 hashes); speedup {speedup:.1f}x wall, {speedup_cpu:.1f}x "
        "CPU",
    )
    print("our phases (s): " + "  ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print("datatrove stages (s): " + "  ".join(f"{k} {v:.1f}" for k, v in dt_stages.items()))
    print_table(
        [{"engine": k, **v} for k, v in estimator.items()], title="\nJaccard estimate from 112 MinHash values vs truth"
    )
    if rensa_cmp:
        print(
            f"signature step on {rensa_cmp['shingles']:,} shingles: numpy {rensa_cmp['numpy_s']:.2f} s, "
            f"rensa {rensa_cmp['rensa_s']:.2f} s (32-bit values)"
        )
    path = write_results(
        "dedup",
        {
            "corpus": {
                "documents": len(texts),
                "mb": mb,
                "planted_copies": len(plants),
                "rates": RATES,
                "datatrove_subset_documents": sub_n,
                "datatrove_subset_mb": sub_mb,
                "quality_pairs_sampled": len(sample),
            },
            "config": MinhashDedupConfig().model_dump(),
            "ours": {
                "seconds_full": ours_s,
                "cpu_seconds_full": ours_cpu,
                "mb_per_s_full": mb / ours_s,
                "seconds": ours_sub_s,
                "cpu_seconds": ours_sub_cpu,
                "mb_per_s": sub_mb / ours_sub_s,
                "mb_per_cpu_s": sub_mb / ours_sub_cpu,
                "repeats": args.repeats,
                "phases_s": phases,
                **q_ours,
            },
            "datatrove": {
                "version": "0.10.1",
                "seconds": dt_s,
                "cpu_seconds": dt_cpu,
                "mb_per_s": sub_mb / dt_s,
                "mb_per_cpu_s": sub_mb / dt_cpu,
                "repeats": args.datatrove_repeats,
                "stages_s": dt_stages,
                **q_dt,
            },
            "speedup": speedup,
            "speedup_cpu": speedup_cpu,
            "load_average_1_5_15min_at_end": list(os.getloadavg()),  # other processes sharing the machine
            "jaccard_estimator": estimator,
            "rensa_signature_step": rensa_cmp,
            "notes": [
                "datatrove's buckets stage needs one task per bucket (tasks=14), run sequentially with workers=1",
                "datatrove 0.10.1's xxhash hashing fails on str with xxhash>=4; the benchmark encodes to UTF-8 first",
                "ours uses whitespace words of the same normalized text; datatrove tokenizes it with spaCy",
            ],
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
