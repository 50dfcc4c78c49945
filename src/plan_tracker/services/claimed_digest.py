"""The leading group's 通报 digest of a claimed message, counted by the store.

A province's weekly 通报 claims hundreds of thousands of rows for one recipient; the message
lists the first LEADING_GROUP_LISTED items and gives its figures over all of them
(`messages.Digest`). Reading every row into Python only to count it cost most of a delivery
process's memory, so the store counts: this module reads the rows to list, the longest
overdue one, the figures per unit and the change since the previous digest — never the
whole claim.

Which claimed rows are the leading group's is the caller's condition (`message_model`
decides a row's audience). An obligation counts once, at its highest step, as the full
listing keeps it (`message_model._Shared.items_by_audience`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    MetaData,
    Select,
    Subquery,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    select,
    union_all,
)
from sqlalchemy.schema import CreateTable

from plan_tracker.services.messages import LEADING_GROUP_LISTED, DigestUnit, ranked_units
from plan_tracker.store.models import Obligation, TaskRow, UnitRow
from plan_tracker.store.outbox_models import Delivery, Reminder

D = Delivery.__table__  # type: ignore[attr-defined]
R = Reminder.__table__  # type: ignore[attr-defined]
O = Obligation.__table__  # type: ignore[attr-defined]  # noqa: E741
TASKS = TaskRow.__table__  # type: ignore[attr-defined]
UNITS = UnitRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DigestRows:
    """The leading group's part of a claimed message: the rows it shows, figures over all."""

    listed: Sequence[Any]  # the first LEADING_GROUP_LISTED items' rows, in the message's order
    longest: Any  # the longest overdue item's row (the oldest due, then the first listed, among equals)
    units: list[DigestUnit]
    total: int
    overdue: int  # items overdue (the subject counts them)
    new: int  # items not in the previous message to this recipient
    previous_total: int | None  # items of that message (None: there was none)

    @property
    def obligation_ids(self) -> list[int]:
        """The items whose unit's words the message shows."""
        return [int(row.obligation_id) for row in (*self.listed, self.longest)]


def message_order(position: Any, due: Any, task_id: Any, unit_id: Any, delivery_id: Any) -> tuple[Any, ...]:
    """The order a message lists its items in: the highest step first, then the oldest due,
    task and unit; the delivery id orders a step's repeats (the earliest first)."""
    return position.desc(), due, task_id, unit_id, delivery_id


def read_digest(conn: Connection, plan_id: str, recipient_key: str, token: str,
                rows: ColumnElement[bool]) -> DigestRows | None:
    """The digest of the rows claimed under `token` that `rows` picks (None: there are none)."""
    items = _keep(conn, token, rows)
    units = conn.execute(_per_unit(items)).all()
    if not units:
        return None
    total = sum(int(u.item_count) for u in units)
    previous = _previous_sent_at(conn, plan_id, recipient_key, token)
    carried = None if previous is None else _carried(plan_id, recipient_key, previous)
    return DigestRows(
        listed=conn.execute(_first(items, _listing_order, LEADING_GROUP_LISTED)).all(),
        longest=conn.execute(_first(items, _longest_first, 1)).one(),
        units=ranked_units(DigestUnit(u.unit_name, int(u.item_count), int(u.longest)) for u in units),
        total=total, overdue=sum(int(u.overdue) for u in units),
        new=total if carried is None else total - _count(conn, _carried_again(items, carried)),
        previous_total=None if carried is None else _count(conn, select(func.count()).select_from(carried.subquery())))


def _previous_sent_at(conn: Connection, plan_id: str, recipient_key: str, token: str) -> dt.datetime | None:
    """When the last message to this recipient before this one went (None: none did): the
    digest's "since the previous digest"."""
    # The latest first down `ix_delivery_recipient` (…, state, sent_at), stopping at the first
    # row of another claim: MAX() with the claim test read every row ever sent to the recipient.
    found: dt.datetime | None = conn.execute(select(D.c.sent_at).where(
        D.c.plan_id == plan_id, D.c.recipient_key == recipient_key, D.c.state == "sent", D.c.sent_at.is_not(None),
        (D.c.claim != token) | D.c.claim.is_(None)).order_by(D.c.sent_at.desc()).limit(1)).scalar_one_or_none()
    return found


_KEPT_COLUMNS = (D.c.id, R.c.level, R.c.position, R.c.overdue_wd, R.c.obligation_id, O.c.plan_id, O.c.task_id,
                 O.c.unit_id, O.c.period, O.c.due)

# The kept rows of one digest, in a temporary table of the connection: the figures, the
# listing and the longest item each read them (and the change since the previous digest
# once more); computed as a window over the claim each time, they cost 2.5 s at 1M.
KEPT = Table("digest_kept", MetaData(), *(Column(c.name, c.type) for c in _KEPT_COLUMNS), prefixes=["TEMPORARY"])


