"""A reviewable snapshot of a pipeline's asset graph, and the difference between two snapshots.

The snapshot is built from the very definitions Dagster loads (``build_pipeline_defs``), so
what a reviewer reads is what will run: asset keys, their dependencies, partitions, code
versions (operator versions + a hash of their configs, so a changed threshold shows) and
asset checks. A proposal's PROPOSAL.md and ``python -m agent review`` show the difference
against the base branch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg

from corpus.spec import PipelineSpec

FIELDS = ("deps", "partitions", "code_version", "checks")


def _partitions(pdef: Any) -> str | None:
    if pdef is None:
        return None
    if isinstance(pdef, dg.StaticPartitionsDefinition):
        return "static[" + ", ".join(pdef.get_partition_keys()) + "]"
    if isinstance(pdef, dg.DynamicPartitionsDefinition):
        return f"dynamic[{pdef.name}]"
    return type(pdef).__name__


def defs_snapshot(defs: dg.Definitions) -> dict[str, dict[str, Any]]:
    """``{asset key: {deps, partitions, code_version, checks, group}}`` of resolved definitions."""
    from platform_assets.resources import default_resources

    # resources only satisfy the assets' requirements so the graph resolves; nothing is run or read
    graph = dg.Definitions.merge(defs, dg.Definitions(resources=default_resources())).resolve_asset_graph()
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        out[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "code_version": node.code_version,
            "checks": sorted(c.name for c in node.check_keys),
            "group": node.group_name,
        }
    return out


def asset_graph_snapshot(spec: PipelineSpec | Iterable[PipelineSpec]) -> dict[str, dict[str, Any]]:
    """The snapshot of one pipeline (or several: their assets never share keys)."""
    from platform_assets.components.pipeline import build_pipeline_defs

    specs = [spec] if isinstance(spec, PipelineSpec) else list(spec)
    if not specs:
        return {}
    return defs_snapshot(dg.Definitions.merge(*[build_pipeline_defs(s) for s in specs]))


def graph_diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{added: [keys], removed: [keys], changed: {key: {field: {old, new}}}}`` between two snapshots."""
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed: dict[str, dict[str, dict[str, Any]]] = {}
    for key in sorted(set(old) & set(new)):
        fields = {
            f: {"old": old[key].get(f), "new": new[key].get(f)} for f in FIELDS if old[key].get(f) != new[key].get(f)
        }
        if fields:
            changed[key] = fields
    return {"added": added, "removed": removed, "changed": changed}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value) if value else "-"
    return f"`{value}`"


def render_graph_diff_markdown(
    diff: dict[str, Any], new: dict[str, dict[str, Any]] | None = None, old: dict[str, dict[str, Any]] | None = None
) -> str:
    """The difference as markdown: added assets (with deps, partitions, code version), removed, changed fields."""
    if not (diff["added"] or diff["removed"] or diff["changed"]):
        return "No change to the asset graph.\n"
    lines: list[str] = []
    if diff["added"]:
        lines += [
            f"**Added** ({len(diff['added'])} assets)",
            "",
            "| asset | depends on | partitions | code version | checks |",
            "|---|---|---|---|---|",
        ]
        for key in diff["added"]:
            node = (new or {}).get(key, {})
            lines.append(
                f"| `{key}` | {_fmt(node.get('deps'))} | {_fmt(node.get('partitions'))} | "
                f"{_fmt(node.get('code_version'))} | {_fmt(node.get('checks'))} |"
            )
        lines.append("")
    if diff["removed"]:
        lines += [f"**Removed** ({len(diff['removed'])} assets)", ""]
        for key in diff["removed"]:
            node = (old or {}).get(key, {})
            lines.append(f"- `{key}`" + (f" (depended on {_fmt(node.get('deps'))})" if node.get("deps") else ""))
        lines.append("")
    if diff["changed"]:
        lines += [
            f"**Changed** ({len(diff['changed'])} assets)",
            "",
            "| asset | field | base | proposed |",
            "|---|---|---|---|",
        ]
        for key, fields in diff["changed"].items():
            for f, values in fields.items():
                lines.append(f"| `{key}` | {f} | {_fmt(values['old'])} | {_fmt(values['new'])} |")
        lines.append("")
    return "\n".join(lines)
