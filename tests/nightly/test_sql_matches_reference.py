"""The SQL fast path (lights + escalation over the calendar table) equals the pure-Python
reference rules of the domain, on random plans, reports (blocked ones pause escalation),
coordinator resumes and sequences of nights.

Three readings of the SQL are held to the reference: the correlated query `status` uses,
the lights the night saved in `obligation` (the batch fill: windowed on PostgreSQL), and
the same saved lights when the night runs split into unit shards (`nightly --shard`)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.escalation import Outcome, escalation_paused, firings_on
from plan_tracker.domain.lights import light_on
from plan_tracker.domain.obligations import expand
from plan_tracker.domain.plan import Plan
from plan_tracker.domain.reports import state_as_of
from plan_tracker.services.nightly import Shard, evaluate, evaluate_shard
from plan_tracker.services.plans import apply_loaded
from plan_tracker.services.status import status_rows
from plan_tracker.services.submissions import Submission, record_report
from plan_tracker.store.db import make_engine, migrate
from plan_tracker.store.models import Obligation
from plan_tracker.store.portal_models import EscalationResume
from plan_tracker.store.recorded_steps import recorded_steps

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
START, END = dt.date(2018, 1, 1), dt.date(2018, 12, 31)
_ids = itertools.count()

dates_2018 = st.dates(START, END)
task_st = st.one_of(
    st.fixed_dictionaries({"due": dates_2018.map(str)}),
    st.fixed_dictionaries({
        "every": st.sampled_from(["week", "month", "quarter", "half_year", "year"]),
        "due_after": st.integers(0, 6),
    }),
).flatmap(lambda sched: st.fixed_dictionaries({
    "warn_days": st.integers(0, 5), "lead": st.sampled_from([["u1"], ["u2"], ["u1", "u2"]]),
}).map(lambda rest: {**sched, **rest}))
ladder_st = st.lists(
    st.tuples(st.integers(-6, 15), st.one_of(st.none(), st.integers(1, 4))),
    min_size=1, max_size=4, unique_by=lambda s: s[0],
)
reports_st = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 200),
              st.sampled_from(["done", "done", "in_progress", "not_started", "blocked"])),
    max_size=12,
)
# Coordinator resumes of blocked items: (obligation pick, days after its period starts).
resumes_st = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 200)), max_size=4)
nights_st = st.lists(st.dates(dt.date(2017, 12, 20), dt.date(2019, 2, 28)), min_size=1, max_size=5, unique=True).map(sorted)


def build_plan(tasks: list[dict], ladder: list[tuple[int, int | None]], escalation_from: dt.date | None = None) -> Plan:
    pid = f"prop-{next(_ids)}"
    started = {"escalation_from": str(escalation_from)} if escalation_from else {}
    return Plan.model_validate({
        "version": 1,
        "plan": {"id": pid, "title": "属性测试", "coordinator": "u1", "start": str(START), "end": str(END), **started},
        "units": [
            {"id": "u1", "name": "甲", "contact": {"name": "甲联络员", "email": "u1@example.org"}},
            {"id": "u2", "name": "乙", "contact": {"name": "乙联络员", "email": "u2@example.org"}},
        ],
        "escalation": [
            {"after": after, "level": f"s{i}", "notify": ["contact"], **({"repeat_every": rep} if rep else {})}
            for i, (after, rep) in enumerate(sorted(ladder))
        ],
        "sections": [{"id": "s", "title": "节", "tasks": [
            {"id": f"t{i}", "title": f"任务{i}", **t} for i, t in enumerate(tasks)
        ]}],
    })


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path: Path = tmp_path_factory.mktemp("prop") / "store.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


def check_equivalence(engine: Engine, tasks: list[dict], ladder: list[tuple[int, int | None]],
                      reports: list[tuple[int, int, str]], nights: list[dt.date],
                      escalation_from: dt.date | None = None, resumes: list[tuple[int, int]] = (),
                      shards: int = 1) -> None:
    plan = build_plan(tasks, ladder, escalation_from)
    apply_loaded(engine, plan)
    calendar = WorkCalendar(plan.plan.calendar)
    planned = list(expand(plan, calendar))
    by_key = {(o.task, o.unit, o.period): o for o in planned}
    history: dict[tuple[str, str, str], list[tuple[dt.date, int, str, int | None]]] = {k: [] for k in by_key}
    resumed: dict[tuple[str, str, str], list[dt.date]] = {k: [] for k in by_key}
    with engine.begin() as conn:
        for arrival, (pick, offset, status) in enumerate(reports):
            ob = planned[pick % len(planned)]
            day = min(ob.period_start + dt.timedelta(days=offset), dt.date(2019, 2, 28))
            record_report(conn, Submission(plan.id, ob.task, ob.unit, ob.period, status, day),
                          today=dt.date(2030, 1, 1), actor=ob.unit, source="test")
            history[(ob.task, ob.unit, ob.period)].append((day, arrival, status, None))
        # the blocked-pause rule: a resume dated on or after a blocked report lifts it
        ids = {(row.task_id, row.unit_id, row.period): row.id for row in conn.execute(
            select(Obligation.__table__).where(Obligation.__table__.c.plan_id == plan.id))}
        for pick, offset in resumes:
            ob = planned[pick % len(planned)]
            day = min(ob.period_start + dt.timedelta(days=offset), dt.date(2019, 2, 28))
            conn.execute(insert(EscalationResume.__table__).values(
                plan_id=plan.id, obligation_id=ids[(ob.task, ob.unit, ob.period)], resumed_on=day, decided_by="test"))
            resumed[(ob.task, ob.unit, ob.period)].append(day)

    already: dict[tuple[str, str, str], set[tuple[str, int]]] = {k: set() for k in by_key}
    expected_reminders = set()
    for night in nights:
        run_night(engine, plan.id, night, shards)
        sql_lights = {(r.task, r.unit, r.period): (r.light, r.overdue_wd) for r in status_rows(engine, plan.id, night)}
        assert saved_lights(engine, plan.id) == sql_lights, night  # the batch fill saved what status reads
        for key, ob in by_key.items():
            _, _, done_on = state_as_of(history[key], night)
            ref = light_on(calendar, as_of=night, period_start=ob.period_start, due=ob.due,
                           warn_days=ob.warn_days, done_on=done_on)
            assert sql_lights[key] == (ref.light.value, ref.overdue_wd), (key, night)
            for firing in firings_on(calendar, plan.ladder(), as_of=night, period_start=ob.period_start,
                                     due=ob.due, done_on=done_on, already=already[key],
                                     escalation_from=escalation_from,
                                     paused=escalation_paused(history[key], resumed[key], night)):
                already[key].add((firing.level, firing.seq))
                state = "pending" if firing.outcome is Outcome.fire else "skipped"
                expected_reminders.add((*key, firing.level, firing.seq, firing.scheduled_on, night, state))

    r, o = recorded_steps(), Obligation.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.c.task_id, o.c.unit_id, o.c.period, r.c.level, r.c.seq, r.c.scheduled_on, r.c.fired_on, r.c.state)
            .join(o, o.c.id == r.c.obligation_id).where(r.c.plan_id == plan.id)
        ).all()
    got = {tuple(row) for row in rows}
    assert got == expected_reminders, repr((sorted(got - expected_reminders), sorted(expected_reminders - got)))


def run_night(engine: Engine, plan_id: str, night: dt.date, shards: int) -> None:
    if shards == 1:
        evaluate(engine, plan_id, night, now=NOW)
        return
    for index in range(shards):  # u1 and u2 fall in shards 2 and 0 of 3: shard 1 is empty
        evaluate_shard(engine, plan_id, night, now=NOW, shard=Shard(index, shards), worker=f"w{index}")


def saved_lights(engine: Engine, plan_id: str) -> dict[tuple[str, str, str], tuple[str | None, int]]:
    o = Obligation.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(o.c.task_id, o.c.unit_id, o.c.period, o.c.light, o.c.overdue_wd)
                            .where(o.c.plan_id == plan_id))
        return {(r.task_id, r.unit_id, r.period): (r.light, r.overdue_wd) for r in rows}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tasks=st.lists(task_st, min_size=1, max_size=3), ladder=ladder_st, reports=reports_st, nights=nights_st,
       escalation_from=st.one_of(st.none(), dates_2018), resumes=resumes_st)
def test_sql_evaluation_equals_reference_rules(sqlite_engine: Engine, tasks, ladder, reports, nights,
                                               escalation_from, resumes) -> None:
    check_equivalence(sqlite_engine, tasks, ladder, reports, nights, escalation_from, resumes)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tasks=st.lists(task_st, min_size=1, max_size=2), ladder=ladder_st, reports=reports_st, nights=nights_st,
       escalation_from=st.one_of(st.none(), dates_2018), resumes=resumes_st)
def test_sql_evaluation_equals_reference_rules_on_postgresql(pg_engine: Engine, tasks, ladder, reports, nights,
                                                             escalation_from, resumes) -> None:
    check_equivalence(pg_engine, tasks, ladder, reports, nights, escalation_from, resumes)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tasks=st.lists(task_st, min_size=1, max_size=2), ladder=ladder_st, reports=reports_st, nights=nights_st,
       escalation_from=st.one_of(st.none(), dates_2018), resumes=resumes_st)
def test_sharded_nights_equal_reference_rules(sqlite_engine: Engine, tasks, ladder, reports, nights,
                                              escalation_from, resumes) -> None:
    check_equivalence(sqlite_engine, tasks, ladder, reports, nights, escalation_from, resumes, shards=3)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tasks=st.lists(task_st, min_size=1, max_size=2), ladder=ladder_st, reports=reports_st, nights=nights_st,
       escalation_from=st.one_of(st.none(), dates_2018), resumes=resumes_st)
def test_sharded_nights_equal_reference_rules_on_postgresql(pg_engine: Engine, tasks, ladder, reports, nights,
                                                            escalation_from, resumes) -> None:
    check_equivalence(pg_engine, tasks, ladder, reports, nights, escalation_from, resumes, shards=3)
