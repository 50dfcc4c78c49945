"""The escalation state machine, property-tested: any sequence of nights run, nights missed,
reports (done / in progress), extensions (延期, through the workflow service) and send-backs
(退办) keeps the promises of DESIGN.md "Escalation":

- a head is never notified before the contact step was due;
- a done report stops all further steps (nothing is recorded on or after its date while it stands);
- the top level never fires before the levels below were due, and they are all recorded
  (fired, or skipped on a missed night) by then;
- each (obligation, level, seq) is recorded at most once;
- the reminders in the store equal the domain reference (`domain.escalation.firings_on`)
  replayed over the same history in one go.

The store is real (SQLite, and PostgreSQL with fewer examples); the nightly evaluation is
the set-based SQL. Bounded for CI; `PLAN_TRACKER_LONG_TESTS=1` runs many more examples.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import Engine, select, text

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.escalation import Outcome, firings_on, step_threshold
from plan_tracker.domain.plan import Plan
from plan_tracker.domain.reports import state_as_of
from plan_tracker.services import workflow
from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_loaded
from plan_tracker.services.tokens import Principal
from plan_tracker.store.db import make_engine, migrate
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import Delivery, Reminder, RoleRecipient
from plan_tracker.store.recorded_steps import recorded_steps

from .conftest import LONG

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
CALENDAR = WorkCalendar()
_ids = itertools.count()
UNITS = ("u1", "u2")


def make_plan(due: dt.date) -> Plan:
    return Plan.model_validate({
        "version": 1,
        "plan": {"id": f"machine-{next(_ids)}", "title": "状态机", "coordinator": "office",
                 "start": "2018-01-01", "end": "2018-12-31", "warn_days": 3},
        "leading_group": {"name": "领导小组", "email": "lg@example.org"},
        "units": [{"id": "office", "name": "办公室", "contact": {"name": "督办员", "email": "office@example.org"}}] + [
            {"id": u, "name": f"单位{u}", "groups": ["towns"], "contact": {"name": f"{u}联络员", "email": f"{u}@example.org"},
             "head": {"name": f"{u}负责人", "email": f"{u}-head@example.org"}} for u in UNITS],
        "escalation": [
            {"after": -3, "level": "remind", "notify": ["contact"]},
            {"after": 1, "level": "urge", "notify": ["contact", "head"]},
            {"after": 5, "level": "supervise", "notify": ["head", "coordinator"]},
            {"after": 10, "level": "accountability", "notify": ["leading_group"], "repeat_every": 5},
        ],
        "sections": [{"id": "s", "title": "节", "tasks": [
            {"id": "s.task", "title": "任务", "lead": "group:towns", "due": due.isoformat()}]}],
    })


class EscalationMachine(RuleBasedStateMachine):
    engine: Engine  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.plan: Plan | None = None
        self.day = dt.date(2018, 1, 1)  # the next night to run (or miss)
        self.nights: list[dt.date] = []  # nights run, in order
        self.reports: dict[int, list[tuple[dt.date, int, str, int | None]]] = {}
        self.dues: dict[int, list[tuple[dt.date, dt.date]]] = {}  # (from night, due) per obligation
        self.arrival = itertools.count()
        self.obligations: dict[str, int] = {}

    # ------------------------------------------------------------------ set-up
    @initialize(due=st.dates(dt.date(2018, 9, 1), dt.date(2018, 11, 30)), lead_in=st.integers(0, 20))
    def apply(self, due: dt.date, lead_in: int) -> None:
        self.plan = make_plan(due)
        apply_loaded(self.engine, self.plan)
        o = Obligation.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(select(o.c.id, o.c.unit_id, o.c.due).where(o.c.plan_id == self.plan.id)).all()
        for row in rows:
            self.obligations[row.unit_id] = int(row.id)
            self.reports[int(row.id)] = []
            self.dues[int(row.id)] = [(dt.date.min, row.due)]
        first_due = min(r.due for r in rows)
        self.day = first_due - dt.timedelta(days=lead_in)

    def principal(self, unit: str | None) -> Principal:
        assert self.plan is not None
        return Principal(0, "test", self.plan.id, unit, unit is None, "Asia/Shanghai")

    def due_at(self, ob: int, night: dt.date) -> dt.date:
        return [due for since, due in self.dues[ob] if since <= night][-1]

    # ------------------------------------------------------------------ rules
    @rule(days=st.integers(1, 4))
    def nights_pass(self, days: int) -> None:
        """Run every night of the next `days` days."""
        assert self.plan is not None
        for _ in range(days):
            evaluate(self.engine, self.plan.id, self.day, now=NOW)
            self.nights.append(self.day)
            self.day += dt.timedelta(days=1)

    @rule(days=st.integers(1, 12))
    def nights_missed(self, days: int) -> None:
        """The scheduler is down: no run for `days` nights."""
        self.day += dt.timedelta(days=days)

    @rule(unit=st.sampled_from(UNITS), status=st.sampled_from(["done", "done", "in_progress", "not_started"]),
          progress=st.integers(0, 100))
    def report(self, unit: str, status: str, progress: int) -> None:
        ob = self.obligations[unit]
        try:
            workflow.submit_report(self.engine, self.principal(unit), ob,
                                   workflow.ReportInput(status, self.day, progress if status != "done" else 100),
                                   today=self.day, source="test")
        except DomainError:
            return  # refused (e.g. the item was accepted): nothing recorded, nothing to model
        self.reports[ob].append((self.day, next(self.arrival), status, None))

    @rule(unit=st.sampled_from(UNITS))
    def send_back(self, unit: str) -> None:
        """The coordinator sends the latest done report back (退办): an in_progress report today."""
        ob = self.obligations[unit]
        latest = self._latest_report_id(ob)
        if latest is None:
            return
        try:
            workflow.review_report(self.engine, self.principal(None), latest, accept=False, reason="材料不全",
                                   today=self.day, source="test")
        except DomainError:
            return  # not a done report, or already reviewed
        self.reports[ob].append((self.day, next(self.arrival), "in_progress", None))

    @rule(unit=st.sampled_from(UNITS), days=st.integers(1, 15))
    def extension(self, unit: str, days: int) -> None:
        """The unit asks for a later due date and the coordinator approves it."""
        ob = self.obligations[unit]
        current = self.due_at(ob, self.day)
        try:
            asked = workflow.request_extension(self.engine, self.principal(unit), ob, new_due=current + dt.timedelta(days=days),
                                               reason="等待上级文件", today=self.day, source="test")
            workflow.decide_extension(self.engine, self.principal(None), asked.id, approve=True, reason=None,
                                      source="test", today=self.day)
        except DomainError:
            return  # too late (on or after the due date), already done, or not later
        with self.engine.connect() as conn:
            due = conn.execute(text("SELECT due FROM obligation WHERE id = :i"), {"i": ob}).scalar_one()
        self.dues[ob].append((self.day, due if isinstance(due, dt.date) else dt.date.fromisoformat(str(due))))

    def _latest_report_id(self, ob: int) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT id FROM status_report WHERE obligation_id = :i "
                                     "ORDER BY reported_on DESC, id DESC LIMIT 1"), {"i": ob}).scalar_one_or_none()

    # ------------------------------------------------------------------ the store's reminders
    def recorded(self) -> list[tuple[int, str, int, dt.date, str]]:
        r = recorded_steps()
        ids = list(self.obligations.values())
        with self.engine.connect() as conn:
            rows = conn.execute(select(r.c.obligation_id, r.c.level, r.c.seq, r.c.fired_on, r.c.state)
                                .where(r.c.obligation_id.in_(ids))).all()
        return [(int(o), lv, int(seq), f if isinstance(f, dt.date) else dt.date.fromisoformat(str(f)), st)
                for o, lv, seq, f, st in rows]

    def head_deliveries(self) -> list[tuple[int, str, dt.date]]:
        r, d, rr = Reminder.__table__, Delivery.__table__, RoleRecipient.__table__
        assert self.plan is not None
        with self.engine.connect() as conn:
            heads = {row.recipient_key: row.unit_id for row in conn.execute(
                select(rr.c.recipient_key, rr.c.unit_id).where(rr.c.plan_id == self.plan.id, rr.c.role == "head"))}
            rows = conn.execute(select(r.c.obligation_id, r.c.level, r.c.fired_on, d.c.recipient_key)
                                .join(r, r.c.id == d.c.reminder_id).where(r.c.plan_id == self.plan.id)).all()
        return [(int(o), lv, f if isinstance(f, dt.date) else dt.date.fromisoformat(str(f)))
                for o, lv, f, key in rows if key in heads]

    # ------------------------------------------------------------------ invariants
    @invariant()
    def each_step_at_most_once(self) -> None:
        if self.plan is None:
            return
        keys = [(o, lv, seq) for o, lv, seq, _, _ in self.recorded()]
        assert len(keys) == len(set(keys))

    @invariant()
    def a_head_is_never_notified_before_the_contact_step_was_due(self) -> None:
        if self.plan is None:
            return
        contact_steps = [s for s in self.plan.ladder() if any(r.value == "contact" for r in s.notify)]
        first_contact = min(contact_steps, key=lambda s: s.after)
        for ob, _, fired_on in self.head_deliveries():
            assert fired_on >= step_threshold(CALENDAR, self.due_at(ob, fired_on), first_contact)

    @invariant()
    def a_done_report_stops_every_further_step(self) -> None:
        if self.plan is None:
            return
        for ob, level, seq, fired_on, _ in self.recorded():
            _, _, done_on = state_as_of(self.reports[ob], fired_on)
            assert done_on is None or done_on > fired_on, (ob, level, seq, fired_on, done_on)

    @invariant()
    def the_top_levels_never_fire_before_the_levels_below_were_due(self) -> None:
        if self.plan is None:
            return
        ladder = self.plan.ladder()
        rank = {s.level: i for i, s in enumerate(ladder)}
        recorded = self.recorded()
        first_seen = {(o, lv): f for o, lv, seq, f, _ in recorded if seq == 0}
        for ob, level, _, fired_on, _ in recorded:
            for lower in ladder[: rank[level]]:
                assert step_threshold(CALENDAR, self.due_at(ob, fired_on), lower) <= fired_on
                assert first_seen.get((ob, lower.level), dt.date.max) <= fired_on, (ob, level, lower.level)

    @invariant()
    def the_store_equals_the_reference_replayed_in_one_go(self) -> None:
        if self.plan is None:
            return
        ladder = self.plan.ladder()
        expected = set()
        for ob in self.obligations.values():
            already: set[tuple[str, int]] = set()
            for night in self.nights:
                _, _, done_on = state_as_of(self.reports[ob], night)
                for f in firings_on(CALENDAR, ladder, as_of=night, period_start=dt.date(2018, 1, 1),
                                    due=self.due_at(ob, night), done_on=done_on, already=already):
                    already.add((f.level, f.seq))
                    expected.add((ob, f.level, f.seq, night, "skipped" if f.outcome is Outcome.skip else "pending"))
        got = {(o, lv, seq, f, st) for o, lv, seq, f, st in self.recorded()}
        assert got == expected, (sorted(got - expected), sorted(expected - got))


EXAMPLES = {"sqlite": 300 if LONG else 30, "postgresql": 100 if LONG else 8}
STEPS = 40 if LONG else 20


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_escalation_state_machine(backend: str, tmp_path_factory: pytest.TempPathFactory, request: Any) -> None:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('machine')) / 'store.sqlite3'}")
        migrate(engine)
    else:
        engine = request.getfixturevalue("pg_engine")
    EscalationMachine.engine = engine
    machine = EscalationMachine.TestCase
    machine.settings = settings(max_examples=EXAMPLES[backend], stateful_step_count=STEPS, deadline=None,
                                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    machine().runTest()
