"""A small real corpus built in-process (pydoc prose, pydoc HTML pages, stdlib code) and a
pipeline spec over it: the fixture of the materialize-level integration tests."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import pydoc
import sysconfig
from pathlib import Path
from pydoc_data.topics import topics
from typing import Any

from corpus.spec import PipelineSpec, parse_spec, validate_spec

TOPICS = sorted(k for k, v in topics.items() if len(v.split()) > 150)[:40]
PAGES = ("json", "csv", "heapq", "bisect", "textwrap", "shlex")
CODE = (
    "abc",
    "bisect",
    "heapq",
    "keyword",
    "colorsys",
    "fnmatch",
    "textwrap",
    "shlex",
    "graphlib",
    "sched",
    "queue",
    "reprlib",
)


def _warc(pages: dict[str, bytes]) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    for url, html in pages.items():
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        rec = w.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(html),
            http_headers=headers,
            warc_headers_dict={
                "WARC-Date": "2024-01-01T00:00:00Z",
                "WARC-Record-ID": f"<urn:uuid:{hashlib.md5(url.encode()).hexdigest()[:12]}"
                "-0000-0000-0000-000000000000>",
            },
        )
        w.write_record(rec)
    return buf.getvalue()


def write_small_corpus(root: Path) -> dict[str, Path]:
    """docs (JSONL, with a planted exact copy of a page's text and PII), pages (WARC), code (JSONL.gz)."""
    docs, pages, code = root / "docs", root / "pages", root / "code"
    for d in (docs, pages, code):
        d.mkdir(parents=True, exist_ok=True)
    recs = [{"text": topics[k], "url": f"pydoc:{k}", "title": k} for k in TOPICS]
    recs[3]["text"] += (
        "\n\nQuestions go to maintainer.person@example.org or call +1 415-555-0142; the mirror is at 93.184.216.34."
    )
    recs.append(dict(recs[5]))  # an exact duplicate inside the source
    (docs / "topics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    html = {}
    for m in PAGES:
        mod = importlib.import_module(m)
        html[f"https://docs.example.org/{m}.html"] = pydoc.HTMLDoc().page(m, pydoc.HTMLDoc().document(mod)).encode()
    html["https://mirror.example.org/json.html"] = html["https://docs.example.org/json.html"]  # cross-URL copy
    (pages / "crawl.warc.gz").write_bytes(_warc(html))
    std = Path(sysconfig.get_paths()["stdlib"])
    lines = [json.dumps({"text": (std / f"{m}.py").read_text(), "url": f"{m}.py"}) + "\n" for m in CODE]
    (code / "stdlib.jsonl.gz").write_bytes(gzip.compress("".join(lines).encode(), mtime=0))
    return {"docs": docs, "pages": pages, "code": code}


def small_spec_dict(root: Path, **overrides: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "pipeline": "small",
        "owners": ["team:data"],
        "sources": [
            {
                "name": "docs",
                "location": str(root / "docs"),
                "format": "jsonl",
                "url_field": "url",
                "title_field": "title",
            },
            {"name": "pages", "location": str(root / "pages"), "format": "warc"},
            {"name": "code", "location": str(root / "code"), "format": "jsonl", "url_field": "url"},
        ],
        "stages": [
            {"name": "extracted", "op": "extract_html@1", "sources": ["pages"]},
            {"name": "normalized", "op": "normalize_text@1", "sources": ["docs", "pages"]},
            {
                "name": "language",
                "op": "language_filter@1",
                "config": {"languages": ["en"]},
                "sources": ["docs", "pages"],
            },
            {
                "name": "quality",
                "steps": [
                    {"op": "gopher_repetition@1"},
                    {"op": "gopher_quality@1", "config": {"max_non_alpha_words_ratio": 0.5}},
                ],
                "sources": ["docs"],
            },
            {"name": "deduped", "op": "dedup_minhash@1"},
            {"name": "redacted", "op": "redact_pii@1"},
        ],
        "tokenizer": {"vocab_size": 400, "sample_docs": 200, "val_min_docs": 2, "val_fraction": 0.1},
        "mixture": {
            "policy": "excess_loss",
            "budget_tokens": 12_000,
            "rounds": 3,
            "proxy": {
                "n_layer": 1,
                "n_head": 2,
                "n_embd": 32,
                "seq_len": 32,
                "batch_size": 8,
                "eval_tokens": 2048,
                "device": "cpu",
            },
        },
        "shard_docs": 16,
    }
    d.update(overrides)
    return d


def small_spec(root: Path, **overrides: Any) -> PipelineSpec:
    spec = parse_spec(small_spec_dict(root, **overrides))
    assert validate_spec(spec) == []
    return spec
