"""`plan-tracker doctor`: is the follow-up actually running? Health checks an operator (or a
monitoring probe) runs against the store, with the clock read once at the edge.

Each check answers `ok`, `warn` or `fail` with one plain sentence saying what is wrong and
what to do; the command exits 1 when any check fails. The dead-man check is the point: a
scheduler that silently stopped (worker down, deployment paused, cron lost) raises no error
anywhere, so the absence of a recent successful nightly run must be looked for.

Checks: the database answers; its schema is at the code's migration head; per plan — the
last successful nightly run is at most one day old (dates in the plan's time zone), no run
was left unfinished, the calendar covers today and the next 30 days, no delivery has waited
more than a day, no claim outlived its lease, dead deliveries; and no channel is disabled.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, text

from plan_tracker.services.follow_up import follow_up_end
from plan_tracker.store.models import CalendarDay, PlanRow
from plan_tracker.store.outbox_models import ChannelState, Delivery, NightlyRun, Reminder

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
    message: str
    plan: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"check": self.name, "plan": self.plan, "level": self.level.value, "message": self.message}


def failed(checks: list[Check]) -> bool:
    return any(c.level is Level.fail for c in checks)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def diagnose(engine: Engine, *, now: dt.datetime, plan_id: str | None = None) -> list[Check]:
    """Every check, in order. `engine` must not have been migrated by the caller's own
    start-up (use `store.db.make_engine`), or the migrations check would always pass."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the same thing to the operator
        reason = str(exc).splitlines()[0][:300]
        return [Check("database", Level.fail, f"the database does not answer: {reason}")]
    checks = [Check("database", Level.ok, f"{engine.dialect.name} answers")]
    with engine.connect() as conn:
        checks.append(_migrations(conn))
        if checks[-1].level is Level.fail:
            return checks
        plans = [plan_id] if plan_id else [str(p) for p in conn.execute(select(PLANS.c.id).order_by(PLANS.c.id)).scalars()]
        if plan_id and conn.execute(select(PLANS.c.id).where(PLANS.c.id == plan_id)).first() is None:
            return [*checks, Check("plan", Level.fail, f"there is no plan {plan_id!r} in the store", plan_id)]
        if not plans:
            checks.append(Check("plans", Level.warn, "the store holds no plan yet; apply one with `plan-tracker plan apply FILE`"))
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
        return Check("migrations", Level.ok, f"schema at head {', '.join(sorted(heads))}")
    have = ", ".join(sorted(current)) or "no schema"
    return Check("migrations", Level.fail,
                 f"schema at {have}, the code expects {', '.join(sorted(heads))}: run any plan-tracker command "
                 "once against this store (it migrates on first use) after a backup")


def _plan_checks(conn: Connection, plan_id: str, now: dt.datetime) -> list[Check]:
    plan = conn.execute(select(PLANS.c.timezone, PLANS.c.calendar_key).where(PLANS.c.id == plan_id)).one()
    today = now.astimezone(zoneinfo.ZoneInfo(plan.timezone)).date()
    checks: list[Check] = []
    last_day = follow_up_end(conn, plan_id)
    if today > last_day:  # undelivered messages still matter; missing nights do not
        return [Check("nightly", Level.ok, f"follow-up ended on {last_day} (plan.follow_up_until; default 60 days "
                                           "after the last due date): no nightly run is expected", plan_id),
                *_outbox(conn, plan_id, now)]
    checks.append(_dead_man(conn, plan_id, today, now))
    checks.append(_calendar(conn, plan_id, plan.calendar_key, today))
    checks += _outbox(conn, plan_id, now)
    return checks


def _dead_man(conn: Connection, plan_id: str, today: dt.date, now: dt.datetime) -> Check:
    last = conn.execute(select(func.max(RUNS.c.as_of)).where(RUNS.c.plan_id == plan_id, RUNS.c.ok)).scalar_one()
    stuck = conn.execute(select(RUNS.c.as_of, RUNS.c.started_at).where(
        RUNS.c.plan_id == plan_id, RUNS.c.ok.is_(False), RUNS.c.started_at < now - UNFINISHED_AFTER,
        *([RUNS.c.as_of > last] if last is not None else [])).order_by(RUNS.c.started_at.desc())).first()
    unfinished = (f"; the run as of {_date(stuck[0])} started {_aware(stuck[1]):%Y-%m-%d %H:%M} UTC and never finished "
                  "(killed or stuck)") if stuck else ""
    if last is None:
        return Check("nightly", Level.fail, "no nightly run has ever completed for this plan: is the scheduler "
                                            f"(Prefect worker or cron) running `plan-tracker nightly`?{unfinished}", plan_id)
    last = _date(last)
    age = (today - last).days
    if age > STALE_AFTER_DAYS:
        return Check("nightly", Level.fail,
                     f"the last successful nightly run is as of {last}, {age} days before today ({today}, plan time "
                     f"zone): the scheduler has stopped; restart it and run `plan-tracker nightly --plan {plan_id} "
                     f"--catch-up`{unfinished}", plan_id)
    if stuck:
        return Check("nightly", Level.warn, f"last successful run as of {last}{unfinished}", plan_id)
    return Check("nightly", Level.ok, f"last successful run as of {last} (today is {today})", plan_id)


