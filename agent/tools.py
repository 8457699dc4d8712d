"""The agent's tools: pydantic inputs (their JSON schema is what the model sees), one dispatch table.

Every tool reads; none writes the repository. The one exception to "reads only" is
``dry_run``, which writes into a temporary store it deletes afterwards. The hand-off of a
finished proposal, ``submit_proposal``, only records the proposal on the toolbox: the
branch, commit and pull request are made afterwards by deterministic code
(:mod:`agent.proposal`), outside the model's reach. Inputs, limits and results are in
:mod:`agent.tool_io`, spec checking in :mod:`agent.spec_check`; both are re-exported here.

A tool failure never raises out of :meth:`Toolbox.call`: it comes back as an ``is_error``
result whose text says what was wrong and how to fix it, so the model can recover. Results
that carry text from the data (documents, file names, example drops) are marked
*untrusted* and wrapped so the model is told they are data, never instructions.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.dryrun import DryRunResult, dry_run
from agent.profile import profile_sample
from agent.secrets import scrub
from agent.sources import SourceError, check_location, describe_location, guess_source, read_sample, source_files
from agent.spec_check import check_spec, issues_json
from agent.tool_io import (
    DescribeOperatorInput,
    DryRunInput,
    ListOperatorsInput,
    ListSourcesInput,
    ProfileSourceInput,
    SampleDocumentsInput,
    SubmitProposalInput,
    SubmittedProposal,
    Tool,
    ToolCall,
    ToolError,
    ToolLimits,
    ToolResult,
    ValidateSpecInput,
    short_args,
    summarize,
)
from corpus.ops import registry
from corpus.spec import PathPolicy, PipelineSpec, SourceSpec, SpecError

__all__ = ["SubmittedProposal", "ToolCall", "ToolError", "ToolLimits", "ToolResult", "Toolbox", "check_spec"]

# --- the toolbox -------------------------------------------------------------------------------


@dataclass
class Toolbox:
    """The tools of one proposal session, bound to a project, its path policy and the given sources."""

    project_root: Path
    locations: list[str] = field(default_factory=list)  # the sources the user named
    limits: ToolLimits = field(default_factory=ToolLimits)
    policy: PathPolicy | None = None
    progress: Callable[[str], None] | None = None
    sources: dict[str, SourceSpec] = field(default_factory=dict)  # guessed from `locations`, by name
    source_errors: dict[str, str] = field(default_factory=dict)  # location -> why it cannot be read
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # source name -> last profile
    calls: list[ToolCall] = field(default_factory=list)
    submitted: SubmittedProposal | None = None
    last_dry_run: DryRunResult | None = None
    _last_dry_key: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        self.project_root = Path(self.project_root).resolve()
        if self.policy is None:
            self.policy = PathPolicy.default(self.project_root)
        for loc in self.locations:
            try:
                spec = guess_source(loc, self.policy)
            except SourceError as exc:
                self.source_errors[loc] = str(exc)
                continue
            name, i = spec.name, 2
            while name in self.sources:
                name, i = f"{spec.name[:44]}_{i}", i + 1
            self.sources[name] = spec.model_copy(update={"name": name})
        self.table: dict[str, Tool] = {t.name: t for t in self._tools()}

    # -- the table -------------------------------------------------------------
    def _tools(self) -> list[Tool]:
        return [
            Tool(
                "list_sources",
                "List the data sources given for this proposal (with the reading options guessed for "
                "each: format, text field, split) and the folders under the allowed roots.",
                ListSourcesInput,
                self.list_sources,
                untrusted=True,
            ),
            Tool(
                "sample_documents",
                "Return n documents drawn over a source as the raw stage reads them (text cut to max_chars).",
                SampleDocumentsInput,
                self.sample_documents,
                untrusted=True,
            ),
            Tool(
                "profile_source",
                "Profile a source from a sample: format, size, content types, share of HTML, "
                "length quantiles, language distribution (language_filter@1), exact and near duplicate rate "
                "(dedup ops), PII hits (redact_pii@1) and the share of documents each quality filter would drop "
                "(by reason and by language).",
                ProfileSourceInput,
                self.profile_source,
                untrusted=True,
            ),
            Tool(
                "list_operators",
                "List every registered operator: versioned name, kind (map, filter, global), tags and description.",
                ListOperatorsInput,
                self.list_operators,
            ),
            Tool(
                "describe_operator",
                "Describe one operator: config JSON schema, defaults, drop reasons and the columns it adds.",
                DescribeOperatorInput,
                self.describe_operator,
            ),
            Tool(
                "validate_spec",
                "Validate a pipeline spec exactly as the pipeline component will when it is "
                "loaded; returns every problem by field.",
                ValidateSpecInput,
                self.validate_spec,
            ),
            Tool(
                "dry_run",
                "Run a valid spec on n documents drawn over each source in a temporary store: "
                "documents in and kept per stage and source, drop reasons, duplicates found and example drops.",
                DryRunInput,
                self.dry_run,
                untrusted=True,
            ),
            Tool(
                "submit_proposal",
                "Submit the final spec and its rationale for review by a person. The spec is "
                "validated and dry-run first; an error says what to fix. Success ends the session.",
                SubmitProposalInput,
                self.submit_proposal,
            ),
        ]

    def definitions(self) -> list[dict[str, Any]]:
        return [t.definition() for t in self.table.values()]

    @property
    def tool_names(self) -> list[str]:
        return list(self.table)

    # -- dispatch --------------------------------------------------------------
    def call(self, name: str, arguments: Any) -> ToolResult:
        """Run one tool. Never raises for a bad name, bad arguments or a failing tool."""
        t0 = time.perf_counter()
        tool = self.table.get(name)
        if tool is None:
            result = ToolResult(
                f"unknown tool {name!r}; the tools are: {', '.join(self.table)}. No tool writes files, runs "
                "commands or pushes branches: a proposal is handed over with submit_proposal.",
                is_error=True,
            )
        else:
            result = self._run(tool, arguments)
        summary = summarize(result)
        args = arguments if isinstance(arguments, dict) else {"(arguments)": arguments}
        self.calls.append(ToolCall(name, args, result.is_error, summary, time.perf_counter() - t0))
        if self.progress is not None:
            status = "error" if result.is_error else "ok"
            self.progress(scrub(f"{name}({short_args(args)}) -> {status}: {summary} ({time.perf_counter() - t0:.1f}s)"))
        return result

    def _run(self, tool: Tool, arguments: Any) -> ToolResult:
        try:
            parsed = tool.input_model.model_validate(arguments if arguments is not None else {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors()
            )
            return ToolResult(
                f"invalid arguments for {tool.name}: {problems}. Expected schema: "
                f"{json.dumps(tool.definition()['input_schema'])}",
                is_error=True,
            )
        try:
            return ToolResult(tool.handler(parsed), untrusted=tool.untrusted)
        except ToolError as exc:
            return ToolResult(str(exc), is_error=True)
        except (SourceError, SpecError, FileNotFoundError, registry.UnknownOperatorError) as exc:
            return ToolResult(str(exc), is_error=True)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            return ToolResult(
                f"{tool.name} failed: {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})",
                is_error=True,
            )

    # -- sources ---------------------------------------------------------------
    def resolve_source(self, ref: str) -> SourceSpec:
        """A source by name (given sources) or by location (checked by the path policy)."""
        if ref in self.sources:
            return self.sources[ref]
        assert self.policy is not None
        try:
            return guess_source(ref, self.policy)
        except SourceError as exc:
            known = ", ".join(self.sources) or "none"
            raise ToolError(f"{exc} (given sources: {known})") from None

    def list_sources(self, _: ListSourcesInput) -> dict[str, Any]:
        assert self.policy is not None
        given = []
        for name, spec in self.sources.items():
            entry = {"name": name, "spec": spec.model_dump(mode="json", exclude_defaults=True)}
            try:
                entry.update(describe_location(check_location(spec.location, self.policy)))
            except SourceError as exc:
                entry["error"] = str(exc)
            given.append(entry)
        roots = []
        for root in self.policy.allowed_roots:
            if not root.is_dir():
                continue
            entries = []
            for child in sorted(root.iterdir())[:40]:
                if child.name.startswith("."):
                    continue
                rel = Path(_relpath(child, self.policy.project_root)).as_posix()
                entries.append(rel + ("/" if child.is_dir() else ""))
            roots.append({"root": Path(_relpath(root, self.policy.project_root)).as_posix(), "entries": entries})
        return {
            "given_sources": given,
            "unreadable_given_locations": self.source_errors,
            "allowed_roots": roots,
            "s3": (
                f"s3:// locations under {', '.join(self.policy.allowed_s3)} are allowed; pass them as a source location"
                if self.policy.allowed_s3
                else "no s3:// location is allowed (CORPUS_ALLOWED_ROOTS lists none)"
            ),
        }

    def sample_documents(self, args: SampleDocumentsInput) -> dict[str, Any]:
        assert self.policy is not None
        src = self.resolve_source(args.source)
        n = min(args.n, self.limits.sample_max_docs)
        sample = read_sample(src, self.policy, n, max_bytes=self.limits.read_max_bytes)
        docs = sample.docs
        if args.view == "extracted" and docs.height:
            from agent.profile import extract_html_docs

            docs, _ = extract_html_docs(docs)
        out = []
        for row in docs.head(n).iter_rows(named=True):
            text = row["text"] or ""
            out.append(
                {
                    "id": row["id"][:16],
                    "url": row.get("url"),
                    "title": row.get("title"),
                    "content_type": row.get("content_type"),
                    "chars": len(text),
                    "text": text[: args.max_chars] + ("…" if len(text) > args.max_chars else ""),
                }
            )
        return {
            "source": src.model_dump(mode="json", exclude_defaults=True),
            "records_read": sample.batch.records,
            "reader_dropped": sample.batch.dropped.height,
            "quarantined": sample.batch.quarantine.height,
            "documents": out,
        }

    def profile_source(self, args: ProfileSourceInput) -> dict[str, Any]:
        assert self.policy is not None
        src = self.resolve_source(args.source)
        n = args.n or self.limits.profile_docs
        files = source_files(src, self.policy)
        sample = read_sample(src, self.policy, n, max_bytes=self.limits.read_max_bytes)
        profile = profile_sample(sample, self.limits.profile_max_bytes)
        profile["files"] = len(files)
        self.profiles[src.name] = profile
        return profile

    # -- operators ---------------------------------------------------------------
    def list_operators(self, _: ListOperatorsInput) -> dict[str, Any]:
        return {
            "operators": [
                {"name": op.key, "kind": op.kind, "tags": list(op.tags), "description": op.description}
                for op in registry.list_operators()
            ]
        }

    def describe_operator(self, args: DescribeOperatorInput) -> dict[str, Any]:
        return registry.get_operator(args.name).describe()

    # -- specs -------------------------------------------------------------------
    def _checked(self, data: dict[str, Any]) -> PipelineSpec:
        assert self.policy is not None
        spec, issues = check_spec(data, self.policy)
        if issues or spec is None:
            lines = "\n".join(f"  - {i.field}: {i.message}" for i in issues)
            raise ToolError(
                f"the spec is invalid ({len(issues)} problem{'s' if len(issues) != 1 else ''}); "
                f"fix these fields:\n{lines}"
            )
        return spec

    def validate_spec(self, args: ValidateSpecInput) -> dict[str, Any]:
        assert self.policy is not None
        spec, issues = check_spec(args.spec, self.policy)
        out: dict[str, Any] = {"valid": not issues, "errors": issues_json(issues)}
        if spec is not None and not issues:
            out["assets"] = ["raw", *[s.name for s in spec.stages], "tokenizer", "tokenized"]
        return out

    def dry_run(self, args: DryRunInput) -> dict[str, Any]:
        result = self.run_dry(self._checked(args.spec), args.n)
        return result.to_json()

    def run_dry(self, spec: PipelineSpec, n: int | None = None) -> DryRunResult:
        """Dry-run ``spec``; the same spec and size as the previous dry run reuses its result (it is deterministic)."""
        assert self.policy is not None
        n = n or self.limits.dry_run_docs
        key = (spec.model_dump_json(), n)
        if self.last_dry_run is not None and self._last_dry_key == key and not self.last_dry_run.timed_out:
            return self.last_dry_run
        result = dry_run(
            spec, self.policy, n, time_limit_s=self.limits.dry_run_seconds, max_bytes=self.limits.dry_run_max_bytes
        )
        self.last_dry_run, self._last_dry_key = result, key
        return result

    def submit_proposal(self, args: SubmitProposalInput) -> dict[str, Any]:
        spec = self._checked(args.spec)
        result = self.run_dry(spec)
        if result.timed_out:
            raise ToolError(
                f"the dry run of the submitted spec hit its time limit ({self.limits.dry_run_seconds:.0f}s) "
                f"before stages {', '.join(result.not_run)}; simplify the spec"
            )
        empty = [s for s, kept in result.final_kept().items() if kept == 0]
        if empty:
            details = []
            for source in empty:
                culprit = next((r for r in result.rows if r.source == source and r.docs_in > 0 and r.kept == 0), None)
                if culprit is not None:
                    reasons = ", ".join(f"{k} {v}" for k, v in sorted(culprit.dropped.items(), key=lambda x: -x[1])[:3])
                    details.append(
                        f"source {source!r}: stage {culprit.stage!r} dropped all "
                        f"{culprit.docs_in} documents ({reasons})"
                    )
                else:
                    details.append(f"source {source!r}: the sample holds no document")
            raise ToolError(
                "the dry run keeps no document of "
                + "; ".join(details)
                + ". Loosen the filter's config (describe_operator shows it), limit the stage to other "
                "sources with `sources:`, or remove it"
            )
        if result.evidence is None:
            result.evidence = evidence_of(result)
        self.submitted = SubmittedProposal(spec, scrub(args.rationale), result)
        return {
            "accepted": True,
            "pipeline": spec.pipeline,
            "kept_at_end": result.final_kept(),
            "evidence": result.evidence.to_json(),
            "next": "a person reviews the proposal as a pull request; nothing more to do",
        }


def evidence_of(result: DryRunResult) -> Any:
    """The proxy comparison (pipeline output vs raw sample) of a dry run, all sources pooled."""
    from agent.evidence import proxy_evidence

    raw = [p for src in result.texts.values() for p in src.get("raw", [])]
    kept = [p for src in result.texts.values() for p in src.get("kept", [])]
    return proxy_evidence(raw, kept)


def _relpath(p: Path, base: Path) -> str:
    return os.path.relpath(p, base)
