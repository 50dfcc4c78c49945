"""The night's own services: evaluation (lights + reminders, one transaction per batch), the
snapshot of the day's figures, and the record of runs. `plan_tracker.night` chains them with
collection, delivery and reports into the one list of stages the CLI and the flow run.

Each stage works on a plan in bounded batches of obligation ids, never one Python object
per obligation, and is safe to re-run: a second run for the same as-of date changes nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Date, Engine, bindparam, func, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlmodel.sql.sqltypes import UTCDateTime

from plan_tracker import faults
from plan_tracker.services.context import PlanContext, plan_context
from plan_tracker.services.digests import DigestHolds, digest_holds
from plan_tracker.services.status import id_bounds
from plan_tracker.store import evaluation_sql as q
from plan_tracker.store.audit import EVENTS, record_event
from plan_tracker.store.db import in_memory
from plan_tracker.store.locks import begin_write
from plan_tracker.store.models import PlanRow, UnitRow
from plan_tracker.store.outbox_models import NightlyRun, Reminder, RoleRecipient

BATCH = 50_000
_TYPED = (bindparam("as_of", type_=Date()), bindparam("now", type_=UTCDateTime()),
          bindparam("escalation_from", type_=Date()))
NO_ESCALATION_START = dt.date(1900, 1, 1)  # a plan without `escalation_from`: every step may fire
NO_LATER_STEP = 10**9  # a one-step ladder: no step a blocked report could pause (working days)


def sql(statement: str) -> Any:
    """A text statement with typed date/time parameters (SQLite needs them converted)."""
    clause = text(statement)
    names = set(clause._bindparams)
    return clause.bindparams(*[b for b in _TYPED if b.key in names])


@dataclass
class EvaluationSummary:
    lights: dict[str, int] = field(default_factory=dict)
    raised: int = 0
    skipped: int = 0
    undeliverable: int = 0
    flips: int = 0
    shards: list[dict[str, Any]] = field(default_factory=list)  # a night split by unit shard: who ran which
    already_raised: int = 0  # raised for this night by an earlier run (a re-run raises nothing again)


def plan_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(PlanRow.__table__.c.id).order_by(PlanRow.__table__.c.id))]  # type: ignore[attr-defined]


def plan_timezone(engine: Engine, plan_id: str) -> str:
    with engine.connect() as conn:
        return plan_context(conn, plan_id).timezone


@dataclass(frozen=True)
class Shard:
    """One worker's share of a night: the units whose CRC-32 of the id falls in `index` of
    `count` buckets. A unit's shard depends only on its id and the count, so adding or
    retiring units never moves the others, and every worker computes the same split."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}: need 0 <= shard < shards and shards >= 1")

    @property
    def whole(self) -> bool:
        return self.count == 1

    def holds(self, unit_id: str) -> bool:
        return zlib.crc32(unit_id.encode("utf-8")) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


WHOLE_PLAN = Shard()


def evaluate(engine: Engine, plan_id: str, as_of: dt.date, *, now: dt.datetime, batch: int = BATCH,
             shard: Shard = WHOLE_PLAN, context: PlanContext | None = None, workers: int = 1) -> EvaluationSummary:
    """Save every obligation's light on `as_of` and raise the reminders it fires.

    Lights, flips, reminders and their deliveries of one batch commit together, so a crash
    leaves either the whole batch evaluated or none of it.
    """
    with engine.connect() as conn:
        earlier = _reminder_counts(conn, plan_id, as_of, skipped=False)
    done = evaluate_batches(engine, plan_id, as_of, now=now, batch=batch, shard=shard, context=context,
                            workers=workers)
    return evaluation_summary(engine, plan_id, as_of, earlier=earlier, skipped=done.skipped, flips=done.flips)