def _calendar(conn: Connection, plan_id: str, key: str, today: dt.date) -> Check:
    ahead = today + dt.timedelta(days=CALENDAR_AHEAD_DAYS)
    days = {_date(d) for d in conn.execute(select(DAYS.c.day).where(
        DAYS.c.calendar_key == key, DAYS.c.day >= today, DAYS.c.day <= ahead)).scalars()}
    if today not in days:
        return Check("calendar", Level.fail, f"the working-day calendar ({key}) does not cover today ({today}): the "
                     "nightly run cannot evaluate; add the year's official schedule to the plan (calendar.years, "
                     "holidays, workdays) and re-apply it", plan_id)
    missing = sorted({today + dt.timedelta(days=n) for n in range(CALENDAR_AHEAD_DAYS + 1)} - days)
    if missing:
        return Check("calendar", Level.warn, f"the calendar ({key}) ends before {missing[0]}, within "
                     f"{CALENDAR_AHEAD_DAYS} days: add next year's official schedule (published each November)", plan_id)
    return Check("calendar", Level.ok, f"calendar {key} covers {today} to {ahead}", plan_id)


def _outbox(conn: Connection, plan_id: str, now: dt.datetime) -> list[Check]:
    from plan_tracker.services.delivery import LEASE

    checks = []
    waiting = conn.execute(
        select(func.count(), func.min(R.c.created_at)).select_from(D.join(R, R.c.id == D.c.reminder_id))
        .where(D.c.plan_id == plan_id, D.c.state.in_(("pending", "failed")), R.c.created_at < now - BACKLOG_AFTER,
               # a weekly digest's deliveries wait for their day on purpose (`services.digests`)
               ~and_(D.c.state == "pending", D.c.next_attempt_at.is_not(None), D.c.next_attempt_at > now),
               # held for a disabled channel: `delivery_failures` names that fix
               or_(D.c.fault.is_(None), D.c.fault != "channel"))
    ).one()
    if waiting[0]:
        checks.append(Check("outbox", Level.fail,
                            f"{waiting[0]} deliveries have waited more than a day (oldest raised "
                            f"{_aware(waiting[1]):%Y-%m-%d %H:%M} UTC): windowed channels (SMTP, robots) send only in "
                            "the delivery window, so schedule `plan-tracker deliver` during office hours; failing "
                            "ones show their error in `plan-tracker reminders`", plan_id))
    stale = conn.execute(select(func.count()).where(
        D.c.plan_id == plan_id, D.c.state == "sending", D.c.claimed_at < now - LEASE)).scalar_one()
    if stale:
        checks.append(Check("outbox", Level.warn,
                            f"{stale} deliveries were claimed and never recorded (a delivery process died after "
                            "claiming them); the next run past the lease sends them again with the same message key",
                            plan_id))
    checks += delivery_failures(conn, plan_id, now)
    unreachable = conn.execute(
        select(D.c.recipient_key, func.count()).where(D.c.plan_id == plan_id, D.c.state == "dead",
                                                      D.c.recipient_key.like(f"{UNREACHABLE_PREFIX}%"))
        .group_by(D.c.recipient_key).order_by(D.c.recipient_key)).all()
    if unreachable:  # by role and unit: what to add to the plan
        listed = "; ".join(f"{key.removeprefix(UNREACHABLE_PREFIX).replace(':', ' of ', 1)}: {n}"
                           for key, n in unreachable)
        checks.append(Check("recipients", Level.warn,
                            f"reminders nobody could receive, by role: {listed}; give them an e-mail or robot "
                            "in the plan and re-apply it (`plan validate` warns before)", plan_id))
    if not checks:
        pending = conn.execute(select(func.count()).where(
            D.c.plan_id == plan_id, D.c.state.in_(("pending", "failed", "sending")))).scalar_one()
        checks.append(Check("outbox", Level.ok, f"{pending} deliveries waiting, none for more than a day", plan_id))
    return checks


