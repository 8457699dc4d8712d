"""Asset checks of the global and learning-loop assets (the stage checks live in metadata.py).

* ``mixture``: ``weights_valid``: requested and effective weights name every domain, are
  finite, non-negative and sum to 1; the plan stays within the token budget.
* ``proxy_eval``: ``losses_finite``: a finite, positive validation loss for every domain.
* ``<stage>_index``: ``index_accounted``: one index file per source, per-source duplicate
  counts adding up to the total, no more duplicates than input documents.
* ``tokenizer``: ``round_trip``: the document separator exists and a sample text encodes and
  decodes to itself; the vocabulary is no larger than the spec asks.

Each result is reported with its asset's materialization, so the UI's *Checks* tab shows it
next to the stage checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

WEIGHTS_VALID = "weights_valid"
LOSSES_FINITE = "losses_finite"
INDEX_ACCOUNTED = "index_accounted"
ROUND_TRIP = "round_trip"
SUM_TOLERANCE = 1e-6
ROUND_TRIP_TEXT = "def f(x):\n    return x * 2  # café, naïve, 東京\n\n"

DESCRIPTIONS = {
    WEIGHTS_VALID: "Requested and effective weights name every domain, are finite and non-negative and sum to 1; "
    "the planned tokens stay within the budget.",
    LOSSES_FINITE: "Every domain has a finite, positive validation loss.",
    INDEX_ACCOUNTED: "One index file per source; per-source duplicate counts add up to the total; "
    "no more duplicates than input documents.",
    ROUND_TRIP: "The tokenizer has the document separator, a sample text decodes to itself, "
    "and the vocabulary is no larger than the spec asks.",
}


def check_spec(
    key: dg.AssetKey, name: str, partitions_def: dg.PartitionsDefinition | None = None
) -> list[dg.AssetCheckSpec]:
    from platform_assets.automation import partitioned_check_specs

    return partitioned_check_specs(
        [dg.AssetCheckSpec(name=name, asset=key, description=DESCRIPTIONS[name])], partitions_def
    )


def _weights_problems(label: str, weights: Mapping[str, float], domains: Sequence[str]) -> list[str]:
    problems = []
    missing, unknown = [d for d in domains if d not in weights], [d for d in weights if d not in domains]
    if missing:
        problems.append(f"{label} weights miss {', '.join(missing)}")
    if unknown:
        problems.append(f"{label} weights name unknown domains {', '.join(unknown)}")
    bad = [d for d, w in weights.items() if not math.isfinite(w) or w < 0]
    if bad:
        problems.append(f"{label} weights not finite and >= 0: {', '.join(bad)}")
    total = math.fsum(w for w in weights.values() if math.isfinite(w))
    if abs(total - 1.0) > SUM_TOLERANCE:
        problems.append(f"{label} weights sum to {total:.6f}, not 1")
    return problems


def mixture_check(key: dg.AssetKey, plan: Any, domains: Sequence[str]) -> dg.AssetCheckResult:
    problems = _weights_problems("requested", plan.requested_weights, domains) + _weights_problems(
        "effective", plan.effective_weights, domains
    )
    if plan.total_tokens > plan.budget_tokens:
        problems.append(f"{plan.total_tokens:,} planned tokens exceed the budget of {plan.budget_tokens:,}")
    return dg.AssetCheckResult(
        check_name=WEIGHTS_VALID,
        asset_key=key,
        passed=not problems,
        metadata={
            "sum_requested": round(math.fsum(plan.requested_weights.values()), 6),
            "sum_effective": round(math.fsum(plan.effective_weights.values()), 6),
            "total_tokens": plan.total_tokens,
        },
        description="; ".join(problems)
        or f"{len(domains)} domains, weights sum to 1, {plan.total_tokens:,} of {plan.budget_tokens:,} tokens",
    )


def losses_check(key: dg.AssetKey, losses: Mapping[str, Any], domains: Sequence[str]) -> dg.AssetCheckResult:
    missing = [d for d in domains if d not in losses]
    bad = [
        f"{d}={losses[d]}"
        for d in domains
        if d in losses and not (isinstance(losses[d], int | float) and math.isfinite(losses[d]) and losses[d] > 0)
    ]
    problems = ([f"no loss for {', '.join(missing)}"] if missing else []) + (
        [f"not finite and positive: {', '.join(bad)}"] if bad else []
    )
    return dg.AssetCheckResult(
        check_name=LOSSES_FINITE,
        asset_key=key,
        passed=not problems,
        metadata={"domains": len(domains)},
        description="; ".join(problems) or f"a finite validation loss for each of {len(domains)} domains",
    )


def index_check(
    key: dg.AssetKey, summary: Mapping[str, Any], sources: Sequence[str], files_present: Sequence[str]
) -> dg.AssetCheckResult:
    per_source = {s: sum(r.values()) for s, r in summary["per_source"].items()}
    problems = []
    missing = [s for s in sources if s not in files_present]
    if missing:
        problems.append(f"no index file for {', '.join(missing)}")
    if sum(per_source.values()) != summary["duplicates"]:
        problems.append(f"per-source duplicates add up to {sum(per_source.values())}, not {summary['duplicates']}")
    if summary["duplicates"] > summary["docs_in"]:
        problems.append(f"{summary['duplicates']} duplicates among {summary['docs_in']} documents")
    return dg.AssetCheckResult(
        check_name=INDEX_ACCOUNTED,
        asset_key=key,
        passed=not problems,
        metadata={"duplicates": summary["duplicates"], "docs_in": summary["docs_in"]},
        description="; ".join(problems)
        or f"{summary['duplicates']:,} duplicates of {summary['docs_in']:,} documents, every source indexed",
    )


def tokenizer_check(key: dg.AssetKey, tokenizer_json: bytes, max_vocab: int | None) -> dg.AssetCheckResult:
    from corpus.tokenize import TokenizerError, load_tokenizer

    problems = []
    try:
        tok = load_tokenizer(tokenizer_json)
    except TokenizerError as exc:
        return dg.AssetCheckResult(check_name=ROUND_TRIP, asset_key=key, passed=False, description=str(exc))
    decoded = tok.decode(tok.encode(ROUND_TRIP_TEXT).ids)
    if decoded != ROUND_TRIP_TEXT:
        problems.append(f"a sample text decodes to {decoded[:80]!r}")
    vocab = tok.get_vocab_size()
    if max_vocab is not None and vocab > max_vocab:
        problems.append(f"vocabulary of {vocab} exceeds the spec's {max_vocab}")
    return dg.AssetCheckResult(
        check_name=ROUND_TRIP,
        asset_key=key,
        passed=not problems,
        metadata={"vocab_size": vocab},
        description="; ".join(problems) or f"{vocab} tokens, separator present, sample text round-trips",
    )
