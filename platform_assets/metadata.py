"""Stage reports -> Dagster metadata and asset-check results (what the UI shows)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import dagster as dg

from corpus import schema as doc_schema
from corpus.io import CorpusStore
from corpus.runner import StageReport
from platform_assets.run_outcome import empty_description

CHECK_CONSERVATION = "conservation"
CHECK_NON_EMPTY = "non_empty"
CHECK_SCHEMA = "schema"

CHECK_DESCRIPTIONS = {
    CHECK_CONSERVATION: "Every input document is accounted for: "
    "in = kept + dropped (by reason) + quarantined (by error).",
    CHECK_NON_EMPTY: "The stage kept at least one document for this source.",
    CHECK_SCHEMA: "Kept documents have the document schema (id, text, source, provenance columns with their types), "
    "unique ids and no null text.",
}


def stage_check_specs(key: dg.AssetKey, *, stage_label: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name=name, asset=key, blocking=True, description=f"{desc} ({stage_label})")
        for name, desc in CHECK_DESCRIPTIONS.items()
    ]


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def md_escape(value: Any) -> str:
    """``value`` as literal Markdown text on one line: every Markdown character backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def md_verbatim(text: Any) -> str:
    """``text`` as a fenced code block: shown verbatim, newlines and indentation kept, nothing interpreted.

    The fence is longer than any run of backticks inside the text, so no content can close it."""
    body = str(text).replace("\r\n", "\n").replace("\r", "\n")
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def _doc_block(title: str, fields: list[tuple[str, Any]], text: Any) -> str:
    shown = [f"{name} {md_escape(value)}" for name, value in fields if value not in (None, "")]
    return f"**{title}**: " + " · ".join(shown) + "\n\n" + md_verbatim(text if text is not None else "")


def sample_markdown(report: StageReport) -> str:
    """Kept, dropped and quarantined examples; each document's text verbatim in its own code block."""
    parts = []
    if report.sample_kept:
        parts.append("### Kept")
        parts += [_doc_block("kept", [("id", (r.get("id") or "")[:12])], r.get("text", "")) for r in report.sample_kept]
    if report.sample_dropped:
        parts.append("### Dropped")
        parts += [
            _doc_block(
                "dropped",
                [
                    ("reason", r.get("drop_reason")),
                    ("id", (r.get("id") or "")[:12]),
                    ("duplicate of", (r.get("duplicate_of") or "")[:12]),
                ],
                r.get("text", ""),
            )
            for r in report.sample_dropped
        ]
    if report.sample_quarantined:
        parts.append("### Quarantined")
        parts += [
            _doc_block(
                "quarantined",
                [("file", r.get("file")), ("offset", r.get("offset")), ("error", r.get("error"))],
                r.get("raw", ""),
            )
            for r in report.sample_quarantined
        ]
    return "\n\n".join(parts) or "_no documents_"


def drop_table(report: StageReport) -> dg.TableMetadataValue:
    records = [
        dg.TableRecord({"outcome": "kept", "reason": "", "documents": report.kept}),
        *[
            dg.TableRecord({"outcome": "dropped", "reason": r, "documents": n})
            for r, n in sorted(report.dropped.items(), key=lambda x: -x[1])
        ],
        *[
            dg.TableRecord({"outcome": "quarantined", "reason": r, "documents": n})
            for r, n in sorted(report.quarantined.items(), key=lambda x: -x[1])
        ],
    ]
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("outcome", "string"),
            dg.TableColumn("reason", "string"),
            dg.TableColumn("documents", "int"),
        ]
    )
    return dg.MetadataValue.table(records=records, schema=schema)


def report_metadata(report: StageReport, *, location: str | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {
        "dagster/row_count": report.kept,
        "docs_in": report.docs_in,
        "docs_kept": report.kept,
        "docs_dropped": report.dropped_total,
        "docs_quarantined": report.quarantined_total,
        "kept_fraction": round(report.kept / report.docs_in, 4) if report.docs_in else 0.0,
        "bytes_in": report.bytes_in,
        "bytes_out": report.bytes_out,
        "shards": report.shards,
        "seconds": round(report.seconds, 3),
        "docs_per_second": round(report.docs_per_second, 1),
        "outcomes": drop_table(report),
        "sample": dg.MetadataValue.md(sample_markdown(report)),
    }
    if report.passthrough:
        md["passthrough"] = dg.MetadataValue.text(
            "this stage does not apply to this source (spec: stage.sources); documents pass through"
        )
    for reason, n in report.dropped.items():
        md[f"dropped/{reason}"] = n
    for key, value in report.extra.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, float):
            md[key] = round(value, 4)
        elif isinstance(value, int):
            md[key] = value
        elif isinstance(value, (dict, list)):
            md[key] = dg.MetadataValue.json(value)
    if location:
        md["location"] = dg.MetadataValue.path(location)
    return md


