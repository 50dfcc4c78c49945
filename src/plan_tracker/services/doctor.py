"""`plan-tracker doctor`: is the follow-up actually running? Health checks an operator (or a
monitoring probe) runs against the store, with the clock read once at the edge.

Each check answers `ok`, `warn` or `fail` with one plain sentence saying what it found and,
unless ok, a `fix` saying what to do, both catalogue messages (`doctor.*` keys of
`domain/messages.py`) worded at the edge in the plans' language; the command exits 1 when
any check fails. The
dead-man check is the point: a scheduler that silently stopped (worker down, deployment
paused, cron lost) raises no error anywhere, so the absence of a recent successful nightly
run must be looked for.

Checks: the database answers; its schema is at the code's migration head; per plan, one
small function each (`PLAN_CHECKS`, in order) — the last successful nightly run is at most
one day old (dates in the plan's time zone), no run was left unfinished (a failure once
the next night is due), the calendar covers today and the next 30 days, no delivery has
waited more than a day, none is failing, no claim outlived its lease, no delivery is dead,
every role has a recipient; and no channel is disabled. A plan whose follow-up has ended
expects no nights and no calendar, but every other check still applies to it: its
undelivered reminders are not ok because nobody runs it any more.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, text

from plan_tracker.domain.messages import MESSAGES, msg
from plan_tracker.services.follow_up import follow_up_end
from plan_tracker.store.dates import stored_date as _date
from plan_tracker.store.models import CalendarDay, PlanRow
from plan_tracker.store.outbox_models import ChannelState, Delivery, NightlyRun, Reminder
from plan_tracker.wording import Msg

STALE_AFTER_DAYS = 1  # the nightly must have run for yesterday or today
UNFINISHED_AFTER = dt.timedelta(hours=1)
BACKLOG_AFTER = dt.timedelta(days=1)
UNREACHABLE_PREFIX = "unreachable:"  # dead deliveries for a role nobody holds (evaluation_sql.UNREACHABLE)
CALENDAR_AHEAD_DAYS = 30

RUNS = NightlyRun.__table__  # type: ignore[attr-defined]
PLANS = PlanRow.__table__  # type: ignore[attr-defined]
DAYS = CalendarDay.__table__  # type: ignore[attr-defined]
D = Delivery.__table__  # type: ignore[attr-defined]
R = Reminder.__table__  # type: ignore[attr-defined]
CHANNELS = ChannelState.__table__  # type: ignore[attr-defined]


class Level(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    message: Msg
    plan: str | None = None
    fix: Msg | None = None  # what to do (None when ok)

    def as_json(self, locale: str) -> dict[str, Any]:
        """`check`, `plan`, `state` (and its old name `level`) are the same in every language;
        `message` and `fix` are worded in `locale`, and `key`, `fix_key` and `params` say the
        same for scripts (a script matches keys, not sentences)."""
        fields = dict(self.message.fields) | (dict(self.fix.fields) if self.fix else {})
        return {"check": self.name, "plan": self.plan, "state": self.level.value, "level": self.level.value,
                "message": self.message.render(locale), "fix": self.fix.render(locale) if self.fix else None,
                "key": self.message.id, "fix_key": self.fix.id if self.fix else None,
                "params": {name: _plain(value, locale) for name, value in fields.items()}}


def _plain(value: Any, locale: str) -> Any:
    """A message field as JSON: numbers and text as they are, a nested message worded."""
    if isinstance(value, Msg):
        return value.render(locale)
    if isinstance(value, list | tuple):
        return [_plain(item, locale) for item in value]
    return value if value is None or isinstance(value, int | float | str) else str(value)


def _at(moment: dt.datetime | None) -> str:
    """A moment as the checks show it (UTC, to the minute)."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "?"


def failed(checks: list[Check]) -> bool:
    return any(c.level is Level.fail for c in checks)


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def diagnose(engine: Engine, *, now: dt.datetime, plan_id: str | None = None,
             prefect_api: str | None = None) -> list[Check]:
    """Every check, in order. `engine` must not have been migrated by the caller's own
    start-up (use `store.db.make_engine`), or the migrations check would always pass.
    With `prefect_api` (the PREFECT_API_URL) Prefect's flow runs are checked too."""
    checks = _store_checks(engine, now=now, plan_id=plan_id)
    if prefect_api:
        checks.append(_prefect(prefect_api, now))
    return checks


