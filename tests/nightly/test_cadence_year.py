"""A year of nights on a plan whose units never report: how many messages each recipient
gets per night and per week (the cadence targets), and that scoring counts what the leading
group was actually sent."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from plan_tracker.channels import Message, Receipt
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.night import run_nightly
from plan_tracker.reports import build_report
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings
from plan_tracker.store.db import make_engine, migrate

from .conftest import at

pytestmark = pytest.mark.slow  # a year of nights in its module fixture (about 100 s)

PLAN = """\
version: 1
plan:
  id: silent-2018
  title: 无人报送的测试计划
  coordinator: office
  start: 2018-01-01
  end: 2018-12-31
leading_group:
  name: 领导小组办公室
  email: lg@example.org
  recipients: [{name: 组长, email: lg-chief@example.org}]
units:
  - {id: office, name: 督查办, contact: {name: 张三, email: office@example.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 王五, email: a@example.org}, head: {name: 赵六, email: a-head@example.org}}
  - {id: town-b, name: 乙镇, groups: [towns], contact: {name: 钱七, email: b@example.org}, head: {name: 孙八, email: b-head@example.org}}
  - {id: town-c, name: 丙镇, groups: [towns], contact: {name: 周九, email: c@example.org}, head: {name: 吴十, email: c-head@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact, head]}
  - {after: 5, level: supervise, notify: [head, coordinator]}
  - {after: 10, level: accountability, notify: [leading_group], repeat_every: 3}
scoring: {per_level: {accountability: 1}, floor: -1000}
sections:
  - id: s
    title: 测试
    tasks:
      - {id: s.monthly, title: 报送月度进展, lead: group:towns, every: month, due_after: 5}
      - {id: s.quarterly, title: 报送季度总结, lead: group:towns, every: quarter, due_after: 10}
      - {id: s.self-check, title: 报送自查报告, lead: [town-a, town-b], due: 2018-06-29}
"""


class Recorder:
    """A fake channel for every route: records (address, night, subject, text)."""

    name = "file"

    def __init__(self) -> None:
        self.night: dt.date | None = None
        self.sent: list[tuple[str, dt.date, str, str]] = []

    def send(self, message: Message) -> Receipt:
        assert self.night is not None
        self.sent.append((message.address, self.night, message.subject, message.text))
        return Receipt("file", message.message_key)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Recorder]:
    folder: Path = tmp_path_factory.mktemp("year")
    (folder / "plan.yaml").write_text(PLAN, encoding="utf-8")
    engine = make_engine(f"sqlite:///{folder / 'store.sqlite3'}")
    migrate(engine)
    apply_plan(engine, folder / "plan.yaml")
    settings = Settings(data_dir=folder / "var", database_url=None)
    recorder = Recorder()
    calendar = WorkCalendar()
    day = dt.date(2018, 1, 1)
    while day <= dt.date(2018, 12, 31):
        if calendar.is_working_day(day):
            recorder.night = day
            run_nightly(engine, "silent-2018", day, now=at(day), settings=settings,
                        factory=lambda kind, options: recorder)
        day += dt.timedelta(days=1)
    yield engine, recorder
    engine.dispose()


def week(day: dt.date) -> tuple[int, int]:
    return day.isocalendar()[:2]


def test_nobody_gets_more_than_one_message_a_night(year) -> None:
    _, recorder = year
    per_night = Counter((address, night) for address, night, _, _ in recorder.sent)
    assert per_night and max(per_night.values()) == 1
    assert len({a for a, _ in per_night}) == 9  # every contact, head, the coordinator and both LG addresses


def test_the_leading_group_gets_at_most_one_message_a_week_weekly_report_included(year) -> None:
    _, recorder = year
    to_lg = [(a, n, s) for a, n, s, _ in recorder.sent if a in ("lg@example.org", "lg-chief@example.org")]
    per_week = Counter((a, week(n)) for a, n, _ in to_lg)
    assert max(per_week.values()) == 1
    # …and that one message carries both the weekly report and, when due, the 通报 digest
    digests = [s for a, _, s in to_lg if a == "lg@example.org" and s.startswith("【通报】")]
    assert len(digests) >= 20 and all("督查督办周报" in s for s in digests)
    assert all(week(n) == week(n) and WorkCalendar().is_working_day(n) for _, n, _ in to_lg)


def test_every_accountability_reminder_was_delivered_never_dropped(year) -> None:
    from sqlalchemy import select

    from plan_tracker.store.outbox_models import Reminder

    engine, _ = year
    r = Reminder.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.state, r.c.fired_on).where(r.c.level == "accountability")).all()
    states = Counter(state for state, _ in rows)
    assert states["sent"] > 0 and set(states) <= {"sent", "skipped", "pending"}
    # Waiting: only what fired after the year's last digest (Monday 12-24); 12-31 is a
    # holiday, so it goes out with the 2019-01-02 digest.
    assert {fired > dt.date(2018, 12, 24) for state, fired in rows if state == "pending"} == {True}


def test_scoring_counts_an_items_notice_once_per_digest(year) -> None:
    engine, recorder = year
    listed: dict[str, int] = defaultdict(int)  # per unit: items listed in the LG digests sent
    for address, _, subject, text in recorder.sent:
        if address == "lg@example.org" and subject.startswith("【通报】"):
            for unit, n in re.findall(r"^  (\S+)：(\d+) 项，最长逾期", text, flags=re.M):
                listed[unit] += int(n)
    # As of the year's last digest day (12-24): everything fired by then went out in a digest.
    report = build_report(engine, "silent-2018", dt.date(2018, 12, 24))
    counted = {u.name: u.reminders.get("accountability", 0) for u in report.units}
    assert listed and counted == {**{name: 0 for name in counted}, **listed}
    raw = Counter()
    from sqlalchemy import select

    from plan_tracker.store.models import Obligation
    from plan_tracker.store.outbox_models import Reminder

    r, o = Reminder.__table__, Obligation.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        for (unit,) in conn.execute(select(o.c.unit_id).join(r, r.c.obligation_id == o.c.id)
                                    .where(r.c.level == "accountability", r.c.state != "skipped",
                                           r.c.fired_on <= dt.date(2018, 12, 24))):
            raw[unit] += 1
    assert sum(raw.values()) > sum(listed.values())  # repeats happened, and were not each counted
