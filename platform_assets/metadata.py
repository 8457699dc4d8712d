"""Stage reports -> Dagster metadata and asset-check results (what the UI shows)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from corpus.runner import StageReport
from platform_assets.run_outcome import empty_description

CHECK_CONSERVATION = "conservation"
CHECK_NON_EMPTY = "non_empty"
CHECK_SCHEMA = "schema"

CHECK_DESCRIPTIONS = {
    CHECK_CONSERVATION: "Every input document is accounted for: in = kept + dropped (by reason) + quarantined (by error).",
    CHECK_NON_EMPTY: "The stage kept at least one document for this source.",
    CHECK_SCHEMA: "Kept documents have the document schema (id, text, source, provenance columns with their types), unique ids and no null text.",
}


def stage_check_specs(key: dg.AssetKey, *, stage_label: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name=name, asset=key, blocking=True, description=f"{desc} ({stage_label})")
        for name, desc in CHECK_DESCRIPTIONS.items()
    ]


def _md_escape(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def sample_markdown(report: StageReport) -> str:
    parts = []
    if report.sample_kept:
        parts.append("**Kept**\n\n| id | text |\n|---|---|")
        parts += [f"| `{r.get('id', '')[:12]}` | {_md_escape(r.get('text', ''))} |" for r in report.sample_kept]
    if report.sample_dropped:
        parts.append("\n**Dropped**\n\n| reason | id | duplicate of | text |\n|---|---|---|---|")
        parts += [
            f"| `{r.get('drop_reason')}` | `{(r.get('id') or '')[:12]}` | `{(r.get('duplicate_of') or '')[:12]}` | {_md_escape(r.get('text', ''))} |"
            for r in report.sample_dropped
        ]
    if report.sample_quarantined:
        parts.append("\n**Quarantined**\n\n| file | offset | error |\n|---|---|---|")
        parts += [f"| {_md_escape(r.get('file'))} | {r.get('offset')} | {_md_escape(r.get('error'))} |" for r in report.sample_quarantined]
    return "\n".join(parts) or "_no documents_"


def drop_table(report: StageReport) -> dg.TableMetadataValue:
    records = [
        dg.TableRecord({"outcome": "kept", "reason": "", "documents": report.kept}),
        *[dg.TableRecord({"outcome": "dropped", "reason": r, "documents": n}) for r, n in sorted(report.dropped.items(), key=lambda x: -x[1])],
        *[dg.TableRecord({"outcome": "quarantined", "reason": r, "documents": n}) for r, n in sorted(report.quarantined.items(), key=lambda x: -x[1])],
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
        "kept_fraction": float(report.kept / report.docs_in) if report.docs_in else 0.0,
        "bytes_in": report.bytes_in,
        "bytes_out": report.bytes_out,
        "shards": report.shards,
        "seconds": round(report.seconds, 3),
        "docs_per_second": round(report.docs_per_second, 1),
        "outcomes": drop_table(report),
        "sample": dg.MetadataValue.md(sample_markdown(report)),
    }
    if report.passthrough:
        md["passthrough"] = dg.MetadataValue.text("this stage does not apply to this source (spec: stage.sources); documents pass through")
    for reason, n in report.dropped.items():
        md[f"dropped/{reason}"] = n
    for key, value in report.extra.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            md[key] = value
        elif isinstance(value, dict):
            md[key] = dg.MetadataValue.json(value)
        elif isinstance(value, list):
            md[key] = dg.MetadataValue.json(value)
    if location:
        md["location"] = dg.MetadataValue.path(location)
    return md


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
                f"{report.docs_in:,} in = {report.kept:,} kept + {report.dropped_total:,} dropped + {report.quarantined_total:,} quarantined"
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
            dg.TableRecord({"band": f"{edges[i]:.1f}-{edges[i + 1]:.1f}", "positives": int(hist["positives"][i]),
                            "negatives": int(hist["negatives"][i])})
            for i in range(len(edges) - 1)
        ]
        md["score_histogram"] = dg.MetadataValue.table(
            rows,
            schema=dg.TableSchema(columns=[dg.TableColumn("band", "string"), dg.TableColumn("positives", "int"),
                                           dg.TableColumn("negatives", "int")]),
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
