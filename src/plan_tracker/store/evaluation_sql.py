"""Set-based evaluation in SQL: each obligation's status, light and overdue working days as
of a date, over the calendar table. Mirrors `domain.lights` (the reference) exactly; a
property test holds the two equal.

Status as of D: the latest report dated on or before D (ties broken by arrival order). It
is done when that report says done; the completion date is the earliest done report since
the last report that was not done (a send-back or a correction reopens the item).
CTEs are MATERIALIZED so each batch is computed once per statement on both backends.

Parameters: :plan, :as_of, :ord_d (ordinal of as_of), :cal (calendar key), :lo, :hi (id range).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, bindparam, text

# Per obligation, through the (obligation_id, reported_on, id) index: the latest report's
# status and progress, and the completion date = the earliest `done` report that no later
# non-done report follows (NULL when the latest report is not done). Correlated lookups keep
# this linear in obligations; joins on aggregated CTEs made SQLite go quadratic.
_LATEST = """(SELECT r.{col} FROM status_report r
        WHERE r.obligation_id = o.id AND r.reported_on <= :as_of AND r.received_on <= :as_of
        ORDER BY r.reported_on DESC, r.id DESC LIMIT 1)"""

_DONE_ON = """(SELECT MIN(r.reported_on) FROM status_report r
        WHERE r.obligation_id = o.id AND r.status = 'done' AND r.reported_on <= :as_of AND r.received_on <= :as_of
          AND NOT EXISTS (
            SELECT 1 FROM status_report n
            WHERE n.obligation_id = o.id AND n.status <> 'done' AND n.reported_on <= :as_of AND n.received_on <= :as_of
              AND (n.reported_on > r.reported_on OR (n.reported_on = r.reported_on AND n.id > r.id))))"""

_FULL_COLUMNS = f"""
           {_LATEST.format(col="status")} AS status,
           {_LATEST.format(col="progress")} AS progress,
           (SELECT MIN(r.reported_on) FROM status_report r
             WHERE r.obligation_id = o.id AND r.reported_on <= :as_of AND r.received_on <= :as_of) AS first_on,
           (SELECT MAX(r.reported_on) FROM status_report r
             WHERE r.obligation_id = o.id AND r.reported_on <= :as_of AND r.received_on <= :as_of) AS last_on,"""


# PostgreSQL: the completion date from one windowed pass over the batch's reports (hash
# joined), cheaper there than an index probe per obligation. `open_after` counts the
# not-done reports at or after each report; a done report with none after it counts.
_DONE_WINDOWED = """
done_pass AS MATERIALIZED (
    SELECT w.obligation_id, MIN(w.reported_on) AS done_on
    FROM (
        SELECT r.obligation_id, r.status, r.reported_on,
               SUM(CASE WHEN r.status <> 'done' THEN 1 ELSE 0 END) OVER (
                   PARTITION BY r.obligation_id ORDER BY r.reported_on DESC, r.id DESC
                   ROWS UNBOUNDED PRECEDING) AS open_after
        FROM status_report r
        WHERE r.obligation_id BETWEEN :lo AND :hi AND r.reported_on <= :as_of AND r.received_on <= :as_of{shard_reports}
    ) w
    WHERE w.status = 'done' AND w.open_after = 0
    GROUP BY w.obligation_id
),"""


# Scale-out: a night split by unit shard evaluates, on each worker, only the units listed in
# this per-connection table (filled from `services.nightly.Shard`).
CREATE_SHARD_UNITS = "CREATE TEMPORARY TABLE IF NOT EXISTS shard_unit (unit_id VARCHAR(64) PRIMARY KEY)"
CLEAR_SHARD_UNITS = "DELETE FROM shard_unit"
FILL_SHARD_UNITS = "INSERT INTO shard_unit (unit_id) VALUES (:unit_id)"
IN_SHARD = "\n      AND o.unit_id IN (SELECT unit_id FROM shard_unit)"


# A shard's windowed pass reads only its own units' reports (not every shard's).
_SHARD_REPORTS = f"""
          AND r.obligation_id IN (SELECT o.id FROM obligation o WHERE o.plan_id = :plan
                                  AND o.id BETWEEN :lo AND :hi{IN_SHARD})"""


# The obligations as they were on :as_of, for a date before the plan's `terms_settled_from`
# (a later plan version, cancellation or extension changed some terms): each obligation's
# row where its current terms already held on :as_of, else the superseded terms in force
# then (`obligation_term`). At most one of the two holds for an obligation on a date.
_AS_OF = """(
    SELECT c.id, c.plan_id, c.task_id, c.unit_id, c.period, c.period_start, c.period_end, c.due,
           c.original_due, c.warn_days, c.active, c.light, c.overdue_wd
    FROM obligation c
    WHERE c.plan_id = :plan AND (c.terms_from IS NULL OR c.terms_from <= :as_of){current_range}
    UNION ALL
    SELECT h.obligation_id, h.plan_id, h.task_id, h.unit_id, h.period, h.period_start, h.period_end, h.due,
           h.original_due, h.warn_days, h.active, c.light, c.overdue_wd
    FROM obligation_term h JOIN obligation c ON c.id = h.obligation_id
    WHERE h.plan_id = :plan AND (h.valid_from IS NULL OR h.valid_from <= :as_of) AND :as_of < h.valid_until{term_range}
)"""
OBLIGATIONS_AS_OF = _AS_OF.format(current_range="", term_range="")
# A batch's share (ids :lo..:hi), filtered inside both branches so a batch reads only its rows.
_BATCH_AS_OF = _AS_OF.format(current_range=" AND c.id BETWEEN :lo AND :hi",
                             term_range=" AND h.obligation_id BETWEEN :lo AND :hi")


def as_of_statement(columns: str, where: str = "") -> Any:
    """`SELECT columns FROM` the obligations as they were on :as_of (the whole plan), with an
    optional WHERE on alias `o`; :as_of is bound as a date (SQLite needs the type)."""
    sql = " ".join(("SELECT", columns, "FROM", OBLIGATIONS_AS_OF, "o", f"WHERE {where}" if where else ""))
    return text(sql).bindparams(bindparam("as_of", type_=Date()))


def obligations_source(history: bool) -> str:
    """`obligation` itself, or a batch's terms as of :as_of when they changed after that date."""
    return _BATCH_AS_OF if history else "obligation"


