"""PipelineSpec: the contract between the agent, the reviewer and Dagster.

A spec is plain data (YAML in ``platform_assets/defs/<pipeline>/defs.yaml``). It is
validated in two layers, and every problem names the field it is about:

1. structure (pydantic, ``extra="forbid"``): types, ranges, names, safe strings;
2. meaning (:func:`validate_spec`): operators exist and their configs are valid,
   stage inputs exist, no cycles, no duplicate asset names, locations stay inside
   the allowed roots (symlinks resolved).

Nothing in a spec is ever executed: strings are names, paths and prose. Strings that
look like shell, Python or template code are rejected anyway, so a proposal that tries
is stopped at the door with a clear message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from corpus.charsets import check_encoding, is_utf8
from corpus.ops import registry

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
MAX_VALUES = 100_000  # values in a spec, YAML aliases expanded: far above any real spec, far below a bomb
MAX_DEPTH = 32  # nesting of a spec's mappings and lists
# assets the pipeline builds itself; a stage may not take these names
RESERVED_NAMES = frozenset({"raw", "tokenizer", "tokenized", "mixture", "proxy_eval"})
MAX_TOKENS = 10**11  # 100B tokens per mixture version: beyond that, a typo

_CODE_PATTERNS = [
    (re.compile(r"\$\(|\$\{|`"), "shell substitution"),
    (re.compile(r"\{\{|\{%|%\}|\}\}"), "template syntax"),
    (re.compile(r"__\w+__|\b(?:eval|exec|compile|__import__|getattr|open)\s*\("), "Python code"),
    (re.compile(r"\b(?:os\.system|subprocess|popen|import\s+\w+|lambda\s*\w*:)"), "Python code"),
    (re.compile(r"(?:^|[;&|]\s*)(?:rm|curl|wget|bash|sh|python\d?|chmod|nc)\s+-?\w", re.M), "shell command"),
    (re.compile(r"[;&|]{1,2}\s*(?:rm|curl|wget|bash|sh|cat|python)\b|>\s*/"), "shell command"),
    (re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]"), "control characters"),
]


def check_text(value: str) -> str:
    """Reject strings that carry code: specs hold names, paths and prose only."""
    for pattern, what in _CODE_PATTERNS:
        m = pattern.search(value)
        if m:
            raise ValueError(f"looks like {what} ({m.group(0)!r}); specs hold names, paths and prose, never code")
    if len(value) > 4000:
        raise ValueError(f"too long ({len(value)} characters, at most 4000)")
    return value


def check_name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lowercase letters, digits and '_', starting with a letter (at most 48)"
        )
    return value


def check_owner(value: str) -> str:
    if not re.match(r"^(team:[A-Za-z0-9_.\-]{1,64}|[^@\s]{1,64}@[^@\s]{1,255})$", value):
        raise ValueError(f"{value!r} is not an owner: use an e-mail address or team:<name>")
    return value


_MARKUP = re.compile(r"</?[A-Za-z][\w\-]*(?:\s[^<>]*)?/?>|<!--|<!\[CDATA\[|\]\(javascript:", re.I)


def check_prose(value: str) -> str:
    """A description: safe text without HTML markup (the Dagster UI and pull requests render it)."""
    m = _MARKUP.search(check_text(value))
    if m:
        raise ValueError(f"looks like HTML markup ({m.group(0)[:40]!r}); a description is plain prose")
    return value


SafeText = Annotated[str, AfterValidator(check_text)]
Prose = Annotated[str, AfterValidator(check_prose)]
Name = Annotated[str, AfterValidator(check_name)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SourceSpec(_Model):
    """One raw data source = one domain of the mixture = one partition of every stage."""

    name: Name = Field(description="source / domain name; the partition key")
    location: SafeText = Field(
        description="folder or file: a path relative to the project inside the allowed roots "
        "(e.g. data/sources/web), or s3://bucket/prefix"
    )
    format: Literal["jsonl", "parquet", "text", "warc"]
    glob: SafeText | None = Field(
        None, description="files to read under location (default by format, e.g. **/*.jsonl*)"
    )
    text_field: SafeText | list[SafeText] = Field(
        "text", description="jsonl/parquet: the field holding the text, or several fields joined by a blank line"
    )
    url_field: SafeText | None = None
    title_field: SafeText | None = None
    split: Literal["file", "line", "paragraph", "chunk", "wikitext"] = Field(
        "file",
        description="text format: one document per file, per line, per blank-line paragraph, "
        "per chunk of about chunk_chars (whole paragraphs; one longer than twice chunk_chars is cut at "
        "sentence ends), or per WikiText ' = Title = ' article",
    )
    chunk_chars: int = Field(4000, ge=200, le=1_000_000)
    max_doc_chars: int = Field(
        1_000_000, ge=1_000, le=50_000_000, description="longer documents are quarantined (not truncated)"
    )
    encoding: Annotated[str, AfterValidator(check_encoding)] = Field(
        "utf-8",
        description="jsonl/text: the files' text encoding, a Python codec name (latin-1, cp1252, shift_jis) or auto "
        "(detected per file); a byte order mark always decides",
    )
    description: Prose | None = None


class StepSpec(_Model):
    op: SafeText = Field(description="versioned operator name, e.g. gopher_quality@1")
    config: dict[str, Any] = Field(default_factory=dict)


class StageSpec(_Model):
    """One asset per stage, partitioned by source. Steps run in order on each batch."""

    name: Name
    input: Name | None = Field(None, description="the stage this one reads (default: the previous stage, or raw)")
    steps: list[StepSpec] = Field(min_length=1, max_length=16)
    sources: list[Name] | None = Field(None, description="apply to these sources only; others pass through unchanged")
    description: Prose | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_step_shorthand(cls, data: Any) -> Any:
        # `op: x@1` + `config: {...}` is shorthand for a one-step stage
        if isinstance(data, dict) and "op" in data and "steps" not in data:
            data = dict(data)
            data["steps"] = [{"op": data.pop("op"), "config": data.pop("config", {})}]
        return data


class TokenizerSpec(_Model):
    input: Name | None = Field(None, description="the stage whose documents are tokenized (default: the last stage)")
    kind: Literal["bpe", "file"] = "bpe"
    vocab_size: int = Field(4096, ge=260, le=65_536)
    sample_docs: int = Field(4000, ge=10, le=1_000_000, description="documents per source used to train the BPE")
    path: SafeText | None = Field(None, description="kind=file: a tokenizer.json inside the allowed roots")
    val_fraction: float = Field(0.05, gt=0.0, le=0.5, description="share of each domain held out for validation")
    val_min_docs: int = Field(4, ge=1, le=100_000)
    val_max_docs: int = Field(400, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _check(self) -> TokenizerSpec:
        if self.kind == "file" and not self.path:
            raise ValueError("kind 'file' needs path: the tokenizer.json to use")
        if self.val_min_docs > self.val_max_docs:
            raise ValueError("val_min_docs is larger than val_max_docs")
        return self


class ProxySpec(_Model):
    """The built-in proxy trainer (a small GPT) used to score mixtures."""

    n_layer: int = Field(2, ge=1, le=48)
    n_head: int = Field(4, ge=1, le=64)
    n_embd: int = Field(128, ge=16, le=8192)
    seq_len: int = Field(128, ge=16, le=8192)
    batch_size: int = Field(16, ge=1, le=4096)
    learning_rate: float = Field(3e-3, gt=0.0, le=1.0)
    eval_tokens: int = Field(32_768, ge=256, le=10**9, description="validation tokens per domain (at most)")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    online_sampler: bool = Field(False, description="reweight domains inside the run from training losses (EXP3 style)")
    device: Literal["cpu", "cuda", "auto"] = "auto"


class SelectionSpec(_Model):
    """Which training documents of one domain a mixture samples, by a score a selection stage wrote."""

    stage: Name = Field(description="the stage whose kept documents carry the score column")
    column: Annotated[str, Field(pattern=r"^(score|weight)/[a-z][a-z0-9_]{0,31}$")] = Field(
        description="score/<name> (quality_classifier, lm_score) or weight/<name> (soft_dedup)"
    )
    mode: Literal["top_fraction", "threshold", "weight"] = "top_fraction"
    value: float | None = Field(
        None, description="top_fraction: share of the domain's training tokens; threshold: minimum score"
    )


class TargetSpec(_Model):
    """What a mixture is optimised for (corpus.mixing.target): average, worst domain, or weighted over named sources."""

    kind: Literal["average", "worst", "weighted"] = "average"
    weights: dict[Name, Annotated[float, Field(ge=0.0, le=1e6)]] | None = Field(
        None, max_length=256, description="kind 'weighted': a non-negative weight per source that counts"
    )

    @model_validator(mode="after")
    def _check_weights(self) -> TargetSpec:
        if self.kind == "weighted" and (not self.weights or sum(self.weights.values()) <= 0):
            raise ValueError("weights: a weighted target needs weights (a non-negative weight per source, not all 0)")
        if self.kind != "weighted" and self.weights:
            raise ValueError(f"weights: only a weighted target takes weights (kind is {self.kind!r})")
        return self


class MixtureSpec(_Model):
    policy: Literal["uniform", "natural", "excess_loss", "regression"] = "excess_loss"
    policy_config: dict[str, Any] = Field(default_factory=dict)
    initial: Literal["uniform", "natural"] | dict[Name, float] = "natural"
    budget_tokens: int = Field(200_000, ge=1_000, le=MAX_TOKENS, description="training tokens per mixture version")
    max_epochs: float = Field(4.0, gt=0.0, le=1000.0, description="repetition cap: epochs allowed per domain")
    rounds: int = Field(3, ge=1, le=100, description="mixture versions the feedback sensor may create in all")
    min_improvement: float | None = Field(
        None,
        ge=0.0,
        le=10.0,
        description="stop early when the average validation loss improves by less than this between versions (unset: run all rounds)",
    )
    target: TargetSpec = Field(
        default_factory=TargetSpec, description="the loss every policy and the stopping rule optimise"
    )
    stop_within_se: float | None = Field(
        None,
        ge=0.0,
        le=100.0,
        description="stop when the latest version beats the best earlier one by less than this many standard errors "
        "of the difference (from the evaluations' standard errors); unset: no uncertainty-based stop",
    )
    seed_sd: float | None = Field(
        None,
        ge=0.0,
        le=10.0,
        description="seed-to-seed standard deviation of the target loss (e.g. from make bench-mixing); "
        "stop_within_se and the demo's intervals add it to the evaluation error",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    proxy: ProxySpec = Field(default_factory=ProxySpec)
    selection: dict[Name, SelectionSpec] = Field(
        default_factory=dict, description="per domain: sample only the documents a score selects (no upstream rebuild)"
    )


def _check_cron(value: str) -> str:
    from corpus.schedules import cron_problem

    problem = cron_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_timezone(value: str) -> str:
    from corpus.schedules import timezone_problem

    problem = timezone_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class ScheduleSpec(_Model):
    """A scheduled materialization: ``target`` (an asset of the pipeline) on a cron schedule.

    A per-source target runs every source's partition; ``proxy_eval`` re-evaluates the latest
    mixture version. Later stages follow through automation, as after any other run."""

    name: Name = Field(description="schedule name, unique in the pipeline (the schedule is <pipeline>_<name>)")
    cron: Annotated[str, AfterValidator(_check_cron)] = Field(
        description="five-field cron expression, e.g. '0 2 * * *', or @daily"
    )
    timezone: Annotated[str, AfterValidator(_check_timezone)] = Field(
        "UTC", description="IANA time zone the cron is read in"
    )
    target: Name = Field(description="the asset to materialize: raw, a stage, tokenizer, tokenized or proxy_eval")
    freshness_hours: int | None = Field(
        None,
        ge=1,
        le=8760,
        description="the target counts as stale this many hours after its last materialization (unset: no freshness policy)",
    )
    description: SafeText | None = None


class PipelineSpec(_Model):
    """A pipeline: sources, ordered stages, tokenizer, mixture, schedules."""

    pipeline: Name
    description: Prose | None = None
    owners: list[Annotated[str, AfterValidator(lambda v: check_owner(check_text(v)))]] = Field(
        default_factory=list, max_length=20, description="e-mail addresses or team:<name>"
    )
    sources: list[SourceSpec] = Field(
        min_length=1, max_length=256, description="in priority order: dedup keeps the earlier source's copy"
    )
    stages: list[StageSpec] = Field(default_factory=list, max_length=64)
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    mixture: MixtureSpec | None = None
    shard_docs: int = Field(5000, ge=10, le=1_000_000, description="documents per raw shard")
    schedules: list[ScheduleSpec] = Field(default_factory=list, max_length=16, description="scheduled materializations")

    # -- derived ---------------------------------------------------------------
    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    def source(self, name: str) -> SourceSpec:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def stage_input(self, index: int) -> str:
        stage = self.stages[index]
        if stage.input:
            return stage.input
        return self.stages[index - 1].name if index > 0 else "raw"

    @property
    def tokenizer_input(self) -> str:
        return self.tokenizer.input or (self.stages[-1].name if self.stages else "raw")

    def stage(self, name: str) -> StageSpec:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)


# --- semantic validation -----------------------------------------------------


@dataclass(frozen=True)
class SpecIssue:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SpecError(ValueError):
    """A spec that must not run. ``issues`` lists every problem by field."""

    def __init__(self, issues: list[SpecIssue], where: str = "pipeline spec"):
        self.issues = issues
        self.where = where
        lines = "\n".join(f"  - {i}" for i in issues)
        super().__init__(f"{where} is invalid ({len(issues)} problem{'s' if len(issues) != 1 else ''}):\n{lines}")


_S3_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[\w.\-/=]*)?$")


@dataclass(frozen=True)
class PathPolicy:
    """Where sources may live. Relative paths are relative to ``project_root``.

    ``allowed_s3`` holds the S3 prefixes sources may be read from (``s3://bucket`` for a whole
    bucket); none by default. Both come from one allow-list, ``CORPUS_ALLOWED_ROOTS``.
    """

    project_root: Path
    allowed_roots: tuple[Path, ...]
    allow_s3: bool = True
    allowed_s3: tuple[str, ...] = ()

    @classmethod
    def default(cls, project_root: Path | str) -> PathPolicy:
        project_root = Path(project_root).resolve()
        roots = [project_root / "data", project_root.parent / "shared" / "data"]
        local, s3 = allowed_roots_from_env()
        return cls(project_root=project_root, allowed_roots=tuple(r.resolve() for r in [*roots, *local]), allowed_s3=s3)

    def check(self, location: str) -> str | None:
        """None when ``location`` is allowed, else why not."""
        if location.startswith("s3://"):
            if not self.allow_s3:
                return "s3:// locations are not allowed here"
            if not _S3_RE.match(location) or ".." in location:
                return f"{location!r} is not a valid s3://bucket/prefix"
            target = location.rstrip("/")
            if any(target == p or target.startswith(p + "/") for p in self.allowed_s3):
                return None
            allowed = ", ".join(self.allowed_s3) or "none"
            return (
                f"{location!r} is outside the allowed S3 prefixes ({allowed}); add s3://bucket/prefix to "
                "CORPUS_ALLOWED_ROOTS to allow one"
            )
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", location):
            scheme = location.split("://")[0]
            return (
                f"{scheme}:// locations are not allowed; write a path relative to the project "
                "(e.g. data/sources/web) or an s3://bucket/prefix"
            )
        if location.startswith("~"):
            return "home-relative paths are not allowed; write a path relative to the project"
        raw = Path(location)
        if raw.is_absolute():
            return "absolute paths are not allowed; write a path relative to the project (e.g. data/sources/web)"
        resolved = (self.project_root / raw).resolve()  # follows symlinks: an escape through a link is caught
        for root in self.allowed_roots:
            if resolved == root or root in resolved.parents:
                return None
        allowed = ", ".join(_rel(r, self.project_root) for r in self.allowed_roots)
        return f"{location!r} resolves to {resolved}, outside the allowed roots ({allowed}); set CORPUS_ALLOWED_ROOTS to add one"

    def resolve(self, location: str) -> str:
        if location.startswith("s3://"):
            return location
        return str((self.project_root / location).resolve())


def allowed_roots_from_env() -> tuple[list[Path], tuple[str, ...]]:
    """(local folders, S3 prefixes) listed in ``CORPUS_ALLOWED_ROOTS`` (``os.pathsep``-separated; the ':'
    of ``s3://`` does not separate). Raises ValueError for an S3 entry that is not s3://bucket[/prefix]."""
    extra = os.environ.get("CORPUS_ALLOWED_ROOTS", "")
    sep = re.escape(os.pathsep) + ("(?!//)" if os.pathsep == ":" else "")
    local: list[Path] = []
    s3: list[str] = []
    for entry in (e.strip() for e in re.split(sep, extra)):
        if not entry:
            continue
        if entry.startswith("s3://"):
            if not _S3_RE.match(entry) or ".." in entry:
                raise ValueError(f"CORPUS_ALLOWED_ROOTS: {entry!r} is not an s3://bucket/prefix")
            s3.append(entry.rstrip("/"))
        else:
            local.append(Path(entry).expanduser())
    return local, tuple(s3)


def _rel(p: Path, base: Path) -> str:
    try:
        return os.path.relpath(p, base)
    except ValueError:
        return str(p)


def validate_spec(spec: PipelineSpec, paths: PathPolicy | None = None) -> list[SpecIssue]:
    """Every semantic problem of ``spec``, each naming its field. [] means it may run."""
    issues: list[SpecIssue] = []
    add = lambda f, m: issues.append(SpecIssue(f, m))  # noqa: E731

    seen_sources: set[str] = set()
    for i, src in enumerate(spec.sources):
        if src.name in seen_sources:
            add(f"sources[{i}].name", f"duplicate source {src.name!r}")
        seen_sources.add(src.name)
        if src.format in ("parquet", "warc") and not is_utf8(src.encoding):
            add(
                f"sources[{i}].encoding",
                f"applies to jsonl and text sources only: {src.format} "
                f"{'strings are UTF-8 by definition' if src.format == 'parquet' else 'records declare their own charset'}; "
                "remove encoding",
            )
        if paths is not None:
            why = paths.check(src.location)
            if why:
                add(f"sources[{i}].location", why)

    names: dict[str, int] = {}
    for i, stage in enumerate(spec.stages):
        if stage.name in RESERVED_NAMES:
            add(
                f"stages[{i}].name",
                f"{stage.name!r} is reserved for an asset the pipeline builds itself ({', '.join(sorted(RESERVED_NAMES))})",
            )
        if stage.name in names:
            add(f"stages[{i}].name", f"duplicate asset name {stage.name!r} (also stages[{names[stage.name]}])")
        names.setdefault(stage.name, i)
        index_name = f"{stage.name}_index"
        for j, step in enumerate(stage.steps):
            where = f"stages[{i}].steps[{j}]"
            try:
                op = registry.get_operator(step.op)
            except registry.UnknownOperatorError as exc:
                add(f"{where}.op", str(exc))
                continue
            config_problems = registry.config_errors(op, step.config)
            for loc, msg in config_problems:
                add(f"{where}.config.{_index_style(loc)}", msg)
            if not config_problems:
                parsed = op.parse_config(step.config)
                for loc, msg in _config_path_issues(parsed, paths):
                    add(f"{where}.config.{loc}", msg)
                for loc, name in getattr(parsed, "source_refs", lambda: [])():
                    if name not in spec.source_names:
                        add(
                            f"{where}.config.{loc}", f"unknown source {name!r}; sources: {', '.join(spec.source_names)}"
                        )
            for key, value in _walk_strings(step.config):
                try:
                    check_text(value)
                except ValueError as exc:
                    add(f"{where}.config.{key}", str(exc))
            if op.kind == "global":
                if len(stage.steps) != 1:
                    add(
                        f"{where}.op",
                        f"{op.key} works across all sources at once and must be the only step of its stage",
                    )
                if index_name in names or index_name in RESERVED_NAMES:
                    add(
                        f"stages[{i}].name",
                        f"asset name {index_name!r} (the index of this global stage) collides with another asset",
                    )
                if stage.sources is not None:
                    add(
                        f"stages[{i}].sources",
                        f"{op.key} is global across the pipeline's sources; it cannot be limited to some",
                    )
        for j, s in enumerate(stage.sources or []):
            if s not in seen_sources:
                add(f"stages[{i}].sources[{j}]", f"unknown source {s!r}; sources: {', '.join(spec.source_names)}")

    global_index_names = {f"{s.name}_index" for s in spec.stages if any(_is_global(st.op) for st in s.steps)}
    for i, stage in enumerate(spec.stages):
        if stage.name in global_index_names:
            add(f"stages[{i}].name", f"duplicate asset name {stage.name!r} (the index of a global stage has this name)")

    # inputs: exist, and the stage graph has no cycle
    known = {"raw", *names}
    graph: dict[str, str] = {}
    for i, stage in enumerate(spec.stages):
        if names[stage.name] != i:
            continue  # a duplicate name is reported above; as a dependency it would only fake a cycle
        inp = spec.stage_input(i)
        if inp not in known:
            add(f"stages[{i}].input", f"unknown dependency {inp!r}; stages: {', '.join(['raw', *names])}")
        elif inp == stage.name:
            add(f"stages[{i}].input", f"stage {stage.name!r} depends on itself (cycle)")
        else:
            graph[stage.name] = inp
    for i, stage in enumerate(spec.stages):
        if names[stage.name] != i:
            continue
        cycle = _find_cycle(stage.name, graph)
        if cycle and cycle[0] == stage.name and len(cycle) > 2:
            add(f"stages[{i}].input", "cycle: " + " -> ".join(cycle))

    if spec.tokenizer.input and spec.tokenizer.input not in known:
        add("tokenizer.input", f"unknown dependency {spec.tokenizer.input!r}; stages: {', '.join(['raw', *names])}")
    if spec.tokenizer.kind == "file" and spec.tokenizer.path and paths is not None:
        why = paths.check(spec.tokenizer.path)
        if why:
            add("tokenizer.path", why)

    if spec.mixture is not None:
        init = spec.mixture.initial
        if isinstance(init, dict):
            from corpus.mixing.weights import WeightsError, validate_weights

            try:
                validate_weights(init, spec.source_names)
            except WeightsError as exc:
                add("mixture.initial", str(exc))
        for key, value in _walk_strings(spec.mixture.policy_config):
            try:
                check_text(value)
            except ValueError as exc:
                add(f"mixture.policy_config.{key}", str(exc))
        from corpus.mixing.policies import parse_policy_config, policy_config_errors

        config_problems = policy_config_errors(spec.mixture.policy, spec.mixture.policy_config)
        for loc, msg in config_problems:
            add(f"mixture.policy_config.{_index_style(loc)}", msg)
        if not config_problems:
            floor = parse_policy_config(spec.mixture.policy, spec.mixture.policy_config).floor
            if floor * len(spec.sources) > 1:
                add(
                    "mixture.policy_config.floor",
                    f"a floor of {floor} per domain is impossible with {len(spec.sources)} sources "
                    f"(floor x sources must be at most 1); set floor to at most {1 / len(spec.sources):.4g}",
                )
        for domain, sel in spec.mixture.selection.items():
            where = f"mixture.selection.{domain}"
            if domain not in spec.source_names:
                add(where, f"unknown domain {domain!r}; sources: {', '.join(spec.source_names)}")
            if sel.stage not in names:
                add(f"{where}.stage", f"unknown stage {sel.stage!r}; stages: {', '.join(names) or '(none)'}")
            from corpus.mixing.selection import SelectionRule

            try:
                SelectionRule(column=sel.column, mode=sel.mode, value=sel.value, seed=spec.mixture.seed)
            except ValidationError as exc:
                add(f"{where}.value", "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()))

        tw = spec.mixture.target.weights or {}
        unknown_target = [d for d in tw if d not in spec.source_names]
        if unknown_target:
            add(
                "mixture.target.weights",
                f"unknown source(s) {', '.join(unknown_target)}; sources: {', '.join(spec.source_names)}",
            )
        if spec.mixture.proxy.n_embd % spec.mixture.proxy.n_head:
            add(
                "mixture.proxy.n_head",
                f"n_embd ({spec.mixture.proxy.n_embd}) must be a multiple of n_head ({spec.mixture.proxy.n_head})",
            )
    _schedule_issues(spec, names, global_index_names, add)
    return issues


def _config_path_issues(cfg: Any, paths: PathPolicy | None) -> list[tuple[str, str]]:
    """Files an operator config reads (its ``paths()``): inside the allowed roots and present."""
    out = []
    for loc, location in getattr(cfg, "paths", lambda: [])():
        why = paths.check(location) if paths is not None else None
        if why:
            out.append((loc, why))
        elif paths is not None and not location.startswith("s3://") and not Path(paths.resolve(location)).is_file():
            out.append((loc, f"file {location!r} not found (looked at {paths.resolve(location)}); fix the path"))
    return out


def _schedule_issues(spec: PipelineSpec, stages: dict[str, int], indexes: set[str], add: Any) -> None:
    targets = ["raw", *stages, *sorted(indexes), "tokenizer", "tokenized", *(["proxy_eval"] if spec.mixture else [])]
    seen: set[str] = set()
    for i, sched in enumerate(spec.schedules):
        if sched.name in seen:
            add(f"schedules[{i}].name", f"duplicate schedule name {sched.name!r}")
        seen.add(sched.name)
        if sched.target == "mixture":
            add(
                f"schedules[{i}].target",
                "a mixture version is created by the eval_feedback sensor, which chooses its weights; "
                "schedule proxy_eval to re-evaluate the latest version",
            )
        elif sched.target not in targets:
            add(f"schedules[{i}].target", f"unknown asset {sched.target!r}; targets: {', '.join(targets)}")


def _index_style(loc: str) -> str:
    """A pydantic location (``languages.0``) in the spec's own notation (``languages[0]``)."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", loc)


def _is_global(op_name: str) -> bool:
    try:
        return registry.get_operator(op_name).kind == "global"
    except registry.UnknownOperatorError:
        return False


def _find_cycle(start: str, graph: dict[str, str]) -> list[str] | None:
    path = [start]
    node = start
    while node in graph:
        node = graph[node]
        if node in path:
            return [*path[path.index(node) :], node]
        path.append(node)
    return None


def _walk_strings(obj: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(obj, str):
        yield prefix or "value", obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk_strings(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _walk_strings(v, f"{prefix}[{i}]")


# --- loading -----------------------------------------------------------------


def check_bounds(data: Any, where: str = "pipeline spec") -> None:
    """Raise SpecError when ``data`` holds more than MAX_VALUES values (shared parts counted each time they
    are reached, as YAML aliases expand), nests deeper than MAX_DEPTH or contains itself.

    Linear in the distinct objects, so a YAML alias bomb is refused before anything walks it.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, depth: int, at: str) -> int:
        if isinstance(node, dict):
            children: Iterable[tuple[str, Any]] = ((f"{at}.{k}" if at else str(k), v) for k, v in node.items())
            extra = len(node)  # the keys
        elif isinstance(node, list | tuple):
            children = ((f"{at}[{i}]", v) for i, v in enumerate(node))
            extra = 0
        else:
            return 1 + (len(node) // 1000 if isinstance(node, str) else 0)
        key = id(node)
        if key in sizes:
            return sizes[key]
        field = at or "(root)"
        if key in active:
            raise SpecError([SpecIssue(field, "contains itself (a recursive YAML alias); write the values out")], where)
        if depth > MAX_DEPTH:
            raise SpecError([SpecIssue(field, f"nested more than {MAX_DEPTH} levels deep")], where)
        active.add(key)
        total = 1 + extra
        for child_at, child in children:
            total += size(child, depth + 1, child_at)
            if total > MAX_VALUES:
                raise SpecError(
                    [
                        SpecIssue(
                            field,
                            f"holds more than {MAX_VALUES:,} values once YAML aliases are expanded; "
                            "a pipeline spec is far smaller (write it out without aliases)",
                        )
                    ],
                    where,
                )
        active.discard(key)
        sizes[key] = total
        return total

    size(data, 0, "")


def parse_spec(data: Any, where: str = "pipeline spec") -> PipelineSpec:
    """Structure-validate ``data``; raises SpecError naming each bad field."""
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("(root)", f"expected a mapping, got {type(data).__name__}")], where)
    check_bounds(data, where)
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        # one issue per field: the members of a union type (text_field: a string or a list) each report on it
        by_field: dict[str, list[str]] = {}
        for e in exc.errors():
            messages = by_field.setdefault(_loc(e["loc"], user_key_last=e["type"] == "extra_forbidden"), [])
            if _msg(e) not in messages:
                messages.append(_msg(e))
        raise SpecError([SpecIssue(f, " / ".join(m)) for f, m in by_field.items()], where) from None


