"""A small plan with indicators, its templates, and helpers to fill them as a unit would.

Every store-backed test runs on SQLite and on PostgreSQL (the `engine` fixture). Time is
passed in: templates and ingestion use AS_OF / TODAY, never the clock.
"""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, select

from plan_tracker.inbox.template import write_templates
from plan_tracker.services.plans import apply_plan
from plan_tracker.store.models import Event, Obligation, StatusReport

PLAN_ID = "inbox-2018"
AS_OF = dt.date(2018, 5, 2)  # Q1 training is overdue (red), Q2 running (green)
TODAY = AS_OF

PLAN_YAML = """\
version: 1
plan:
  id: inbox-2018
  title: 收件箱测试计划
  coordinator: legal-office
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
units:
  - {id: legal-office, name: 区政府法制办, contact: {name: 张三, email: a@example.org}}
  - {id: town-a, name: 川店镇, groups: [towns], contact: {name: 王五, email: c@example.org}}
  - {id: town-b, name: 马山镇, groups: [towns], contact: {name: 赵六, email: d@example.org}}
sections:
  - id: cap
    title: 进一步提高依法行政的能力和水平
    tasks:
      - id: cap.training
        title: 对执法队伍进行轮训
        lead: group:towns
        every: quarter
        due_after: 5
        indicators:
          - {id: trained, name: 参训人次, unit: 人次, target: 20}
      - id: cap.study-plan
        title: 制定年度学法计划
        lead: legal-office
        due: 2018-03-30
      - id: cap.self-check
        title: 报送自查报告
        lead: town-a
        due: 2018-06-29
        indicators:
          - {id: cases, name: 评查案卷数, unit: 件, target: 10}
"""


# The same plan for English-speaking readers: receipts and error files follow `plan.locale`.
EN_PLAN_YAML = PLAN_YAML.replace("  warn_days: 3\n", "  warn_days: 3\n  locale: en\n")


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_YAML, encoding="utf-8")
    return path


@pytest.fixture
def en_plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan-en.yaml"
    path.write_text(EN_PLAN_YAML, encoding="utf-8")
    return path


@pytest.fixture
def applied(engine: Engine, plan_file: Path) -> Engine:
    apply_plan(engine, plan_file)
    return engine


@pytest.fixture
def applied_en(engine: Engine, en_plan_file: Path) -> Engine:
    apply_plan(engine, en_plan_file)
    return engine


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


@pytest.fixture
def templates(applied: Engine, tmp_path: Path) -> dict[str, Path]:
    files = write_templates(applied, PLAN_ID, as_of=AS_OF, today=TODAY, out_dir=tmp_path / "templates")
    return {f.unit: f.path for f in files}


@pytest.fixture(scope="session")
def base_template(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A genuine town-a template, built once without a store: the base of the hostile corpus."""
    from plan_tracker.inbox.template import build_form
    from plan_tracker.planfile import load_plan
    from plan_tracker.services.status import StatusRow

    path = tmp_path_factory.mktemp("plan") / "plan.yaml"
    path.write_text(PLAN_YAML, encoding="utf-8")
    plan = load_plan(path)
    rows = [StatusRow("cap.training", "town-a", "2018-Q2", dt.date(2018, 7, 6), "green", None, None, 0),
            StatusRow("cap.self-check", "town-a", "once", dt.date(2018, 6, 29), "green", None, None, 0)]
    return build_form(plan, 1, plan.unit("town-a"), rows, as_of=AS_OF, today=TODAY)


def fill(template: Path, out: Path, answers: dict[tuple[str, str], dict[str, Any]]) -> Path:
    """Open a template with openpyxl and type answers into it, as a unit's clerk would:
    `answers[(task, period)] = {header: value}`."""
    workbook = openpyxl.load_workbook(template)
    sheet = workbook["反馈表"]
    headers = {cell.value: cell.column for cell in sheet[3] if cell.value}
    left = dict(answers)
    for row in sheet.iter_rows(min_row=4):
        key = (row[0].value, row[2].value)
        for header, value in left.pop(key, {}).items():
            sheet.cell(row[0].row, headers[header]).value = value
    assert not left, f"no template rows for {sorted(left)}"
    workbook.save(out)
    return out


def reports(engine: Engine) -> list[tuple[str, str, str, str, int | None, str, str]]:
    """(task, unit, period, status, progress, reported_on, source) of every stored report."""
    r, o = StatusReport.__table__, Obligation.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.c.task_id, o.c.unit_id, o.c.period, r.c.status, r.c.progress, r.c.reported_on, r.c.source)
            .join(o, o.c.id == r.c.obligation_id).order_by(r.c.id)).all()
    return [(t, u, p, s, pr, d.isoformat(), src) for t, u, p, s, pr, d, src in rows]


def events(engine: Engine, *kinds: str) -> list[dict[str, Any]]:
    e = Event.__table__
    query = select(e.c.kind, e.c.actor, e.c.source, e.c.payload).order_by(e.c.id)
    if kinds:
        query = query.where(e.c.kind.in_(kinds))
    with engine.connect() as conn:
        return [dict(kind=k, actor=a, source=s, payload=p) for k, a, s, p in conn.execute(query)]


@dataclass
class Measured:
    seconds: float  # wall time (reported)
    peak_bytes: int
    result: Any
    cpu_seconds: float = 0.0  # this process's CPU time: what a hostile file can make us burn


def measured(action: Callable[[], Any]) -> Measured:
    """Run `action`, measuring elapsed time (monotonic), CPU time (unaffected by other work
    on a shared machine) and the Python heap peak (tracemalloc)."""
    tracemalloc.start()
    start, cpu = time.monotonic(), time.process_time()
    try:
        result = action()
    finally:
        seconds, cpu_seconds = time.monotonic() - start, time.process_time() - cpu
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return Measured(seconds, peak, result, cpu_seconds)