def evaluated_cte(*, full: bool, windowed: bool = False, sharded: bool = False, history: bool = False,
                  listed: bool = False) -> str:
    """`WITH base, evaluated`: lights of a batch. `full` adds the latest status, progress and
    first/last report dates (for status listings and reports); the nightly run needs only
    the completion date, so it skips those lookups. `sharded` keeps the units of the
    connection's `shard_unit` table (one worker's share of a night, see `CREATE_SHARD_UNITS`).
    `history` reads the obligations' terms as of :as_of (`OBLIGATIONS_AS_OF`). `listed` keeps
    only the ids of :ids (an expanding parameter) within :lo..:hi."""
    done_on = "dp.done_on" if windowed else _DONE_ON
    done_join = "LEFT JOIN done_pass dp ON dp.obligation_id = o.id" if windowed else ""
    return f"""
WITH {_DONE_WINDOWED.format(shard_reports=_SHARD_REPORTS if sharded else "") if windowed else ""}
base AS MATERIALIZED (
    SELECT o.id, o.task_id, o.unit_id, o.period, o.period_start, o.due, o.original_due, o.warn_days,
           o.light AS stored_light, o.overdue_wd AS stored_overdue_wd,
           d.wd_ordinal AS due_ord,{_FULL_COLUMNS if full else ""}
           {done_on} AS done_on
    FROM {obligations_source(history)} o
    JOIN calendar_day d ON d.calendar_key = :cal AND d.day = o.due
    {done_join}
    WHERE o.plan_id = :plan AND o.active = TRUE AND o.id BETWEEN :lo AND :hi{IN_SHARD if sharded else ""}{
        " AND o.id IN :ids" if listed else ""}
),
evaluated AS MATERIALIZED (
    SELECT b.*,
           CASE
             WHEN b.done_on IS NOT NULL AND b.done_on <= b.due THEN 'done'
             WHEN b.done_on IS NOT NULL THEN 'done_late'
             WHEN :as_of < b.period_start THEN 'pending'
             WHEN :as_of > b.due THEN 'red'
             WHEN :ord_d >= b.due_ord - b.warn_days THEN 'yellow'
             ELSE 'green'
           END AS light,
           CASE
             WHEN b.done_on IS NULL AND :as_of > b.due THEN :ord_d - b.due_ord
             ELSE 0
           END AS overdue_wd
    FROM base b
)"""