def _store_checks(engine: Engine, *, now: dt.datetime, plan_id: str | None) -> list[Check]:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the same thing to the operator
        reason = str(exc).splitlines()[0][:300]
        return [Check("database", Level.fail, msg("doctor.database_down", reason=reason),
                      fix=msg("doctor.fix_database"))]
    checks = [Check("database", Level.ok, msg("doctor.database_ok", dialect=engine.dialect.name))]
    with engine.connect() as conn:
        checks.append(_migrations(conn))
        if checks[-1].level is Level.fail:
            return checks
        plans = [plan_id] if plan_id else [str(p) for p in conn.execute(select(PLANS.c.id).order_by(PLANS.c.id)).scalars()]
        if plan_id and conn.execute(select(PLANS.c.id).where(PLANS.c.id == plan_id)).first() is None:
            return [*checks, Check("plan", Level.fail, msg("doctor.no_plan", plan=plan_id), plan_id,
                                   fix=msg("doctor.fix_plans_list"))]
        if not plans:
            checks.append(Check("plans", Level.warn, msg("doctor.no_plans"), fix=msg("doctor.fix_apply")))
        for pid in plans:
            checks += _plan_checks(conn, pid, now)
        checks += _channels(conn)
    return checks


def _migrations(conn: Connection) -> Check:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from plan_tracker.store.db import MIGRATIONS

    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return Check("migrations", Level.ok, msg("doctor.schema_at_head", heads=sorted(heads)))
    have: Any = sorted(current) or msg("doctor.no_schema")
    return Check("migrations", Level.fail, msg("doctor.schema_behind", have=have, heads=sorted(heads)),
                 fix=msg("doctor.fix_migrate"))


@dataclass(frozen=True)
class PlanFacts:
    """What every per-plan check reads, resolved once."""

    plan_id: str
    today: dt.date  # in the plan's time zone
    now: dt.datetime
    calendar_key: str
    ended: dt.date | None  # the last day of follow-up, once it is past
    last_ok: dt.date | None  # the as-of date of the last successful nightly run


PlanCheck = Callable[[Connection, PlanFacts], Check | None]


def _plan_checks(conn: Connection, plan_id: str, now: dt.datetime) -> list[Check]:
    plan = conn.execute(select(PLANS.c.timezone, PLANS.c.calendar_key).where(PLANS.c.id == plan_id)).one()
    today = now.astimezone(zoneinfo.ZoneInfo(plan.timezone)).date()
    last_day = follow_up_end(conn, plan_id)
    last_ok = conn.execute(select(func.max(RUNS.c.as_of)).where(RUNS.c.plan_id == plan_id, RUNS.c.ok)).scalar_one()
    facts = PlanFacts(plan_id, today, now, plan.calendar_key, last_day if today > last_day else None,
                      _date(last_ok) if last_ok is not None else None)
    checks = [check(conn, facts) for check in PLAN_CHECKS]
    found = [c for c in checks if c is not None]
    if not any(c.name == "outbox" for c in found):
        pending = conn.execute(select(func.count()).where(
            D.c.plan_id == plan_id, D.c.state.in_(("pending", "failed", "sending")))).scalar_one()
        found.append(Check("outbox", Level.ok, msg("doctor.outbox_ok", pending=pending), plan_id))
    return found


def _dead_man(conn: Connection, f: PlanFacts) -> Check:
    if f.ended is not None:  # undelivered messages still matter (the checks below); missing nights do not
        return Check("nightly", Level.ok, msg("doctor.follow_up_ended", ended=f.ended), f.plan_id)
    if f.last_ok is None:
        return Check("nightly", Level.fail, msg("doctor.never_ran"), f.plan_id,
                     fix=msg("doctor.fix_never_ran", plan=f.plan_id))
    age = (f.today - f.last_ok).days
    if age > STALE_AFTER_DAYS:
        return Check("nightly", Level.fail, msg("doctor.nightly_stale", last_ok=f.last_ok, age=age, today=f.today),
                     f.plan_id, fix=msg("doctor.fix_stale", plan=f.plan_id))
    return Check("nightly", Level.ok, _last_night(conn, f), f.plan_id)


