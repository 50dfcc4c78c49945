"""A small plan around 2018's National Day, and helpers to run nights on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from plan_tracker.night import run_nightly
from plan_tracker.services.messages import Digest, DigestUnit, Item, ranked_units
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings
from plan_tracker.store.db import make_engine, migrate
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import Delivery, LightFlip, Reminder, SkippedStep
from plan_tracker.store.recorded_steps import recorded_steps

from ..conftest import new_pg_database

PLAN_YAML = """\
version: 1
plan:
  id: national-day
  title: 国庆节前后测试计划
  coordinator: legal-office
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
leading_group: {name: 领导小组办公室, email: lg@example.org}
units:
  - {id: legal-office, name: 区政府法制办, contact: {name: 张三, email: legal@example.org},
     head: {name: 李四, email: legal-head@example.org}}
  - {id: town-a, name: 甲镇, groups: [towns], contact: {name: 王五, email: town-a@example.org},
     head: {name: 赵六, email: town-a-head@example.org}}
  - {id: town-b, name: 乙镇, groups: [towns], contact: {name: 钱七, email: town-b@example.org}}
escalation:
  - {after: -3, level: remind, notify: [contact]}
  - {after: 1, level: urge, notify: [contact, head]}
  - {after: 5, level: supervise, notify: [head, coordinator]}
  - {after: 10, level: accountability, notify: [leading_group], repeat_every: 5}
sections:
  - id: s
    title: 测试
    tasks:
      - {id: s.self-check, title: 报送自查报告, lead: group:towns, due: 2018-10-01}
      - {id: s.summary, title: 报送半年总结, lead: town-a, due: 2018-10-01}
"""

NIGHT = dt.time(2, 0)  # 02:00 in Shanghai = 18:00 UTC the day before
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(day: dt.date, clock: dt.time = NIGHT) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=SHANGHAI).astimezone(dt.UTC)


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_YAML, encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=None)


@pytest.fixture
def applied(engine: Engine, plan_file: Path) -> Engine:
    apply_plan(engine, plan_file)
    return engine


@pytest.fixture
def night(applied: Engine, settings: Settings) -> Callable[..., Any]:
    """Run the whole night for a date (optionally at another clock time or with a channel factory)."""

    def run(day: str | dt.date, clock: dt.time = NIGHT, **kwargs: Any) -> Any:
        date = dt.date.fromisoformat(day) if isinstance(day, str) else day
        return run_nightly(applied, "national-day", date, now=at(date, clock), settings=kwargs.pop("settings", settings), **kwargs)

    return run


def reminders(engine: Engine) -> list[tuple[str, str, str, int, str, str]]:
    """(task, unit, level, seq, fired_on, state) of every recorded step: reminders and skipped steps."""
    r, o = recorded_steps(), Obligation.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.c.task_id, o.c.unit_id, r.c.level, r.c.seq, r.c.fired_on, r.c.state)
            .join(o, o.c.id == r.c.obligation_id).order_by(r.c.fired_on, o.c.task_id, o.c.unit_id, r.c.position, r.c.seq)
        ).all()
    return [(t, u, lv, seq, f.isoformat(), st) for t, u, lv, seq, f, st in rows]


def deliveries(engine: Engine) -> list[tuple[str, str]]:
    d = Delivery.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(d.c.recipient_key, d.c.state).order_by(d.c.id))]


UNREACHABLE = ("unreachable:head:town-b", "dead")  # town-b has no head: recorded dead, with the reason


def addressed(engine: Engine) -> list[tuple[str, str]]:
    """Deliveries to real recipients (without the dead ones recorded for a role nobody holds)."""
    return [row for row in deliveries(engine) if not row[0].startswith("unreachable:")]


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path, founding_plan: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two stores holding the founding plan: one for the whole night, one for the split."""
    engines, drop = fresh_stores(request.param, tmp_path, founding_plan, 2)
    try:
        yield engines[0], engines[1]
    finally:
        drop()


# The four-step ladder of the plans below: remind the contact, urge contact and head, supervise
# through the head and the coordinator, then notify the leading group every five working days.
LADDER = [
    {"after": -3, "level": "remind", "notify": ["contact"]},
    {"after": 1, "level": "urge", "notify": ["contact", "head"]},
    {"after": 5, "level": "supervise", "notify": ["head", "coordinator"]},
    {"after": 10, "level": "accountability", "notify": ["leading_group"], "repeat_every": 5},
]
COUNTIES_PLAN = "counties-2018"


