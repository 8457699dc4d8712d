"""The eval_feedback sensor and the metrics store under bad and racing input, and the policies' outputs.

The sensor runs through ``build_sensor_context`` with a real :class:`MetricsStore` on a temporary
root: files are written the way trainers write them (``MetricsClient.append``) and the way a
broken or racing writer leaves them (half a record, an empty file, a temporary file, bytes
that are not UTF-8, absurd nesting). Whatever is in the folder, a tick never raises, says what
was wrong, never requests a version twice, and the weights it requests are valid.

The weight policies are property-tested over random histories: every proposal is finite,
sums to 1 and gives each domain at least the policy's floor.
"""

from __future__ import annotations

import json
import math
import posixpath
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from corpus.feedback import FeedbackState, NewVersion, decide
from corpus.io import CorpusStore
from corpus.metrics import MetricsRecord, implausible_values
from corpus.mixing.policies import POLICIES, RoundResult, propose_weights
from corpus.runner import stage_dir
from corpus.spec import MixtureSpec, PathPolicy, SpecError, load_spec, parse_spec
from platform_assets.components.learning import build_learning_defs
from platform_assets.resources import default_resources
from resources.metrics import METRICS_DIR, MetricsClient, MetricsStore
from resources.storage import CorpusStorage

DOMAINS = ["docs", "pages", "code"]
LOSSES = {"docs": 4.0, "pages": 5.0, "code": 3.0}
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def spec_dict(**mixture: Any) -> dict[str, Any]:
    return {
        "pipeline": "fb",
        "sources": [{"name": d, "location": f"data/sources/{d}", "format": "jsonl"} for d in DOMAINS],
        "stages": [{"name": "normalized", "op": "normalize_text@1"}],
        "mixture": {"policy": "excess_loss", "budget_tokens": 10_000, "rounds": 4, **mixture},
    }


class Loop:
    """One pipeline's sensor with a real metrics store and storage on a temporary root."""

    def __init__(self, root: Path, **mixture: Any):
        self.spec = parse_spec(spec_dict(**mixture))
        self.storage = CorpusStorage(root=str(root / "store"))
        self.metrics = MetricsStore(root=str(root / "metrics"))
        self.client = self.metrics.client(self.storage)
        self.folder = root / "metrics" / METRICS_DIR / "fb"
        store = self.storage.store()
        for i, src in enumerate(DOMAINS):  # the sensor needs only the token counts of the build loop
            w = store.partition_writer(stage_dir("fb", "tokenized", src))
            w.commit(summary={"extra": {"tokens_train": 1000 * (i + 1)}})
        defs = dg.Definitions.merge(build_learning_defs(self.spec), dg.Definitions(resources=default_resources()))
        self.sensor = defs.resolve_sensor_def("fb_eval_feedback")
        self.requests: list[dg.RunRequest] = []
        self.instance = dg.DagsterInstance.ephemeral()

    def tick(self, cursor: str | None, *, apply: bool = True) -> tuple[dg.SensorResult | dg.SkipReason, str | None]:
        """One tick; with ``apply`` its request is carried out (partition added, mixture planned) as the daemon
        would."""
        with dg.build_sensor_context(
            instance=self.instance, cursor=cursor, resources={"metrics": self.metrics, "storage": self.storage}
        ) as ctx:
            result = self.sensor(ctx)
            if isinstance(result, dg.SensorResult):
                self.requests += list(result.run_requests or [])
                if apply:
                    self.apply(result)
            return result, ctx.cursor

    def apply(self, result: dg.SensorResult) -> None:
        for req in result.run_requests or []:
            self.instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    dg.AssetKey(["fb", "mixture"]),
                    partition=req.partition_key,
                    metadata={"weights": dg.MetadataValue.json(self.weights(req))},
                )
            )

    def report(
        self,
        version: str,
        losses: dict[str, float],
        *,
        run: str = "r1",
        finished: bool = True,
        minutes: int = 0,
        pipeline: str = "fb",
        step: int = 100,
    ) -> str:
        rec = MetricsRecord(
            run_id=f"{run}-{version}",
            pipeline=pipeline,
            mixture_version=version,
            step=step,
            tokens_seen=10_000,
            val_loss=losses,
            finished=finished,
            created_at=T0 + timedelta(minutes=minutes),
        )
        if pipeline == "fb" and not implausible_values(rec):
            self.client.append(rec)
        else:  # a record of another pipeline, or one the client refuses (a negative loss), written by another writer
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{run}-other.json").write_bytes(rec.model_dump_json().encode())
        return rec.model_dump_json()

    def weights(self, request: dg.RunRequest) -> dict[str, float]:
        return request.run_config["ops"]["fb__mixture"]["config"]["weights"]


