"""A small county plan run night by night from 2018-03-26 to 2018-04-20, on SQLite and
PostgreSQL, for reports whose every figure is computed by hand in the tests.

Built once per backend and session (PostgreSQL in a database of its own): applying the plan
and running 19 nights takes a few seconds, and every report test only reads it.

The story (the 2018 calendar: Qingming 04-05..04-07 off, Sunday 04-08 a working day):

| task / unit              | due (original)     | what the unit reported                               |
| ------------------------ | ------------------ | ---------------------------------------------------- |
| study.plan / town-a      | 03-30              | nothing until `done` on 04-18                        |
| study.plan / town-b      | 03-30              | nothing                                              |
| study.quarterly Q1 / a   | 04-09              | `done` on 04-09, trained 18                          |
| study.quarterly Q1 / b   | 04-09              | 04-12 in progress (trained 10); 04-16 40 % (trained "约十人", not a number) |
| study.quarterly Q2 / a   | 07-06              | 04-19 in progress 30 %, trained 12                   |
| study.quarterly Q2 / b   | 07-06              | nothing; Q3, Q4 not started                          |
| openness.rules / office  | 03-15              | `done` on 03-14                                      |
| openness.catalogue / office | 04-27 (04-13)   | extended from 04-13 to 04-27; 04-12 in progress 60 %, complaints 3 |
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.night import run_nightly
from plan_tracker.services.plans import apply_plan
from plan_tracker.services.submissions import Submission, record_report
from plan_tracker.settings import Settings
from plan_tracker.store.db import make_engine, migrate
from plan_tracker.store.models import Obligation

from ..conftest import new_pg_database

PLAN_ID = "county-2018"
AS_OF = dt.date(2018, 4, 20)
FIRST_NIGHT = dt.date(2018, 3, 26)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PG_ADMIN_URL = os.environ.get(
    "PLAN_TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

PLAN_YAML = """\
version: 1
plan:
  id: county-2018
  title: 测试县2018年法治政府建设工作安排
  coordinator: office
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
leading_group: {name: 法治政府建设领导小组办公室, email: lg@example.org}
units:
  - {id: office, name: 县政府办, contact: {name: 张三, email: office@example.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 王五, email: a@example.org},
     head: {name: 赵六, email: a-head@example.org}}
  - {id: town-b, name: 乙镇, groups: [towns], contact: {name: 钱七, email: b@example.org},
     head: {name: 孙八, email: b-head@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact, head]}
  - {after: 5, level: supervise, notify: [head, coordinator]}
  - {after: 10, level: accountability, notify: [leading_group]}
scoring:
  base: 100
  per_overdue_item: 2
  per_done_late_item: 1
  per_level: {urge: 0.5, supervise: 1, accountability: 3}
  floor: 0
sections:
  - id: study
    title: 学法用法
    tasks:
      - {id: study.plan, title: 制定年度学法计划, lead: group:towns, due: 2018-03-30}
      - id: study.quarterly
        title: 开展季度学法培训
        lead: group:towns
        every: quarter
        due_after: 5
        indicators:
          - {id: trained, name: 参训人次, unit: 人次, target: 20, direction: at_least}
  - id: openness
    title: 政务公开
    tasks:
      - {id: openness.rules, title: 修订公开规定, lead: office, due: 2018-03-15}
      - id: openness.catalogue
        title: 编制公开目录
        lead: office
        due: 2018-04-13
        indicators:
          - {id: complaints, name: 公开投诉件数, unit: 件, target: 5, direction: at_most}
"""

REPORTS = [
    # (task, unit, period, status, date, progress, indicator values[, note])
    ("openness.rules", "office", "once", "done", "2018-03-14", None, None),
    ("study.quarterly", "town-a", "2018-Q1", "done", "2018-04-09", None, {"trained": 18}),
    ("openness.catalogue", "office", "once", "in_progress", "2018-04-12", 60, {"complaints": 3}),
    ("study.quarterly", "town-b", "2018-Q1", "in_progress", "2018-04-12", 20, {"trained": 10}),
    ("study.quarterly", "town-b", "2018-Q1", "in_progress", "2018-04-16", 40, {"trained": "约十人"},
     "培训场地\n待落实 <b>x</b>"),
    ("study.plan", "town-a", "once", "done", "2018-04-18", None, None),
    ("study.quarterly", "town-a", "2018-Q2", "in_progress", "2018-04-19", 30, {"trained": 12}),
]


@dataclass
class Scenario:
    engine: Engine
    url: str
    settings: Settings
    backend: str


def nights(first: dt.date, last: dt.date) -> list[dt.date]:
    calendar = WorkCalendar()
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if calendar.is_working_day(d)]


def build_scenario(engine: Engine, folder: Path) -> Settings:
    plan_file = folder / "county.yaml"
    plan_file.write_text(PLAN_YAML, encoding="utf-8")
    apply_plan(engine, plan_file)
    o = Obligation.__table__
    with engine.begin() as conn:
        # An approved extension: the catalogue's deadline moves from 04-13 to 04-27.
        conn.execute(update(o).where(o.c.plan_id == PLAN_ID, o.c.task_id == "openness.catalogue")
                     .values(due=dt.date(2018, 4, 27)))
        for task, unit, period, status, day, progress, values, *note in REPORTS:
            record_report(conn, Submission(PLAN_ID, task, unit, period, status, dt.date.fromisoformat(day),
                                           progress, note[0] if note else None, None, values),
                          today=dt.date(2018, 12, 31), actor=unit, source="test")
    settings = Settings(data_dir=folder / "var", database_url=None)
    for day in nights(FIRST_NIGHT, AS_OF):
        # 09:00 local: inside the delivery window, so everything is delivered that morning.
        now = dt.datetime.combine(day, dt.time(9, 0), tzinfo=SHANGHAI).astimezone(dt.UTC)
        run_nightly(engine, PLAN_ID, day, now=now, settings=settings)
    return settings


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """The county scenario on each backend, built once per session; tests only read it."""
    from plan_tracker.settings import get_settings

    folder = tmp_path_factory.mktemp(f"reports-{request.param}")
    # A database of the scenario's own, made and dropped with it: pytest may tear a
    # parametrized session fixture down and build it again when test files ask for its
    # params in turn, and a rebuild over the first build's store ran its nights again as
    # re-runs (nothing new sent, so the new folder's outbox stayed empty).
    url, drop = ((f"sqlite:///{folder / 'store.sqlite3'}", lambda: None) if request.param == "sqlite"
                 else new_pg_database("pt_reports"))
    engine = make_engine(url)
    migrate(engine)
    with pytest.MonkeyPatch.context() as mp:
        # The collect stage reads the inbox folder from the settings: keep it in the temp folder.
        mp.setenv("PLAN_TRACKER_DATA_DIR", str(folder / "var"))
        get_settings.cache_clear()
        settings = build_scenario(engine, folder)
        get_settings.cache_clear()
    yield Scenario(engine, url, settings, request.param)
    engine.dispose()
    drop()


@pytest.fixture(scope="session")
def report(scenario: Scenario) -> Any:
    """The scenario's report as of 2018-04-20."""
    from plan_tracker.reports import build_report

    return build_report(scenario.engine, PLAN_ID, AS_OF)
