"""Checking a spec as the PipelineComponent will: structure, meaning and, optionally, the Dagster build."""

from __future__ import annotations

from typing import Any

from corpus.spec import PathPolicy, PipelineSpec, SpecError, SpecIssue, parse_spec, validate_spec
from corpus.specfile import defs_attributes, is_defs_document


def spec_attributes(data: Any) -> Any:
    """The spec inside a defs.yaml-shaped object (``type`` + ``attributes``), or the object itself."""
    if isinstance(data, dict) and "attributes" in data and "type" in data:
        return data["attributes"]
    return data


def check_spec(data: Any, policy: PathPolicy, *, build: bool = True) -> tuple[PipelineSpec | None, list[SpecIssue]]:
    """Every problem the PipelineComponent would raise for ``data``, field by field.

    Structure (pydantic), meaning (operators, configs, inputs, cycles, duplicate names,
    locations under the policy) and, when those pass, building the Dagster assets.
    """
    try:
        if is_defs_document(data):  # a whole defs.yaml: its envelope is checked as the loaders check it
            data = defs_attributes(data, "defs.yaml")
        spec = parse_spec(data)
    except SpecError as exc:
        return None, list(exc.issues)
    issues = validate_spec(spec, policy)
    if issues:
        return spec, issues
    if build:
        try:
            from platform_assets.components.pipeline import build_pipeline_defs

            build_pipeline_defs(spec)
        except Exception as exc:
            return spec, [
                SpecIssue("(definitions)", f"building the Dagster assets failed: {type(exc).__name__}: {exc}")
            ]
    return spec, []


def issues_json(issues: list[SpecIssue]) -> list[dict[str, str]]:
    return [{"field": i.field, "message": i.message} for i in issues]