COLUMN_DESCRIPTIONS = {
    "id": "stable content hash of provenance and text (hex)",
    "text": "the document text",
    "source": "the source (= domain) name; the partition key",
    "url": "where the document came from, when known",
    "title": "document title, when known",
    "file": "provenance: the file the record came from, relative to the source location",
    "offset": "provenance: record index inside that file (line, row or WARC record)",
    "content_type": "text/plain, text/html, text/x-python, ...",
    "language": "language code from the language filter",
    "language_score": "confidence of the language code",
    "tokens": "token ids of the document (BPE)",
    "n_tokens": "number of tokens",
    "split": "train or val (the fixed validation split)",
}
# columns of the token shards and the document columns they come from
TOKEN_LINEAGE = {"id": ["id"], "source": ["source"], "tokens": ["text"], "n_tokens": ["text"], "split": ["id"]}


def stage_description(spec: Any, index: int) -> str:
    """What a stage does, for a reader: its input, the sources it applies to, one line per operator."""
    from corpus.ops import registry
    from corpus.stage_graph import stage_graph

    stage = spec.stages[index]
    lines = [
        md_escape(stage.description)
        if stage.description
        else f"Stage {stage.name!r} of {spec.pipeline!r}: reads {stage_graph(spec).input_of(stage.name)!r} and runs "
        + ("one operator" if len(stage.steps) == 1 else f"{len(stage.steps)} operators in order")
        + " on each source's documents."
    ]
    if stage.sources:
        others = [s for s in spec.source_names if s not in stage.sources]
        verb = "passes" if len(others) == 1 else "pass"
        lines.append(
            f"Applies to {', '.join(stage.sources)}"
            + (f"; {', '.join(others)} {verb} through unchanged." if others else ".")
        )
    lines.append("")
    for n, step in enumerate(stage.steps, 1):
        op = registry.get_operator(step.op)
        config = md_escape(", ".join(f"{k}={v}" for k, v in step.config.items()))
        lines.append(f"{n}. `{op.key}`" + (f" ({config})" if config else "") + f": {op.description}")
    lines.append("")
    lines.append("Dropped documents are kept aside with their reason; the checks account for every input document.")
    return "\n".join(lines)


def column_schema(columns: list[tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name, type_, description=COLUMN_DESCRIPTIONS.get(name)) for name, type_ in columns]
    )


def document_column_schema() -> dg.TableSchema:
    """The columns every stage's kept documents have (the document schema)."""
    return column_schema([(name, str(dtype).lower()) for name, dtype in doc_schema.CORE.items()])