# how pydantic names the member of a union type in an error location: list[...], function-after[...], literal[...]
_UNION_MEMBER = re.compile(r"^[a-z][\w\-]*\[.*\]$", re.S)


def _loc(loc: tuple[Any, ...], *, user_key_last: bool = False) -> str:
    """A pydantic error location as a spec field (``sources[0].text_field``), without union member names.

    The last part of an unknown-field error is the key the spec wrote, kept whatever it looks like.
    """
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif _UNION_MEMBER.match(str(part)) and not (user_key_last and i == len(loc) - 1):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def _msg(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (not part of the spec; check the spelling)"
    return msg


def load_spec(data: Any, paths: PathPolicy | None = None, where: str = "pipeline spec") -> PipelineSpec:
    """Parse and fully validate a spec; raises SpecError listing every problem."""
    spec = parse_spec(data, where)
    issues = validate_spec(spec, paths)
    if issues:
        raise SpecError(issues, where)
    return spec


def load_spec_file(path: Path | str, paths: PathPolicy | None = None) -> PipelineSpec:
    """Load a ``defs.yaml`` (its ``attributes``) or a bare spec YAML file (see :mod:`corpus.specfile`)."""
    from corpus import specfile  # the file format: size, aliases, the defs.yaml envelope

    return specfile.load_spec_file(path, paths)


def spec_to_yaml(spec: PipelineSpec) -> str:
    return yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False, allow_unicode=True)
