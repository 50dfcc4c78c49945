"""Reading what a recipient's message says, from the store: the claimed deliveries' items,
the role the recipient holds for each, the unit's latest words on each item, and, for the
coordinator, the decisions waiting; for the leading group, its digest (`claimed_digest`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import CalendarNotCovered
from plan_tracker.domain.plan import Plan
from plan_tracker.services.claimed_digest import DigestRows, message_order, read_digest
from plan_tracker.services.messages import (
    AUDIENCES,
    LISTED_AT_MOST,
    Decision,
    Digest,
    Item,
    MessageModel,
    Section,
    UnitWords,
    clean_note,
)
from plan_tracker.store.dates import stored_date as _date
from plan_tracker.store.models import Obligation, StatusReport, TaskRow, UnitRow
from plan_tracker.store.outbox_models import Delivery, Reminder, RoleRecipient

D = Delivery.__table__  # type: ignore[attr-defined]
R = Reminder.__table__  # type: ignore[attr-defined]
O = Obligation.__table__  # type: ignore[attr-defined]  # noqa: E741
REPORTS = StatusReport.__table__  # type: ignore[attr-defined]
DECISIONS_LISTED = 30  # the coordinator's message lists this many decisions of each kind


def claimed_message(conn: Connection, plan: Plan, recipient: Any, token: str, as_of: dt.date, *,
                    coordinator: str, portal_url: str | None) -> MessageModel:
    """The message model of the deliveries claimed under `token`."""
    return claimed_messages(conn, plan, [(recipient, token)], as_of, coordinator=coordinator,
                            portal_url=portal_url)[token]


def claimed_messages(conn: Connection, plan: Plan, claims: list[tuple[Any, str]], as_of: dt.date, *,
                     coordinator: str, portal_url: str | None) -> dict[str, MessageModel]:
    """The message model per claim token of a batch of (recipient, token): the items, the
    unit's words and the roles held are read once for the whole batch. A leading group's
    digest is counted by the store (`claimed_digest`): its model holds only the items it
    lists, however many the claim has."""
    held = held_roles_of(conn, plan.id, [recipient.key for recipient, _ in claims])
    roles = step_roles(plan)
    counted_apart = {token: picked for recipient, token in claims
                     if (picked := leading_group_rows(held.get(recipient.key, set()), roles)) is not None}
    rows_by_token: dict[str, list[Any]] = {token: [] for _, token in claims}
    for row in _claimed_rows(conn, list(rows_by_token), leaving_out=counted_apart):
        rows_by_token[row.claim].append(row)
    digests = _read_digests(conn, plan.id, claims, counted_apart)
    shared = _Shared(plan, as_of)
    parts_by_token = {token: shared.rows_by_audience(rows_by_token[token], held.get(recipient.key, set()))
                      for recipient, token in claims}
    listed = [row.obligation_id for parts in parts_by_token.values() for part in parts.values() for row in part.rows]
    shared.words = latest_words(conn, listed + [i for digest in digests.values() for i in digest.obligation_ids],
                                as_of)
    decisions: list[Decision] | None = None  # the same for every coordinator message of the batch
    found: dict[str, MessageModel] = {}
    for recipient, token in claims:
        sections = {audience: shared.section(part) for audience, part in parts_by_token[token].items()}
        digest = digests.get(token)
        if digest is not None:
            sections["leading_group"] = shared.digest_section(digest)
        model = MessageModel(plan.plan.locale, recipient.name, plan.plan.title, as_of, coordinator, portal_url,
                             [sections[a] for a in AUDIENCES if a in sections])
        if "coordinator" in sections:
            decisions = waiting_decisions(conn, plan, as_of) if decisions is None else decisions
            model.decisions = list(decisions)
        if digest is not None:
            model.digest = shared.digest(digest)
        found[token] = model
    return found


def _read_digests(conn: Connection, plan_id: str, claims: list[tuple[Any, str]],
                  counted_apart: dict[str, ColumnElement[bool]]) -> dict[str, DigestRows]:
    """The leading group's digest per claim token that has one."""
    found: dict[str, DigestRows] = {}
    for recipient, token in claims:
        if token in counted_apart:
            digest = read_digest(conn, plan_id, recipient.key, token, counted_apart[token])
            if digest is not None:
                found[token] = digest
    return found