def evaluate_batches(engine: Engine, plan_id: str, as_of: dt.date, *, now: dt.datetime, batch: int = BATCH,
                     shard: Shard = WHOLE_PLAN, context: PlanContext | None = None, workers: int = 1) -> BatchesDone:
    """The evaluation's writes, batch by batch, for the whole plan or one unit shard (shards
    of one night may run at once on several workers: they touch disjoint obligations).
    Returns the units evaluated and the steps this run recorded skipped.

    `workers` connections take the batches in turn (`evaluation_workers`): batches are
    disjoint id ranges, each written in its own transaction, so they may commit in any
    order, as shards do. On PostgreSQL they evaluate at once, a core of the server each (a
    province's first night left the other core idle with one). SQLite has one writer: a
    batch decides its lights and steps into its connection's temporary tables first,
    outside the write lock (WAL readers do not wait for the writer), then writes them under
    it, so one connection decides while another writes (`_evaluate_batch`)."""
    with engine.connect() as conn:
        work = _night_work(conn, plan_id, as_of, now=now, shard=shard, context=context)
        low, high = id_bounds(conn, plan_id)
        conn.rollback()
        parallel = workers > 1 and not in_memory(engine.url)  # another thread's connection: another database
        ranges = batch_ranges(low, high, batch, workers if parallel else 1)
        if not parallel or len(ranges) < 2:
            _set_up(conn, work)
            _evaluate_ranges(conn, work, ranges)
            return BatchesDone(len(work.units), work.skipped.total, work.flips.total)
    _evaluate_concurrently(engine, work, ranges, min(workers, len(ranges)))
    return BatchesDone(len(work.units), work.skipped.total, work.flips.total)


@dataclass(frozen=True)
class BatchesDone:
    units: int  # the units evaluated (of the shard, or all the plan's)
    skipped: int  # the steps this run recorded skipped (a re-run of a night records none again)
    flips: int  # the lights this run changed (a re-run of a night changes none again)


@dataclass
class _Tally:
    """A count the batches of a night add to, from one or several connections. Counted as the
    rows are written rather than read back: skipped steps have no index by night (a first
    night writes 185,500 of them), so counting them from the store reads them all."""

    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, rows: int) -> None:
        with self.lock:
            self.total += rows