EVALUATED = evaluated_cte(full=True)

_STATUS_SELECT = """
SELECT e.id, e.task_id AS task, e.unit_id AS unit, e.period, e.due, e.light, e.status,
       e.progress, e.overdue_wd
FROM evaluated e
ORDER BY e.id
"""
STATUS_ROWS = EVALUATED + _STATUS_SELECT


def status_rows_sql(*, history: bool, listed: bool = False) -> str:
    """Every obligation's status row as of :as_of (ordered by the caller, by the version's task
    order); `listed`: only those of :ids (see `evaluated_cte`)."""
    return evaluated_cte(full=True, history=history, listed=listed) + _STATUS_SELECT

# A blocked item's escalation is paused beyond the first step (`domain.escalation.escalation_paused`):
# its latest report on :as_of says blocked and no coordinator resume is dated from that
# report's date to :as_of. Looked up once per open item when its batch is filled.
_PAUSED = """(COALESCE((SELECT r.status FROM status_report r
                  WHERE r.obligation_id = e.id AND r.reported_on <= :as_of AND r.received_on <= :as_of
                  ORDER BY r.reported_on DESC, r.id DESC LIMIT 1), '') = 'blocked'
       AND NOT EXISTS (SELECT 1 FROM escalation_resume x
                       WHERE x.obligation_id = e.id AND x.resumed_on <= :as_of
                         AND x.resumed_on >= (SELECT MAX(r.reported_on) FROM status_report r
                                              WHERE r.obligation_id = e.id AND r.reported_on <= :as_of
                                                AND r.received_on <= :as_of)))"""

# The batch's evaluation is computed once into a temporary table (per connection), then the
# flips, the saved lights and the reminders all read it. `paused` (1: a blocked open item's
# escalation waits, see _PAUSED) is looked up once per open item here, not once for each of
# its ladder's steps by the reminders' candidates (four to six lookups of its reports), and
# only once a step past the first can be due (:paused_after, the least `after` of those).
CREATE_BATCH = """
CREATE TEMPORARY TABLE IF NOT EXISTS eval_batch (
    id BIGINT PRIMARY KEY,
    due_ord INTEGER NOT NULL,
    light VARCHAR(12) NOT NULL,
    overdue_wd INTEGER NOT NULL,
    paused INTEGER NOT NULL
)"""

CLEAR_BATCH = "DELETE FROM eval_batch"

# Only rows that matter tonight enter the batch table: open items (they may escalate) and
# items whose light or lateness changed (to be saved and flipped). Settled done or pending
# rows (most of a store) are evaluated and dropped here.
_FILL = f"""
INSERT INTO eval_batch (id, due_ord, light, overdue_wd, paused)
SELECT e.id, e.due_ord, e.light, e.overdue_wd,
       CASE WHEN e.light IN ('green', 'yellow', 'red') AND :ord_d >= e.due_ord + :paused_after AND {_PAUSED}
            THEN 1 ELSE 0 END
FROM evaluated e
WHERE e.light IN ('green', 'yellow', 'red') OR e.stored_light IS NULL
   OR e.stored_light <> e.light OR e.stored_overdue_wd <> e.overdue_wd
"""