def _last_night(conn: Connection, f: PlanFacts) -> Msg:
    """The last successful night, with how long it took and its longest stage when its run
    recorded them (`NightlySummary.stage_seconds`; runs before that say only the date)."""
    summary = conn.execute(select(RUNS.c.summary).where(RUNS.c.plan_id == f.plan_id, RUNS.c.ok,
                                                        RUNS.c.as_of == f.last_ok)
                           .order_by(RUNS.c.finished_at.desc()).limit(1)).scalar()
    stages = _stage_seconds(summary)
    if not stages:
        return msg("doctor.nightly_ok", last_ok=f.last_ok, today=f.today)
    longest = max(stages, key=lambda name: stages[name])
    return msg("doctor.nightly_ok_timed", last_ok=f.last_ok, today=f.today, seconds=round(sum(stages.values()), 1),
               stage=msg(f"stage.{longest}"), stage_seconds=round(stages[longest], 1), stage_id=longest)


def _stage_seconds(summary: dict[str, Any] | None) -> dict[str, float]:
    """A stored night's stage times (the run's JSON summary), by the stages this version knows."""
    stages = summary.get("stage_seconds") if summary is not None else None
    if not isinstance(stages, dict):
        return {}
    return {name: float(value) for name, value in stages.items()
            if f"stage.{name}" in MESSAGES and isinstance(value, int | float)}


def _unfinished_runs(conn: Connection, f: PlanFacts) -> Check | None:
    """A run started more than an hour ago and never finished, after the last successful
    one: killed (worker SIGKILLed, machine lost) or stuck. It warns on its own night and
    fails once the next night is due (the plan's next date has begun) or when the plan's
    follow-up has ended (no later run will redo it)."""
    rows = conn.execute(select(RUNS.c.as_of, RUNS.c.started_at).where(
        RUNS.c.plan_id == f.plan_id, RUNS.c.ok.is_(False), RUNS.c.started_at < f.now - UNFINISHED_AFTER,
        *([RUNS.c.as_of > f.last_ok] if f.last_ok is not None else [])).order_by(RUNS.c.started_at)).all()
    if not rows:
        return None
    nights = sorted({_date(r.as_of) for r in rows})
    first = rows[0]
    message = msg("doctor.runs_unfinished", count=len(rows), nights=[str(n) for n in nights],
                  started=_at(_aware(first.started_at)))
    fix = msg("doctor.fix_unfinished", plan=f.plan_id, night=str(nights[-1]))
    due = f.ended is not None or f.today > nights[-1]
    return Check("runs", Level.fail if due else Level.warn, message, f.plan_id, fix=fix)


def _calendar(conn: Connection, f: PlanFacts) -> Check | None:
    if f.ended is not None:  # nothing will be evaluated: the calendar's end does not matter
        return None
    key, today = f.calendar_key, f.today
    ahead = today + dt.timedelta(days=CALENDAR_AHEAD_DAYS)
    days = {_date(d) for d in conn.execute(select(DAYS.c.day).where(
        DAYS.c.calendar_key == key, DAYS.c.day >= today, DAYS.c.day <= ahead)).scalars()}
    if today not in days:
        return Check("calendar", Level.fail, msg("doctor.calendar_not_today", key=key, today=today), f.plan_id,
                     fix=msg("doctor.fix_calendar_year"))
    missing = sorted({today + dt.timedelta(days=n) for n in range(CALENDAR_AHEAD_DAYS + 1)} - days)
    if missing:
        return Check("calendar", Level.warn, msg("doctor.calendar_ends", key=key, first_missing=missing[0],
                                                 days=CALENDAR_AHEAD_DAYS), f.plan_id,
                     fix=msg("doctor.fix_calendar_next"))
    return Check("calendar", Level.ok, msg("doctor.calendar_ok", key=key, today=today, ahead=ahead), f.plan_id)