def batch_ranges(low: int, high: int, batch: int, workers: int = 1) -> list[tuple[int, int]]:
    """The id ranges of a night's batches: at most `batch` ids each. For several workers the
    count is rounded up to a multiple of theirs and the ranges made even, so the workers end
    together (102,000 ids in batches of 50,000: 50,000 + 50,000 + 2,000 for one; four of
    25,500 for two)."""
    if high < low:
        return []
    if workers <= 1:
        return [(start, min(start + batch - 1, high)) for start in range(low, high + 1, batch)]
    span = high - low + 1
    count = -(-span // batch)
    count = -(-count // workers) * workers
    size = -(-span // count)
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


@dataclass(frozen=True)
class _Statements:
    """A batch's statements, in the order it runs them."""

    fill: Any
    flips: Any
    save: Any
    create_steps: Any
    decide_steps: list[Any]
    raise_reminders: Any
    record_skipped: Any
    add_deliveries: Any
    unreachable: Any
    no_recipient: Any


@dataclass
class _NightWork:
    """What every batch of a night reads: the statements and parameters, built once."""

    units: list[str]
    night: dict[str, Any]
    role_params: dict[str, Any]
    holds: DigestHolds
    pairs: list[tuple[str, str]]
    someone_unreachable: bool
    sharded: bool
    postgresql: bool
    statements: _Statements
    stats: TableStats
    skipped: _Tally = field(default_factory=_Tally)
    flips: _Tally = field(default_factory=_Tally)


def _night_work(conn: Connection, plan_id: str, as_of: dt.date, *, now: dt.datetime, shard: Shard,
                context: PlanContext | None) -> _NightWork:
    ctx = context or plan_context(conn, plan_id, as_of)  # the version in force on the night
    plan = ctx.plan
    night = {**ctx.eval_params(conn, as_of), "now": now}  # the same for every batch
    unit_table = UnitRow.__table__  # type: ignore[attr-defined]
    every_unit = conn.execute(select(unit_table.c.id).where(unit_table.c.plan_id == plan_id)).scalars()
    units = [u for u in every_unit if shard.holds(u)]
    holds = digest_holds(conn, plan, as_of)
    pairs = [(step.level, role.value) for step in plan.ladder() for role in step.notify]
    someone_unreachable = _someone_unreachable(conn, plan_id, {role for _, role in pairs}, units)
    step_roles, role_params = q.step_roles_sql(pairs)
    ladder, ladder_params = q.ladder_sql([(s.level, s.after, s.repeat_every) for s in plan.ladder()])
    later_steps = [s.after for s in plan.ladder()[1:]]  # the steps a blocked item's report pauses
    night.update(ladder_params, escalation_from=plan.plan.escalation_from or NO_ESCALATION_START,
                 paused_after=min(later_steps, default=NO_LATER_STEP))
    sharded, postgresql = not shard.whole, conn.dialect.name == "postgresql"
    add_deliveries = sql(q.add_deliveries_sql(conn.dialect.name).format(
        step_roles=step_roles, in_shard=q.IN_SHARD if sharded else "",
        hold_column=q.HOLD_COLUMN if holds.pairs else "", hold_value=q.HOLD_VALUE if holds.pairs else ""))
    if holds.pairs:
        add_deliveries = add_deliveries.bindparams(bindparam("digest_at", holds.until, type_=UTCDateTime()))
    statements = _Statements(  # the batch's statements, built once for every batch of the night
        fill=sql(q.fill_batch_sql(conn.dialect.name, sharded=sharded, history=ctx.reads_history(as_of))),
        flips=sql(q.RECORD_FLIPS), save=sql(q.SAVE_LIGHTS),
        create_steps=text(q.create_steps_sql(conn.dialect.name)),
        decide_steps=[sql(step) for step in q.decide_steps_sql(conn.dialect.name, ladder)],
        raise_reminders=sql(q.RAISE_REMINDERS), record_skipped=sql(q.RECORD_SKIPPED), add_deliveries=add_deliveries,
        unreachable=sql(q.UNREACHABLE.format(step_roles=step_roles, in_shard=q.IN_SHARD if sharded else "")),
        no_recipient=sql(q.NO_RECIPIENT.format(in_shard=q.NO_RECIPIENT_IN_SHARD if sharded else "")),
    )
    return _NightWork(units, night, role_params, holds, pairs, someone_unreachable, sharded, postgresql,
                      statements, TableStats.read(conn) if postgresql else TableStats())


def _set_up(conn: Connection, work: _NightWork) -> None:
    """A connection's temporary tables that the batches read: the digest holds and, for a
    shard, its units (each connection has its own)."""
    if work.holds.pairs:
        _fill_digest_holds(conn, work.holds.pairs, postgresql=work.postgresql)
    if work.sharded:  # the shard's units, in a temporary table the batches read
        with conn.begin():
            conn.execute(text(q.CREATE_SHARD_UNITS))
            conn.execute(text(q.CLEAR_SHARD_UNITS))
            if work.units:
                conn.execute(text(q.FILL_SHARD_UNITS), [{"unit_id": u} for u in work.units])
            if work.postgresql:  # temporary tables get no statistics otherwise:
                conn.execute(text("ANALYZE shard_unit"))  # without them it plans nested loops (8 s at 10k)


def _evaluate_concurrently(engine: Engine, work: _NightWork, ranges: list[tuple[int, int]], workers: int) -> None:
    """`workers` connections taking the ranges in turn; the first failure stops the others
    after their current batch (each batch commits whole or not at all) and is raised."""
    queue, taken, stop = iter(ranges), threading.Lock(), threading.Event()

    def next_range() -> Iterator[tuple[int, int]]:
        while not stop.is_set():  # another worker failed: take no more
            with taken:
                found = next(queue, None)
            if found is None:
                return
            yield found

    def worker() -> None:
        try:
            with engine.connect() as conn:
                _set_up(conn, work)
                _evaluate_ranges(conn, work, next_range(), alone=False)
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evaluate") as pool:
        futures = [pool.submit(worker) for _ in range(workers)]
    for future in futures:
        future.result()


def _evaluate_ranges(conn: Connection, work: _NightWork, ranges: Iterable[tuple[int, int]], *,
                     alone: bool = True) -> None:
    for low, high in ranges:
        _evaluate_batch(conn, work, low, high, alone=alone)
        faults.point("evaluate.batch")


def _evaluate_batch(conn: Connection, work: _NightWork, low: int, high: int, *, alone: bool = True) -> None:
    """One batch's lights, flips, reminders and deliveries, written in one transaction.

    What the batch decides (each item's light, its steps fired and skipped) goes first into
    the connection's temporary tables, then into the store. A batch evaluated `alone` does
    both in one write transaction (SQLite: the write lock held from the first read, see
    store.locks). Beside other connections, SQLite decides in a transaction of its own that
    writes only its temporary tables, without the write lock, then takes the lock to write:
    its batch's items are its alone (disjoint ranges), so what it read is what it writes
    over. On a province's first night SQLite's deciding is half a batch's time."""
    params = {**work.night, "lo": low, "hi": high}
    if alone or work.postgresql:
        with conn.begin():
            begin_write(conn)
            _decide_batch(conn, work, params)
            _write_batch(conn, work, params)
        return
    with conn.begin():
        _decide_batch(conn, work, params)
    with conn.begin():
        begin_write(conn)
        _write_batch(conn, work, params)


def _decide_batch(conn: Connection, work: _NightWork, params: dict[str, Any]) -> None:
    """The batch's lights (`eval_batch`) and its steps, fired or skipped (`eval_step`): the
    connection's temporary tables, read by `_write_batch`."""
    s = work.statements
    conn.execute(text(q.CREATE_BATCH))
    conn.execute(text(q.CLEAR_BATCH))
    conn.execute(s.fill, params)
    if work.postgresql:  # a temporary table has no statistics until
        conn.execute(text("ANALYZE eval_batch"))  # analyzed; the joins below need them
    conn.execute(s.create_steps)
    conn.execute(text(q.CLEAR_STEPS))
    for decide in s.decide_steps:
        _probing(conn, work, PROBED_BY_DECISION, decide, params)


def _write_batch(conn: Connection, work: _NightWork, params: dict[str, Any]) -> None:
    """What `_decide_batch` decided, into the store: flips, lights, reminders, skipped steps
    and deliveries."""
    s, night = work.statements, work.night
    work.flips.add(conn.execute(s.flips, params).rowcount or 0)
    conn.execute(s.save, params)
    raised = conn.execute(s.raise_reminders, params).rowcount or 0
    skipped = conn.execute(s.record_skipped, params).rowcount or 0
    work.skipped.add(skipped)  # a failed batch fails the run: no summary reads the count
    if work.postgresql:  # a first night fills empty tables: later statements plan with the rows
        work.stats.grew(conn, "reminder", raised)
        work.stats.grew(conn, "skipped_step", skipped)
    if work.pairs:
        queued = _probing(conn, work, PROBED_BY_DELIVERIES, s.add_deliveries,
                          {**night, **params, **work.role_params}).rowcount or 0
        if work.postgresql:
            work.stats.grew(conn, "delivery", queued)
        if work.someone_unreachable:  # else the statement finds nothing (1 s of a province's night)
            conn.execute(s.unreachable, {**night, **params, **work.role_params})
    if work.someone_unreachable or not work.pairs:  # else every step's roles reach someone for every unit
        conn.execute(s.no_recipient, {**params, "note": "no recipient address for this step's roles"})


# The tables a batch's statements probe for what is already on record (NOT EXISTS) while the
# night's other connections (workers, shard processes) are filling them.
PROBED_BY_DECISION = ("skipped_step", "reminder")
PROBED_BY_DELIVERIES = ("delivery",)


def _probing(conn: Connection, work: _NightWork, tables: tuple[str, ...], statement: Any,
             params: dict[str, Any]) -> Any:
    """Run a statement that probes `tables`, planned so that rows the other connections add
    meanwhile cannot make it quadratic.

    A first night on PostgreSQL starts with these tables empty. When the statistics say so
    (a store analysed or vacuumed before its first night), the planner probes them with a
    nested loop over a sequential scan, one scan per candidate row: free while they are
    empty, but the other connections' batches fill them (uncommitted rows are still scanned)
    while this statement runs. A province's first night took 25-50 s instead of 4 s in one
    night of three that way (its 26,000 candidates each scanning the other worker's skipped
    steps). Until the night's statistics know enough rows (`TableStats.thin`), nested loops
    are off for the statement: the probes become one hash of each table, whatever it holds
    by then. Once the tables are analysed, the planner's own choice (index probes) stands."""
    thin = work.postgresql and work.stats.thin(tables)
    if thin:
        conn.execute(text("SET LOCAL enable_nestloop = off"))
    result = conn.execute(statement, params)
    if thin:  # back to the server's setting for the rest of the batch (a failure rolls it back anyway)
        conn.execute(text("SET LOCAL enable_nestloop TO DEFAULT"))
    return result


def _fill_digest_holds(conn: Connection, pairs: list[tuple[str, str]], *, postgresql: bool) -> None:
    """The night's (level, recipient) pairs whose deliveries wait for the digest day, in a
    temporary table the batches' deliveries statement (`add_deliveries_sql`) reads (emptied first: a pooled connection
    keeps it from an earlier night)."""
    with conn.begin():
        conn.execute(text(q.CREATE_DIGEST_HOLDS))
        conn.execute(text(q.CLEAR_DIGEST_HOLDS))
        conn.execute(text(q.FILL_DIGEST_HOLDS), [{"level": level, "recipient_key": key} for level, key in pairs])
        if postgresql:  # a temporary table has no statistics until analyzed
            conn.execute(text("ANALYZE digest_hold"))


def _someone_unreachable(conn: Connection, plan_id: str, roles: set[str], units: list[str]) -> bool:
    """Whether a role of the ladder has nobody to receive it for one of the plan's `units`
    (no plan-wide recipient, none for that unit): only then can a reminder be unreachable.
    The units are the plan's unit rows, which apply keeps for every unit ever tracked."""
    table = RoleRecipient.__table__  # type: ignore[attr-defined]
    held: dict[str, set[str]] = {}
    for role, unit_id in conn.execute(select(table.c.role, table.c.unit_id).where(table.c.plan_id == plan_id)):
        held.setdefault(role, set()).add(unit_id)
    return any("*" not in held.get(role, set()) and not held.get(role, set()).issuperset(units) for role in roles)


@dataclass
class TableStats:
    """PostgreSQL's idea of how many rows the night's growing tables hold. A first night fills
    empty `reminder` and `delivery` tables batch by batch, and the planner, believing them
    empty, picks nested loops (a province's raise went from 2 s to 5 s a batch). Like
    autovacuum's threshold, a table is analyzed when a night has added more than a fifth of
    what the statistics knew; a steady night, which adds a few rows to big tables, never pays
    for an ANALYZE."""

    known: dict[str, float] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # batches on several connections

    TABLES = ("reminder", "skipped_step", "delivery")
    SHARE, FLOOR = 0.2, 1000

    @classmethod
    def read(cls, conn: Connection) -> TableStats:
        rows = conn.execute(text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:tables) "
                                 "AND relkind = 'r' AND relnamespace = to_regnamespace(current_schema())::oid"),
                            {"tables": list(cls.TABLES)})
        return cls(known={name: max(float(n), 0.0) for name, n in rows})

    def thin(self, tables: Iterable[str]) -> bool:
        """Whether the statistics may call one of `tables` empty or nearly so (fewer rows
        known than an ANALYZE is worth): the planner then trusts a size the night is changing."""
        with self.lock:
            return any(self.known.get(table, 0.0) < self.FLOOR for table in tables)

    def grew(self, conn: Connection, table: str, rows: int) -> None:
        with self.lock:
            self.added[table] = self.added.get(table, 0) + rows
            due = self.added[table] > max(self.FLOOR, self.SHARE * self.known.get(table, 0.0))
            if due:  # one connection analyzes for all (concurrent ANALYZEs of a table wait for each other)
                self.known[table] = self.known.get(table, 0.0) + self.added[table]
                self.added[table] = 0
        if due:
            _analyze_unless_busy(conn, table)


def _analyze_unless_busy(conn: Connection, table: str) -> None:
    """ANALYZE `table`, unless another connection of the night is analysing it: an ANALYZE
    holds its lock until its transaction ends, so a second one waited for the other worker's
    whole batch (0.3 s of a province's first night). The other's row count is the planner's
    at once (PostgreSQL writes it in place); this batch's rows count at the next one."""
    try:
        with conn.begin_nested():  # a savepoint: its rollback also undoes the SET LOCAL
            conn.execute(text("SET LOCAL lock_timeout = '20ms'"))
            conn.execute(text(f"ANALYZE {table}"))  # the name is one of TABLES, never input
            conn.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_not_available


def evaluate_shard(engine: Engine, plan_id: str, as_of: dt.date, *, now: dt.datetime, shard: Shard,
                   worker: str, batch: int = BATCH) -> dict[str, Any]:
    """One worker's share of a split night; records who evaluated which shard in the audit
    log (`nightly.shard_evaluated`), so a night's split can be read back from the store."""
    units = evaluate_batches(engine, plan_id, as_of, now=now, batch=batch, shard=shard).units
    done = {"as_of": as_of.isoformat(), "shard": shard.index, "shards": shard.count, "units": units,
            "worker": worker}
    with engine.begin() as conn:
        record_event(conn, plan_id=plan_id, kind=SHARD_EVENT, actor=worker, source="nightly", payload=done, at=now)
    return done


SHARD_EVENT = "nightly.shard_evaluated"


def shards_evaluated(engine: Engine, plan_id: str, as_of: dt.date) -> list[dict[str, Any]]:
    """The shard events of a night, latest first per shard (a retried shard records twice)."""
    t = EVENTS
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.payload).where(t.c.plan_id == plan_id, t.c.kind == SHARD_EVENT)
                            .order_by(t.c.id.desc())).scalars().all()
    latest: dict[tuple[int, int], dict[str, Any]] = {}
    for payload in rows:
        if payload.get("as_of") == as_of.isoformat():
            latest.setdefault((int(payload["shards"]), int(payload["shard"])), dict(payload))
    return [latest[k] for k in sorted(latest)]