def _keep(conn: Connection, token: str, rows: ColumnElement[bool]) -> Table:
    """`_kept`'s rows, written once into `KEPT` (emptied first: a pooled connection, or a
    second digest in the same batch, finds the last one's)."""
    conn.execute(CreateTable(KEPT, if_not_exists=True))
    conn.execute(delete(KEPT))
    conn.execute(insert(KEPT).from_select([c.name for c in _KEPT_COLUMNS], _kept(token, rows)))
    return KEPT


def _kept(token: str, rows: ColumnElement[bool]) -> Select[Any]:
    """The picked rows of the claim, one per obligation: the row the message keeps (the
    highest step; of a step's repeats, the earliest delivery, as when listed).

    The query joins these rows only by primary key: the planner takes a fresh claim token
    for a few rows, and a plan that suits a few rows must not cost a pass over something
    big per row when the claim holds hundreds of thousands."""
    rank = func.row_number().over(partition_by=R.c.obligation_id, order_by=(R.c.position.desc(), D.c.id))
    ranked = (select(*_KEPT_COLUMNS, rank.label("rank"))
              .join(R, R.c.id == D.c.reminder_id).join(O, O.c.id == R.c.obligation_id)
              .where(D.c.claim == token, rows)
              .subquery("ranked"))
    return select(*(c for c in ranked.c if c.name != "rank")).where(ranked.c.rank == 1)


def _listing_order(items: Subquery | Table) -> tuple[Any, ...]:
    c = items.c
    return message_order(c.position, c.due, c.task_id, c.unit_id, c.id)


def _longest_first(items: Subquery | Table) -> tuple[Any, ...]:
    """The digest's longest item: most overdue, then the oldest due, then listed first."""
    return items.c.overdue_wd.desc(), items.c.due, *_listing_order(items)


def _first(items: Table, order: Callable[[Subquery | Table], tuple[Any, ...]], count: int) -> Select[Any]:
    """The first `count` items in `order`, with their task's title and unit's name (joined
    after the cut: what a listed item shows)."""
    cut = select(items).order_by(*order(items)).limit(count).subquery("cut")
    return (select(*cut.c, TASKS.c.title, UNITS.c.name.label("unit_name"))
            .join(TASKS, and_(TASKS.c.plan_id == cut.c.plan_id, TASKS.c.id == cut.c.task_id))
            .join(UNITS, and_(UNITS.c.plan_id == cut.c.plan_id, UNITS.c.id == cut.c.unit_id))
            .order_by(*order(cut)))


def _per_unit(items: Table) -> Select[Any]:
    """Per unit name (as the digest names units): its items, the longest overdue and how
    many are overdue; counted per unit id first, so only the units are joined to a name."""
    per_id = (select(items.c.plan_id, items.c.unit_id, func.count().label("item_count"),
                     func.max(items.c.overdue_wd).label("longest"),
                     func.sum(case((items.c.overdue_wd > 0, 1), else_=0)).label("overdue"))
              .group_by(items.c.plan_id, items.c.unit_id).subquery("per_id"))
    return (select(UNITS.c.name.label("unit_name"), func.sum(per_id.c.item_count).label("item_count"),
                   func.max(per_id.c.longest).label("longest"), func.sum(per_id.c.overdue).label("overdue"))
            .join(UNITS, and_(UNITS.c.plan_id == per_id.c.plan_id, UNITS.c.id == per_id.c.unit_id))
            .group_by(UNITS.c.name))


def _carried(plan_id: str, recipient_key: str, sent_at: dt.datetime) -> Select[Any]:
    """The obligations of the message sent to the recipient at `sent_at`, once each."""
    return (select(R.c.obligation_id).join(D, D.c.reminder_id == R.c.id)
            .where(D.c.plan_id == plan_id, D.c.recipient_key == recipient_key, D.c.state == "sent",
                   D.c.sent_at == sent_at)
            .distinct())


def _carried_again(items: Table, carried: Select[Any]) -> Select[Any]:
    """How many items the `carried` obligations hold: those found on both sides of a UNION
    ALL (each side names an obligation once). Not a join: taking the claim for a few rows,
    PostgreSQL read the previous message once per item (48,500 × 43,500 rows)."""
    both = union_all(select(items.c.obligation_id), carried).subquery("both_messages")
    twice = select(both.c.obligation_id).group_by(both.c.obligation_id).having(func.count() > 1)
    return select(func.count()).select_from(twice.subquery("carried_again"))


def _count(conn: Connection, query: Select[Any]) -> int:
    return int(conn.execute(query).scalar_one())
