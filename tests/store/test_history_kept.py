"""The record holds: a plan change never rewrites what the record said about an earlier day.

A Hypothesis property: random plans run through random nights with random reports, and
between the nights random edits (rename, cancel, remove, add, move a due date, change the
ladder; tasks and units) are applied with an effective date. For every sampled as-of date
before an edit's effective date, the `status` rows and the report JSON are identical
before and after the edit — on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from plan_tracker.domain.plan import Plan
from plan_tracker.reports.build import build_report
from plan_tracker.reports.json_data import report_data
from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_loaded
from plan_tracker.services.status import status_rows
from plan_tracker.services.submissions import Submission, record_report
from plan_tracker.store.db import make_engine, migrate

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
START, END = dt.date(2018, 1, 1), dt.date(2018, 12, 31)
_ids = itertools.count()

EDITS = ["rename_task", "cancel_task", "remove_task", "add_task", "move_due", "change_ladder",
         "rename_unit", "cancel_unit", "remove_unit"]

task_st = st.one_of(
    st.fixed_dictionaries({"due": st.dates(dt.date(2018, 2, 1), END).map(str)}),
    st.fixed_dictionaries({"every": st.sampled_from(["month", "quarter", "half_year"]), "due_after": st.integers(0, 5)}),
).flatmap(lambda sched: st.fixed_dictionaries({"lead": st.sampled_from(["u1", "group:towns"])}).map(
    lambda rest: {**sched, **rest}))


def spec(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 1,
        "plan": {"id": f"hist-{next(_ids)}", "title": "记录不变", "coordinator": "u1", "start": str(START), "end": str(END)},
        "leading_group": {"name": "领导小组", "email": "lg@example.org"},
        "units": [
            {"id": "u1", "name": "法制办", "contact": {"name": "甲", "email": "u1@example.org"}},
            {"id": "u2", "name": "甲镇", "groups": ["towns"], "contact": {"name": "乙", "email": "u2@example.org"}},
            {"id": "u3", "name": "乙镇", "groups": ["towns"], "contact": {"name": "丙", "email": "u3@example.org"}},
        ],
        "escalation": [
            {"after": -2, "level": "remind", "notify": ["contact"]},
            {"after": 2, "level": "urge", "notify": ["contact"]},
            {"after": 6, "level": "accountability", "notify": ["leading_group"], "repeat_every": 5},
        ],
        "sections": [{"id": "s", "title": "节", "tasks": [
            {"id": f"t{i}", "title": f"任务{i}", **t} for i, t in enumerate(tasks)]}],
    }


def edited(doc: dict[str, Any], kind: str, pick: int, effective: dt.date) -> dict[str, Any] | None:
    """`doc` with one edit of `kind` (None when the plan has nothing to apply it to)."""
    doc = copy.deepcopy(doc)
    tasks = doc["sections"][0]["tasks"]
    live = [t for t in tasks if "cancelled" not in t]
    towns = [u for u in doc["units"] if "towns" in u.get("groups", []) and "cancelled" not in u]
    task = live[pick % len(live)] if live else None
    town = towns[pick % len(towns)] if towns else None
    later = effective + dt.timedelta(days=pick % 20)
    if kind == "rename_task" and task is not None:
        task["renamed_from"], task["id"] = task["id"], f"{task['id']}-r"
    elif kind == "cancel_task" and task is not None and len(live) > 1:
        task["cancelled"] = {"on": str(later), "reason": "领导小组决定撤销"}
    elif kind == "remove_task" and task is not None and len(tasks) > 1:
        tasks.remove(task)
    elif kind == "add_task":
        tasks.append({"id": f"new{pick}-{len(tasks)}", "title": "新增任务", "lead": "group:towns", "every": "month", "due_after": 2})
    elif kind == "move_due" and task is not None:
        if "due" in task:
            task["due"] = str(min(dt.date.fromisoformat(task["due"]) + dt.timedelta(days=7 + pick % 30), END))
        else:
            task["due_after"] = (task["due_after"] + 3) % 10
    elif kind == "change_ladder":
        doc["escalation"][1]["after"] = 1 + pick % 4
        doc["escalation"][2]["repeat_every"] = 2 + pick % 4
    elif kind == "rename_unit" and town is not None:
        town["renamed_from"], town["id"] = town["id"], f"{town['id']}-r"
    elif kind == "cancel_unit" and town is not None and len(towns) > 1:
        town["cancelled"] = {"on": str(later), "reason": "机构改革撤并"}
    elif kind == "remove_unit" and town is not None and len(towns) > 1:
        doc["units"].remove(town)
    else:
        return None
    return doc


def record(engine: Engine, plan_id: str, day: dt.date) -> tuple[Any, Any]:
    """What the record says about `day`: the status rows and the report's JSON."""
    rows = status_rows(engine, plan_id, day)
    data = report_data(build_report(engine, plan_id, day))
    return rows, data


def run_history(engine: Engine, data: st.DataObject) -> None:
    doc = spec(data.draw(st.lists(task_st, min_size=2, max_size=3), label="tasks"))
    plan = Plan.model_validate(doc)
    apply_loaded(engine, plan)
    # reports on the first version's obligations (paper reports: received on the date they claim)
    for _ in range(data.draw(st.integers(0, 6), label="reports")):
        t = plan.sections[0].tasks[data.draw(st.integers(0, len(plan.sections[0].tasks) - 1))]
        unit = "u1" if t.lead == "u1" else data.draw(st.sampled_from(["u2", "u3"]))
        period = "once" if t.every is None else {"month": "2018-03", "quarter": "2018-Q1", "half_year": "2018-H1"}[t.every.value]
        day = data.draw(st.dates(dt.date(2018, 3, 1), dt.date(2018, 6, 30)))
        with engine.begin() as conn:
            record_report(conn, Submission(plan.id, t.id, unit, period,
                                           data.draw(st.sampled_from(["done", "in_progress", "blocked"])), day),
                          today=dt.date(2019, 1, 1), actor="coordinator", source="test")
    night = dt.date(2018, 1, 15)
    effective = START
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        effective = effective + dt.timedelta(days=data.draw(st.integers(20, 120), label="gap"))
        while night < effective:  # the nights run up to the change
            evaluate(engine, plan.id, night, now=NOW)
            night += dt.timedelta(days=data.draw(st.integers(5, 25), label="step"))
        kind = data.draw(st.sampled_from(EDITS), label="edit")
        new_doc = edited(doc, kind, data.draw(st.integers(0, 50), label="pick"), effective)
        if new_doc is None:
            continue
        samples = sorted(set(data.draw(st.lists(st.dates(dt.date(2017, 12, 20), effective - dt.timedelta(days=1)),
                                                min_size=1, max_size=3), label="samples")))
        before = {day: record(engine, plan.id, day) for day in samples}
        apply_loaded(engine, Plan.model_validate(new_doc), effective=effective)
        doc = new_doc
        for day in samples:
            assert record(engine, plan.id, day) == before[day], (kind, effective, day)


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path: Path = tmp_path_factory.mktemp("history") / "store.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_plan_change_never_rewrites_an_earlier_day(sqlite_engine: Engine, data: st.DataObject) -> None:
    run_history(sqlite_engine, data)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_plan_change_never_rewrites_an_earlier_day_on_postgresql(pg_engine: Engine, data: st.DataObject) -> None:
    run_history(pg_engine, data)
