"""Missed nights and restarts: the scheduler down for several nights, then catching up.

Policy (README "Scheduling", RELIABILITY.md): `plan-tracker nightly --catch-up` runs every
night since the last successful run, oldest first — the store ends exactly as if nothing had
been missed. Running only the latest date also loses no step: the DESIGN's missed-night
rule records the lower steps `skipped` (held against the domain reference on random gaps by
tests/nightly/test_sql_matches_reference.py, whose random nights have gaps).
"""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from plan_tracker.cli import app
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.escalation import occurrences_due
from plan_tracker.night import run_nightly
from plan_tracker.services.missed_nights import nights_to_run
from plan_tracker.services.plans import stored_plan
from plan_tracker.settings import Settings
from plan_tracker.store.db import make_engine
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import NightlyRun
from plan_tracker.store.recorded_steps import recorded_steps

from .conftest import PLAN_ID, Figures, apply_harness_plan, at, cli_env, run_cli, state_of

runner = CliRunner()
FIRST, LAST = dt.date(2018, 9, 26), dt.date(2018, 10, 16)
DOWN_FROM = dt.date(2018, 9, 28)  # the scheduler is down from this night on


def nights(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def test_catching_up_after_an_outage_equals_never_having_missed_a_night(
        engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures) -> None:
    from plan_tracker.store.db import migrate

    apply_harness_plan(engine, tmp_path)
    settings = Settings(data_dir=tmp_path / "steady")
    for night in nights(FIRST, LAST):
        run_nightly(engine, PLAN_ID, night, now=at(night), settings=settings)
    steady = state_of(engine)

    # The same plan in a second store: two nights, then nothing until the restart on LAST.
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'restarted.sqlite3'}"
    else:
        from tests.reliability.conftest import Store

        restarted_store = Store("postgresql", tmp_path)
        url = restarted_store.url
    restarted = make_engine(url)
    migrate(restarted)
    try:
        apply_harness_plan(restarted, tmp_path)
        for night in nights(FIRST, DOWN_FROM - dt.timedelta(days=1)):
            run_nightly(restarted, PLAN_ID, night, now=at(night), settings=Settings(data_dir=tmp_path / "restarted"))
        assert nights_to_run(restarted, PLAN_ID, LAST) == nights(DOWN_FROM, LAST)
        env = cli_env(url, tmp_path / "restarted")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        from plan_tracker.settings import get_settings
        from plan_tracker.store.db import engine_for

        get_settings.cache_clear()
        engine_for.cache_clear()
        result = runner.invoke(app, ["nightly", "--plan", PLAN_ID, "--catch-up", "--now", at(LAST).isoformat()])
        assert result.exit_code == 0, result.output
        assert result.output.count("每晚跟进 harness-2018，截至 ") == len(nights(DOWN_FROM, LAST))
        caught_up = state_of(restarted)
        again = runner.invoke(app, ["nightly", "--plan", PLAN_ID, "--catch-up", "--now", at(LAST).isoformat()])
        assert "无需补跑" in again.output
        get_settings.cache_clear()
        engine_for.cache_clear()
        figures.record(f"missed_nights_catch_up_{engine.dialect.name}", nights_missed=len(nights(DOWN_FROM, LAST)),
                       reminders=len(steady["reminders"]),
                       equal={part: caught_up[part] == steady[part] for part in steady})
        assert caught_up == steady
    finally:
        restarted.dispose()
        if not db_url.startswith("sqlite"):
            restarted_store.close()


def test_one_run_for_the_latest_date_records_every_due_step_fired_or_skipped(engine: Engine, tmp_path: Path) -> None:
    apply_harness_plan(engine, tmp_path)
    settings = Settings(data_dir=tmp_path / "var")
    run_nightly(engine, PLAN_ID, DOWN_FROM - dt.timedelta(days=1), now=at(FIRST), settings=settings)
    run_nightly(engine, PLAN_ID, LAST, now=at(LAST), settings=settings)  # the outage: one run
    o, r = Obligation.__table__, recorded_steps()
    with engine.connect() as conn:
        plan = stored_plan(conn, PLAN_ID)
        obligations = conn.execute(select(o.c.id, o.c.due, o.c.period_start)).all()
        recorded = {(row.obligation_id, row.level, row.seq): row.state
                    for row in conn.execute(select(r.c.obligation_id, r.c.level, r.c.seq, r.c.state))}
    calendar = WorkCalendar(plan.plan.calendar)
    for ob in obligations:
        if ob.period_start > LAST:
            continue
        for step in plan.ladder():
            for seq, _ in occurrences_due(calendar, ob.due, step, LAST):
                if seq == 0:  # every first occurrence due by LAST is recorded, fired or skipped
                    assert (ob.id, step.level, 0) in recorded, (ob, step.level)
    assert "skipped" in recorded.values() and "sent" in recorded.values()


def test_a_killed_night_counts_as_missed_and_is_run_again(engine: Engine, db_url: str, tmp_path: Path) -> None:
    apply_harness_plan(engine, tmp_path)
    settings = Settings(data_dir=tmp_path / "var")
    run_nightly(engine, PLAN_ID, dt.date(2018, 10, 8), now=at(dt.date(2018, 10, 8)), settings=settings)
    night = dt.date(2018, 10, 9)
    env = cli_env(db_url, tmp_path / "var", PLAN_TRACKER_FAULT="nightly.evaluated:1")
    args = ["nightly", "--plan", PLAN_ID, "--as-of", str(night), "--now", at(night).isoformat()]
    assert run_cli(args, env, tmp_path).returncode == -signal.SIGKILL
    assert nights_to_run(engine, PLAN_ID, dt.date(2018, 10, 10)) == [night, dt.date(2018, 10, 10)]
    caught = run_cli(["nightly", "--plan", PLAN_ID, "--catch-up", "--as-of", "2018-10-10", "--now",
                      at(dt.date(2018, 10, 10)).isoformat()], cli_env(db_url, tmp_path / "var"), tmp_path)
    assert caught.returncode == 0, caught.stderr
    runs = NightlyRun.__table__
    with engine.connect() as conn:
        ledger = sorted((str(r.as_of), bool(r.ok)) for r in conn.execute(select(runs.c.as_of, runs.c.ok)))
    assert ledger == [("2018-10-08", True), ("2018-10-09", False), ("2018-10-09", True), ("2018-10-10", True)]


def test_an_outage_longer_than_the_cap_needs_an_explicit_start(cli_env: dict[str, str], tmp_path: Path) -> None:
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    engine = engine_for(get_settings().resolved_database_url())
    apply_harness_plan(engine, tmp_path)
    run_nightly(engine, PLAN_ID, dt.date(2018, 3, 1), now=at(dt.date(2018, 3, 1)), settings=get_settings())
    too_many = runner.invoke(app, ["nightly", "--plan", PLAN_ID, "--catch-up", "--as-of", "2018-10-09"])
    assert too_many.exit_code == 2 and "--since" in too_many.output and "Traceback" not in too_many.output
    since = runner.invoke(app, ["nightly", "--plan", PLAN_ID, "--catch-up", "--since", "2018-10-08", "--as-of", "2018-10-09"])
    assert since.exit_code == 0 and since.output.count("，截至 ") == 2
    alone = runner.invoke(app, ["nightly", "--plan", PLAN_ID, "--since", "2018-10-08"])
    assert alone.exit_code == 2 and "--since 须与 --catch-up 一起使用" in alone.output
    bad_now = runner.invoke(app, ["nightly", "--plan", PLAN_ID, "--now", "yesterday"])
    assert bad_now.exit_code == 2 and "不是日期时间" in bad_now.output

