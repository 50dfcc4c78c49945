"""`plan-tracker doctor`: the dead-man check and the other health checks, through the CLI on
both backends, with the clock given by the hidden `--now` (the edge is the only clock)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, text
from typer.testing import CliRunner

from plan_tracker.cli import app
from plan_tracker.night import run_nightly
from plan_tracker.settings import Settings
from plan_tracker.store.models import CalendarDay
from plan_tracker.store.outbox_models import ChannelState

from .conftest import PLAN_ID, apply_harness_plan, at

runner = CliRunner()


@pytest.fixture
def store(cli_env: dict[str, str], tmp_path: Path) -> Engine:
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    engine = engine_for(get_settings().resolved_database_url())
    apply_harness_plan(engine, tmp_path)
    return engine


def doctor(now: dt.datetime | str, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    """The checks by name, `message` and `fix` worded in English from each row's `key`,
    `fix_key` and `params` (what a script reads whatever the language; the harness plan is
    Chinese, so the row's own words are in `said`)."""
    moment = now if isinstance(now, str) else now.isoformat()
    result = runner.invoke(app, ["doctor", "--format", "json", "--now", moment, *args])
    assert "Traceback" not in result.output
    rows = json.loads(result.stdout)
    return result.exit_code, {r["check"]: in_english(r) for r in rows}


def in_english(row: dict[str, Any]) -> dict[str, Any]:
    from plan_tracker.domain.messages import word

    fix = word(row["fix_key"], "en", **row["params"]) if row["fix_key"] else None
    return row | {"message": word(row["key"], "en", **row["params"]), "fix": fix, "said": row["message"]}


def night(engine: Engine, day: dt.date, tmp_path: Path, **settings: Any) -> None:
    run_nightly(engine, PLAN_ID, day, now=at(day), settings=Settings(data_dir=tmp_path / "var", **settings))


def test_a_plan_that_never_ran_fails_the_dead_man_check(store: Engine) -> None:
    code, checks = doctor(at(dt.date(2018, 10, 9), 10))
    assert code == 1
    assert checks["nightly"]["level"] == "fail" and "no nightly run has ever completed" in checks["nightly"]["message"]
    assert checks["database"]["level"] == checks["migrations"]["level"] == "ok"


def test_the_dead_man_check_fails_when_the_last_successful_run_is_older_than_a_day(store: Engine, tmp_path: Path) -> None:
    night(store, dt.date(2018, 10, 9), tmp_path)
    assert doctor(at(dt.date(2018, 10, 9), 10))[0] == 0       # ran tonight
    assert doctor(at(dt.date(2018, 10, 10), 1, 30))[0] == 0   # 01:30: tonight's 02:00 run is not due yet
    assert doctor(at(dt.date(2018, 10, 10), 23))[0] == 0      # one day old
    code, checks = doctor(at(dt.date(2018, 10, 11), 10))      # two days: the scheduler stopped
    assert code == 1
    assert "last successful nightly run is as of 2018-10-09" in checks["nightly"]["message"]
    assert checks["nightly"]["state"] == "fail" and "--catch-up" in checks["nightly"]["fix"]
    # A human-readable table says the same and exits 1 too.
    table = runner.invoke(app, ["doctor", "--now", at(dt.date(2018, 10, 11), 10).isoformat()])
    # headers and levels in the plan's language (zh); the check names stay as in the JSON
    assert table.exit_code == 1 and "失败" in table.output and "检查项" in table.output
    assert "nightly" in table.output and "│ fail" not in table.output


def test_the_day_is_counted_in_the_plans_time_zone(store: Engine, tmp_path: Path) -> None:
    night(store, dt.date(2018, 10, 9), tmp_path)
    # 2018-10-10 17:30 UTC is already 01:30 on 10-11 in Shanghai: two days after the last
    # run there, although in UTC it is only the next day.
    code, checks = doctor("2018-10-10T17:30:00+00:00")
    assert code == 1 and "(2018-10-11, plan time zone)" in checks["nightly"]["message"]
    assert doctor("2018-10-10T15:30:00+00:00")[0] == 0  # 23:30 on 10-10 in Shanghai


def test_a_killed_run_warns_on_its_night_and_fails_once_the_next_night_is_due(
        store: Engine, cli_env: dict[str, str], tmp_path: Path) -> None:
    from .conftest import run_cli

    night(store, dt.date(2018, 10, 9), tmp_path)
    env = {**cli_env, "PLAN_TRACKER_FAULT": "nightly.evaluated:1"}
    args = ["nightly", "--plan", PLAN_ID, "--as-of", "2018-10-10", "--now", at(dt.date(2018, 10, 10)).isoformat()]
    import os

    assert run_cli(args, {**os.environ, **env}, tmp_path).returncode == -9
    code, checks = doctor(at(dt.date(2018, 10, 10), 10))
    assert code == 0 and checks["nightly"]["state"] == "ok" and checks["runs"]["state"] == "warn"
    assert "for 2018-10-10" in checks["runs"]["message"] and "never finished" in checks["runs"]["message"]
    assert "--as-of 2018-10-10" in checks["runs"]["fix"]
    # 00:30 on 10-11: the next night's date has begun, the killed one is a failure
    code, checks = doctor(at(dt.date(2018, 10, 11), 0, 30))
    assert code == 1 and checks["runs"]["state"] == "fail"
    # rerunning the night clears it
    night(store, dt.date(2018, 10, 10), tmp_path)
    code, checks = doctor(at(dt.date(2018, 10, 10), 12))
    assert code == 0 and "runs" not in checks


def test_every_check_of_a_plan_whose_follow_up_ended_still_applies_to_what_it_left_undelivered(
        store: Engine, tmp_path: Path) -> None:
    from sqlalchemy import update

    from plan_tracker.store.outbox_models import Delivery, NightlyRun

    night(store, dt.date(2018, 10, 9), tmp_path)
    night(store, dt.date(2018, 10, 10), tmp_path)
    d, runs = Delivery.__table__, NightlyRun.__table__
    long_ago = at(dt.date(2018, 10, 10), 3)
    with store.begin() as conn:  # what the issue found on the ended 2018 plan
        ids = [r[0] for r in conn.execute(d.select().with_only_columns(d.c.id).where(
            ~d.c.recipient_key.like("unreachable:%")).order_by(d.c.id))]
        conn.execute(update(d).where(d.c.id.in_(ids[:3])).values(state="dead", last_error="550 no such user"))
        conn.execute(update(d).where(d.c.id.in_(ids[3:5])).values(state="failed", attempts=2,
                                                                  last_error="connection refused"))
        conn.execute(update(d).where(d.c.id == ids[5]).values(state="sending", claimed_at=long_ago))
        conn.execute(insert(runs).values(plan_id=PLAN_ID, as_of=dt.date(2018, 10, 11), started_at=long_ago,
                                         ok=False, summary={}))
    code, checks = doctor(at(dt.date(2026, 3, 2), 10))
    assert code == 1
    assert checks["nightly"]["state"] == "ok" and "no nightly run is expected" in checks["nightly"]["message"]
    assert {name: checks[name]["state"] for name in ("runs", "dead", "failing", "claims")} == {
        "runs": "fail", "dead": "fail", "failing": "warn", "claims": "fail"}
    assert "3 dead deliveries" in checks["dead"]["message"] and "550 no such user" in checks["dead"]["message"]
    for name in ("runs", "dead", "failing", "claims"):
        assert checks[name]["fix"], name
    assert "plan-tracker deliver --plan" in checks["claims"]["fix"]


def test_json_lists_each_check_with_its_state_and_fix(store: Engine, tmp_path: Path) -> None:
    night(store, dt.date(2018, 10, 9), tmp_path)
    result = runner.invoke(app, ["doctor", "--format", "json", "--now", at(dt.date(2018, 10, 9), 10).isoformat()])
    rows = json.loads(result.stdout)
    assert result.exit_code == 0 and rows
    for row in rows:
        assert {"check", "plan", "state", "message", "fix", "key", "fix_key", "params"} <= set(row)
        assert (row["fix"] is None) == (row["state"] == "ok") == (row["fix_key"] is None), row


def test_deliveries_waiting_more_than_a_day_fail_and_deliver_clears_them(store: Engine, tmp_path: Path,
                                                                        smtp_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from plan_tracker.settings import get_settings

    # SMTP is windowed: the 02:00 run leaves every e-mail waiting for office hours.
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port}
    for day in (dt.date(2018, 10, 9), dt.date(2018, 10, 10)):
        night(store, day, tmp_path, **smtp)
    code, checks = doctor(at(dt.date(2018, 10, 10), 10))
    assert code == 1 and "waited more than a day" in checks["outbox"]["message"]
    assert "plan-tracker deliver" in checks["outbox"]["fix"]
    monkeypatch.setenv("PLAN_TRACKER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PLAN_TRACKER_SMTP_PORT", str(smtp_server.port))
    get_settings.cache_clear()
    sent = runner.invoke(app, ["deliver", "--plan", PLAN_ID, "--now", at(dt.date(2018, 10, 10), 9).isoformat()])
    assert sent.exit_code == 0 and f"发送 {PLAN_ID}：已送达 " in sent.output, sent.output
    assert smtp_server.handler.envelopes
    code, checks = doctor(at(dt.date(2018, 10, 10), 10))
    assert code == 0 and checks["outbox"]["level"] == "ok"


def test_a_disabled_channel_fails_until_it_is_enabled(store: Engine, tmp_path: Path) -> None:
    night(store, dt.date(2018, 10, 9), tmp_path)
    with store.begin() as conn:
        conn.execute(insert(ChannelState.__table__).values(
            name="dingtalk:town-robot", disabled=True, reason="errcode 310000: sign not match", changed_at=at(dt.date(2018, 10, 9))))
    code, checks = doctor(at(dt.date(2018, 10, 9), 10))
    assert code == 1 and "dingtalk:town-robot is disabled" in checks["channels"]["message"]
    listed = runner.invoke(app, ["channels", "list"])
    assert "dingtalk:town-robot" in listed.output and "通知渠道" in listed.output and "是" in listed.output
    assert runner.invoke(app, ["channels", "enable", "dingtalk:town-robot"]).exit_code == 0
    assert runner.invoke(app, ["channels", "enable", "dingtalk:town-robot"]).exit_code == 2
    assert doctor(at(dt.date(2018, 10, 9), 10))[0] == 0


def test_the_calendar_must_cover_today_and_the_next_30_days(store: Engine, tmp_path: Path) -> None:
    # The table is built from the official schedule; a year not yet published is missing.
    # Simulate 2019 unpublished, then October 2018 lost, by deleting their rows.
    night(store, dt.date(2018, 12, 14), tmp_path)
    day = CalendarDay.__table__
    with store.begin() as conn:
        conn.execute(delete(day).where(day.c.day >= dt.date(2019, 1, 1)))
    code, checks = doctor(at(dt.date(2018, 12, 14), 10))
    assert code == 0 and checks["calendar"]["level"] == "warn" and "ends before 2019-01-01" in checks["calendar"]["message"]
    with store.begin() as conn:
        conn.execute(delete(day).where(day.c.day >= dt.date(2018, 12, 1)))
    code, checks = doctor(at(dt.date(2018, 12, 14), 10))
    assert code == 1 and "does not cover today (2018-12-14)" in checks["calendar"]["message"]


def test_a_plan_whose_follow_up_has_ended_expects_no_run(store: Engine) -> None:
    code, checks = doctor(at(dt.date(2026, 3, 2), 10))
    assert code == 0 and "follow-up ended on 2019-03-05" in checks["nightly"]["message"]
    assert "calendar" not in checks  # nothing will be evaluated: the calendar's end does not matter


def test_a_plan_still_followed_up_after_its_end_expects_its_nights(store: Engine) -> None:
    # The plan ended 2018-12-31, but its last items fall due in January: nights still matter.
    code, checks = doctor(at(dt.date(2019, 2, 1), 10))
    assert code == 1 and checks["nightly"]["level"] == "fail"


def test_a_schema_behind_the_code_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic import command
    from alembic.config import Config

    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import MIGRATIONS, make_engine

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    engine.dispose()
    monkeypatch.setenv("PLAN_TRACKER_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        code, checks = doctor(at(dt.date(2018, 10, 9), 10))
    finally:
        get_settings.cache_clear()
    assert code == 1 and "schema at 0003" in checks["migrations"]["message"]
    assert "nightly" not in checks  # nothing further is read from a schema the code does not know


def test_an_unreachable_database_fails_plainly(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    from plan_tracker.settings import get_settings

    monkeypatch.setenv("PLAN_TRACKER_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/nothing")
    get_settings.cache_clear()
    try:
        code, checks = doctor(at(dt.date(2018, 10, 9), 10))
    finally:
        get_settings.cache_clear()
    assert code == 1 and checks["database"]["level"] == "fail"
    assert "does not answer" in checks["database"]["message"]


def test_an_unknown_plan_is_a_failed_check(store: Engine) -> None:
    code, checks = doctor(at(dt.date(2018, 10, 9), 10), "--plan", "nope")
    assert code == 1 and "no plan 'nope'" in checks["plan"]["message"]
    with store.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM plan")).scalar_one() == 1


def all_checks(now: dt.datetime) -> tuple[int, list[dict[str, Any]]]:
    result = runner.invoke(app, ["doctor", "--format", "json", "--now", now.isoformat()])
    assert "Traceback" not in result.output
    return result.exit_code, [in_english(row) for row in json.loads(result.stdout)]


def test_each_kind_of_delivery_failure_names_its_own_fix_and_retry_dead_clears_the_dead(
        store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18 (1): held for a disabled channel -> enable it after fixing the secret; refused
    -> the plan's units file, then `--retry-dead`; retried to death -> `--retry-dead`."""
    from sqlalchemy import select, update

    from plan_tracker.settings import get_settings
    from plan_tracker.store.outbox_models import Delivery

    night(store, dt.date(2018, 10, 9), tmp_path)
    d = Delivery.__table__
    with store.begin() as conn:
        ids = list(conn.execute(select(d.c.id).where(~d.c.recipient_key.like("unreachable:%")).order_by(d.c.id)).scalars())
        assert len(ids) >= 3
        for i, (state, fault, error) in zip(ids, [("failed", "channel", "errcode 310000: sign not match"),
                                                  ("dead", "refused", "recipient refused (SMTP 550)"),
                                                  ("dead", "exhausted", "could not reach smtp: timed out")], strict=False):
            conn.execute(update(d).where(d.c.id == i).values(state=state, fault=fault, last_error=error, attempts=3))
    code, checks = all_checks(at(dt.date(2018, 10, 9), 10))
    said = {c["check"]: [f"{x['message']} — {x['fix']}" for x in checks if x["check"] == c["check"]]
            for c in checks if c["check"] in ("held", "dead")}
    assert code == 1 and len(said["held"]) == 1 and len(said["dead"]) == 2, said
    (held,), (refused, exhausted) = said["held"], said["dead"]
    assert "held for a disabled channel" in held and "channels enable" in held and "secret" in held
    assert "refused" in refused and "units file" in refused and "--retry-dead" in refused
    assert "attempts ran out" in exhausted and "--retry-dead" in exhausted and "units file" not in exhausted
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    bad = runner.invoke(app, ["deliver", "--since", "2018-10-09"])
    assert bad.exit_code == 2 and "须与 --retry-dead 一起使用" in bad.output  # the plan-less CLI speaks Chinese
    again = runner.invoke(app, ["deliver", "--plan", PLAN_ID, "--retry-dead", "--since", "2018-10-09",
                                "--now", at(dt.date(2018, 10, 9), 10).isoformat()])
    assert again.exit_code == 0 and "已重新排队 2 条无法送达的催办" in again.output, again.output
    code, checks = all_checks(at(dt.date(2018, 10, 9), 11))
    assert [c for c in checks if c["check"] == "dead"] == []
    with store.connect() as conn:
        assert conn.execute(select(d.c.state).where(d.c.id.in_(ids[1:3]))).scalars().all() == ["sent", "sent"]


def test_a_weekly_report_waiting_more_than_a_day_fails(store: Engine, tmp_path: Path, smtp_server: Any) -> None:
    """The week's report is an outbox row of no reminder: the backlog check sees it too."""
    night(store, dt.date(2018, 10, 15), tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port)  # 02:00: waits
    code, checks = all_checks(at(dt.date(2018, 10, 15), 10))
    assert not [c for c in checks if "weekly reports or decisions" in c["message"]]  # not yet a day
    code, checks = all_checks(at(dt.date(2018, 10, 17), 10))
    said = [c for c in checks if "weekly reports or decisions" in c["message"]]
    assert code == 1 and said and said[0]["level"] == "fail" and "plan-tracker deliver" in said[0]["fix"]


def test_the_dead_man_check_says_how_long_the_last_night_took_and_its_longest_stage(store: Engine,
                                                                                  tmp_path: Path) -> None:
    """Each run records its stages' times (`stage_seconds`, in run order); `doctor` says the
    last good night's total and its longest stage, by name for people and by id for scripts."""
    from plan_tracker.night import STAGES
    from plan_tracker.store.outbox_models import NightlyRun

    night(store, dt.date(2018, 10, 9), tmp_path)
    runs = NightlyRun.__table__  # type: ignore[attr-defined]
    with store.connect() as conn:
        summary = conn.execute(runs.select()).one().summary
    recorded = summary["stage_seconds"]
    assert list(recorded) == [stage.name for stage in STAGES]
    assert all(isinstance(s, float) and s >= 0 for s in recorded.values())

    known = {"mail": 0.0, "collect": 0.5, "evaluate": 2.0, "deliver": 3.25, "snapshot": 0.1, "report": 0.4}
    with store.begin() as conn:
        conn.execute(runs.update().values(summary=summary | {"stage_seconds": known}))
    code, checks = doctor(at(dt.date(2018, 10, 9), 10))
    row = checks["nightly"]
    assert code == 0 and row["state"] == "ok"
    assert row["key"] == "doctor.nightly_ok_timed"
    assert row["params"]["seconds"] == 6.2 and row["params"]["stage_seconds"] == 3.2  # 3.25 rounds to even
    assert row["params"]["stage_id"] == "deliver"
    assert "用时 6.2 秒" in row["said"] and "最长的阶段是发送提醒（3.2 秒）" in row["said"]

    with store.begin() as conn:  # a run stored before runs kept their stages' times
        conn.execute(runs.update().values(summary={k: v for k, v in summary.items() if k != "stage_seconds"}))
    row = doctor(at(dt.date(2018, 10, 9), 10))[1]["nightly"]
    assert row["key"] == "doctor.nightly_ok" and "last successful run as of 2018-10-09" in row["message"]