def delivery_failures(conn: Connection, plan_id: str, now: dt.datetime) -> list[Check]:
    """Each kind of delivery failure with its own fix: held for a disabled channel (enable it
    after fixing its secret or credentials), refused by the peer (the plan's addresses, then
    `--retry-dead`), retried until dead (`--retry-dead` once the peer is back), reminders
    nobody can receive (the plan's units file), and the week's report or a decisions digest
    waiting more than a day (no reminder of their own, so `_outbox` does not see them)."""
    from plan_tracker.services.delivery import UNREACHABLE_PREFIX as NOBODY

    mine = and_(D.c.plan_id == plan_id, ~D.c.recipient_key.like(f"{NOBODY}%"))
    held = conn.execute(select(func.count(), func.max(D.c.last_error)).where(
        mine, D.c.state.in_(("pending", "failed")), D.c.fault == "channel")).one()
    dead: dict[str, tuple[int, str]] = {}
    for kind, n, example in conn.execute(select(D.c.fault, func.count(), func.max(D.c.last_error))
                                         .where(mine, D.c.state == "dead").group_by(D.c.fault)):
        kind = "refused" if kind == "refused" else "exhausted"  # rows dead before 0009 have no kind
        dead[kind] = (dead.get(kind, (0, ""))[0] + n, example)
    undeliverable = conn.execute(select(func.count()).where(
        R.c.plan_id == plan_id, R.c.state == "dead",
        ~select(D.c.id).where(D.c.reminder_id == R.c.id).exists())).scalar_one()
    retry = f"`plan-tracker deliver --plan {plan_id} --retry-dead` (add --since DATE or --channel NAME to narrow it)"
    checks = []
    if held[0]:
        checks.append(Check("delivery", Level.warn,
                            f"{held[0]} deliveries are held for a disabled channel (e.g. {held[1]!r}); none is lost "
                            "and no attempt is used: fix the channel's secret or credentials in the settings, then "
                            "`plan-tracker channels enable NAME` (`channels list` names it); the next delivery run "
                            "sends them", plan_id))
    if "refused" in dead:
        n, example = dead.pop("refused")
        checks.append(Check("delivery", Level.fail,
                            f"{n} dead deliveries were refused by the peer (e.g. {example!r}): correct the address "
                            f"in the plan's units file and re-apply it (`plan-tracker plan apply FILE`), then {retry}",
                            plan_id))
    if dead:
        n = sum(count for count, _ in dead.values())
        example = next(iter(dead.values()))[1]
        checks.append(Check("delivery", Level.fail,
                            f"{n} dead deliveries were retried until their attempts ran out (e.g. {example!r}): "
                            f"once the peer answers again, {retry}", plan_id))
    topics = conn.execute(select(func.count()).where(
        D.c.plan_id == plan_id, D.c.reminder_id.is_(None), D.c.state.in_(("pending", "failed")),
        or_(D.c.fault.is_(None), D.c.fault != "channel"), D.c.raised_on < (now - BACKLOG_AFTER).date(),
        or_(D.c.next_attempt_at.is_(None), D.c.next_attempt_at <= now))).scalar_one()
    if topics:
        checks.append(Check("delivery", Level.fail,
                            f"{topics} weekly reports or decisions digests have waited more than a day: windowed "
                            "channels send only in the delivery window, so schedule `plan-tracker deliver` during "
                            "office hours; failing ones show their error in the store's delivery table", plan_id))
    if undeliverable:
        checks.append(Check("delivery", Level.warn,
                            f"{undeliverable} reminders nobody can receive: give their units an address in the plan's "
                            "units file and re-apply it; `plan-tracker reminders` lists them", plan_id))
    return checks


def _channels(conn: Connection) -> list[Check]:
    rows = conn.execute(select(CHANNELS.c.name, CHANNELS.c.reason, CHANNELS.c.changed_at)
                        .where(and_(CHANNELS.c.disabled)).order_by(CHANNELS.c.name)).all()
    if not rows:
        return [Check("channels", Level.ok, "no channel is disabled")]
    return [Check("channels", Level.fail,
                  f"channel {name} is disabled since {_aware(changed):%Y-%m-%d %H:%M} UTC ({reason}); its "
                  "deliveries are held (not dead, no attempt used); fix its secret or credentials in the settings, "
                  f"then `plan-tracker channels enable {name}`: the next delivery run sends them")
            for name, reason, changed in rows]