def _backlog(conn: Connection, f: PlanFacts) -> Check | None:
    waiting = conn.execute(
        select(func.count(), func.min(R.c.created_at)).select_from(D.join(R, R.c.id == D.c.reminder_id))
        .where(D.c.plan_id == f.plan_id, D.c.state.in_(("pending", "failed")), R.c.created_at < f.now - BACKLOG_AFTER,
               # a weekly digest's deliveries wait for their day on purpose (`services.digests`)
               ~and_(D.c.state == "pending", D.c.next_attempt_at.is_not(None), D.c.next_attempt_at > f.now),
               _not_held())  # held for a disabled channel: `_held` names that fix
    ).one()
    if not waiting[0]:
        return None
    return Check("outbox", Level.fail, msg("doctor.backlog", count=waiting[0], oldest=_at(_aware(waiting[1]))),
                 f.plan_id, fix=msg("doctor.fix_backlog"))


def _failing(conn: Connection, f: PlanFacts) -> Check | None:
    """Deliveries whose last attempt failed and that will be retried: not ok, however recent."""
    failing = conn.execute(select(func.count(), func.max(D.c.last_error)).where(
        D.c.plan_id == f.plan_id, D.c.state == "failed", _not_held())).one()
    if not failing[0]:
        return None
    return Check("failing", Level.warn, msg("doctor.failing", count=failing[0], example=failing[1]), f.plan_id,
                 fix=msg("doctor.fix_failing"))


def _stale_claims(conn: Connection, f: PlanFacts) -> Check | None:
    from plan_tracker.services.delivery import LEASE

    rows = conn.execute(select(func.count(), func.min(D.c.claimed_at)).where(
        D.c.plan_id == f.plan_id, D.c.state == "sending", D.c.claimed_at < f.now - LEASE)).one()
    if not rows[0]:
        return None
    oldest = _aware(rows[1])
    # past a day nobody has picked them up: a plan no longer run (ended) never will by itself
    level = Level.fail if oldest is not None and oldest < f.now - BACKLOG_AFTER else Level.warn
    return Check("claims", level, msg("doctor.claims", count=rows[0], oldest=_at(oldest)), f.plan_id,
                 fix=msg("doctor.fix_claims", plan=f.plan_id))


def _not_held() -> Any:
    return or_(D.c.fault.is_(None), D.c.fault != "channel")


def _mine(plan_id: str) -> Any:
    from plan_tracker.services.delivery import UNREACHABLE_PREFIX as NOBODY

    return and_(D.c.plan_id == plan_id, ~D.c.recipient_key.like(f"{NOBODY}%"))


def _held(conn: Connection, f: PlanFacts) -> Check | None:
    """Deliveries held for a disabled channel: none lost, no attempt used."""
    held = conn.execute(select(func.count(), func.max(D.c.last_error)).where(
        _mine(f.plan_id), D.c.state.in_(("pending", "failed")), D.c.fault == "channel")).one()
    if not held[0]:
        return None
    return Check("held", Level.warn, msg("doctor.held", count=held[0], example=held[1]), f.plan_id,
                 fix=msg("doctor.fix_held"))


def _dead_kinds(conn: Connection, plan_id: str) -> dict[str, tuple[int, str]]:
    dead: dict[str, tuple[int, str]] = {}
    for kind, n, example in conn.execute(select(D.c.fault, func.count(), func.max(D.c.last_error))
                                         .where(_mine(plan_id), D.c.state == "dead").group_by(D.c.fault)):
        kind = "refused" if kind == "refused" else "exhausted"  # rows dead before 0009 have no kind
        dead[kind] = (dead.get(kind, (0, ""))[0] + n, example)
    return dead


def _dead_refused(conn: Connection, f: PlanFacts) -> Check | None:
    """Dead deliveries the peer refused (a bad address): no later run sends them by itself."""
    n, example = _dead_kinds(conn, f.plan_id).get("refused", (0, ""))
    if not n:
        return None
    return Check("dead", Level.fail, msg("doctor.dead_refused", count=n, example=example), f.plan_id,
                 fix=msg("doctor.fix_dead_refused", plan=f.plan_id))


def _dead_exhausted(conn: Connection, f: PlanFacts) -> Check | None:
    """Dead deliveries retried until their attempts ran out (an outage longer than the schedule)."""
    n, example = _dead_kinds(conn, f.plan_id).get("exhausted", (0, ""))
    if not n:
        return None
    return Check("dead", Level.fail, msg("doctor.dead_exhausted", count=n, example=example), f.plan_id,
                 fix=msg("doctor.fix_dead_exhausted", plan=f.plan_id))


