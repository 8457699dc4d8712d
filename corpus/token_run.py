"""The tokenizer (trained on a sample of the clean corpus, or installed from a file) and the token shards."""

from __future__ import annotations

import hashlib
import posixpath
import time
from collections.abc import Iterator
from typing import Any

from corpus import resume, schema
from corpus.executor import Executor, SerialExecutor
from corpus.io import CorpusStore
from corpus.spec import PipelineSpec
from corpus.stage_report import Progress, StageReport, Throttled, included_sources, noop, stage_dir, tokenizer_rel


def run_tokenizer(
    spec: PipelineSpec,
    store: CorpusStore,
    *,
    tokenizer_file: bytes | None = None,
    progress: Progress = noop,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """Train a byte-level BPE on a per-source sample of the clean corpus (or install a given file).

    ``sources`` (default: all) are the sources sampled."""
    names = included_sources(spec, sources)
    from corpus import tokenize

    t0 = time.perf_counter()
    tk = spec.tokenizer
    if tk.kind == "file":
        if tokenizer_file is None:
            raise ValueError("tokenizer kind 'file' needs the tokenizer.json content")
        tok = tokenize.load_tokenizer(tokenizer_file.decode())
        sample_docs = 0
    else:

        def sample() -> Iterator[str]:
            for source in names:
                n = 0
                for b in store.iter_partition(
                    stage_dir(spec.pipeline, spec.tokenizer_input, source), columns=[schema.TEXT]
                ):
                    for text in b[schema.TEXT].to_list():
                        if n >= tk.sample_docs:
                            break
                        n += 1
                        yield text
                    if n >= tk.sample_docs:
                        break
                progress(f"tokenizer: sampled {n:,} documents of {source}")

        texts = list(sample())
        sample_docs = len(texts)
        tok = tokenize.train_bpe(texts, tk.vocab_size)
    data = tok.to_str().encode()
    store.write_bytes(tokenizer_rel(spec.pipeline), data)
    return {
        "vocab_size": tok.get_vocab_size(),
        "kind": tk.kind,
        "sample_docs": sample_docs,
        "sha256": hashlib.sha256(data).hexdigest()[:16],
        "seconds": time.perf_counter() - t0,
    }


def run_tokenized(
    spec: PipelineSpec, source: str, store: CorpusStore, *, executor: Executor | None = None, progress: Progress = noop
) -> StageReport:
    """Tokenize one source's documents into token shards with a fixed validation split.

    One task per shard on ``executor`` (see corpus.tokenize_shards): a pass over the ids
    fixes the split, then every shard is encoded on its own; a killed run resumes from the
    shards it finished.
    """
    from corpus import tokenize, tokenize_shards

    executor = executor or SerialExecutor()
    tok_rel = tokenizer_rel(spec.pipeline)
    data = store.read_bytes(tok_rel)
    vocab = tokenize.load_tokenizer(data.decode()).get_vocab_size()
    digest = hashlib.sha256(data).hexdigest()
    in_rel = stage_dir(spec.pipeline, spec.tokenizer_input, source)
    shards = store.read_manifest(in_rel)["shards"]
    tk = spec.tokenizer
    keyed = list(
        executor.map(
            tokenize_shards.split_keys_task,
            [(store, posixpath.join(in_rel, s["name"]), tk.val_max_docs) for s in shards],
        )
    )
    _, threshold = tokenize_shards.split_threshold(keyed, tk.val_fraction, tk.val_min_docs, tk.val_max_docs)
    report = StageReport(spec.pipeline, "tokenized", source)
    t0 = time.perf_counter()
    out_rel = stage_dir(spec.pipeline, "tokenized", source)
    writer = store.partition_writer(out_rel)
    store.retract(writer.rel_dir)
    rdir = resume.receipt_dir(spec.pipeline, "tokenized", source)
    tasks = [
        (store, tok_rel, digest, posixpath.join(in_rel, s["name"]), out_rel, i, threshold) for i, s in enumerate(shards)
    ]
    receipts = [
        (
            posixpath.join(rdir, resume.receipt_name(i)),
            resume.fingerprint(digest, threshold, s["name"], s["rows"], s["bytes"]),
        )
        for i, s in enumerate(shards)
    ]
    tokens = {"train": 0, "val": 0}
    docs = {"train": 0, "val": 0}
    say = Throttled(progress)
    results = []
    for r in resume.resumable_map(executor, store, tokenize_shards.encode_task, tasks, receipts, dict, dict):
        results.append(r)
        for split in tokens:
            tokens[split] += r["tokens"][split]
            docs[split] += r["docs_by_split"][split]
        report.docs_in += r["docs"]
        report.kept += r["docs"]
        report.bytes_in += r["bytes_in"]
        report.shards += 1
        report.seconds = time.perf_counter() - t0
        say(
            f"tokenized[{source}]: {report.shards}/{len(tasks)} shards, {report.docs_in:,} docs, "
            f"{sum(tokens.values()):,} tokens"
        )
    say.flush()
    writer.shards = [r["entry"] for r in sorted(results, key=lambda r: r["index"])]
    report.extra = {
        "tokens_train": tokens["train"],
        "tokens_val": tokens["val"],
        "docs_train": docs["train"],
        "docs_val": docs["val"],
        "vocab_size": vocab,
    }
    report.seconds = time.perf_counter() - t0
    writer.commit(summary=report.to_json())
    resume.clear(store, rdir)
    return report
