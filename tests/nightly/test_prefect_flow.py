"""The Prefect flow under Prefect's test harness: same stages, scheduled date as as-of."""

from __future__ import annotations

import datetime as dt
import re
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


def test_office_hours_delivery_flow_runs_for_every_plan(flow_env, monkeypatch):
    from plan_tracker.flows.nightly import deliver_waiting

    monkeypatch.setenv("PLAN_TRACKER_NOW", "2018-10-09T10:00:00+08:00")  # a working day, in the window
    result = deliver_waiting()
    assert [r["plan"] for r in result] == ["national-day"]
    assert result[0]["dead"] == 0


def test_the_flow_changes_nothing_after_the_plans_follow_up_ended(flow_env):
    from plan_tracker.flows.nightly import nightly_follow_up

    before = reminders(flow_env)
    (result,) = nightly_follow_up(plan_id="national-day", as_of=dt.date(2026, 12, 3))
    assert result["follow_up_ended"] and "evaluation" not in result
    assert reminders(flow_env) == before


# --------------------------------------------------------------------------- what Prefect shows


def _artifacts(flow_run_id):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {a.key: a for a in found}


def test_a_night_publishes_its_summary_and_overdue_list_as_artifacts_keyed_by_plan(flow_env):
    import json

    from plan_tracker.flows.nightly import nightly_follow_up

    state = nightly_follow_up(plan_id="national-day", as_of=dt.date(2018, 10, 9), return_state=True)
    assert state.is_completed() and state.name == "Completed"
    artifacts = _artifacts(state.state_details.flow_run_id)
    assert set(artifacts) == {"nightly-national-day", "overdue-national-day"}
    summary = artifacts["nightly-national-day"]
    # in the plan's language (Chinese by default), the lights by their labels
    assert summary.type == "markdown" and "2018-10-09 晚间跟进" in summary.data
    assert "| 灯色 | 红灯 3 |" in summary.data and "| 已送达 |" in summary.data
    assert not re.search(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+", re.sub(r"`[^`]*`", "", summary.data)), summary.data
    table = artifacts["overdue-national-day"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert table.type == "table" and len(rows) == 3
    assert {(r["task"], r["unit"], r["due"]) for r in rows} == {
        ("s.self-check", "town-a", "2018-10-08"), ("s.self-check", "town-b", "2018-10-08"),
        ("s.summary", "town-a", "2018-10-08")}


@pytest.fixture
def smtp_down(flow_env, monkeypatch, closed_port):
    """SMTP configured but refusing connections, and the clock inside the delivery window."""
    from plan_tracker.settings import get_settings

    monkeypatch.setenv("PLAN_TRACKER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PLAN_TRACKER_SMTP_PORT", str(closed_port))
    monkeypatch.setenv("PLAN_TRACKER_NOW", "2018-10-09T10:00:00+08:00")
    get_settings.cache_clear()
    yield flow_env
    get_settings.cache_clear()


def test_a_night_whose_deliveries_failed_ends_failed_with_the_counts_and_still_records_it(smtp_down, caplog):
    from sqlalchemy import select

    from plan_tracker.flows.nightly import nightly_follow_up
    from plan_tracker.store.outbox_models import NightlyRun

    with caplog.at_level("WARNING"):
        state = nightly_follow_up(plan_id="national-day", as_of=dt.date(2018, 10, 9), return_state=True)
    assert state.is_failed() and state.name == "Undelivered"
    assert "计划 national-day：失败 " in state.message and "已送达 0" in state.message
    (summary,) = state.result(raise_on_failure=False)
    assert summary["delivery"]["failed"] + summary["delivery"]["dead"] > 0
    runs = NightlyRun.__table__
    with smtp_down.connect() as conn:
        assert conn.execute(select(runs.c.ok).where(runs.c.as_of == dt.date(2018, 10, 9))).scalar_one()
    assert set(_artifacts(state.state_details.flow_run_id)) == {"nightly-national-day", "overdue-national-day"}
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "deliveries failed" in r.getMessage()]
    assert warnings, [r.getMessage() for r in caplog.records]


def test_the_flow_never_creates_a_store_where_none_was_applied(flow_env, tmp_path, monkeypatch):
    from plan_tracker.flows.nightly import deliver_waiting, nightly_follow_up
    from plan_tracker.settings import get_settings

    monkeypatch.delenv("PLAN_TRACKER_DATABASE_URL")
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "worker-var"))  # what a bare worker would use
    get_settings.cache_clear()
    for flow_fn in (nightly_follow_up, deliver_waiting):
        state = flow_fn(return_state=True)
        assert state.is_failed()
        with pytest.raises(Exception, match="no store at"):
            state.result()
    assert not (tmp_path / "worker-var").exists()


@pytest.mark.parametrize(("moment", "skipped"), [
    ("2018-10-01T10:00:00+08:00", "is not a working day"),   # National Day
    ("2018-10-06T10:00:00+08:00", "is not a working day"),   # a Saturday
    ("2018-10-09T08:15:00+08:00", "outside the delivery window"),
    ("2018-09-29T10:00:00+08:00", None),                      # 调休: Saturday worked
    ("2018-10-09T08:30:00+08:00", None),
])
def test_office_hours_delivery_runs_only_on_the_plans_working_days_inside_the_window(
        flow_env, monkeypatch, moment, skipped):
    from plan_tracker.flows.nightly import deliver_waiting

    monkeypatch.setenv("PLAN_TRACKER_NOW", moment)
    state = deliver_waiting(return_state=True)
    (result,) = state.result()
    if skipped:
        assert state.is_completed() and state.name == "Skipped" and skipped in result["skipped"]
    else:
        assert state.name == "Completed" and "skipped" not in result and result["as_of"] == moment[:10]


def test_doctor_fails_on_a_zombie_run_and_a_night_held_for_its_slot_until_they_are_cleared(flow_env, monkeypatch):
    import json

    import httpx
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL
    from prefect.states import Completed, Running, Scheduled
    from typer.testing import CliRunner

    from plan_tracker.cli import app
    from plan_tracker.flows.nightly import nightly_follow_up

    api = PREFECT_API_URL.value()
    now = dt.datetime.now(dt.UTC)
    with get_client(sync_client=True) as client:  # the server stamps states with its own clock
        zombie = client.create_flow_run(nightly_follow_up, parameters={}, state=Running())
        held = client.create_flow_run(nightly_follow_up, parameters={}, state=Scheduled(
            name="AwaitingConcurrencySlot", scheduled_time=now))
        done = client.create_flow_run(nightly_follow_up, parameters={}, state=Completed())

    def prefect_check(later: dt.timedelta, url: str = api):  # the doctor's clock, read at the edge
        monkeypatch.setenv("PREFECT_API_URL", url)
        result = CliRunner().invoke(app, ["doctor", "--format", "json", "--now", (now + later).isoformat()])
        return result.exit_code, next(c for c in json.loads(result.stdout) if c["check"] == "prefect")

    code, check = prefect_check(dt.timedelta(minutes=30))
    assert check["state"] == "ok", check
    code, check = prefect_check(dt.timedelta(minutes=90))  # held back an hour: the morning is at risk
    # the key and counts are what a script reads; the sentence is the plan's (Chinese)
    assert code == 1 and check["state"] == "fail" and (check["key"], check["params"]["count"]) == (
        "doctor.prefect_stuck", 1)
    assert str(held.id) in check["message"] and "起处于 AwaitingConcurrencySlot" in check["message"]
    code, check = prefect_check(dt.timedelta(hours=3))  # Running past the night's 2 h timeout
    assert code == 1 and check["params"]["count"] == 2 and str(zombie.id) in check["message"]
    assert "起处于 Running" in check["message"] and str(done.id) not in check["message"]
    assert check["fix_key"] == "doctor.fix_prefect_zombie"
    assert "set_state" in check["fix"] and "prefect-automations.yaml" in check["fix"]
    for run in (zombie, held):  # what the fix says (the held night: cancel it, the next one comes)
        state = {"type": "CRASHED"} if run is zombie else {"type": "CANCELLED"}
        httpx.post(f"{api}/flow_runs/{run.id}/set_state", json={"state": state, "force": True}).raise_for_status()
    code, check = prefect_check(dt.timedelta(hours=3))
    assert check["state"] == "ok", check
    code, check = prefect_check(dt.timedelta(hours=3), "http://127.0.0.1:9/api")  # nothing listens there
    assert check["state"] == "warn" and check["key"] == "doctor.prefect_down" and "无响应" in check["message"]


def test_the_cli_night_through_prefect_prints_the_summary_and_what_did_not_go_out(smtp_down):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from prefect.settings import PREFECT_API_URL

    # a process of its own, as an operator runs it (Prefect's console logging keeps the
    # stream of an in-process runner, which the next test would find closed)
    cli = Path(sys.executable).with_name("plan-tracker")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    result = subprocess.run([str(cli), "nightly", "--plan", "national-day", "--as-of", "2018-10-09"], env=env,
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr  # the night ran and was recorded
    # worded as the in-process night, in the plan's language (Chinese)
    assert "每晚跟进 national-day，截至 2018-10-09：" in result.stdout
    assert "national-day：有 " in result.stdout and " 条未能发出（失败 " in result.stdout


def test_what_prefect_shows_of_a_night_speaks_the_plans_language():
    """The artifact's table and the Undelivered state's message, for a Chinese and an English plan."""
    from plan_tracker.flows.outcome import final_state, night_markdown

    night = {"plan": "p", "as_of": "2018-10-09", "lights": {"red": 3, "green": 1}, "reports_known": 2,
             "reminders": {"raised": 3, "skipped": 1, "undeliverable": 0, "already_raised": 0},
             "delivery": {"delivered": 1, "failed": 2, "dead": 1, "waiting_for_window": 0}}
    zh, en = night_markdown(night, "zh"), night_markdown(night, "en")
    assert "| 灯色 | 绿灯 1、红灯 3 |" in zh  # in the order of the codes
    assert "红灯 3" in zh and "有 3 条发送未能发出" in zh
    assert not re.search(r"[A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,}", re.sub(r"`[^`]*`", "", zh)), zh
    assert "| lights | Green 1, Red 3 |" in en and "**3 deliveries did not go out**" in en
    assert not re.search(r"[\u4e00-\u9fff]", en), en
    assert final_state([night], "nightly-follow-up", "zh").message.startswith("nightly-follow-up：有发送未能发出 — 计划 p：失败 2")
    assert "plan p: failed 2, dead 1" in final_state([night], "nightly-follow-up", "en").message