def _claimed_rows(conn: Connection, tokens: list[str], *,
                  leaving_out: dict[str, ColumnElement[bool]]) -> Iterator[Any]:
    """The rows claimed under `tokens`, in the message's order, but for those `leaving_out`
    picks under a token (a digest, counted apart)."""
    t, u = TaskRow.__table__, UnitRow.__table__  # type: ignore[attr-defined]
    for start in range(0, len(tokens), 500):
        chunk = tokens[start:start + 500]
        apart = [and_(D.c.claim == token, rows) for token, rows in leaving_out.items() if token in chunk]
        yield from conn.execute(
            select(D.c.id, D.c.claim, R.c.level, R.c.position, R.c.overdue_wd, O.c.id.label("obligation_id"),
                   O.c.task_id, O.c.unit_id, O.c.period, O.c.due, t.c.title, u.c.name.label("unit_name"))
            .join(R, R.c.id == D.c.reminder_id).join(O, O.c.id == R.c.obligation_id)
            .join(t, and_(t.c.plan_id == O.c.plan_id, t.c.id == O.c.task_id))
            .join(u, and_(u.c.plan_id == O.c.plan_id, u.c.id == O.c.unit_id))
            .where(D.c.claim.in_(chunk), *([~or_(*apart)] if apart else []))
            .order_by(*message_order(R.c.position, O.c.due, O.c.task_id, O.c.unit_id, D.c.id)))


def step_roles(plan: Plan) -> dict[str, set[str]]:
    """The roles each ladder step (by level) notifies."""
    return {step.level: {role.value for role in step.notify} for step in plan.ladder()}


def leading_group_rows(held: set[tuple[str, str]], roles: dict[str, set[str]]) -> ColumnElement[bool] | None:
    """SQL picking the claimed rows `audience_of` gives the leading group, for a recipient
    holding `held` (None: no row can be): by level, except in the units where the recipient
    holds a role of its own (a leader who heads a unit reads its items as the head), there
    by level and unit."""
    own_units = sorted({unit for unit, _ in held if unit != "*"})
    levels = {unit: sorted(level for level, notified in roles.items()  # unit "*": any but own_units
                           if audience_of(unit, notified, held) == "leading_group")
              for unit in [*own_units, "*"]}
    picked = [and_(O.c.unit_id == unit, R.c.level.in_(levels[unit])) for unit in own_units if levels[unit]]
    if levels["*"]:
        elsewhere = [O.c.unit_id.not_in(own_units)] if own_units else []
        picked.append(and_(*elsewhere, R.c.level.in_(levels["*"])))
    return or_(*picked) if picked else None


@dataclass
class _Part:
    """The rows one audience's section lists, and those it only counts."""

    audience: str
    rows: list[Any] = field(default_factory=list)
    omitted: int = 0
    omitted_overdue: int = 0


class _Shared:
    """What every message of a batch reads alike: the calendar (days left per due date,
    computed once), the contacts' names, the roles each ladder step notifies, the units'
    latest words on the listed items (read once the batch's listed items are known)."""

    def __init__(self, plan: Plan, as_of: dt.date) -> None:
        self.calendar = WorkCalendar(plan.plan.calendar)
        self.as_of = as_of
        self.words: dict[int, UnitWords] = {}
        self.handlers = {unit.id: unit.contact.name for unit in plan.units if unit.contact is not None}
        self.step_roles = step_roles(plan)
        self.left: dict[dt.date, int | None] = {}

    def days_left(self, due: dt.date) -> int | None:
        if due not in self.left:
            self.left[due] = days_left(self.calendar, self.as_of, due)
        return self.left[due]

    def rows_by_audience(self, rows: list[Any], held: set[tuple[str, str]]) -> dict[str, _Part]:
        """The claimed rows (in the message's order) by the audience the recipient reads
        them as; a section with a limit (`LISTED_AT_MOST`) lists its first rows and counts
        the rest."""
        parts: dict[str, _Part] = {}
        seen: set[tuple[str, int]] = set()
        audiences: dict[tuple[str, str], str] = {}  # (unit, level) -> audience: a digest's rows repeat them
        for row in rows:
            unit_id, level = row.unit_id, row.level
            audience = audiences.get((unit_id, level))
            if audience is None:
                audience = audiences[unit_id, level] = audience_of(unit_id, self.step_roles.get(level, set()), held)
            item = (audience, row.obligation_id)
            if item in seen:
                continue  # two steps of one item in one message (a missed night): listed once, highest first
            seen.add(item)
            part = parts.get(audience)
            if part is None:
                part = parts[audience] = _Part(audience)
            if len(part.rows) < LISTED_AT_MOST.get(audience, len(rows)):
                part.rows.append(row)
            else:
                part.omitted += 1
                part.omitted_overdue += 1 if row.overdue_wd > 0 else 0
        return parts

    def section(self, part: _Part) -> Section:
        return Section(part.audience, [self.item(row) for row in part.rows], omitted=part.omitted,
                       omitted_overdue=part.omitted_overdue)

    def item(self, row: Any) -> Item:
        return Item(row.task_id, row.title, row.unit_name, row.period, row.due, row.level, row.position,
                    row.overdue_wd, None if row.overdue_wd else self.days_left(row.due),
                    obligation_id=row.obligation_id, unit_id=row.unit_id, handler=self.handlers.get(row.unit_id),
                    latest=self.words.get(row.obligation_id))

    def digest_section(self, digest: DigestRows) -> Section:
        """The leading group's section: the items it lists, and the count of the rest."""
        listed = [self.item(row) for row in digest.listed]
        return Section("leading_group", listed, omitted=digest.total - len(listed),
                       omitted_overdue=digest.overdue - sum(1 for i in listed if i.overdue_wd > 0))

    def digest(self, digest: DigestRows) -> Digest:
        return Digest(digest.units, digest.total, self.item(digest.longest), digest.new, digest.previous_total)