def evaluation_summary(engine: Engine, plan_id: str, as_of: dt.date, *,
                       earlier: dict[str, int] | None = None, skipped: int | None = None,
                       flips: int | None = None) -> EvaluationSummary:
    """The night's figures for the whole plan (after all its shards have run). With
    `earlier` (the night's reminder counts by state before this evaluation) the reminder
    figures are what this run raised; the rest is `already_raised`. `skipped` and `flips`:
    the steps this run recorded skipped and the lights it changed, as its batches counted
    them; None counts the night's from the store (the shards' flow, once a night: it reads
    every skipped step and light change of the plan's night; at 1M a quarter of a second)."""
    summary = EvaluationSummary()
    before = earlier or {}
    summary.already_raised = sum(before.values())
    with engine.connect() as conn:
        summary.lights = _light_counts(conn, plan_id)
        summary.flips = _flip_count(conn, plan_id, as_of) if flips is None else flips
        for state, total in _reminder_counts(conn, plan_id, as_of, skipped=skipped is None).items():
            count = total - before.get(state, 0)  # evaluation adds rows, never moves their state
            if state == "skipped":
                summary.skipped = count
                continue
            if state == "dead":
                summary.undeliverable = count
            summary.raised += count
    if skipped is not None:
        summary.skipped = skipped
    return summary