def fill_batch_sql(dialect: str, *, sharded: bool = False, history: bool = False) -> str:
    """The nightly batch fill, in the faster form for each backend (both are held equal to
    the domain rules by the property test)."""
    return evaluated_cte(full=False, windowed=dialect == "postgresql", sharded=sharded, history=history) + _FILL

# Record a flip for every obligation whose light changes, before the update saves it. The
# batch's id range is said of `obligation` too (here and below): PostgreSQL carries no range
# across a join, and read the table from its first row to the batch's last (a merge join) or
# whole (a hash join) for every batch.
RECORD_FLIPS = """
INSERT INTO light_flip (obligation_id, as_of, old_light, new_light)
SELECT e.id, :as_of, o.light, e.light
FROM eval_batch e JOIN obligation o ON o.id = e.id
WHERE o.id BETWEEN :lo AND :hi AND (o.light IS NULL OR o.light <> e.light)
"""

# Only rows whose light or lateness changed are written: a steady night touches the red
# items and the few that flipped, not every row (PostgreSQL would rewrite each tuple).
SAVE_LIGHTS = """
UPDATE obligation SET light = e.light, overdue_wd = e.overdue_wd, evaluated_on = :as_of
FROM eval_batch e
WHERE obligation.id = e.id AND obligation.id BETWEEN :lo AND :hi
  AND (obligation.light IS NULL OR obligation.light <> e.light OR obligation.overdue_wd <> e.overdue_wd)
"""

# Escalation, mirroring `domain.escalation.firings_on`: candidates are each step's first
# occurrence and the latest due repeat; the highest not yet recorded fires, the rest skip.
# The batch's steps are decided once, into a temporary table, and then written where each
# kind lives: fired steps are reminders (the outbox), skipped ones `skipped_step` rows.
# Computing the candidates is most of the work (4.4 of a province's first-night 19.9 billion
# instructions on SQLite): two statements that each computed them would spend more than
# the narrow table saves.
_STEP_COLUMNS = """
    obligation_id BIGINT NOT NULL,
    level VARCHAR(64) NOT NULL,
    position INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    scheduled_on DATE NOT NULL,
    overdue_wd INTEGER NOT NULL,
    fires INTEGER NOT NULL"""

CREATE_STEPS = f"CREATE TEMPORARY TABLE IF NOT EXISTS eval_step ({_STEP_COLUMNS}\n)"

# SQLite keeps a batch's steps in item order, by item and rank (see `MARK_FIRING`).
CREATE_STEPS_IN_ITEM_ORDER = f"""CREATE TEMPORARY TABLE IF NOT EXISTS eval_step ({_STEP_COLUMNS},
    PRIMARY KEY (obligation_id, position, seq)
) WITHOUT ROWID"""

CLEAR_STEPS = "DELETE FROM eval_step"