def audience_of(unit_id: str, step_roles: set[str], held: set[tuple[str, str]]) -> str:
    """The first audience (in `AUDIENCES` order) the recipient holds for this item's step:
    a coordinator who is also the unit's contact reads the item as the contact, who acts."""
    for role in AUDIENCES:
        if role in step_roles and ((unit_id, role) in held or ("*", role) in held):
            return role
    return "contact"  # the ladder changed since the reminder was raised: the plainest voice


def held_roles(conn: Connection, plan_id: str, recipient_key: str) -> set[tuple[str, str]]:
    return held_roles_of(conn, plan_id, [recipient_key]).get(recipient_key, set())


def held_roles_of(conn: Connection, plan_id: str, keys: list[str]) -> dict[str, set[tuple[str, str]]]:
    """(unit, role) pairs each recipient holds, for many recipients at once."""
    rr = RoleRecipient.__table__  # type: ignore[attr-defined]
    found: dict[str, set[tuple[str, str]]] = {}
    for start in range(0, len(keys), 500):
        for row in conn.execute(select(rr.c.recipient_key, rr.c.unit_id, rr.c.role).where(
                rr.c.plan_id == plan_id, rr.c.recipient_key.in_(keys[start:start + 500]))):
            found.setdefault(row.recipient_key, set()).add((row.unit_id, row.role))
    return found


def latest_words(conn: Connection, obligation_ids: list[int], as_of: dt.date) -> dict[int, UnitWords]:
    """Each obligation's latest report dated and received on or before `as_of` (ties by
    arrival): what the store knew of the unit's words that day."""
    found: dict[int, UnitWords] = {}
    for start in range(0, len(obligation_ids), 500):
        chunk = sorted(set(obligation_ids[start:start + 500]))
        for row in conn.execute(
            select(REPORTS.c.obligation_id, REPORTS.c.status, REPORTS.c.progress, REPORTS.c.reported_on, REPORTS.c.note)
            .where(REPORTS.c.obligation_id.in_(chunk), REPORTS.c.reported_on <= as_of, REPORTS.c.received_on <= as_of)
            .order_by(REPORTS.c.obligation_id, REPORTS.c.reported_on, REPORTS.c.id)
        ):
            found[int(row.obligation_id)] = UnitWords(row.status, row.progress, _date(row.reported_on), row.note)
    return found


def waiting_decisions(conn: Connection, plan: Plan, as_of: dt.date) -> list[Decision]:
    """Blocked open items (with the unit's reason), extension requests and done reports to
    review: what only the coordinator can move."""
    from plan_tracker.services.blocked import blocked_items
    from plan_tracker.services.portal import extension_list, report_list

    titles = {task.id: task.title for _, task in plan.tasks()}
    units = {unit.id: unit.name for unit in plan.units}
    found = [Decision("blocked", titles.get(b.task, b.task), units.get(b.unit, b.unit), b.period,
                      clean_note(b.reason), since=b.since)
             for b in blocked_items(conn, plan.id, as_of, limit=DECISIONS_LISTED)]
    found += [Decision("extension", titles.get(e.task, e.task), units.get(e.unit, e.unit), e.period,
                       clean_note(e.reason), new_due=e.new_due, since=e.requested_on)
              for e in extension_list(conn, plan.id, state="pending", limit=DECISIONS_LISTED)]
    found += [Decision("review", titles.get(r.task, r.task), units.get(r.unit, r.unit), r.period,
                       clean_note(r.note), since=r.reported_on)
              for r in report_list(conn, plan.id, awaiting_review=True, limit=DECISIONS_LISTED)]
    return found


def days_left(calendar: WorkCalendar, as_of: dt.date, due: dt.date) -> int | None:
    try:
        return calendar.working_days_between(as_of, due)
    except CalendarNotCovered:
        return None


