"""The Prefect flow under Prefect's test harness: same stages, scheduled date as as-of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from .conftest import reminders

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120), temporary_settings(
        {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    ):
        yield


@pytest.fixture
def flow_env(applied, db_url, tmp_path, monkeypatch, prefect_harness):
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    monkeypatch.setenv("PLAN_TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "flow-var"))
    get_settings.cache_clear()
    engine_for.cache_clear()
    yield applied
    get_settings.cache_clear()
    engine_for.cache_clear()


def test_flow_runs_every_stage_and_a_second_run_changes_nothing(flow_env):
    from plan_tracker.flows.nightly import nightly_follow_up

    first = nightly_follow_up(plan_id="national-day", as_of=dt.date(2018, 10, 9))
    assert first[0]["lights"] == {"red": 3}
    assert first[0]["delivery"]["delivered"] > 0
    before = reminders(flow_env)
    second = nightly_follow_up(plan_id="national-day", as_of=dt.date(2018, 10, 9))
    assert second[0]["delivery"]["delivered"] == 0
    assert reminders(flow_env) == before


def test_flow_as_of_is_the_scheduled_date_in_the_plans_time_zone(flow_env):
    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    from plan_tracker.flows.nightly import nightly_follow_up

    # Scheduled 02:00 Shanghai on 10-09 is 18:00 UTC on 10-08: the run is 10-09's run,
    # whatever the wall clock says when it actually starts.
    scheduled = dt.datetime(2018, 10, 8, 18, 0, tzinfo=dt.UTC)
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(nightly_follow_up, parameters={}, state=Scheduled(scheduled_time=scheduled))
    result = run_flow(nightly_follow_up, flow_run=flow_run, return_type="result")
    assert [r["as_of"] for r in result] == ["2018-10-09"]  # every plan in the store


def test_each_plan_is_evaluated_in_its_own_time_zone(flow_env, tmp_path):
    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    from plan_tracker.flows.nightly import nightly_follow_up
    from plan_tracker.services.plans import apply_plan

    from .conftest import PLAN_YAML

    london = PLAN_YAML.replace("id: national-day", "id: london-office").replace(
        "  start: 2018-01-01", "  timezone: Europe/London\n  calendar: weekends\n  start: 2018-01-01")
    path = tmp_path / "london.yaml"
    path.write_text(london, encoding="utf-8")
    apply_plan(flow_env, path)
    # 18:30 UTC on 10-08 is already 10-09 in Shanghai but still 10-08 in London.
    scheduled = dt.datetime(2018, 10, 8, 18, 30, tzinfo=dt.UTC)
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(nightly_follow_up, parameters={}, state=Scheduled(scheduled_time=scheduled))
    result = run_flow(nightly_follow_up, flow_run=flow_run, return_type="result")
    assert {r["plan"]: r["as_of"] for r in result} == {"london-office": "2018-10-08", "national-day": "2018-10-09"}


def test_office_hours_delivery_flow_runs_for_every_plan(flow_env):
    from plan_tracker.flows.nightly import deliver_waiting

    result = deliver_waiting()
    assert [r["plan"] for r in result] == ["national-day"]
    assert result[0]["dead"] == 0


def test_the_flow_changes_nothing_after_the_plans_follow_up_ended(flow_env):
    from plan_tracker.flows.nightly import nightly_follow_up

    before = reminders(flow_env)
    (result,) = nightly_follow_up(plan_id="national-day", as_of=dt.date(2026, 12, 3))
    assert result["follow_up_ended"] and "evaluation" not in result
    assert reminders(flow_env) == before