def counties_plan(folder: Path, *, units: int = 40, tasks: int = 3, start: str = "2018-06-01",
                  robot: tuple[int, str] | None = None) -> Path:
    """`units` counties × `tasks` monthly tasks from `start`, each county with a contact and a
    head, nobody reporting; `robot`: (county, robot name) whose contact is that robot."""
    rows = [{"id": f"county-{i:02d}", "name": f"县{i}", "groups": ["counties"],
             "contact": {"name": f"联络员{i}", "email": f"c{i}@example.org"},
             "head": {"name": f"负责人{i}", "email": f"h{i}@example.org"}} for i in range(units)]
    if robot is not None:
        county, name = robot
        rows[county]["contact"] = {"name": f"联络员{county}", "dingtalk": name}  # its group's robot
    doc = {"version": 1,
           "plan": {"id": COUNTIES_PLAN, "title": "县级月度台账", "coordinator": "county-00", "start": start,
                    "end": "2018-12-31"},
           "leading_group": {"name": "领导小组", "email": "lg@example.org"},
           "units": rows, "escalation": LADDER,
           "sections": [{"id": "monthly", "title": "月度任务", "tasks": [
               {"id": f"m{t}", "title": f"月度任务{t}", "lead": "group:counties", "every": "month", "due_after": 5 + t}
               for t in range(tasks)]}]}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{COUNTIES_PLAN}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def fresh_stores(backend: str, folder: Path, plan: Path, count: int) -> tuple[list[Engine], Callable[[], None]]:
    """`count` new stores holding `plan` (SQLite files, or PostgreSQL databases of their
    own), and the function that drops them."""
    drops: list[Callable[[], None]] = []

    def url(i: int) -> str:
        if backend == "sqlite":
            return f"sqlite:///{folder / f'store-{i}.sqlite3'}"
        made, drop_it = new_pg_database("pt_shard")
        drops.append(drop_it)
        return made

    engines = [make_engine(url(i)) for i in range(count)]
    for engine in engines:
        migrate(engine)
        apply_plan(engine, plan, actor="test", source="test")

    def drop() -> None:
        for engine in engines:
            engine.dispose()
        for drop_it in drops:
            drop_it()

    return engines, drop


def night_state(engine: Engine) -> dict[str, Any]:
    """Everything a night writes, keyed by obligation (task, unit, period), not by row id."""
    o, f, r, d = (t.__table__ for t in (Obligation, LightFlip, Reminder, Delivery))  # type: ignore[attr-defined]
    with engine.connect() as conn:
        key = {row.id: (row.task_id, row.unit_id, row.period) for row in conn.execute(select(o))}
        lights = {key[row.id]: (row.light, row.overdue_wd, row.evaluated_on) for row in conn.execute(select(o))}
        flips = sorted((key[row.obligation_id], row.as_of, row.old_light, row.new_light)
                       for row in conn.execute(select(f)))
        reminders = {row.id: (key[row.obligation_id], row.level, row.seq) for row in conn.execute(select(r))}
        reminder_rows = sorted((key[row.obligation_id], row.level, row.seq, row.state, row.scheduled_on,
                                row.fired_on, row.overdue_wd) for row in conn.execute(select(r)))
        # a topic row (the week's report, the decisions digest) has no reminder: keyed by its topic
        deliveries = sorted(((reminders[row.reminder_id] if row.reminder_id is not None else (row.topic,),
                              row.recipient_key, row.state) for row in conn.execute(select(d))), key=repr)
        skipped = sorted((key[row.obligation_id], row.level, row.seq, row.position, row.scheduled_on, row.fired_on)
                         for row in conn.execute(select(SkippedStep.__table__)))  # type: ignore[attr-defined]
    return {"lights": lights, "flips": flips, "reminders": reminder_rows, "skipped": skipped, "deliveries": deliveries}


def build_digest(items: list[Item], *, previous_total: int | None, new: int) -> Digest:
    """The leading group's digest over every one of its items, held in memory: the reference
    for the digest the store counts (`services.claimed_digest`) and a model for rendering tests."""
    per_unit: dict[str, list[Item]] = {}
    for item in items:
        per_unit.setdefault(item.unit_name, []).append(item)
    units = ranked_units(DigestUnit(name, len(found), max(i.overdue_wd for i in found))
                         for name, found in per_unit.items())
    longest = max(items, key=lambda i: (i.overdue_wd, -i.due.toordinal()), default=None)
    return Digest(units, len(items), longest, new, previous_total)
