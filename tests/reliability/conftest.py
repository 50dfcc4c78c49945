"""Shared pieces of the reliability tests: a plan with enough obligations and recipients to
crash in the middle of things, stores cloned per scenario on SQLite and PostgreSQL, the
comparable state of a store, the CLI in a subprocess, and the figures recorder.

Budgets: every test here runs in CI in a bounded form. `PLAN_TRACKER_LONG_TESTS=1` widens
them (every kill point, more Hypothesis examples); `PLAN_TRACKER_FIGURES_DIR=DIR` writes
each test's figures to DIR/<name>.json (what RELIABILITY.md quotes).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from plan_tracker.services.plans import apply_plan
from plan_tracker.store.db import make_engine, migrate
from plan_tracker.store.models import Event, Obligation, StatusReport
from plan_tracker.store.outbox_models import DailyFigure, Delivery, LightFlip
from plan_tracker.store.recorded_steps import recorded_steps

LONG = os.environ.get("PLAN_TRACKER_LONG_TESTS") == "1"
ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("PLAN_TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

PLAN_ID = "harness-2018"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# Six towns with contact and head, a coordinator, the leading group: a night at the top of
# the ladder sends a dozen messages; 6 × (2 one-off + 12 monthly) = 84 obligations.
PLAN_YAML = """\
version: 1
plan:
  id: harness-2018
  title: 可靠性测试计划
  coordinator: legal-office
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
leading_group: {name: 领导小组办公室, email: lg@example.org}
units:
  - {id: legal-office, name: 区政府法制办, contact: {name: 张三, email: legal@example.org},
     head: {name: 李四, email: legal-head@example.org}}
""" + "".join(
    f"  - {{id: t{i}, name: 镇{i}, groups: [towns], contact: {{name: 联络员{i}, email: t{i}@example.org}},\n"
    f"     head: {{name: 负责人{i}, email: t{i}-head@example.org}}}}\n" for i in range(1, 7)
) + """\
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
      - {id: s.summary, title: 报送半年总结, lead: group:towns, due: 2018-09-21}
      - {id: s.monthly, title: 每月报送执法数据, lead: group:towns, every: month, due_after: 3}
"""


def at(day: dt.date, hour: int = 2, minute: int = 0) -> dt.datetime:
    """A moment on a day in Shanghai, as UTC."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI).astimezone(dt.UTC)


# ------------------------------------------------------------------------------- figures
@dataclass
class Figures:
    rows: dict[str, Any] = field(default_factory=dict)

    def record(self, name: str, **values: Any) -> None:
        self.rows[name] = values
        folder = os.environ.get("PLAN_TRACKER_FIGURES_DIR")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / f"{name}.json").write_text(json.dumps(values, indent=1, default=str, ensure_ascii=False))
        print(f"\nFIGURES {name}: {json.dumps(values, default=str, ensure_ascii=False)}")


@pytest.fixture(scope="session")
def figures() -> Figures:
    return Figures()