_DECIDE_STEPS = """
WITH candidate AS (
    SELECT e.id AS obligation_id, s.level, s.position, 0 AS seq,
           e.due_ord + s.after AS sched_ord, e.overdue_wd
    FROM eval_batch e JOIN ({ladder}) s ON 1 = 1
    WHERE e.light IN ('green', 'yellow', 'red') AND :ord_d >= e.due_ord + s.after
      AND (s.position = 0 OR e.paused = 0)
    UNION ALL
    SELECT e.id, s.level, s.position,
           (:ord_d - (e.due_ord + s.after)) / s.repeat_every,
           e.due_ord + s.after + ((:ord_d - (e.due_ord + s.after)) / s.repeat_every) * s.repeat_every,
           e.overdue_wd
    FROM eval_batch e JOIN ({ladder}) s ON 1 = 1
    WHERE e.light IN ('green', 'yellow', 'red') AND s.repeat_every IS NOT NULL
      AND :ord_d - (e.due_ord + s.after) >= s.repeat_every
      AND (s.position = 0 OR e.paused = 0)
),
fresh AS {fresh_hint}(
    SELECT c.obligation_id, c.level, c.position, c.seq, c.sched_ord, c.overdue_wd{rank}
    FROM candidate c
    -- skipped steps first: most steps an open item has on record were skipped (a first night
    -- fires one step per item and skips the rest), and a step found there is not looked up again
    WHERE NOT EXISTS (SELECT 1 FROM skipped_step k
                      WHERE k.obligation_id = c.obligation_id AND k.level = c.level AND k.seq = c.seq)
      AND NOT EXISTS (SELECT 1 FROM reminder r
                      WHERE r.obligation_id = c.obligation_id AND r.level = c.level AND r.seq = c.seq)
)
INSERT INTO eval_step (obligation_id, level, position, seq, scheduled_on, overdue_wd, fires)
SELECT f.obligation_id, f.level, f.position, f.seq, cd.day, f.overdue_wd, {fires}
FROM fresh f
JOIN calendar_day cd ON cd.calendar_key = :cal AND cd.wd_ordinal = f.sched_ord AND cd.is_working
"""

# PostgreSQL ranks each item's fresh steps in the statement: the highest fires (from the
# escalation's start on), the rest are skipped.
_RANKED = {
    "fresh_hint": "",
    "rank": ",\n           ROW_NUMBER() OVER (PARTITION BY c.obligation_id ORDER BY c.position DESC, c.seq DESC) AS rk",
    "fires": "CASE WHEN f.rk = 1 AND cd.day >= :escalation_from THEN 1 ELSE 0 END",
}
# SQLite writes them unranked, in item order (`CREATE_STEPS_IN_ITEM_ORDER`), and
# `MARK_FIRING` marks each item's highest. On a province's batch of 50,000 items (115,000
# candidates) the window's sort was 0.15 s of the statement's 0.31 s; unranked, 0.13 s,
# and marking 0.03 s. Without the window SQLite would flatten `fresh` into the join with
# the calendar and plan it as a nested scan (56 s): it stays materialized.
_UNRANKED = {"fresh_hint": "MATERIALIZED ", "rank": "", "fires": "0"}

# The highest step of each item (by position, then repeat: no two alike), fired from the
# escalation's start on: the window's first. The one difference: the window ranks before
# the calendar join, this after it, and the join drops a step scheduled before the
# calendar table's first day. The table starts a quarter before the plan (about 62 working
# days; a ladder's offsets are at least -60), or on the plan's first 1 January when the year
# before is unpublished; only a plan starting in the calendar's first published year could
# have its item's highest step dropped there while a lower step's later repeat is kept.
MARK_FIRING = """
UPDATE eval_step SET fires = 1
WHERE scheduled_on >= :escalation_from
  AND (obligation_id, position, seq) IN (
      SELECT top.obligation_id, top.position,
             (SELECT max(h.seq) FROM eval_step h
              WHERE h.obligation_id = top.obligation_id AND h.position = top.position)
      FROM (SELECT obligation_id, max(position) AS position FROM eval_step GROUP BY obligation_id) top)
"""


def create_steps_sql(dialect: str) -> str:
    """`eval_step` as `decide_steps_sql` fills it for `dialect`."""
    return CREATE_STEPS_IN_ITEM_ORDER if dialect == "sqlite" else CREATE_STEPS


def decide_steps_sql(dialect: str, ladder: str) -> list[str]:
    """The statements deciding a batch's steps into `eval_step`, in order (see above)."""
    if dialect == "sqlite":
        return [_DECIDE_STEPS.format(ladder=ladder, **_UNRANKED), MARK_FIRING]
    return [_DECIDE_STEPS.format(ladder=ladder, **_RANKED)]


