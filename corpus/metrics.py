"""The metrics record: one per evaluation, written by the proxy trainer and by external trainers.

A record says: run ``run_id`` of pipeline ``pipeline`` trained on mixture version
``mixture_version``; after ``step`` optimizer steps and ``tokens_seen`` training tokens
its mean next-token loss (nats) on each domain's validation split was ``val_loss``.
``finished=True`` marks the run's final evaluation, the one the feedback loop acts on.

Records travel as JSON lines. Parsing is two-layered, like the pipeline spec:

* structure (:func:`parse_record`, :func:`parse_jsonl`): types and required fields;
  a bad line becomes a :class:`RecordProblem`, never an exception;
* meaning (:func:`record_problems`): non-finite losses, missing or unknown domains,
  an unknown mixture version, weights that do not sum to 1.

Storage (local or S3) and the CLI live in ``resources/``; this module stays pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from corpus.mixing.weights import WeightsError, validate_weights

VERSION_PREFIX = "m"
PIPELINE_PATTERN = r"^[a-z][a-z0-9_]{0,47}$"  # a spec's pipeline name (corpus.spec.NAME_RE)
# bounds of a plausible record: a mean NLL over 100 nats is worse than uniform over any vocabulary
# (ln 65,536 = 11.1); 10^15 tokens is beyond any training run
MAX_LOSS = 100.0
MAX_TOKENS_SEEN = 10**15
MAX_STEP = 10**12


def version_name(n: int) -> str:
    """Mixture versions are m0001, m0002, ..."""
    return f"{VERSION_PREFIX}{n:04d}"


def version_number(name: str) -> int | None:
    if len(name) >= 5 and name.startswith(VERSION_PREFIX) and name[1:].isdigit():
        return int(name[1:])
    return None


class MetricsRecord(BaseModel):
    """One evaluation of one training run (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    run_id: str = Field(min_length=1, max_length=200, description="the training run; unique per run")
    pipeline: str = Field(pattern=PIPELINE_PATTERN, description="the spec's pipeline name")
    mixture_version: str = Field(min_length=1, max_length=40, description="m0001, m0002, ...")
    step: int = Field(ge=0, le=MAX_STEP)
    tokens_seen: int = Field(ge=0, le=MAX_TOKENS_SEEN, description="training tokens seen so far")
    val_loss: dict[str, float] = Field(description="domain -> mean validation NLL in nats")
    finished: bool = False
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    trainer: str = Field("proxy", min_length=1, max_length=100, description="'proxy' or the external trainer's name")
    val_loss_se: dict[str, float] | None = Field(
        None,
        description="domain -> standard error of val_loss (the evaluation's sampling error); used by the stopping rule",
    )
    weights: dict[str, float] | None = Field(
        None,
        description="the weights of the mixture version the run trained on (as the mixture asset states them); "
        "a record whose weights are not its version's is not taken as that version's result",
    )

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def key(self) -> str:
        """Unique per evaluation: the cursor of the feedback sensor is a set of these. A progress
        record and the finished one may share a step, so progress records carry their own suffix."""
        base = f"{self.pipeline}/{self.mixture_version}/{self.run_id}/{self.step}"
        return base if self.finished else f"{base}/progress"

    @property
    def average_loss(self) -> float:
        return math.fsum(self.val_loss.values()) / len(self.val_loss) if self.val_loss else math.nan

    def to_json(self) -> str:
        return self.model_dump_json()


@dataclass(frozen=True)
class RecordProblem:
    """Why a record (or a line) cannot be used. ``where`` names it: a record key or a line."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def record_problems(
    record: MetricsRecord,
    *,
    domains: Sequence[str] | None = None,
    known_versions: Iterable[str] | None = None,
    pipeline: str | None = None,
    weight_domains: Sequence[str] | None = None,
) -> list[str]:
    """Everything semantically wrong with ``record``; [] when it is usable.

    ``domains``: the evaluated domains; ``weight_domains``: the trained ones the weights
    cover (default: ``domains``; fewer when a held-out target domain is evaluated only).
    """
    problems: list[str] = []
    if pipeline is not None and record.pipeline != pipeline:
        problems.append(f"belongs to pipeline {record.pipeline!r}, not {pipeline!r}")
    if version_number(record.mixture_version) is None:
        problems.append(f"mixture_version {record.mixture_version!r} is not a version name (m0001, m0002, ...)")
    elif known_versions is not None:
        known = list(known_versions)
        if record.mixture_version not in known:
            problems.append(f"unknown mixture version {record.mixture_version!r} (known: {', '.join(known) or 'none'})")
    if not record.val_loss:
        problems.append("val_loss is empty")
    bad = [f"{d}={v}" for d, v in record.val_loss.items() if not math.isfinite(v)]
    if bad:
        problems.append(f"non-finite validation loss: {', '.join(bad)}")
    problems += implausible_values(record)
    if domains is not None:
        missing = [d for d in domains if d not in record.val_loss]
        unknown = [d for d in record.val_loss if d not in domains]
        if missing:
            problems.append(f"missing domains: {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown domains: {', '.join(unknown)} (domains: {', '.join(domains)})")
    if record.val_loss_se is not None:
        bad_se = [
            f"{d}={v}" for d, v in record.val_loss_se.items() if d not in record.val_loss or math.isnan(v) or v < 0
        ]
        if bad_se:
            problems.append(f"val_loss_se must be >= 0 for domains of val_loss: {', '.join(bad_se)}")
    if record.weights is not None:
        try:
            names = weight_domains if weight_domains is not None else domains
            validate_weights(record.weights, list(names) if names is not None else list(record.weights))
        except WeightsError as exc:
            problems.append(str(exc))
    return problems


def implausible_values(record: MetricsRecord) -> list[str]:
    """Finite values no evaluation produces: a negative loss or one above MAX_LOSS nats.

    Non-finite losses are not here: a run that diverged reports NaN, which is worth keeping."""
    problems = []
    negative = [f"{d}={v}" for d, v in record.val_loss.items() if math.isfinite(v) and v < 0]
    if negative:
        problems.append(f"negative validation loss: {', '.join(negative)}")
    huge = [f"{d}={v:.6g}" for d, v in record.val_loss.items() if math.isfinite(v) and v > MAX_LOSS]
    if huge:
        problems.append(
            f"implausible validation loss: {', '.join(huge)} (more than {MAX_LOSS:g} nats, worse than a "
            "uniform guess over any vocabulary; report the mean next-token NLL in nats)"
        )
    return problems


def parse_record(
    obj: Mapping[str, Any] | str | bytes, where: str = "record"
) -> tuple[MetricsRecord | None, list[RecordProblem]]:
    """A record from a dict or JSON text, or None and the reasons. Never raises."""
    try:
        if isinstance(obj, str | bytes):
            obj = json.loads(obj)
        if not isinstance(obj, Mapping):
            return None, [RecordProblem(where, f"expected a JSON object, got {type(obj).__name__}")]
        return MetricsRecord.model_validate(dict(obj)), []
    except json.JSONDecodeError as exc:
        return None, [RecordProblem(where, f"not valid JSON: {exc.msg} at column {exc.colno}")]
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(record)"
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            msgs.append(RecordProblem(where, f"{loc}: {msg}"))
        return None, msgs


def parse_jsonl(text: str, source: str = "metrics") -> tuple[list[MetricsRecord], list[RecordProblem]]:
    """Records of a JSON-lines text and the problems of the lines that are not records."""
    records: list[MetricsRecord] = []
    problems: list[RecordProblem] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rec, probs = parse_record(line, where=f"{source}:{lineno}")
        if rec is not None:
            records.append(rec)
        problems.extend(probs)
    return records, problems


def to_jsonl(records: Iterable[MetricsRecord]) -> str:
    """JSON lines (non-finite losses written as NaN/Infinity, which parse_jsonl reads back)."""
    return "".join(r.to_json() + "\n" for r in records)
