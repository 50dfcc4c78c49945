"""The leading group's digest is counted by the store (`services.claimed_digest`), the model
holding only the items it lists: every message must still say what the full list says.

The reference below is the message as it was built before: every claimed row read, every
item held, the digest built over all of them (`conftest.build_digest`). A plan of 15 towns
gives the leader a small digest first (fewer items than LEADING_GROUP_LISTED, none sent
before) and then a long one: steps repeated and fired at two levels for one item (listed
once, at the highest step), items already in the first digest, items not overdue yet (last
in the order, so among those only counted), the units' own words, and the towns the leader
heads, whose items it reads as their head.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Engine, and_, func, select

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.plan import Plan
from plan_tracker.services.delivery import claim_batch, deliver, release
from plan_tracker.services.message_model import (
    audience_of,
    claimed_message,
    days_left,
    held_roles,
    latest_words,
)
from plan_tracker.services.messages import (
    AUDIENCES,
    LEADING_GROUP_LISTED,
    Item,
    MessageModel,
    Section,
    render_model,
)
from plan_tracker.services.nightly import evaluate
from plan_tracker.services.plans import apply_plan, stored_plan
from plan_tracker.services.submissions import Submission, submit
from plan_tracker.settings import Settings
from plan_tracker.store.models import Obligation, TaskRow, UnitRow
from plan_tracker.store.outbox_models import Delivery, Recipient, Reminder

from .conftest import at, build_digest

PLAN = "digest-counted"
LEADER = "email:lg@example.org"
TOWNS = 15
HEADED = "town-00"  # the leader also heads this town
D = Delivery.__table__  # type: ignore[attr-defined]
R = Reminder.__table__  # type: ignore[attr-defined]
OBLIGATIONS = Obligation.__table__  # type: ignore[attr-defined]


def plan_file(folder: Path) -> Path:
    """Six tasks due early September (overdue, escalated to the leading group and repeated),
    four a week later, six due in October (the leader hears of them before they are due)."""
    units = [{"id": "office", "name": "督查办", "contact": {"name": "张三", "email": "office@example.org"}}]
    units += [{"id": f"town-{n:02d}", "name": f"{n:02d}镇", "groups": ["towns"],
               "contact": {"name": f"联络员{n:02d}", "email": f"town-{n:02d}@example.org"},
               **({"head": {"name": "组长", "email": "lg@example.org"}} if f"town-{n:02d}" == HEADED else {})}
              for n in range(TOWNS)]
    due = {"a": "2018-09-03", "b": "2018-09-10", "c": "2018-10-12"}
    tasks = [{"id": f"s.{group}{n}", "title": f"任务{group.upper()}{n}", "lead": "group:towns", "due": day}
             for group, count in (("a", 6), ("b", 4), ("c", 6)) for n in range(count) for day in [due[group]]]
    doc = {
        "version": 1,
        "plan": {"id": PLAN, "title": "通报测试计划", "coordinator": "office", "start": "2018-01-01",
                 "end": "2018-12-31", "warn_days": 3},
        "leading_group": {"name": "领导小组", "email": "lg@example.org"},
        "units": units,
        "escalation": [
            {"after": -3, "level": "remind", "notify": ["contact", "leading_group"]},
            {"after": 1, "level": "urge", "notify": ["contact", "head"]},
            {"after": 5, "level": "supervise", "notify": ["head", "coordinator"]},
            {"after": 10, "level": "accountability", "notify": ["head", "leading_group"], "repeat_every": 5},
        ],
        "sections": [{"id": "s", "title": "测试", "tasks": tasks}],
    }
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def nights(engine: Engine, first: dt.date, last: dt.date) -> None:
    day = first
    while day <= last:
        evaluate(engine, PLAN, day, now=at(day))
        day += dt.timedelta(days=1)


def reference_model(conn: Connection, plan: Plan, recipient: Any, token: str, as_of: dt.date) -> MessageModel:
    """The message over the full list: every claimed row, one item per (audience, obligation)
    at its first row in the message's order, the digest over all the leading group's items."""
    o, t, u = OBLIGATIONS, TaskRow.__table__, UnitRow.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        select(R.c.level, R.c.position, R.c.overdue_wd, o.c.id.label("obligation_id"), o.c.task_id, o.c.unit_id,
               o.c.period, o.c.due, t.c.title, u.c.name.label("unit_name"))
        .join(R, R.c.id == D.c.reminder_id).join(o, o.c.id == R.c.obligation_id)
        .join(t, and_(t.c.plan_id == o.c.plan_id, t.c.id == o.c.task_id))
        .join(u, and_(u.c.plan_id == o.c.plan_id, u.c.id == o.c.unit_id))
        .where(D.c.claim == token)
        # of a step's repeats, the earliest delivery first: what both databases gave before
        # the order said so (a missed digest week holds two repeats of an item)
        .order_by(R.c.position.desc(), o.c.due, o.c.task_id, o.c.unit_id, D.c.id)).all()
    held = held_roles(conn, plan.id, recipient.key)
    words = latest_words(conn, [r.obligation_id for r in rows], as_of)
    roles = {step.level: {role.value for role in step.notify} for step in plan.ladder()}
    handlers = {unit.id: unit.contact.name for unit in plan.units if unit.contact is not None}
    calendar = WorkCalendar(plan.plan.calendar)
    by_audience: dict[str, dict[int, Item]] = {}
    for r in rows:
        listed = by_audience.setdefault(audience_of(r.unit_id, roles.get(r.level, set()), held), {})
        listed.setdefault(r.obligation_id, Item(
            r.task_id, r.title, r.unit_name, r.period, r.due, r.level, r.position, r.overdue_wd,
            None if r.overdue_wd else days_left(calendar, as_of, r.due), obligation_id=r.obligation_id, unit_id=r.unit_id,
            handler=handlers.get(r.unit_id), latest=words.get(r.obligation_id)))
    model = MessageModel(plan.plan.locale, recipient.name, plan.plan.title, as_of, "督查办", None,
                         [Section(a, list(by_audience[a].values())) for a in AUDIENCES if a in by_audience])
    if "leading_group" in by_audience:
        items = list(by_audience["leading_group"].values())
        previous = _previous_obligations(conn, recipient.key, token)
        model.digest = build_digest(items, previous_total=None if previous is None else len(previous),
                                    new=sum(1 for i in items if previous is None or i.obligation_id not in previous))
    return model


def _previous_obligations(conn: Connection, recipient_key: str, token: str) -> set[int] | None:
    last = conn.execute(select(func.max(D.c.sent_at)).where(
        D.c.plan_id == PLAN, D.c.recipient_key == recipient_key, D.c.state == "sent",
        (D.c.claim != token) | D.c.claim.is_(None))).scalar_one_or_none()
    if last is None:
        return None
    return set(conn.execute(select(R.c.obligation_id).join(D, D.c.reminder_id == R.c.id).where(
        D.c.plan_id == PLAN, D.c.recipient_key == recipient_key, D.c.state == "sent", D.c.sent_at == last)).scalars())


def leaders_message(engine: Engine, now: dt.datetime, as_of: dt.date) -> tuple[MessageModel, MessageModel, int]:
    """(as built, as the full list says, rows claimed) of the leader's message due at `now`;
    the claim is given back after."""
    token = uuid.uuid4().hex
    claimed = claim_batch(engine, PLAN, {LEADER: token}, now)[LEADER]
    try:
        with engine.connect() as conn:
            plan = stored_plan(conn, PLAN, as_of)
            table = Recipient.__table__  # type: ignore[attr-defined]
            leader = conn.execute(select(table).where(table.c.plan_id == PLAN, table.c.key == LEADER)).one()
            built = claimed_message(conn, plan, leader, token, as_of, coordinator="督查办", portal_url=None)
            return built, reference_model(conn, plan, leader, token, as_of), claimed
    finally:
        release(engine, [(token, None)])


def says_the_same(engine: Engine, built: MessageModel, reference: MessageModel, as_of: dt.date) -> None:
    with engine.connect() as conn:
        plan = stored_plan(conn, PLAN, as_of)
    assert built.digest == reference.digest
    assert (built.item_count, built.overdue_count) == (reference.item_count, reference.overdue_count)
    assert [s.audience for s in built.sections] == [s.audience for s in reference.sections]
    assert render_model(plan, built) == render_model(plan, reference)  # subject, text and HTML, byte for byte


def test_the_leaders_digests_say_what_the_full_list_says(engine: Engine, tmp_path: Path) -> None:
    apply_plan(engine, plan_file(tmp_path))
    submit(engine, Submission(PLAN, "s.a0", "town-03", "once", "in_progress", dt.date(2018, 9, 5), 40,
                              "等待审计结果"), today=dt.date(2018, 9, 5), actor="town-03")
    nights(engine, dt.date(2018, 8, 27), dt.date(2018, 9, 17))
    first_day = dt.date(2018, 9, 17)  # a Monday: the week's digest is due
    built, reference, _ = leaders_message(engine, at(first_day, dt.time(10)), first_day)
    says_the_same(engine, built, reference, first_day)
    lg = built.sections[-1]
    assert lg.audience == "leading_group" and lg.omitted == 0 and built.digest is not None
    assert built.digest.total < LEADING_GROUP_LISTED and built.digest.previous_total is None
    deliver(engine, PLAN, now=at(first_day, dt.time(10)), as_of=first_day, settings=Settings(data_dir=tmp_path / "var"))

    nights(engine, dt.date(2018, 9, 18), dt.date(2018, 10, 15))
    second_day = dt.date(2018, 10, 15)
    built, reference, claimed = leaders_message(engine, at(second_day, dt.time(10)), second_day)
    says_the_same(engine, built, reference, second_day)
    digest, lg = built.digest, built.sections[-1]
    assert digest is not None and digest.total > LEADING_GROUP_LISTED  # a long digest
    assert claimed > built.item_count  # repeats and two levels of one item, listed once
    assert len(lg.items) == LEADING_GROUP_LISTED and lg.omitted == digest.total - LEADING_GROUP_LISTED
    assert 0 < digest.new < digest.total and digest.previous_total  # some were in the first digest
    assert lg.omitted_overdue < lg.omitted  # the ones not due yet are last, counted, not overdue
    assert [s.audience for s in built.sections] == ["head", "leading_group"]  # the town it heads
    assert any(i.latest is not None for i in lg.items)  # the unit's own words on a listed item
