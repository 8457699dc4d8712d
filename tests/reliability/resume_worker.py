"""Run one partition's work in this process: the victim of the resume tests.

``python -m tests.reliability.resume_worker KIND SPEC_JSON ROOT`` with KIND one of
``stage`` (the ``quality`` stage of source ``a``), ``index`` (the dedup index, 6 partitions)
or ``tokenized`` (token shards of source ``a``). The tests kill it with SIGKILL part-way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from corpus import runner
from corpus.io import CorpusStore
from corpus.spec import PipelineSpec


def run(kind: str, spec: PipelineSpec, store: CorpusStore) -> dict:
    if kind == "stage":
        return runner.run_stage(spec, "quality", "a", store).to_json()
    if kind == "index":
        return runner.run_global_index(spec, "deduped", store, partitions=6)
    if kind == "tokenized":
        return runner.run_tokenized(spec, "a", store).to_json()
    raise SystemExit(f"unknown kind {kind!r}; use stage, index or tokenized")


if __name__ == "__main__":
    spec = PipelineSpec.model_validate_json(Path(sys.argv[2]).read_text())
    print("started", flush=True)
    run(sys.argv[1], spec, CorpusStore(root=sys.argv[3]))
    print("finished", flush=True)