RAISE_REMINDERS = """
INSERT INTO reminder (plan_id, obligation_id, level, position, seq, scheduled_on, fired_on,
                      overdue_wd, state, created_at)
SELECT :plan, s.obligation_id, s.level, s.position, s.seq, s.scheduled_on, :as_of, s.overdue_wd, 'pending', :now
FROM eval_step s
WHERE s.fires = 1
ON CONFLICT (obligation_id, level, seq) DO NOTHING
"""

RECORD_SKIPPED = """
INSERT INTO skipped_step (obligation_id, level, seq, position, scheduled_on, fired_on)
SELECT s.obligation_id, s.level, s.seq, s.position, s.scheduled_on, :as_of
FROM eval_step s
WHERE s.fires = 0
ON CONFLICT (obligation_id, level, seq) DO NOTHING
"""

# The steps a night recorded skipped for a plan (the night's summary). Skipped steps carry no
# plan and no index by night: the obligation says whose they are, and a count per night is
# not worth an index written for each of a first night's 185,500 rows.
SKIPPED_ON_NIGHT = """
SELECT COUNT(*) FROM skipped_step k JOIN obligation o ON o.id = k.obligation_id
WHERE o.plan_id = :plan AND k.fired_on = :as_of
"""

# Who each newly raised reminder goes to: `step_roles` is a small inline table of the
# ladder's (level, role) pairs (see `step_roles_sql`), so one statement covers every step.
# CROSS JOIN keeps the night's reminders the outer loop on SQLite (which honours its order):
# with the six-row table outside, it read every reminder fired tonight once per pair (a
# province: 6 × 236,500 rows, 1.7 s against 0.8 s). A role's recipients are per unit
# (contact, head: `unit_id` the item's unit) or plan-wide (`unit_id` '*').
_RECIPIENTS_OF_REMINDERS = """
SELECT r.plan_id, r.id, r.level, rr.recipient_key
FROM reminder r
CROSS JOIN ({{step_roles}}) sr
JOIN obligation o ON o.id = r.obligation_id
JOIN role_recipient rr ON rr.plan_id = r.plan_id AND rr.role = sr.role AND {unit}
WHERE sr.level = r.level AND r.plan_id = :plan AND r.state = 'pending' AND r.fired_on = :as_of
  AND r.obligation_id BETWEEN :lo AND :hi{{in_shard}}
  AND o.id BETWEEN :lo AND :hi  -- said of o too (see RECORD_FLIPS)
"""

# On PostgreSQL, per-unit and plan-wide recipients are two branches, each joining
# `role_recipient` on equalities: one join on `unit_id IN (o.unit_id, '*')` left it a hash on
# the role alone and that test as a filter, every reminder meeting every unit's recipient of
# its role (748,500 rows thrown away per batch of a province). SQLite probes the primary key
# for both values of the IN list, and reading the night's reminders twice costs it more.
_RECIPIENTS = {
    "sqlite": _RECIPIENTS_OF_REMINDERS.format(unit="rr.unit_id IN (o.unit_id, '*')"),
    "postgresql": (_RECIPIENTS_OF_REMINDERS.format(unit="rr.unit_id = o.unit_id") + "UNION ALL"
                   + _RECIPIENTS_OF_REMINDERS.format(unit="rr.unit_id = '*'")),
}

# `{hold_column}`/`{hold_value}` are empty, or HOLD_COLUMN/HOLD_VALUE on a night whose weekly
# audiences wait for the digest day.
_ADD_DELIVERIES = """
INSERT INTO delivery (plan_id, reminder_id, recipient_key, state, attempts{{hold_column}})
SELECT DISTINCT x.plan_id, x.id, x.recipient_key, 'pending', 0{{hold_value}}
FROM ({recipients}) x
WHERE {not_made}
ON CONFLICT (reminder_id, recipient_key) DO NOTHING
"""
# A re-run finds them made (reminders held for a digest stay pending). PostgreSQL skips them
# before inserting, so that it draws no ids for conflicting rows and ids match a single
# run's. SQLite draws no id for a row its conflict clause drops, and its insert probes the
# unique index anyway: a first probe of its own was one per row for nothing on a first
# night (58,500 rows at a province). `WHERE true`: SQLite's upsert after a SELECT needs one.
_NOT_MADE = {
    "postgresql": "NOT EXISTS (SELECT 1 FROM delivery d WHERE d.reminder_id = x.id AND d.recipient_key = x.recipient_key)",
    "sqlite": "true",
}


