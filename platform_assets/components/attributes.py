"""The attributes model of a pipeline's ``defs.yaml``, and the scaffolder ``dg scaffold defs`` runs.

:class:`PipelineAttributes` validates exactly as :class:`corpus.spec.PipelineSpec` does; only its
JSON schema (what ``dg check defs`` and editors check a ``defs.yaml`` against) also describes the
one-step shorthand of a stage (``op:`` + ``config:`` in place of ``steps:``), which the spec accepts.

:class:`PipelineScaffolder` writes a starter pipeline: one source, normalize / quality / dedup
stages, validated with the project's own path policy before it is written.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field

from corpus.spec import NAME_RE, PathPolicy, PipelineSpec, SpecError, spec_to_yaml, validate_spec
from corpus.specfile import COMPONENT_TYPE


def with_stage_shorthand(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (a PipelineSpec JSON schema) with a stage given either ``steps`` or ``op`` (+ ``config``)."""
    out = copy.deepcopy(schema)
    defs = out.get("$defs", {})
    stage, step = defs.get("StageSpec"), defs.get("StepSpec")
    if stage is None or step is None:
        raise ValueError("the pipeline schema has no StageSpec/StepSpec definitions; update with_stage_shorthand")
    props = stage.setdefault("properties", {})
    props["op"] = {**step["properties"]["op"], "description": "shorthand for steps: [{op, config}] (one step)"}
    props["config"] = {**step["properties"]["config"], "description": "the config of the one step `op` names"}
    stage["required"] = [r for r in stage.get("required", []) if r != "steps"]
    stage["oneOf"] = [
        {"required": ["steps"], "not": {"anyOf": [{"required": ["op"]}, {"required": ["config"]}]}},
        {"required": ["op"], "not": {"required": ["steps"]}},
    ]
    return out


class PipelineAttributes(PipelineSpec):
    """A pipeline spec, the attributes of ``platform_assets/defs/<pipeline>/defs.yaml``."""

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return with_stage_shorthand(super().model_json_schema(*args, **kwargs))


class PipelineScaffoldParams(BaseModel):
    """What ``dg scaffold defs platform_assets.components.PipelineComponent <name>`` takes."""

    model_config = ConfigDict(extra="forbid")

    location: str | None = Field(
        None, description="the source's folder, relative to the project (default data/sources/<name>)"
    )
    source_format: Literal["jsonl", "parquet", "text", "warc"] = Field(
        "jsonl", description="the source's file format (warc adds an HTML extraction stage)"
    )
    source: str | None = Field(None, description="the source (domain) name (default: the pipeline's name)")


def starter_spec(name: str, params: PipelineScaffoldParams) -> PipelineSpec:
    """A small valid pipeline: one source, (extract ->) normalize -> quality -> dedup."""
    stages: list[dict[str, Any]] = []
    if params.source_format == "warc":
        stages.append({"name": "extracted", "steps": [{"op": "extract_html@1"}]})
    stages += [
        {"name": "normalized", "steps": [{"op": "normalize_text@1"}]},
        {"name": "quality", "steps": [{"op": "gopher_quality@1"}]},
        {"name": "deduped", "steps": [{"op": "dedup_minhash@1"}]},
    ]
    return PipelineSpec.model_validate(
        {
            "pipeline": name,
            "description": f"Pipeline {name}: normalize, filter by quality, remove near-duplicates, tokenize.",
            "sources": [
                {
                    "name": params.source or name,
                    "location": params.location or f"data/sources/{name}",
                    "format": params.source_format,
                }
            ],
            "stages": stages,
        }
    )


def defs_yaml_text(spec: PipelineSpec, header: str) -> str:
    body = "".join(f"  {line}\n" if line else "\n" for line in spec_to_yaml(spec).splitlines())
    return f"# {header}\ntype: {COMPONENT_TYPE}\nattributes:\n{body}"


class PipelineScaffolder(dg.Scaffolder[PipelineScaffoldParams]):
    """Writes ``defs.yaml`` of a starter pipeline named after its folder."""

    @classmethod
    def get_scaffold_params(cls) -> type[PipelineScaffoldParams]:
        return PipelineScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[PipelineScaffoldParams]) -> None:
        target = Path(request.target_path)
        try:
            text = self._defs_text(request, target)
        except ValueError:
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()  # dg made the folder before asking: a failed scaffold leaves nothing behind
            raise
        target.mkdir(parents=True, exist_ok=True)
        (target / "defs.yaml").write_text(text, encoding="utf-8")

    def _defs_text(self, request: dg.ScaffoldRequest[PipelineScaffoldParams], target: Path) -> str:
        name = target.name
        if not NAME_RE.match(name):
            raise ValueError(
                f"{name!r} cannot name a pipeline: use lowercase letters, digits and '_', starting with a letter "
                "(at most 48), e.g. `dg scaffold defs platform_assets.components.PipelineComponent web_text`"
            )
        if (target / "defs.yaml").exists():
            raise ValueError(f"{target / 'defs.yaml'} exists already; choose another name or edit that file")
        params = request.params if isinstance(request.params, PipelineScaffoldParams) else PipelineScaffoldParams()
        try:
            spec = starter_spec(name, params)
        except SpecError as exc:
            raise ValueError(f"the scaffold parameters do not make a valid pipeline: {exc}") from exc
        project_root = Path(request.project_root) if request.project_root else target.parents[2]
        issues = validate_spec(spec, PathPolicy.default(project_root))
        if issues:
            raise ValueError(
                "the scaffolded pipeline would not load: " + "; ".join(f"{i.field}: {i.message}" for i in issues)
            )
        header = (
            f"Pipeline {name!r}, scaffolded: point sources[0].location at your data, then "
            "`dg check defs` (operators: corpus/ops/registry.py)"
        )
        return defs_yaml_text(spec, header)
