"""The spec's structure: pydantic models, ``extra="forbid"``, every string an allowed type.

Names, operator references, record fields, globs, locations and owners have the types of
:mod:`corpus.spec_types`; descriptions are prose. Numbers are bounded. The meaning of a spec
(operators exist, inputs, cycles, locations under the policy) is :mod:`corpus.spec_validate`'s.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from corpus.charsets import check_encoding
from corpus.ops import registry
from corpus.spec_types import OP_REF_RE, FieldName, Glob, Location, Name, Owner, Prose, check_op_ref

MAX_TOKENS = 10**11  # 100B tokens per mixture version: beyond that, a typo


def _check_op_ref(value: str) -> str:
    # the registry (which imports every operator module) is read only to word the refusal
    return value if OP_REF_RE.match(value) else check_op_ref(value, registry.available())


OpRef = Annotated[str, AfterValidator(_check_op_ref)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SourceSpec(_Model):
    """One raw data source = one domain of the mixture = one partition of every stage."""

    name: Name = Field(description="source / domain name; the partition key")
    location: Location = Field(
        description="folder or file: a path relative to the project inside the allowed roots "
        "(e.g. data/sources/web), or s3://bucket/prefix"
    )
    format: Literal["jsonl", "parquet", "text", "warc"]
    glob: Glob | None = Field(None, description="files to read under location (default by format, e.g. **/*.jsonl*)")
    text_field: FieldName | Annotated[list[FieldName], Field(min_length=1, max_length=16)] = Field(
        "text", description="jsonl/parquet: the field holding the text, or several fields joined by a blank line"
    )
    url_field: FieldName | None = None
    title_field: FieldName | None = None
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
    op: OpRef = Field(description="versioned operator name, e.g. gopher_quality@1")
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
    path: Location | None = Field(None, description="kind=file: a tokenizer.json inside the allowed roots")
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
    learning_rate: float = Field(
        1e-3, gt=0.0, le=1.0, description="peak learning rate (1e-3: lower loss and quieter comparisons than 3e-3)"
    )
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
        description="stop early when the average validation loss improves by less than this between versions "
        "(unset: run all rounds)",
    )
    target: TargetSpec = Field(
        default_factory=TargetSpec, description="the loss every policy and the stopping rule optimise"
    )
    heldout: list[Name] = Field(
        default_factory=list,
        max_length=64,
        description="sources evaluated for a weighted target but never trained on (the RegMix setting): "
        "built and tokenized like the others, weight 0 in every mixture version",
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
        description="the target counts as stale this many hours after its last materialization "
        "(unset: no freshness policy)",
    )
    description: Prose | None = None


class PipelineSpec(_Model):
    """A pipeline: sources, ordered stages, tokenizer, mixture, schedules."""

    pipeline: Name
    description: Prose | None = None
    owners: list[Owner] = Field(default_factory=list, max_length=20, description="e-mail addresses or team:<name>")
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

    @property
    def trained_sources(self) -> list[str]:
        """The sources a mixture trains on: all but the mixture's held-out ones."""
        heldout = set(self.mixture.heldout) if self.mixture else set()
        return [s.name for s in self.sources if s.name not in heldout]

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