def _light_counts(conn: Connection, plan_id: str) -> dict[str, int]:
    from plan_tracker.store.models import Obligation

    t = Obligation.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        select(t.c.light, func.count()).where(t.c.plan_id == plan_id, t.c.active, t.c.light.is_not(None)).group_by(t.c.light)
    )
    return {str(light): int(n) for light, n in rows}


def _flip_count(conn: Connection, plan_id: str, as_of: dt.date) -> int:
    from plan_tracker.store.models import Obligation
    from plan_tracker.store.outbox_models import LightFlip

    f, o = LightFlip.__table__, Obligation.__table__  # type: ignore[attr-defined]
    return int(conn.execute(
        select(func.count()).select_from(f.join(o, o.c.id == f.c.obligation_id))
        .where(o.c.plan_id == plan_id, f.c.as_of == as_of)
    ).scalar_one())


def _reminder_counts(conn: Connection, plan_id: str, as_of: dt.date, *, skipped: bool) -> dict[str, int]:
    """The night's reminders by their delivery state, and with `skipped` its skipped steps."""
    t = Reminder.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        select(t.c.state, func.count()).where(t.c.plan_id == plan_id, t.c.fired_on == as_of).group_by(t.c.state)
    )
    counts = {str(state): int(n) for state, n in rows}
    if skipped:
        steps = int(conn.execute(sql(q.SKIPPED_ON_NIGHT), {"plan": plan_id, "as_of": as_of}).scalar_one())
        counts.update({"skipped": steps} if steps else {})
    return counts


