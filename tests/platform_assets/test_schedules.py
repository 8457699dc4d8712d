"""Scheduled materializations from a spec: validation naming the field, and schedule evaluation."""

from __future__ import annotations

import datetime
from pathlib import Path

import dagster as dg
import pytest

from corpus.schedules import cron_problem, timezone_problem
from corpus.spec import SpecError, load_spec, parse_spec, validate_spec
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.resources import default_resources
from tests.platform_assets.smallcorpus import small_spec_dict

SCHEDULES = [
    {"name": "nightly", "cron": "0 2 * * *", "timezone": "Europe/Berlin", "target": "raw", "freshness_hours": 26},
    {"name": "weekly_eval", "cron": "@weekly", "target": "proxy_eval", "freshness_hours": 192},
    {"name": "tokenizer_monthly", "cron": "0 3 1 * *", "target": "tokenizer"},
]


def spec_with(corpus: Path, schedules: list[dict]) -> dict:
    return {**small_spec_dict(corpus), "schedules": schedules}


@pytest.fixture(scope="module")
def repo(small_corpus: Path) -> dg.RepositoryDefinition:
    spec = load_spec(spec_with(small_corpus, SCHEDULES))
    defs = dg.Definitions.merge(build_pipeline_defs(spec), dg.Definitions(resources=default_resources()))
    return defs.get_repository_def()


def evaluate(
    repo: dg.RepositoryDefinition, name: str, instance: dg.DagsterInstance
) -> list[dg.RunRequest] | dg.SkipReason:
    when = datetime.datetime(2026, 3, 2, 2, 0, tzinfo=datetime.UTC)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=repo) as ctx:
        data = repo.get_schedule_def(name).evaluate_tick(ctx)
    return dg.SkipReason(data.skip_message) if data.skip_message else list(data.run_requests or [])


@pytest.mark.parametrize(
    ("schedule", "field", "words"),
    [
        (
            {"name": "n", "cron": "0 25 * * *", "target": "raw"},
            "schedules[0].cron",
            "25 is out of range for the hour field (0-23)",
        ),
        ({"name": "n", "cron": "every night", "target": "raw"}, "schedules[0].cron", "has 2 field(s)"),
        ({"name": "n", "cron": "0 0 30 2 *", "target": "raw"}, "schedules[0].cron", "never fires"),
        (
            {"name": "n", "cron": "0 2 * * *", "timezone": "Mars/Olympus", "target": "raw"},
            "schedules[0].timezone",
            "unknown time zone",
        ),
        (
            {"name": "n", "cron": "0 2 * * *", "target": "qualty"},
            "schedules[0].target",
            "unknown asset 'qualty'; targets: raw, extracted",
        ),
        (
            {"name": "n", "cron": "0 2 * * *", "target": "mixture"},
            "schedules[0].target",
            "created by the eval_feedback sensor",
        ),
    ],
)
def test_bad_schedules_name_the_field(small_corpus: Path, schedule: dict, field: str, words: str):
    with pytest.raises(SpecError) as exc:
        load_spec(spec_with(small_corpus, [schedule]))
    assert [i.field for i in exc.value.issues] == [field]
    assert words in str(exc.value)


def test_duplicate_schedule_names(small_corpus: Path):
    spec = parse_spec(spec_with(small_corpus, [SCHEDULES[0], {**SCHEDULES[2], "name": "nightly"}]))
    assert [i.field for i in validate_spec(spec)] == ["schedules[1].name"]


def test_cron_and_timezone_checks():
    for good in ("0 2 * * *", "*/15 * * * *", "0 6 * * mon-fri", "0 0 1 jan,jul *", "@daily", "5,35 8-18/2 * * 1"):
        assert cron_problem(good) is None, good
    for bad in ("0 2 * *", "61 * * * *", "0 0 * * 8", "0 0 * * fri-mon", "*/0 * * * *", "@often", "0 2 * * * *"):
        assert cron_problem(bad), bad
    assert timezone_problem("UTC") is None and timezone_problem("America/New_York") is None
    assert "Europe/Berlin" in timezone_problem("Berlin")


def test_schedules_start_stopped_on_named_jobs(repo: dg.RepositoryDefinition):
    nightly = repo.get_schedule_def("small_nightly")
    assert nightly.default_status == dg.DefaultScheduleStatus.STOPPED
    assert nightly.cron_schedule == "0 2 * * *" and nightly.execution_timezone == "Europe/Berlin"
    assert nightly.job_name == "small_raw"
    assert repo.get_schedule_def("small_weekly_eval").cron_schedule == "0 0 * * 0"
    assert repo.get_schedule_def("small_weekly_eval").job_name == "small_proxy_eval"


def test_nightly_raw_requests_every_source_partition(repo: dg.RepositoryDefinition, instance: dg.DagsterInstance):
    requests = evaluate(repo, "small_nightly", instance)
    assert [r.partition_key for r in requests] == ["docs", "pages", "code"]
    assert all(
        r.tags["corpus/launched_by"] == "schedule:small_nightly" and r.tags["corpus/stage"] == "raw" for r in requests
    )
    assert requests[0].tags["corpus/source"] == "docs" and requests[0].run_key == "2026-03-02T02:00:00+00:00:docs"


@pytest.fixture()
def instance():
    with dg.instance_for_test() as inst:  # a schedule context needs a persistent instance
        yield inst


def test_weekly_eval_re_evaluates_the_latest_planned_version(
    repo: dg.RepositoryDefinition, instance: dg.DagsterInstance
):
    skip = evaluate(repo, "small_weekly_eval", instance)
    assert isinstance(skip, dg.SkipReason) and "no mixture version has a plan yet" in skip.skip_message
    for v in ("m0001", "m0002"):  # m0003 exists as a partition but was never planned
        instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(["small", "mixture"]), partition=v))
    (req,) = evaluate(repo, "small_weekly_eval", instance)
    assert req.partition_key == "m0002" and req.tags["corpus/mixture_version"] == "m0002"


def test_global_target_runs_once(repo: dg.RepositoryDefinition, instance: dg.DagsterInstance):
    (req,) = evaluate(repo, "small_tokenizer_monthly", instance)
    assert req.partition_key is None and req.tags["corpus/stage"] == "tokenizer"


def test_freshness_policy_on_scheduled_targets(repo: dg.RepositoryDefinition):
    graph = repo.asset_graph
    raw = graph.get(dg.AssetKey(["small", "raw"])).freshness_policy
    assert raw is not None and raw.fail_window.to_timedelta() == datetime.timedelta(hours=26)
    assert graph.get(
        dg.AssetKey(["small", "proxy_eval"])
    ).freshness_policy.fail_window.to_timedelta() == datetime.timedelta(hours=192)
    assert graph.get(dg.AssetKey(["small", "tokenizer"])).freshness_policy is None  # its schedule sets none