def add_deliveries_sql(dialect: str) -> str:
    """The night's deliveries of a batch's new reminders, in the faster form for each backend
    (both held equal to the domain rules by the property test); a template of `step_roles`,
    `in_shard`, `hold_column` and `hold_value`."""
    backend = "postgresql" if dialect == "postgresql" else "sqlite"
    return _ADD_DELIVERIES.format(recipients=_RECIPIENTS[backend], not_made=_NOT_MADE[backend])

# Cadence: a delivery raised tonight for a recipient whose every role in the step is a
# weekly audience waits for the digest day (`next_attempt_at`, UTC; `services.digests`). The
# reminder keeps its own `fired_on`; only the message carrying it waits. The night's holds,
# (level, recipient) pairs, sit in a temporary table filled once, and each delivery is
# inserted already waiting: a separate UPDATE rewrote every held row of a batch (PostgreSQL
# also re-checked each row's foreign key), 1.1 s of a province's first night.
CREATE_DIGEST_HOLDS = """
CREATE TEMPORARY TABLE IF NOT EXISTS digest_hold (
    level VARCHAR(64) NOT NULL,
    recipient_key VARCHAR(300) NOT NULL,
    PRIMARY KEY (level, recipient_key)
)"""
CLEAR_DIGEST_HOLDS = "DELETE FROM digest_hold"
FILL_DIGEST_HOLDS = "INSERT INTO digest_hold (level, recipient_key) VALUES (:level, :recipient_key)"
HOLD_COLUMN = ", next_attempt_at"
HOLD_VALUE = """,
       CASE WHEN EXISTS (SELECT 1 FROM digest_hold h WHERE h.level = x.level AND h.recipient_key = x.recipient_key)
            THEN :digest_at END"""


def ladder_sql(steps: list[tuple[str, int, int | None]]) -> tuple[str, dict[str, object]]:
    """The ladder of the plan version in force on the night, as a small inline table of
    (level, position, after, repeat_every): a later version's ladder never re-fires the past."""
    selects, params = [], {}
    for i, (level, after, repeat) in enumerate(steps):
        selects.append(f"SELECT CAST(:ld_level_{i} AS VARCHAR(64)) AS level, CAST(:ld_pos_{i} AS INTEGER) AS position, "
                       f"CAST(:ld_after_{i} AS INTEGER) AS after, CAST(:ld_rep_{i} AS INTEGER) AS repeat_every")
        params.update({f"ld_level_{i}": level, f"ld_pos_{i}": i, f"ld_after_{i}": after, f"ld_rep_{i}": repeat})
    if not selects:
        return ("SELECT CAST(NULL AS VARCHAR(64)) AS level, CAST(NULL AS INTEGER) AS position, "
                "CAST(NULL AS INTEGER) AS after, CAST(NULL AS INTEGER) AS repeat_every WHERE 1 = 0"), {}
    return " UNION ALL ".join(selects), params