def snapshot(engine: Engine, plan_id: str, as_of: dt.date) -> int:
    """Replace the day's figures (obligations per section and light) for trend charts."""
    from plan_tracker.store.outbox_models import DailyFigure

    table = DailyFigure.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.plan_id == plan_id, table.c.as_of == as_of))
        return conn.execute(sql(q.SNAPSHOT), {"plan": plan_id, "as_of": as_of}).rowcount or 0


def start_run(engine: Engine, plan_id: str, as_of: dt.date, now: dt.datetime) -> int:
    table = NightlyRun.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        return int(conn.execute(
            insert(table).values(plan_id=plan_id, as_of=as_of, started_at=now, ok=False, summary={}).returning(table.c.id)
        ).scalar_one())


def finish_run(engine: Engine, run_id: int, now: dt.datetime, summary: dict[str, Any]) -> None:
    table = NightlyRun.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == run_id).values(finished_at=now, ok=True, summary=summary))


@dataclass
class NightlySummary:
    plan_id: str
    as_of: dt.date
    reports_known: int = 0
    evaluation: EvaluationSummary = field(default_factory=EvaluationSummary)
    delivery: Any = None
    figures: int = 0
    report: Any = None  # reports.schedule.ReportStageResult
    mail: Any = None  # inbox.mail.FetchSummary; None when no reply mailbox is configured
    # each stage's wall time, in run order (the operator's view of where a night goes:
    # `doctor`); elapsed time measured around the stages, never a date the night works with
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The one shape of a night's summary: printed by the CLI, returned by the Prefect
        flow, stored with the run (`nightly_run.summary`)."""
        d, e = self.delivery, self.evaluation
        found = {
            "plan": self.plan_id, "as_of": self.as_of.isoformat(), "reports_known": self.reports_known,
            "lights": e.lights, "light_changes": e.flips,
            "reminders": {"raised": e.raised, "skipped": e.skipped, "undeliverable": e.undeliverable,
                          "already_raised": e.already_raised},
            "delivery": {"messages": d.messages_sent, "delivered": d.deliveries_sent, "failed": d.failed,
                         "dead": d.dead, "waiting_for_window": d.waiting, "deferred_by_circuit": d.deferred,
                         "held_by_disabled_channel": d.held} if d else None,
            "figures": self.figures,
            "report": self.report.as_dict() if self.report else None,
        }
        if self.mail is not None:
            found["mail"] = self.mail.as_dict()
        if self.stage_seconds:
            found["stage_seconds"] = dict(self.stage_seconds)
        if e.shards:
            found["shards"] = e.shards
        return found
