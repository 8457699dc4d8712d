"""Metrics records (validation, JSON lines) and the pure eval-feedback decision."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from corpus.feedback import FeedbackError, FeedbackState, NewVersion, Skip, decide
from corpus.metrics import MetricsRecord, parse_jsonl, parse_record, record_problems, to_jsonl, version_name
from corpus.spec import MixtureSpec

DOMAINS = ["web", "code", "math"]
NATURAL = {"web": 0.7, "code": 0.2, "math": 0.1}
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def rec(
    version: str,
    losses: dict[str, float],
    *,
    step: int = 100,
    finished: bool = True,
    run_id: str | None = None,
    minutes: int = 0,
    pipeline: str = "demo",
) -> MetricsRecord:
    return MetricsRecord(
        run_id=run_id or f"run-{version}",
        pipeline=pipeline,
        mixture_version=version,
        step=step,
        tokens_seen=step * 1000,
        val_loss=losses,
        finished=finished,
        created_at=T0 + timedelta(minutes=minutes),
    )


def spec(**kw) -> MixtureSpec:
    return MixtureSpec(**{"policy": "excess_loss", "rounds": 3, **kw})


def started(s: MixtureSpec) -> FeedbackState:
    first = decide([], FeedbackState(), s, DOMAINS, NATURAL, pipeline="demo")
    assert isinstance(first, NewVersion) and first.version == "m0001"
    return first.state


LOSS1 = {"web": 3.0, "code": 2.0, "math": 4.0}


# --- metrics records ----------------------------------------------------------------


def test_record_json_lines_round_trip_with_nan():
    good = rec("m0001", LOSS1)
    bad = rec("m0001", {"web": math.nan, "code": math.inf, "math": 1.0}, step=5)
    text = to_jsonl([good, bad])
    records, problems = parse_jsonl(text)
    assert problems == [] and records[0] == good
    assert math.isnan(records[1].val_loss["web"]) and records[1].val_loss["code"] == math.inf
    assert record_problems(records[1], domains=DOMAINS) == ["non-finite validation loss: web=nan, code=inf"]


def test_record_problems_say_what_is_wrong():
    r = MetricsRecord(
        run_id="r",
        pipeline="other",
        mixture_version="v7",
        step=1,
        tokens_seen=10,
        val_loss={"web": -1.0, "lit": 2.0},
        weights={"web": 0.5},
    )
    problems = record_problems(r, domains=DOMAINS, known_versions=["m0001"], pipeline="demo")
    text = " | ".join(problems)
    for expected in [
        "belongs to pipeline 'other'",
        "'v7' is not a version name",
        "negative validation loss: web=-1.0",
        "missing domains: code, math",
        "unknown domains: lit",
        "missing domains: code, math",
    ]:
        assert expected in text
    assert record_problems(rec("m0002", LOSS1), domains=DOMAINS, known_versions=["m0001"]) == [
        "unknown mixture version 'm0002' (known: m0001)"
    ]
    assert record_problems(rec("m0001", LOSS1), domains=DOMAINS, known_versions=["m0001"], pipeline="demo") == []


def test_bad_lines_become_problems_not_exceptions():
    text = (
        '{"run_id": "r"}\nnot json\n[1, 2]\n\n'
        + rec("m0001", LOSS1).to_json()
        + '\n{"run_id":"r","pipeline":"p","mixture_version":"m0001","step":-1,"tokens_seen":0,'
        '"val_loss":{},"extra":1}\n'
    )
    records, problems = parse_jsonl(text, source="metrics.jsonl")
    assert len(records) == 1
    wheres = {p.where for p in problems}
    assert wheres == {"metrics.jsonl:1", "metrics.jsonl:2", "metrics.jsonl:3", "metrics.jsonl:6"}
    messages = " | ".join(str(p) for p in problems)
    assert (
        "pipeline: Field required" in messages and "not valid JSON" in messages and "expected a JSON object" in messages
    )
    assert "step: Input should be greater than or equal to 0" in messages and "extra: unknown field" in messages
    assert parse_record({"x": 1})[0] is None


def test_versions_and_keys():
    assert version_name(1) == "m0001" and version_name(12) == "m0012"
    assert rec("m0001", LOSS1, step=7).key == "demo/m0001/run-m0001/7"
    naive = MetricsRecord(
        run_id="r",
        pipeline="p",
        mixture_version="m0001",
        step=0,
        tokens_seen=0,
        val_loss=LOSS1,
        created_at=datetime(2025, 1, 1),
    )
    assert naive.created_at.tzinfo is UTC


# --- decide -------------------------------------------------------------------------------


def test_first_call_creates_the_initial_version():
    d = decide([], FeedbackState(), spec(initial="uniform"), DOMAINS, NATURAL)
    assert isinstance(d, NewVersion) and d.version == "m0001"
    assert d.weights == pytest.approx({"web": 1 / 3, "code": 1 / 3, "math": 1 / 3})
    assert d.state.versions[0].run_key == d.run_key


def test_new_finished_record_proposes_the_next_version_with_a_stable_key():
    s = spec()
    state = started(s)
    records = [rec("m0001", LOSS1, step=50, finished=False), rec("m0001", LOSS1, step=100, minutes=1)]
    a = decide(records, state, s, DOMAINS, NATURAL, pipeline="demo")
    b = decide(
        list(reversed(records)), FeedbackState.from_cursor(state.to_cursor()), s, DOMAINS, NATURAL, pipeline="demo"
    )
    assert isinstance(a, NewVersion) and a.version == "m0002"
    assert a.run_key == b.run_key and a.run_key.startswith("m0002-") and a.weights == b.weights
    assert a.weights["math"] > NATURAL["math"]  # highest loss gains weight
    assert sum(a.weights.values()) == pytest.approx(1.0)
    assert [v.version for v in a.state.versions] == ["m0001", "m0002"]
    assert a.state.versions[0].val_loss == LOSS1
    assert set(a.state.seen) == {r.key for r in records}
    # another result changes the inputs, so the key changes
    other = decide([rec("m0001", {**LOSS1, "web": 3.5})], state, s, DOMAINS, NATURAL, pipeline="demo")
    assert isinstance(other, NewVersion) and other.run_key != a.run_key


def test_same_record_again_is_skipped():
    s = spec()
    records = [rec("m0001", LOSS1)]
    d = decide(records, started(s), s, DOMAINS, NATURAL, pipeline="demo")
    again = decide(records, FeedbackState.from_cursor(d.state.to_cursor()), s, DOMAINS, NATURAL, pipeline="demo")
    assert isinstance(again, Skip) and again.reason == "no new finished records"
    assert again.state == d.state


def test_unfinished_records_only_wait():
    s = spec()
    d = decide([rec("m0001", LOSS1, finished=False)], started(s), s, DOMAINS, NATURAL)
    assert isinstance(d, Skip) and d.reason == "no new finished records"
    assert len(d.state.seen) == 1


def test_a_finished_record_at_the_step_of_a_progress_record_is_a_result():
    # an external trainer may report progress at step 100 and then its final evaluation at step 100
    s = spec()
    state = started(s)
    progress = rec("m0001", LOSS1, step=100, finished=False)
    waited = decide([progress], state, s, DOMAINS, NATURAL, pipeline="demo")
    assert isinstance(waited, Skip)
    final = rec("m0001", LOSS1, step=100, minutes=1)
    d = decide(
        [progress, final], FeedbackState.from_cursor(waited.state.to_cursor()), s, DOMAINS, NATURAL, pipeline="demo"
    )
    assert isinstance(d, NewVersion) and d.version == "m0002"
    assert progress.key != final.key


def test_malformed_records_are_skipped_with_reasons():
    s = spec()
    state = started(s)
    nan = rec("m0001", {"web": math.nan, "code": 2.0, "math": 4.0}, run_id="bad")
    missing = rec("m0001", {"web": 3.0}, run_id="partial")
    unknown = rec("m0009", LOSS1, run_id="future")
    d = decide([nan, missing, unknown], state, s, DOMAINS, NATURAL)
    assert isinstance(d, Skip)
    assert d.reason.startswith("no new finished records; 3 record(s) skipped")
    text = " | ".join(d.skipped_records)
    assert "record demo/m0001/bad/100 skipped because non-finite validation loss: web=nan" in text
    assert "missing domains: code, math" in text and "unknown mixture version 'm0009'" in text
    assert len(d.state.seen) == 3  # not reported again
    # a good record next to a bad one still counts
    good = decide([nan, rec("m0001", LOSS1)], state, s, DOMAINS, NATURAL)
    assert isinstance(good, NewVersion) and len(good.skipped_records) == 1


def test_round_limit():
    s = spec(rounds=2)
    d1 = decide([rec("m0001", LOSS1)], started(s), s, DOMAINS, NATURAL)
    assert isinstance(d1, NewVersion) and d1.version == "m0002"
    d2 = decide([rec("m0002", {"web": 2.9, "code": 1.9, "math": 3.5})], d1.state, s, DOMAINS, NATURAL)
    assert isinstance(d2, Skip) and d2.reason == "round limit reached (rounds=2)"
    assert d2.state.versions[1].val_loss is not None


def test_improvement_below_min_improvement_stops():
    s = spec(min_improvement=0.1)
    d1 = decide([rec("m0001", LOSS1)], started(s), s, DOMAINS, NATURAL)
    small_gain = {"web": 2.99, "code": 1.99, "math": 3.99}
    d2 = decide([rec("m0002", small_gain)], d1.state, s, DOMAINS, NATURAL)
    assert isinstance(d2, Skip) and d2.reason.startswith(
        "improvement below min_improvement: average validation loss 3.0000 (m0001) -> 2.9900 (m0002)"
    )
    big_gain = {"web": 2.7, "code": 1.8, "math": 3.5}
    d3 = decide([rec("m0002", big_gain)], d1.state, s, DOMAINS, NATURAL)
    assert isinstance(d3, NewVersion) and d3.version == "m0003"


def test_a_second_run_of_a_version_is_not_a_new_result():
    s = spec()
    d1 = decide([rec("m0001", LOSS1)], started(s), s, DOMAINS, NATURAL)
    late = decide([rec("m0001", LOSS1, run_id="second-run")], d1.state, s, DOMAINS, NATURAL)
    assert isinstance(late, Skip) and "already has a result" in late.reason


def test_policy_that_repeats_itself_is_not_rerun():
    s = spec(policy="natural", initial="natural")
    d = decide([rec("m0001", LOSS1)], started(s), s, DOMAINS, NATURAL)
    assert isinstance(d, Skip) and "proposes the weights of m0001 again" in d.reason


def test_cursor_round_trip_and_bad_cursor():
    state = started(spec())
    assert FeedbackState.from_cursor(state.to_cursor()) == state
    assert FeedbackState.from_cursor(None) == FeedbackState()
    with pytest.raises(FeedbackError, match="reset the sensor's cursor"):
        FeedbackState.from_cursor('{"seen": 5}')


def test_exploration_rounds_do_not_trip_min_improvement():
    s = spec(policy="regression", policy_config={"min_history": 3}, rounds=6, min_improvement=0.05)
    d = decide([rec("m0001", LOSS1)], started(s), s, DOMAINS, NATURAL)
    assert isinstance(d, NewVersion) and d.version == "m0002"
    worse = {"web": 3.5, "code": 2.5, "math": 4.5}  # an exploration sample may be worse
    d = decide([rec("m0002", worse)], d.state, s, DOMAINS, NATURAL)
    assert isinstance(d, NewVersion) and d.version == "m0003"
    d = decide([rec("m0003", {"web": 3.1, "code": 2.2, "math": 3.9})], d.state, s, DOMAINS, NATURAL)
    assert isinstance(d, NewVersion) and d.version == "m0004"  # fitted on 3 rounds now
    d = decide([rec("m0004", {"web": 3.2, "code": 2.3, "math": 4.0})], d.state, s, DOMAINS, NATURAL)
    assert isinstance(d, Skip) and d.reason.startswith("improvement below min_improvement")


def test_without_min_improvement_every_round_runs():
    s = spec(rounds=3)  # min_improvement unset
    d1 = decide([rec("m0001", LOSS1)], started(s), s, DOMAINS, NATURAL)
    worse = {"web": 3.5, "code": 2.5, "math": 4.5}
    d2 = decide([rec("m0002", worse)], d1.state, s, DOMAINS, NATURAL)
    assert isinstance(d2, NewVersion) and d2.version == "m0003"
