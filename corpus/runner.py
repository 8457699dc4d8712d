"""Run pipeline stages over shards: the compute behind every stage asset.

Dagster-free. A stage of one source is a list of independent *shard tasks* (one
output shard per input shard, same index), so a stage can run serially, on a
process pool or on Ray with identical outputs; the partition is committed with a
manifest after every shard is written (see corpus.io).

Conservation: every input document of a shard is accounted for as kept, dropped
(by reason, written to ``_dropped``) or quarantined (by error, written to
``_quarantine``). The counts travel in :class:`StageReport`, which the Dagster
layer turns into metadata and blocking checks.

This module is the runner's one entry point; the work lives in focused modules:

* :mod:`corpus.stage_report`: reports, output paths, code versions;
* :mod:`corpus.shard_task`: one shard task (apply a stage's operators, write its outputs);
* :mod:`corpus.stage_run`: the raw read and a stage of one source (tasks, resume, commit);
* :mod:`corpus.global_index`: a global stage's index across all sources;
* :mod:`corpus.token_run`: the tokenizer and the token shards;
* :mod:`corpus.executor`: the executor protocol and the in-process executor.
"""

from __future__ import annotations

from corpus.executor import Executor, SerialExecutor
from corpus.global_index import run_global_index, run_global_index_in_process
from corpus.schema import RAW_CAP
from corpus.shard_task import ShardTask, apply_steps, kept_figures, process_shard, schema_problems
from corpus.stage_report import (
    INDEX_SUMMARY,
    PROGRESS_EVERY_S,
    SAMPLE_CHARS,
    SAMPLE_SIZE,
    Progress,
    ShardResult,
    StageReport,
    dropped_dir,
    index_dir,
    quarantine_dir,
    read_report,
    spec_fingerprint,
    stage_code_version,
    stage_dir,
    tokenizer_rel,
)
from corpus.stage_run import run_raw, run_stage
from corpus.token_run import run_tokenized, run_tokenizer

__all__ = [
    "INDEX_SUMMARY",
    "PROGRESS_EVERY_S",
    "RAW_CAP",
    "SAMPLE_CHARS",
    "SAMPLE_SIZE",
    "Executor",
    "Progress",
    "SerialExecutor",
    "ShardResult",
    "ShardTask",
    "StageReport",
    "apply_steps",
    "dropped_dir",
    "index_dir",
    "kept_figures",
    "process_shard",
    "quarantine_dir",
    "read_report",
    "run_global_index",
    "run_global_index_in_process",
    "run_raw",
    "run_stage",
    "run_tokenized",
    "run_tokenizer",
    "schema_problems",
    "spec_fingerprint",
    "stage_code_version",
    "stage_dir",
    "tokenizer_rel",
]
