"""A reminder's state follows its deliveries' (`delivery.roll_up_reminders`), on both
backends, for every combination of up to three deliveries' states: dead once one died,
failed once one failed (and none died), sent when every one went, else pending; a reminder
already settled, or without deliveries, is left alone."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from sqlalchemy import Engine, insert, select
from tests.nightly.test_cadence_year import PLAN

from plan_tracker.services.delivery import roll_up_reminders
from plan_tracker.services.plans import apply_plan
from plan_tracker.store.db import migrate
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import Delivery, Reminder

DELIVERY_STATES = ("pending", "sending", "sent", "failed", "dead", "void")
REMINDER_STATES = ("pending", "failed", "sent", "dead")  # skipped steps are not reminders (skipped_step)


def expected(reminder_state: str, deliveries: tuple[str, ...]) -> str:
    if reminder_state not in ("pending", "failed") or not deliveries:
        return reminder_state
    if "dead" in deliveries:
        return "dead"
    if "failed" in deliveries:
        return "failed"
    return "sent" if all(state == "sent" for state in deliveries) else "pending"


def test_a_reminder_follows_its_deliveries(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    migrate(engine)
    apply_plan(engine, tmp_path / "plan.yaml")
    r, d, o = Reminder.__table__, Delivery.__table__, Obligation.__table__  # type: ignore[attr-defined]
    cases = [(start, combo) for start in REMINDER_STATES
             for size in range(4) for combo in itertools.product(DELIVERY_STATES, repeat=size)]
    day = dt.date(2018, 7, 20)
    with engine.begin() as conn:
        obligation = conn.execute(select(o.c.id).where(o.c.plan_id == "silent-2018").limit(1)).scalar_one()
        ids = conn.execute(insert(r).returning(r.c.id, sort_by_parameter_order=True), [
            {"plan_id": "silent-2018", "obligation_id": obligation, "level": "urge", "position": 1, "seq": n,
             "scheduled_on": day, "fired_on": day, "state": start}
            for n, (start, _) in enumerate(cases)]).scalars().all()
        rows = [{"plan_id": "silent-2018", "reminder_id": rid, "recipient_key": f"r{k}", "state": state}
                for rid, (_, combo) in zip(ids, cases, strict=True) for k, state in enumerate(combo)]
        conn.execute(insert(d), rows)
    roll_up_reminders(engine, "silent-2018")
    with engine.connect() as conn:
        found = dict(conn.execute(select(r.c.id, r.c.state).where(r.c.id.in_(ids))).all())
    wrong = [(start, combo, found[rid]) for rid, (start, combo) in zip(ids, cases, strict=True)
             if found[rid] != expected(start, combo)]
    assert len(cases) == len(REMINDER_STATES) * (1 + 6 + 36 + 216) and wrong == []
