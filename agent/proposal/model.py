"""The proposal a reviewer reads: goal, spec, rationale, profiles and dry run, secrets scrubbed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.dryrun import DryRunResult
from agent.secrets import scrub
from agent.tool_io import ToolCall
from corpus.spec import PipelineSpec

DEFS_DIR = "platform_assets/defs"
BRANCH_PREFIX = "proposal/"


class ProposalError(RuntimeError):
    """The proposal could not be written, committed or published; the message says why and what to do."""


@dataclass
class Proposal:
    """Everything a reviewer needs: goal, spec, rationale, profiles, dry run, who planned it."""

    goal: str
    spec: PipelineSpec
    rationale: str
    profiles: dict[str, dict[str, Any]]
    dry_run: DryRunResult
    planner: str
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def pipeline(self) -> str:
        return self.spec.pipeline

    @property
    def branch(self) -> str:
        return f"{BRANCH_PREFIX}{self.spec.pipeline}"

    @property
    def folder(self) -> str:
        return f"{DEFS_DIR}/{self.spec.pipeline}"


def proposal_from_toolbox(goal: str, toolbox: Any, planner: str) -> Proposal:
    """The submitted proposal of a session, with a profile for every source of its spec."""
    from agent.profile import profile_sample
    from agent.sources import read_sample, source_files

    sub = toolbox.submitted
    if sub is None:
        raise ProposalError("no proposal was submitted")
    profiles: dict[str, dict[str, Any]] = {}
    for src in sub.spec.sources:
        known = toolbox.profiles.get(src.name)
        if known is not None and known.get("source", {}).get("location") == src.location:
            profiles[src.name] = known
            continue
        sample = read_sample(src, toolbox.policy, toolbox.limits.profile_docs, max_bytes=toolbox.limits.read_max_bytes)
        profiles[src.name] = profile_sample(sample, toolbox.limits.profile_max_bytes)
        profiles[src.name]["files"] = len(source_files(src, toolbox.policy))
    return Proposal(
        scrub(goal), scrub_spec(sub.spec), scrub(sub.rationale), profiles, sub.dry_run, planner, list(toolbox.calls)
    )


def scrub_spec(spec: PipelineSpec) -> PipelineSpec:
    """``spec`` with any secret in its strings replaced by ``[redacted]`` (still a valid spec string)."""
    text = spec.model_dump_json()
    clean = scrub(text)
    return spec if clean == text else PipelineSpec.model_validate_json(clean)