def step_roles_sql(pairs: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """A `SELECT … UNION ALL …` of (level, role) pairs, with bound parameters (portable
    across SQLite and PostgreSQL, unlike a VALUES list with column aliases)."""
    selects, params = [], {}
    for i, (level, role) in enumerate(pairs):
        selects.append(f"SELECT :sr_level_{i} AS level, :sr_role_{i} AS role")
        params[f"sr_level_{i}"], params[f"sr_role_{i}"] = level, role
    return " UNION ALL ".join(selects), params


# A role of the step that resolves to nobody for the item's unit (a head with only a phone
# number) is recorded as a dead delivery with the reason, never skipped in silence; its key
# `unreachable:ROLE:UNIT` names no recipient, so nothing ever tries to send it.
UNREACHABLE = """
INSERT INTO delivery (plan_id, reminder_id, recipient_key, state, attempts, last_error)
SELECT DISTINCT r.plan_id, r.id, 'unreachable:' || sr.role || ':' || o.unit_id, 'dead', 0,
       'nobody to receive it: no address for ' || sr.role || ' of unit ' || o.unit_id
FROM reminder r
CROSS JOIN ({step_roles}) sr  -- the reminders outside, as in add_deliveries_sql
JOIN obligation o ON o.id = r.obligation_id
WHERE sr.level = r.level AND r.plan_id = :plan AND r.state = 'pending' AND r.fired_on = :as_of
  AND r.obligation_id BETWEEN :lo AND :hi{in_shard}
  AND o.id BETWEEN :lo AND :hi
  AND NOT EXISTS (SELECT 1 FROM role_recipient rr WHERE rr.plan_id = r.plan_id AND rr.role = sr.role
                  AND rr.unit_id IN (o.unit_id, '*'))
  AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.reminder_id = r.id
                  AND d.recipient_key = 'unreachable:' || sr.role || ':' || o.unit_id)
ON CONFLICT (reminder_id, recipient_key) DO NOTHING
"""

# A raised reminder nobody can receive is recorded as dead, never silently dropped.
NO_RECIPIENT = """
UPDATE reminder SET state = 'dead', note = :note
WHERE plan_id = :plan AND state = 'pending' AND fired_on = :as_of
  AND obligation_id BETWEEN :lo AND :hi{in_shard}
  AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.reminder_id = reminder.id AND d.state <> 'dead')
"""
NO_RECIPIENT_IN_SHARD = f"""
  AND EXISTS (SELECT 1 FROM obligation o WHERE o.id = reminder.obligation_id{IN_SHARD})"""

SNAPSHOT = """
INSERT INTO daily_figure (plan_id, as_of, section_id, light, count, overdue_wd)
SELECT o.plan_id, :as_of, t.section_id, o.light, COUNT(*), SUM(o.overdue_wd)
FROM obligation o JOIN task t ON t.plan_id = o.plan_id AND t.id = o.task_id
WHERE o.plan_id = :plan AND o.active = TRUE AND o.light IS NOT NULL
GROUP BY o.plan_id, t.section_id, o.light
"""

# A reminder's state follows its deliveries: all sent -> sent; any dead -> dead; any failed -> failed.
# Only reminders whose state changes are written: most open reminders of a night keep theirs
# (their deliveries wait for a digest day or a delivery window), and PostgreSQL writes a new
# row version for every row an UPDATE touches, changed or not (a province's first night:
# 51,000 rows rewritten for about 15,000 changes, 1.4 s). Each open reminder's deliveries are
# read once, by a join the planner chooses (a hash join on PostgreSQL for a province's first
# night; an index probe per reminder on SQLite), not by up to four EXISTS probes each (0.6 s
# of that night's delivery on PostgreSQL).
ROLL_UP_REMINDERS = """
UPDATE reminder SET state = rolled.state
FROM (
    SELECT r.id, CASE
        WHEN max(CASE WHEN d.state = 'dead' THEN 1 ELSE 0 END) = 1 THEN 'dead'
        WHEN max(CASE WHEN d.state = 'failed' THEN 1 ELSE 0 END) = 1 THEN 'failed'
        WHEN min(CASE WHEN d.state = 'sent' THEN 1 ELSE 0 END) = 1 THEN 'sent'
        ELSE 'pending' END AS state
    FROM reminder r JOIN delivery d ON d.reminder_id = r.id
    WHERE r.plan_id = :plan AND r.state IN ('pending', 'failed')
    GROUP BY r.id
) rolled
WHERE reminder.id = rolled.id AND reminder.state <> rolled.state
"""