def _topics_waiting(conn: Connection, f: PlanFacts) -> Check | None:
    """The week's report or a decisions digest waiting more than a day (no reminder of their
    own, so `_backlog` does not see them)."""
    waiting = conn.execute(select(func.count()).where(
        D.c.plan_id == f.plan_id, D.c.reminder_id.is_(None), D.c.state.in_(("pending", "failed")), _not_held(),
        D.c.raised_on < (f.now - BACKLOG_AFTER).date(),
        or_(D.c.next_attempt_at.is_(None), D.c.next_attempt_at <= f.now))).scalar_one()
    if not waiting:
        return None
    return Check("outbox", Level.fail, msg("doctor.topics_waiting", count=waiting), f.plan_id,
                 fix=msg("doctor.fix_topics"))


def _unreachable(conn: Connection, f: PlanFacts) -> Check | None:
    """Reminders for a role nobody holds (a gap in the plan, which `plan validate` warns of)."""
    unreachable = conn.execute(
        select(D.c.recipient_key, func.count()).where(D.c.plan_id == f.plan_id, D.c.state == "dead",
                                                      D.c.recipient_key.like(f"{UNREACHABLE_PREFIX}%"))
        .group_by(D.c.recipient_key).order_by(D.c.recipient_key)).all()
    nobody = conn.execute(select(func.count()).where(
        R.c.plan_id == f.plan_id, R.c.state == "dead",
        ~select(D.c.id).where(D.c.reminder_id == R.c.id).exists())).scalar_one()
    if not unreachable and not nobody:
        return None
    listed = [_unreachable_role(key.removeprefix(UNREACHABLE_PREFIX), n)
              for key, n in unreachable]  # by role and unit: what to add to the plan
    return Check("recipients", Level.warn, msg("doctor.unreachable", listed=listed or msg("doctor.none"), nobody=nobody),
                 f.plan_id, fix=msg("doctor.fix_unreachable"))


def _unreachable_role(role_and_unit: str, count: int) -> Msg:
    """`head:town-b` (a unit's role) or `leading_group` (a plan-wide one) with its count."""
    role, _, unit = role_and_unit.partition(":")
    if unit:
        return msg("doctor.unreachable_unit_role", role=role, unit=unit, count=count)
    return msg("doctor.unreachable_role", role=role, count=count)


# The per-plan checks, in the order they are listed; each returns None when it has nothing to say.
PLAN_CHECKS: tuple[PlanCheck, ...] = (_dead_man, _unfinished_runs, _calendar, _backlog, _topics_waiting, _failing,
                                      _held, _stale_claims, _dead_refused, _dead_exhausted, _unreachable)


def _prefect(api_url: str, now: dt.datetime) -> Check:
    """Our flow runs stuck in Prefect (`services.prefect_runs`): Running past the night's
    timeout (its process is probably gone) or held in AwaitingConcurrencySlot."""
    import httpx

    from plan_tracker.services.prefect_runs import stuck_runs

    try:
        stuck = stuck_runs(api_url, now)
    except (httpx.HTTPError, ValueError) as exc:
        return Check("prefect", Level.warn, msg("doctor.prefect_down", url=api_url, reason=str(exc)[:200]),
                     fix=msg("doctor.fix_prefect_down"))
    if not stuck:
        return Check("prefect", Level.ok, msg("doctor.prefect_ok"))
    listed = [msg("doctor.prefect_stuck_run", flow=r["flow"], name=r["name"], id=str(r["id"]), state=r["state"],
                  since=_at(r["since"])) for r in stuck]
    return Check("prefect", Level.fail, msg("doctor.prefect_stuck", count=len(stuck), listed=listed),
                 fix=msg("doctor.fix_prefect_zombie", id=str(stuck[0]["id"])))


def _channels(conn: Connection) -> list[Check]:
    rows = conn.execute(select(CHANNELS.c.name, CHANNELS.c.reason, CHANNELS.c.changed_at)
                        .where(and_(CHANNELS.c.disabled)).order_by(CHANNELS.c.name)).all()
    if not rows:
        return [Check("channels", Level.ok, msg("doctor.channels_ok"))]
    return [Check("channels", Level.fail, msg("doctor.channel_disabled", name=name, since=_at(_aware(changed)),
                                              reason=reason or ""),
                  fix=msg("doctor.fix_channel", name=name))
            for name, reason, changed in rows]