def assert_valid_weights(weights: dict[str, float], floor: float = 0.0) -> None:
    assert list(weights) == DOMAINS or set(weights) == set(DOMAINS)
    assert all(math.isfinite(w) and w >= floor * (1 - 1e-9) for w in weights.values()), weights
    assert math.isclose(sum(weights.values()), 1.0, abs_tol=1e-6), weights


def skip_text(result: Any) -> str:
    assert isinstance(result, dg.SkipReason), f"expected a skip, got {result}"
    return result.skip_message or ""


def test_bad_records_and_broken_files_never_crash_a_tick(tmp_path: Path) -> None:
    loop = Loop(tmp_path)
    first, cursor = loop.tick(None)
    assert isinstance(first, dg.SensorResult) and first.run_requests[0].partition_key == "m0001"

    loop.report("m0001", {"docs": math.nan, "pages": 5.0, "code": 3.0}, run="nan")
    loop.report("m0001", {"docs": math.inf, "pages": 5.0, "code": 3.0}, run="inf")
    loop.report("m0001", {"docs": 4.0, "pages": 5.0}, run="short")
    loop.report("m0001", {**LOSSES, "music": 2.0}, run="extra")
    loop.report("m0007", LOSSES, run="future")
    loop.report("m0001", LOSSES, run="stray", pipeline="other")
    whole = loop.report("m0001", LOSSES, run="partial")
    partial = next(p for p in loop.folder.iterdir() if "partial" in p.name)
    partial.write_text(whole[: len(whole) // 2])  # a writer that does not write atomically, caught mid-write
    (loop.folder / "00000000000000000001-empty-00000000.json").write_bytes(b"")
    (loop.folder / "00000000000000000002-latin1-00000000.json").write_bytes(b'{"run_id": "caf\xe9"}')
    (loop.folder / "00000000000000000003-deep-00000000.json").write_bytes(b"[" * 100_000)
    (loop.folder / f".{partial.name}.tmp-0123abcd").write_text(whole[:10])  # CorpusStore's own temporary name
    (loop.folder / "notes.txt").write_text("not a record")

    result, cursor2 = loop.tick(cursor)
    msg = skip_text(result)
    for fragment in (
        "non-finite validation loss: docs=nan",
        "non-finite validation loss: docs=inf",
        "missing domains: code",
        "unknown domains: music",
        "unknown mixture version 'm0007'",
        "belongs to pipeline 'other'",
        "unreadable metrics files skipped",
        partial.name,
        "-empty-",
        "-latin1-",
        "-deep-",
        "no new finished records",
    ):
        assert fragment in msg, f"{fragment!r} missing from the skip reason: {msg}"
    assert "tmp-0123abcd" not in msg and "notes.txt" not in msg  # temporary and foreign files are not records
    assert cursor2 != cursor

    # the writer finishes the record: the next tick acts on it, once
    partial.write_text(whole)
    result, cursor3 = loop.tick(cursor2, apply=False)
    assert isinstance(result, dg.SensorResult)
    (req,) = result.run_requests
    assert req.partition_key == "m0002" and req.run_config["ops"]["fb__mixture"]["config"]["source_runs"] == [
        "partial-m0001"
    ]
    assert_valid_weights(loop.weights(req), floor=0.01)
    again, _ = loop.tick(cursor2, apply=False)  # a re-evaluated tick asks for the same run
    assert isinstance(again, dg.SensorResult) and again.run_requests[0].run_key == req.run_key
    loop.apply(result)
    later, _ = loop.tick(cursor3)
    assert "waiting for a finished run of m0002" in skip_text(later) and "non-finite" not in skip_text(later)


def test_duplicate_and_out_of_order_records_request_each_version_once(tmp_path: Path) -> None:
    loop = Loop(tmp_path, rounds=3)
    _, cursor = loop.tick(None)
    # two runs of m0001 finish; the one created first is the result, whatever order the files arrive in
    loop.report("m0001", {d: v + 1 for d, v in LOSSES.items()}, run="late", minutes=30)
    loop.report("m0001", LOSSES, run="early", minutes=10)
    loop.report("m0001", LOSSES, run="early", minutes=10)  # the same record twice (a retried upload)
    loop.report("m0001", {d: v - 1 for d, v in LOSSES.items()}, run="early", minutes=5, finished=False, step=50)
    result, cursor = loop.tick(cursor)
    assert isinstance(result, dg.SensorResult)
    (req,) = result.run_requests
    assert req.partition_key == "m0002" and req.run_config["ops"]["fb__mixture"]["config"]["source_runs"] == [
        "early-m0001"
    ]
    assert "run late-m0001" not in req.tags["corpus/reason"]
    # the late run of m0001 arrives again, and m0002's result is dated before m0001's (clock skew)
    loop.report("m0001", LOSSES, run="later", minutes=60)
    loop.report("m0002", {d: v - 0.5 for d, v in LOSSES.items()}, run="r", minutes=-100)
    result, cursor = loop.tick(cursor)
    assert isinstance(result, dg.SensorResult) and [r.partition_key for r in result.run_requests] == ["m0003"]
    # every later tick: nothing new, the round limit
    for _ in range(3):
        result, cursor = loop.tick(cursor)
        assert isinstance(result, dg.SkipReason)
    by_version: dict[str, set[str]] = {}
    for r in loop.requests:
        by_version.setdefault(r.partition_key, set()).add(r.run_key)
        assert_valid_weights(loop.weights(r))
    assert {v: len(k) for v, k in by_version.items()} == {"m0001": 1, "m0002": 1, "m0003": 1}


def test_a_history_of_only_bad_losses_never_proposes(tmp_path: Path) -> None:
    loop = Loop(tmp_path)
    _, cursor = loop.tick(None)
    for i, bad in enumerate([math.nan, math.inf, -math.inf, -1.0]):
        loop.report("m0001", {**LOSSES, "pages": bad}, run=f"bad{i}")
    result, cursor = loop.tick(cursor)
    msg = skip_text(result)
    assert (
        "no new finished records" in msg
        and "4 new record(s) skipped" in msg
        and "negative validation loss: pages=-1.0" in msg
    )
    assert len(loop.requests) == 1  # only the bootstrap


def test_a_corrupt_cursor_is_replaced_not_fatal(tmp_path: Path) -> None:
    """What happened is read from the instance and the metrics store; the cursor only dedups reports."""
    loop = Loop(tmp_path)
    for bad in ('{"seen": "not a list"}', "{not json", '{"reported": 5}'):
        result, cursor = loop.tick(bad, apply=False)
        assert isinstance(result, dg.SensorResult) and result.run_requests[0].partition_key == "m0001"
        assert json.loads(cursor)["reported"] == []


def test_metrics_store_reads_around_broken_files(tmp_path: Path) -> None:
    """The store itself, below the sensor: every broken file is a problem naming it, every good record is read."""
    client = MetricsClient(CorpusStore(root=str(tmp_path)))
    good = MetricsRecord(
        run_id="r", pipeline="p", mixture_version="m0001", step=1, tokens_seen=1, val_loss={"a": 1.0}, finished=True
    )
    client.append(good)
    folder = tmp_path / METRICS_DIR / "p"
    broken = {
        "a.json": b"",
        "b.json": b"\x80\x81",
        "c.json": b"[" * 50_000 + b"]" * 50_000,
        "d.json": b"[1, 2]",
        "e.json": b'{"run_id": 1e999}',
        "f.json": b"\xef\xbb\xbf" + good.model_dump_json().encode(),
    }
    for name, data in broken.items():
        (folder / name).write_bytes(data)
    stored = client.read("p")
    assert [r.key for r in stored.records] == ["p/m0001/r/1"] * 2  # the BOM-prefixed copy is read too
    named = {p.where: p.message for p in stored.problems}
    assert set(named) >= {"a.json", "b.json", "c.json", "d.json", "e.json"}
    assert (
        "not UTF-8" in named["b.json"] and "nested" in named["c.json"] and "expected a JSON object" in named["d.json"]
    )


# --- spec-level guard ------------------------------------------------------------------------


def test_a_floor_no_mixture_can_meet_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(SpecError) as exc:
        load_spec(spec_dict(policy_config={"floor": 0.4}), PathPolicy.default(tmp_path))
    (issue,) = [i for i in exc.value.issues if i.field == "mixture.policy_config.floor"]
    assert "0.4" in issue.message and "3 sources" in issue.message and "at most 0.3333" in issue.message


def test_an_impossible_floor_in_an_unvalidated_spec_is_a_skip_not_a_crash(tmp_path: Path) -> None:
    loop = Loop(tmp_path, policy_config={"floor": 0.4})  # parse_spec only: the semantic check did not run
    first, cursor = loop.tick(None)
    assert isinstance(first, dg.SensorResult)
    loop.report("m0001", LOSSES)
    result, _ = loop.tick(cursor)
    assert "could not propose weights" in skip_text(result) and "floor 0.4" in skip_text(result)


# --- properties of the policies --------------------------------------------------------------

FAST_REGRESSION = {"n_candidates": 200, "top_k": 10, "min_history": 2, "lightgbm": {"num_iterations": 20}}
finite_loss = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def histories(draw: st.DrawFn, max_rounds: int = 5) -> tuple[list[str], list[RoundResult], dict[str, float]]:
    k = draw(st.integers(1, 5))
    domains = [f"d{i}" for i in range(k)]

    def simplex() -> dict[str, float]:
        raw = draw(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=k, max_size=k))
        total = sum(raw)
        assume(total > 1e-6)
        values = [r / total for r in raw]
        values[-1] = 1.0 - sum(values[:-1])
        assume(values[-1] >= 0)
        return dict(zip(domains, values, strict=True))

    rounds = draw(st.integers(0, max_rounds))
    history = [
        RoundResult(version=f"m{i + 1:04d}", weights=simplex(), val_loss={d: draw(finite_loss) for d in domains})
        for i in range(rounds)
    ]
    return domains, history, simplex()


POLICY_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


@POLICY_SETTINGS
@given(case=histories(), policy=st.sampled_from(["uniform", "natural", "excess_loss"]), data=st.data())
def test_policies_always_propose_valid_weights(case, policy: str, data: st.DataObject) -> None:
    domains, history, natural = case
    floor = data.draw(st.floats(min_value=0.0, max_value=1.0 / len(domains), exclude_max=True), label="floor")
    config: dict[str, Any] = {"floor": floor}
    if policy == "natural":
        config["temperature"] = data.draw(st.floats(min_value=0.05, max_value=100.0), label="temperature")
    if policy == "excess_loss":
        config["step_size"] = data.draw(st.floats(min_value=1e-3, max_value=100.0), label="step_size")
        config["smoothing"] = data.draw(st.floats(min_value=0.0, max_value=1.0), label="smoothing")
    weights = propose_weights(policy, history, domains, natural, config)
    assert set(weights) == set(domains)
    assert all(math.isfinite(w) and w >= floor * (1 - 1e-9) for w in weights.values()), (weights, floor)
    assert math.isclose(sum(weights.values()), 1.0, abs_tol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=histories(max_rounds=4), floor=st.sampled_from([0.0, 0.01, 0.05]))
def test_regression_policy_always_proposes_valid_weights(case, floor: float) -> None:
    domains, history, natural = case
    assume(floor * len(domains) < 1)
    weights = propose_weights("regression", history, domains, natural, {**FAST_REGRESSION, "floor": floor}, seed=1)
    assert all(math.isfinite(w) and w >= floor * (1 - 1e-9) for w in weights.values())
    assert math.isclose(sum(weights.values()), 1.0, abs_tol=1e-6)


records_st = st.builds(
    lambda version, losses, finished, run, minutes, step: MetricsRecord(
        run_id=run,
        pipeline="fb",
        mixture_version=version,
        step=step,
        tokens_seen=100,
        val_loss=losses,
        finished=finished,
        created_at=T0 + timedelta(minutes=minutes),
    ),
    version=st.sampled_from(["m0001", "m0002", "m0003", "m0009", "mxyz"]),
    losses=st.dictionaries(
        st.sampled_from([*DOMAINS, "other"]),
        st.floats(min_value=-10, max_value=1e4) | st.sampled_from([math.nan, math.inf, -math.inf]),
        max_size=4,
    ),
    finished=st.booleans(),
    run=st.sampled_from(["a", "b", "c"]),
    minutes=st.integers(-100, 100),
    step=st.integers(0, 3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(records_st, max_size=6), min_size=1, max_size=5),
    policy=st.sampled_from(["uniform", "natural", "excess_loss"]),
)
def test_decide_never_raises_and_versions_are_requested_once(batches: list[list[MetricsRecord]], policy: str) -> None:
    spec = MixtureSpec(policy=policy, rounds=4)
    natural = {"docs": 0.2, "pages": 0.3, "code": 0.5}
    state = FeedbackState()
    seen_keys: dict[str, str] = {}
    decision = decide([], state, spec, DOMAINS, natural, pipeline="fb")
    all_records: list[MetricsRecord] = []
    for batch in [[], *batches]:
        all_records += batch
        decision = decide(list(all_records), state, spec, DOMAINS, natural, pipeline="fb")
        repeat = decide(list(all_records), state, spec, DOMAINS, natural, pipeline="fb")
        assert repeat == decision  # deterministic: a re-evaluated tick asks for the same thing
        if isinstance(decision, NewVersion):
            assert_valid_weights(decision.weights, floor=0.0)
            assert seen_keys.setdefault(decision.version, decision.run_key) == decision.run_key
        else:
            assert decision.reason
        state = decision.state
        assert len(state.versions) <= spec.rounds
        assert [v.version for v in state.versions] == [f"m{i + 1:04d}" for i in range(len(state.versions))]


def test_every_policy_is_covered() -> None:
    assert set(POLICIES) == {"uniform", "natural", "excess_loss", "regression"}


def test_metrics_dir_layout_is_what_the_tests_write(tmp_path: Path) -> None:
    client = MetricsClient(CorpusStore(root=str(tmp_path)))
    where = client.append(
        MetricsRecord(run_id="r", pipeline="fb", mixture_version="m0001", step=0, tokens_seen=0, val_loss={"a": 1.0})
    )
    assert (
        posixpath.join(METRICS_DIR, "fb") in where
        and json.loads(next((tmp_path / METRICS_DIR / "fb").iterdir()).read_text())["run_id"] == "r"
    )
