"""The eval-feedback decision: new metrics records -> a new mixture version, or a reason not to.

:func:`decide` is pure; the ``eval_feedback`` sensor wraps it. It reads the records the
sensor fetched, the sensor's cursor (:class:`FeedbackState`: the record keys already
handled and the versions so far with their weights and results) and the pipeline's
``MixtureSpec``, and returns a :class:`NewVersion` or a :class:`Skip`, each carrying the
updated state to store as the new cursor.

Rules, in order:

1. No versions yet: propose ``m0001`` with ``spec.initial`` weights (records untouched).
2. Each record not seen before is marked seen. A record with problems (non-finite loss,
   missing or unknown domains, unknown version, another pipeline) is skipped with its
   reason; it never raises. Unfinished records are progress only. The first finished
   record of a version is that version's result, unless it says it trained on other
   weights than the version's (a stale result of an earlier loop that used the same
   version name, or of another mixture): that one is skipped with the reason.
3. Skip when no version got a new result, when the latest version has no result yet,
   when ``spec.rounds`` versions exist (m0001 included), when the latest target loss
   (``spec.target``: average, worst or weighted) improved on the previous version's by less
   than ``min_improvement`` (when set), or, with ``stop_within_se``, when the latest version
   beats the best earlier one by less than ``stop_within_se`` standard errors of that
   difference (``sqrt(se_latest^2 + se_best^2 + 2 seed_sd^2)``: the records' ``val_loss_se``
   plus, when the spec gives it, the seed-to-seed spread ``seed_sd`` of the target). Neither
   is checked while the policy explores (RegMix's first proposals are samples).
4. Otherwise run the policy on the history and propose the next version (m0002, ...).
   ``run_key`` hashes every input of that proposal, so asking twice gives the same key
   and Dagster runs it once.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corpus.metrics import MetricsRecord, record_problems, version_name
from corpus.mixing.policies import PolicyError, RoundResult, initial_weights, policy_exploring, propose_weights
from corpus.mixing.target import Target, TargetError, target_loss, target_se
from corpus.mixing.weights import WeightsError
from corpus.spec import MixtureSpec

SAME_WEIGHTS_TOLERANCE = 1e-6


class FeedbackError(ValueError):
    pass


class VersionState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    weights: dict[str, float]
    run_key: str
    val_loss: dict[str, float] | None = Field(
        None, description="the result: final validation loss of its first finished run"
    )
    run_id: str | None = None
    tokens_seen: int | None = None
    val_loss_se: dict[str, float] | None = None

    @property
    def average_loss(self) -> float:
        return math.fsum(self.val_loss.values()) / len(self.val_loss) if self.val_loss else math.nan


class FeedbackState(BaseModel):
    """The sensor's cursor: serialize with :meth:`to_cursor`, read with :meth:`from_cursor`."""

    model_config = ConfigDict(extra="forbid")

    seen: list[str] = Field(default_factory=list, description="keys of the records already handled")
    versions: list[VersionState] = Field(default_factory=list)

    def to_cursor(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_cursor(cls, cursor: str | None) -> FeedbackState:
        if not cursor:
            return cls()
        try:
            return cls.model_validate_json(cursor)
        except ValidationError as exc:
            raise FeedbackError(
                f"the eval_feedback cursor is not a FeedbackState ({exc.error_count()} problems, first: "
                f"{exc.errors()[0]['msg']}); reset the sensor's cursor"
            ) from None

    def history(self) -> list[RoundResult]:
        return [
            RoundResult(
                version=v.version,
                weights=v.weights,
                val_loss=v.val_loss,
                tokens_seen=v.tokens_seen,
                val_loss_se=v.val_loss_se,
            )
            for v in self.versions
            if v.val_loss is not None
        ]


class NewVersion(BaseModel):
    action: Literal["new_version"] = "new_version"
    version: str
    weights: dict[str, float]
    run_key: str
    reason: str
    skipped_records: list[str] = Field(default_factory=list)
    state: FeedbackState


class Skip(BaseModel):
    action: Literal["skip"] = "skip"
    reason: str
    skipped_records: list[str] = Field(default_factory=list)
    state: FeedbackState
    summary: str = Field("", description="the reason without the list of skipped records")


Decision = NewVersion | Skip


def _run_key(version: str, payload: dict) -> str:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"{version}-{digest[:16]}"


def _weights_differ(a: Mapping[str, float], b: Mapping[str, float], domains: Sequence[str]) -> bool:
    return max(abs(a.get(d, 0.0) - b.get(d, 0.0)) for d in domains) > SAME_WEIGHTS_TOLERANCE


def _fmt(weights: Mapping[str, float]) -> str:
    return ", ".join(f"{d}={w:.3f}" for d, w in weights.items())


def decide(
    records: Sequence[MetricsRecord],
    state: FeedbackState,
    spec: MixtureSpec,
    domains: Sequence[str],
    natural_weights: Mapping[str, float],
    *,
    pipeline: str | None = None,
) -> Decision:
    """The next step of the learning loop (rules in the module docstring)."""
    domains = list(domains)
    if not state.versions:
        weights = initial_weights(spec.initial, domains, natural_weights)
        version = version_name(1)
        key = _run_key(version, {"initial": spec.initial, "weights": weights, "domains": domains, "pipeline": pipeline})
        new_state = FeedbackState(
            seen=list(state.seen), versions=[VersionState(version=version, weights=weights, run_key=key)]
        )
        label = spec.initial if isinstance(spec.initial, str) else "explicit"
        return NewVersion(
            version=version, weights=weights, run_key=key, reason=f"initial mixture ({label} weights)", state=new_state
        )

    goal = Target.of(spec.target)
    evaluated = [*domains, *goal.held_out(domains)]  # a held-out target domain is evaluated, never trained on
    seen = set(state.seen)
    versions = [v.model_copy(deep=True) for v in state.versions]
    by_name = {v.version: v for v in versions}
    skipped: list[str] = []
    new_results: list[str] = []
    for rec in sorted(records, key=lambda r: (r.created_at, r.key)):
        if rec.key in seen:
            continue
        seen.add(rec.key)
        problems = record_problems(
            rec, domains=evaluated, known_versions=list(by_name), pipeline=pipeline, weight_domains=domains
        )
        if problems:
            skipped.append(f"record {rec.key} skipped because {'; '.join(problems)}")
            continue
        if not rec.finished:
            continue
        target = by_name[rec.mixture_version]
        if rec.weights is not None and _weights_differ(rec.weights, target.weights, domains):
            skipped.append(
                f"record {rec.key} skipped because it trained on {_fmt(rec.weights)}, not on {target.version}'s "
                f"weights ({_fmt(target.weights)}): a result of another mixture, e.g. an earlier loop that used the "
                "same version name"
            )
            continue
        if target.val_loss is None:
            target.val_loss = dict(rec.val_loss)
            target.run_id = rec.run_id
            target.tokens_seen = rec.tokens_seen
            target.val_loss_se = dict(rec.val_loss_se) if rec.val_loss_se else None
            new_results.append(target.version)
        else:
            skipped.append(
                f"record {rec.key} skipped because {target.version} already has a result (run {target.run_id})"
            )
    new_state = FeedbackState(seen=sorted(seen), versions=versions)

    def skip(reason: str) -> Skip:
        summary = reason
        if skipped:
            reason += f"; {len(skipped)} record(s) skipped: " + " | ".join(skipped)
        return Skip(reason=reason, skipped_records=skipped, state=new_state, summary=summary)

    if not new_results:
        return skip("no new finished records")
    latest = versions[-1]
    if latest.val_loss is None:
        return skip(f"waiting for a finished run of {latest.version} (results arrived for {', '.join(new_results)})")
    if len(versions) >= spec.rounds:
        return skip(f"round limit reached (rounds={spec.rounds})")
    history = new_state.history()
    # an exploring policy (regression with a short history) made the latest version on purpose
    explored = len(history) >= 2 and policy_exploring(spec.policy, history[:-1], domains, spec.policy_config)
    if len(history) >= 2 and not explored:
        stop = _stop_reason(history, spec, goal, domains)
        if stop:
            return skip(stop)
    try:
        weights = propose_weights(
            spec.policy, history, domains, natural_weights, spec.policy_config, seed=spec.seed, target=goal
        )
    except (PolicyError, WeightsError) as exc:  # e.g. a floor no mixture of these domains can meet
        return skip(f"policy {spec.policy!r} could not propose weights: {exc}")
    if max(abs(weights[d] - latest.weights.get(d, 0.0)) for d in domains) < SAME_WEIGHTS_TOLERANCE:
        return skip(f"policy {spec.policy!r} proposes the weights of {latest.version} again; nothing to train")
    version = version_name(len(versions) + 1)
    key = _run_key(
        version,
        {
            "pipeline": pipeline,
            "policy": spec.policy,
            "policy_config": spec.policy_config,
            "seed": spec.seed,
            "domains": domains,
            "natural": {d: natural_weights[d] for d in domains},
            "history": [h.model_dump() for h in history],
            "weights": weights,
            **({"target": spec.target.model_dump()} if spec.target.kind != "average" else {}),
        },
    )
    new_state.versions.append(VersionState(version=version, weights=weights, run_key=key))
    reason = (
        f"{spec.policy} policy on {len(history)} evaluated version(s); {latest.version} {goal.describe()} "
        f"{target_loss(latest.val_loss, goal, domains):.4f}; new weights: {_fmt(weights)}"
    )
    return NewVersion(
        version=version, weights=weights, run_key=key, reason=reason, skipped_records=skipped, state=new_state
    )


def _stop_reason(history: Sequence[RoundResult], spec: MixtureSpec, goal: Target, domains: Sequence[str]) -> str | None:
    """Why the loop stops after ``history`` (min_improvement, then stop_within_se), or None."""
    try:
        values = [target_loss(h.val_loss, goal, domains) for h in history]
    except TargetError as exc:
        return f"cannot compute the target: {exc}"
    name = goal.describe()
    if spec.min_improvement is not None:
        before, after = values[-2], values[-1]
        improvement = before - after
        if improvement < spec.min_improvement:
            return (
                f"improvement below min_improvement: {name} {before:.4f} ({history[-2].version}) -> "
                f"{after:.4f} ({history[-1].version}), improvement {improvement:+.4f} < {spec.min_improvement}"
            )
    if spec.stop_within_se is not None:
        best = min(range(len(values) - 1), key=values.__getitem__)
        se_best = target_se(history[best].val_loss, history[best].val_loss_se, goal, domains)
        se_last = target_se(history[-1].val_loss, history[-1].val_loss_se, goal, domains)
        sd = spec.seed_sd or 0.0
        if math.isfinite(se_best) and math.isfinite(se_last):
            se = math.sqrt(se_best**2 + se_last**2 + 2 * sd**2)
        elif sd > 0:
            se = math.sqrt(2) * sd
        else:
            return None  # no val_loss_se and no seed_sd: the rule cannot judge; rounds decide
        improvement = values[best] - values[-1]
        if improvement < spec.stop_within_se * se:
            return (
                f"no improvement beyond the {'evaluation and seed' if sd else 'evaluation'} noise: {name} "
                f"{values[best]:.4f} (best earlier, {history[best].version}) -> {values[-1]:.4f} "
                f"({history[-1].version}), improvement {improvement:+.4f} < {spec.stop_within_se} x SE {se:.4f}"
            )
    return None
