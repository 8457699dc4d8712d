"""PipelineSpec: the contract between the agent, the reviewer and Dagster.

A spec is plain data (YAML in ``platform_assets/defs/<pipeline>/defs.yaml``). It is
validated in two layers, and every problem names the field it is about:

1. structure (:mod:`corpus.spec_model`, pydantic, ``extra="forbid"``): every string has an
   allowed type (:mod:`corpus.spec_types`: names, operator references, record fields, globs,
   locations, owners, words) or is prose (bounded free text); numbers are bounded;
2. meaning (:mod:`corpus.spec_validate`): operators exist and their configs pass the operator's
   own schema, stage inputs exist, no cycles (:mod:`corpus.stage_graph`), no duplicate asset
   names, locations stay inside the allowed roots (:mod:`corpus.spec_paths`, symlinks resolved).

Nothing in a spec is ever executed or templated: strings are names, paths and prose. Reading a
spec file as untrusted input (size, YAML aliases, the defs.yaml envelope) is :mod:`corpus.specfile`.
This module gathers the public names in one place.
"""

from __future__ import annotations

import yaml

from corpus.spec_errors import SpecError, SpecIssue
from corpus.spec_model import (
    MAX_TOKENS,
    MixtureSpec,
    OpRef,
    PipelineSpec,
    ProxySpec,
    ScheduleSpec,
    SelectionSpec,
    SourceSpec,
    StageSpec,
    StepSpec,
    TargetSpec,
    TokenizerSpec,
)
from corpus.spec_parse import MAX_DEPTH, MAX_VALUES, check_bounds, parse_spec
from corpus.spec_paths import PathPolicy, allowed_roots_from_env
from corpus.spec_types import (
    NAME_RE,
    FieldName,
    FreeText,
    Glob,
    Location,
    Name,
    Owner,
    Prose,
    Word,
    check_name,
    check_owner,
    check_prose,
)
from corpus.spec_validate import RESERVED_NAMES, load_spec, validate_spec
from corpus.specfile import load_spec_file

check_text = check_prose  # the former name: free text checked as prose (no denylist)

__all__ = [
    "MAX_DEPTH",
    "MAX_TOKENS",
    "MAX_VALUES",
    "NAME_RE",
    "RESERVED_NAMES",
    "FieldName",
    "FreeText",
    "Glob",
    "Location",
    "MixtureSpec",
    "Name",
    "OpRef",
    "Owner",
    "PathPolicy",
    "PipelineSpec",
    "Prose",
    "ProxySpec",
    "ScheduleSpec",
    "SelectionSpec",
    "SourceSpec",
    "SpecError",
    "SpecIssue",
    "StageSpec",
    "StepSpec",
    "TargetSpec",
    "TokenizerSpec",
    "Word",
    "allowed_roots_from_env",
    "check_bounds",
    "check_name",
    "check_owner",
    "check_prose",
    "check_text",
    "load_spec",
    "load_spec_file",
    "parse_spec",
    "spec_to_yaml",
    "validate_spec",
]


def spec_to_yaml(spec: PipelineSpec) -> str:
    return yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False, allow_unicode=True)