# ------------------------------------------------------------------------------- stores
class Store:
    """A store made once (plan applied, history run) and cloned cheaply per scenario:
    SQLite by copying the file, PostgreSQL by CREATE DATABASE … TEMPLATE."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.clones: list[str] = []
        if backend == "sqlite":
            self.url = f"sqlite:///{folder / 'template.sqlite3'}"
        else:
            self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            self.name = f"pt_rel_{uuid.uuid4().hex[:10]}"
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = self._pg_url(self.name)
        self.engine = make_engine(self.url)
        migrate(self.engine)

    def _pg_url(self, name: str) -> str:
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def seal(self) -> None:
        """Finish the template: no connection may stay open on it."""
        if self.backend == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.engine.dispose()

    def clone(self) -> str:
        if self.backend == "sqlite":
            target = self.folder / f"clone-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copyfile(self.folder / "template.sqlite3", target)
            return f"sqlite:///{target}"
        name = f"{self.name}_{len(self.clones)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"'))
        self.clones.append(name)
        return self._pg_url(name)

    def close(self) -> None:
        self.engine.dispose()
        if self.backend == "postgresql":
            with self.admin.connect() as conn:
                for name in [*self.clones, self.name]:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self.admin.dispose()


@pytest.fixture
def store_factory(tmp_path: Path) -> Iterator[Callable[[str], Store]]:
    made: list[Store] = []

    def build(backend: str) -> Store:
        store = Store(backend, tmp_path)
        made.append(store)
        return store

    yield build
    for store in made:
        store.close()


def apply_harness_plan(engine: Engine, folder: Path) -> None:
    path = folder / "harness.yaml"
    path.write_text(PLAN_YAML, encoding="utf-8")
    apply_plan(engine, path)


# ------------------------------------------------------------------------------- state
def _key(o: Any) -> tuple[str, str, str]:
    return (o.task_id, o.unit_id, o.period)


def state_of(engine: Engine) -> dict[str, Any]:
    """What a night leaves in the store, without ids, clocks or the run ledger: two stores
    with equal states hold the same decisions and the same reports."""
    o, r, d = Obligation.__table__, recorded_steps(), Delivery.__table__
    s, f, e = StatusReport.__table__, LightFlip.__table__, Event.__table__
    fig = DailyFigure.__table__
    with engine.connect() as conn:
        reminders = sorted(
            (row.task_id, row.unit_id, row.period, row.level, row.seq, str(row.scheduled_on), str(row.fired_on), row.state)
            for row in conn.execute(select(o.c.task_id, o.c.unit_id, o.c.period, r.c.level, r.c.seq, r.c.scheduled_on,
                                           r.c.fired_on, r.c.state).join(o, o.c.id == r.c.obligation_id)))
        deliveries = sorted(
            (row.task_id, row.unit_id, row.period, row.level, row.seq, row.recipient_key, row.state)
            for row in conn.execute(select(o.c.task_id, o.c.unit_id, o.c.period, r.c.level, r.c.seq, d.c.recipient_key,
                                           d.c.state).join(r, r.c.id == d.c.reminder_id)
                                    .join(o, o.c.id == r.c.obligation_id)))
        # the week's report and the coordinator's decisions: outbox rows of no reminder
        topics = sorted((row.recipient_key, row.topic, str(row.raised_on), row.state)
                        for row in conn.execute(select(d.c.recipient_key, d.c.topic, d.c.raised_on, d.c.state)
                                                .where(d.c.reminder_id.is_(None))))
        reports = sorted(
            (row.task_id, row.unit_id, row.period, row.status, row.progress, str(row.reported_on), row.source, row.note or "")
            for row in conn.execute(select(o.c.task_id, o.c.unit_id, o.c.period, s.c.status, s.c.progress,
                                           s.c.reported_on, s.c.source, s.c.note).join(o, o.c.id == s.c.obligation_id)))
        flips = sorted(Counter(
            (row.task_id, row.unit_id, row.period, str(row.as_of), row.old_light or "", row.new_light)
            for row in conn.execute(select(o.c.task_id, o.c.unit_id, o.c.period, f.c.as_of, f.c.old_light,
                                           f.c.new_light).join(o, o.c.id == f.c.obligation_id))).items())
        lights = sorted((row.task_id, row.unit_id, row.period, row.light, row.overdue_wd, str(row.evaluated_on))
                        for row in conn.execute(select(o.c.task_id, o.c.unit_id, o.c.period, o.c.light, o.c.overdue_wd,
                                                       o.c.evaluated_on)))
        daily = sorted((str(row.as_of), row.section_id, row.light, row.count, row.overdue_wd)
                       for row in conn.execute(select(fig)))
        events = sorted(Counter(
            (row.kind, row.actor, _weekly_state(row.payload))
            for row in conn.execute(select(e.c.kind, e.c.actor, e.c.payload))).items())
    return {"reminders": reminders, "deliveries": deliveries, "topics": topics, "reports": reports, "flips": flips,
            "lights": lights, "daily_figures": daily, "events": events}


def _weekly_state(payload: Any) -> str:
    data = payload if isinstance(payload, dict) else json.loads(payload)
    return f"{data.get('week')}|{data.get('recipient')}|{data.get('state')}" if "week" in data else ""


def report_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(text("count(*)")).select_from(StatusReport.__table__)).scalar_one())


# ------------------------------------------------------------------------------- the CLI
def cli_env(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAN_TRACKER_", "PREFECT_API_URL"))}
    env.update({"PLAN_TRACKER_DATABASE_URL": url, "PLAN_TRACKER_DATA_DIR": str(data_dir), **extra})
    if "PLAN_TRACKER_TEST_PG_URL" in os.environ:
        env["PLAN_TRACKER_TEST_PG_URL"] = os.environ["PLAN_TRACKER_TEST_PG_URL"]
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`plan-tracker ARGS` in a fresh process (the way cron or a worker runs it)."""
    return subprocess.run([sys.executable, "-m", "plan_tracker.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)