def columns_metadata(
    store: CorpusStore, rel_dir: str, upstream: dg.AssetKey | None, lineage: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """``dagster/column_schema`` of the partition's shards as written, and ``dagster/column_lineage``
    to ``upstream`` (same-named columns, or ``lineage``: column -> upstream columns)."""
    shards = store.shard_paths(rel_dir)
    if not shards:
        return {}
    arrow = store.read_schema(shards[0])
    columns = [(f.name, str(f.type)) for f in arrow if not f.name.startswith("_")]
    md: dict[str, Any] = {"dagster/column_schema": column_schema(columns)}
    if upstream is not None:
        deps = {
            name: [dg.TableColumnDep(asset_key=upstream, column_name=c) for c in (lineage or {}).get(name, [name])]
            for name, _ in columns
        }
        md["dagster/column_lineage"] = dg.TableColumnLineage(deps_by_column=deps)
    return md


def content_version(store: CorpusStore, rel_dir: str) -> dg.DataVersion:
    """The data version of a partition: a digest of its committed shards' contents, so an
    unchanged re-run keeps the version and automation does not rebuild what depends on it."""
    return dg.DataVersion(store.content_digest(rel_dir))


def global_version(store: CorpusStore, own: list[str], input_dirs: list[str]) -> dg.DataVersion:
    """The data version of a global asset (dedup index, tokenizer): a digest of its own content
    (``own``: file paths or digests) and of every input partition it was built from.

    The per-source assets that read it (``deduped``, ``tokenized``) follow only its updates, so
    its version must change whenever one of their per-source inputs changed, even where its
    own content did not (a new document that duplicates nothing)."""
    digest = hashlib.sha256()
    for part in own:
        digest.update(part.encode() + b"\0")
        if "/" in part:
            digest.update(hashlib.sha256(store.read_bytes(part)).digest())
    for rel in input_dirs:
        digest.update(rel.encode() + b"\0" + store.content_digest(rel).encode())
    return dg.DataVersion(digest.hexdigest()[:24])


def report_checks(report: StageReport, key: dg.AssetKey) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name=CHECK_CONSERVATION,
            asset_key=key,
            passed=report.conserved,
            metadata={
                "docs_in": report.docs_in,
                "kept": report.kept,
                "dropped": report.dropped_total,
                "quarantined": report.quarantined_total,
                "unaccounted": report.docs_in - report.kept - report.dropped_total - report.quarantined_total,
            },
            description=(
                f"{report.docs_in:,} in = {report.kept:,} kept + {report.dropped_total:,} dropped + "
                f"{report.quarantined_total:,} quarantined"
                if report.conserved
                else f"documents were lost or invented: {report.docs_in:,} in, but {report.kept:,} kept + "
                f"{report.dropped_total:,} dropped + {report.quarantined_total:,} quarantined"
            ),
        ),
        dg.AssetCheckResult(
            check_name=CHECK_NON_EMPTY,
            asset_key=key,
            passed=report.kept > 0,
            metadata={"kept": report.kept, "docs_in": report.docs_in},
            description=f"{report.kept:,} of {report.docs_in:,} documents kept"
            if report.kept > 0
            else empty_description(report),
        ),
        dg.AssetCheckResult(
            check_name=CHECK_SCHEMA,
            asset_key=key,
            passed=not report.schema_problems,
            metadata={"problems": dg.MetadataValue.json(report.schema_problems)},
            description="; ".join(report.schema_problems) or "document schema, unique ids, no null text",
        ),
    ]


def selection_metadata(info: dict[str, Any]) -> dict[str, Any]:
    """Metadata of a model-based selection index: held-out figures, score histogram, examples per band."""
    md: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            md[f"selection/{key}"] = float(value) if isinstance(value, float) else value
        elif isinstance(value, str):
            md[f"selection/{key}"] = dg.MetadataValue.text(value)
    hist = info.get("histogram")
    if isinstance(hist, dict) and hist.get("edges"):
        edges = hist["edges"]
        rows = [
            dg.TableRecord(
                {
                    "band": f"{edges[i]:.1f}-{edges[i + 1]:.1f}",
                    "positives": int(hist["positives"][i]),
                    "negatives": int(hist["negatives"][i]),
                }
            )
            for i in range(len(edges) - 1)
        ]
        md["score_histogram"] = dg.MetadataValue.table(
            rows,
            schema=dg.TableSchema(
                columns=[
                    dg.TableColumn("band", "string"),
                    dg.TableColumn("positives", "int"),
                    dg.TableColumn("negatives", "int"),
                ]
            ),
        )
        top = max([1, *hist["positives"], *hist["negatives"]])
        chart = ["Held-out scores (positives P, negatives N):", "```"]
        for i in range(len(edges) - 1):
            p, n = int(hist["positives"][i]), int(hist["negatives"][i])
            chart.append(f"{edges[i]:.1f}-{edges[i + 1]:.1f} P {'#' * round(30 * p / top):<30} {p:>6}")
            chart.append(f"{'':7} N {'=' * round(30 * n / top):<30} {n:>6}")
        md["score_histogram_chart"] = dg.MetadataValue.md("\n".join([*chart, "```"]))
    examples = info.get("examples")
    if isinstance(examples, dict) and examples:
        lines = ["| score band | held-out example |", "|---|---|"]
        for band, texts in examples.items():
            for t in texts:
                lines.append(f"| {band} | {str(t).replace('|', '/').replace(chr(10), ' ')[:200]} |")
        md["examples_by_band"] = dg.MetadataValue.md("\n".join(lines))
    for key in ("bands", "reference_loss_quantiles"):
        if key in info:
            md[f"selection/{key}"] = dg.MetadataValue.json(info[key])
    return md
