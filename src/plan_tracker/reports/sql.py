"""SQL of the report: one evaluation into a temporary table, then GROUP BY queries over it.

`fill_items_sql` evaluates every active obligation of a plan as of a date with the very CTE
the status command and the nightly evaluation use (`store.evaluation_sql.evaluated_cte`), so
the report's lights can never differ from theirs. The per-obligation rows stay in the
database (a temporary table of the report's connection); Python reads only aggregates, the
bounded overdue page and the bounded notice.

What the 1M profile showed (BENCHMARKS.md): the cost is per obligation, in the database. So
the fill takes the nightly (lighter) form of the evaluation and looks up only what the
figures read, only where they read it: the latest progress of started items and the first
report date of expected items. The latest status and the last report date are read for the
overdue page alone (at most a page of red items). The obligations are grouped once, by
unit, light and task, into a small cell table; the task and unit figures roll up from it
(the units' as one row a unit).

Parameters: :plan, :as_of, :ord_d, :cal, :lo, :hi as in `evaluation_sql`.
"""

from __future__ import annotations

from plan_tracker.reports.model import LIGHTS
from plan_tracker.store.evaluation_sql import evaluated_cte

ITEMS_TABLE = "report_item"
CELLS_TABLE = "report_cell"

CREATE_ITEMS = f"""
CREATE TEMPORARY TABLE {ITEMS_TABLE} (
    id INTEGER PRIMARY KEY,
    task_id VARCHAR(128) NOT NULL,
    unit_id VARCHAR(64) NOT NULL,
    period VARCHAR(16) NOT NULL,
    due DATE NOT NULL,
    original_due DATE NOT NULL,
    light VARCHAR(12) NOT NULL,
    progress INTEGER,
    overdue_wd INTEGER NOT NULL,
    first_on DATE,
    expected INTEGER NOT NULL,
    late_open INTEGER NOT NULL,
    done_late INTEGER NOT NULL
)"""

DROP_ITEMS = f"DROP TABLE IF EXISTS {ITEMS_TABLE}"

# Per obligation, through the (obligation_id, reported_on, id) index, as in evaluation_sql.
_LATEST = """(SELECT r.{col} FROM status_report r
        WHERE r.obligation_id = {ob}.id AND r.reported_on <= :as_of AND r.received_on <= :as_of
        ORDER BY r.reported_on DESC, r.id DESC LIMIT 1)"""
_FIRST_ON = """(SELECT MIN(r.reported_on) FROM status_report r
        WHERE r.obligation_id = e.id AND r.reported_on <= :as_of AND r.received_on <= :as_of)"""
_LAST_ON = """(SELECT MAX(r.reported_on) FROM status_report r
        WHERE r.obligation_id = p.id AND r.reported_on <= :as_of AND r.received_on <= :as_of)"""

# expected: due (effective) on or before the as-of date. late_open / done_late compare with
# the ORIGINAL due date: an approved extension changes the light, not the score.
# progress is read for started items only (the figures count no pending item's progress),
# first_on for expected items only (received and on time count expected items): a pending
# period, most of a plan's year, costs no report lookup. Obligations of tasks the plan no
# longer has stay out, as they did when the items were joined to the task table.
_FILL = f"""
INSERT INTO {ITEMS_TABLE} (id, task_id, unit_id, period, due, original_due, light, progress,
                           overdue_wd, first_on, expected, late_open, done_late)
SELECT e.id, e.task_id, e.unit_id, e.period, e.due, e.original_due, e.light,
       {{progress}},
       e.overdue_wd,
       CASE WHEN e.due <= :as_of THEN {_FIRST_ON} END,
       CASE WHEN e.due <= :as_of THEN 1 ELSE 0 END,
       CASE WHEN e.done_on IS NULL AND :as_of > e.original_due THEN 1 ELSE 0 END,
       CASE WHEN e.done_on IS NOT NULL AND e.done_on > e.original_due THEN 1 ELSE 0 END
FROM evaluated e
WHERE e.task_id IN (SELECT t.id FROM task t WHERE t.plan_id = :plan)
"""


_PROGRESS = f"CASE WHEN e.light <> 'pending' THEN {_LATEST.format(col='progress', ob='e')} END"


def fill_items_sql(dialect: str, *, history: bool = False, progress: bool = True) -> str:
    """The report's evaluation into the items table, in the form the nightly run uses on
    each backend (the completion date windowed on PostgreSQL, looked up on SQLite);
    `history`: the obligations' terms as of the date (see `evaluation_sql.OBLIGATIONS_AS_OF`);
    `progress`: look up every started item's latest progress (the week's report in a
    message reads it for its listed items only, `OVERDUE_PAGE_LOOKED_UP`)."""
    fill = _FILL.format(progress=_PROGRESS if progress else "CAST(NULL AS INTEGER)")
    return evaluated_cte(full=False, windowed=dialect == "postgresql", history=history) + fill


# The cells: obligations per unit, light and task, with the sums every figure is made of
# (reporting figures and progress of obligations whose period has started; a missing
# progress counts 0, a done item without one counts 100). One pass over the items.
CREATE_CELLS = f"""
CREATE TEMPORARY TABLE {CELLS_TABLE} (
    unit_id VARCHAR(64) NOT NULL,
    light VARCHAR(12) NOT NULL,
    task_id VARCHAR(128) NOT NULL,
    n INTEGER NOT NULL,
    overdue_wd INTEGER NOT NULL,
    max_overdue_wd INTEGER NOT NULL,
    expected INTEGER NOT NULL,
    received INTEGER NOT NULL,
    on_time INTEGER NOT NULL,
    started INTEGER NOT NULL,
    progress_sum INTEGER NOT NULL,
    late_open INTEGER NOT NULL,
    done_late INTEGER NOT NULL
)"""

DROP_CELLS = f"DROP TABLE IF EXISTS {CELLS_TABLE}"

FILL_CELLS = f"""
INSERT INTO {CELLS_TABLE} (unit_id, light, task_id, n, overdue_wd, max_overdue_wd, expected, received,
                           on_time, started, progress_sum, late_open, done_late)
SELECT unit_id, light, task_id,
    COUNT(*),
    SUM(overdue_wd),
    MAX(overdue_wd),
    SUM(expected),
    SUM(CASE WHEN expected = 1 AND first_on IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN expected = 1 AND first_on <= due THEN 1 ELSE 0 END),
    SUM(CASE WHEN light <> 'pending' THEN 1 ELSE 0 END),
    SUM(CASE WHEN light = 'pending' THEN 0
             ELSE COALESCE(progress, CASE WHEN light IN ('done', 'done_late') THEN 100 ELSE 0 END)
        END),
    SUM(late_open),
    SUM(done_late)
FROM {ITEMS_TABLE}
GROUP BY unit_id, light, task_id
"""

# PostgreSQL: the cells' hash aggregate (283k groups for 1M obligations) spills to disk under
# the default 4 MB of work memory (1.4 s at 1M; 0.7 s with 64 MB). For the report's own
# transaction only.
REPORT_WORK_MEM = "SET LOCAL work_mem = '64MB'"

# Sums of sums (and the maximum of maxima) of the cells: the same figures as grouping the
# items themselves.
_ROLL_UP = """
    SUM(c.n) AS n,
    SUM(c.overdue_wd) AS overdue_wd,
    MAX(c.max_overdue_wd) AS max_overdue_wd,
    SUM(c.expected) AS expected,
    SUM(c.received) AS received,
    SUM(c.on_time) AS on_time,
    SUM(c.started) AS started,
    SUM(c.progress_sum) AS progress_sum,
    SUM(c.late_open) AS late_open,
    SUM(c.done_late) AS done_late"""

# Grouped first, then joined to the task table for the section (a few dozen rows to join,
# not every cell). A task belongs to one section, so the groups are those of
# (section, task, light).
BY_TASK_LIGHT = f"""
SELECT t.section_id, g.*
FROM (SELECT c.task_id, c.light, {_ROLL_UP}
      FROM {CELLS_TABLE} c
      GROUP BY c.task_id, c.light) g
JOIN task t ON t.plan_id = :plan AND t.id = g.task_id
"""

# One row a unit (14k rows for 1M obligations, not one a unit and light): obligations per
# light, the red items' working days overdue, and the unit's reporting and scoring sums.
_PER_LIGHT = ",\n".join(f"    SUM(CASE WHEN c.light = '{light}' THEN c.n ELSE 0 END) AS n_{light}" for light in LIGHTS)

BY_UNIT = f"""
SELECT c.unit_id,
{_PER_LIGHT},
    SUM(CASE WHEN c.light = 'red' THEN c.overdue_wd ELSE 0 END) AS red_overdue_wd,
    MAX(CASE WHEN c.light = 'red' THEN c.max_overdue_wd ELSE 0 END) AS red_max_overdue_wd,
    SUM(c.expected) AS expected,
    SUM(c.received) AS received,
    SUM(c.on_time) AS on_time,
    SUM(CASE WHEN c.light IN ('done', 'done_late') THEN c.expected ELSE 0 END) AS completed,
    SUM(CASE WHEN c.light = 'done' THEN c.expected ELSE 0 END) AS done_on_time,
    SUM(c.late_open) AS late_open,
    SUM(c.done_late) AS done_late
FROM {CELLS_TABLE} c
GROUP BY c.unit_id
"""

# Reminders a unit received up to the as-of date: raised, in any delivery state (skipped steps
# are not reminders: they live in `skipped_step`).
BY_UNIT_LEVEL = f"""
SELECT i.unit_id, r.level, COUNT(*) AS n
FROM reminder r JOIN {ITEMS_TABLE} i ON i.id = r.obligation_id
WHERE r.plan_id = :plan AND r.fired_on <= :as_of
GROUP BY i.unit_id, r.level
"""

# Levels read only by weekly audiences count an item once per digest period: the days such
# levels fired on, each given its period in Python (the calendar decides a digest's day),
# then the distinct (item, period) pairs counted per unit and level in SQL. Reading every
# firing into Python instead grew with the year: a province adds 43,500 a week.
DIGEST_DAYS_TABLE = "report_digest_day"
CREATE_DIGEST_DAYS = f"CREATE TEMPORARY TABLE {DIGEST_DAYS_TABLE} (day DATE PRIMARY KEY, period VARCHAR(10) NOT NULL)"
DROP_DIGEST_DAYS = f"DROP TABLE IF EXISTS {DIGEST_DAYS_TABLE}"
FILL_DIGEST_DAY = f"INSERT INTO {DIGEST_DAYS_TABLE} (day, period) VALUES (:day, :period)"

WEEKLY_LEVEL_DAYS = """
SELECT DISTINCT r.fired_on
FROM reminder r
WHERE r.plan_id = :plan AND r.fired_on <= :as_of AND r.level IN :levels
"""

WEEKLY_LEVEL_ONCE_PER_PERIOD = f"""
SELECT x.unit_id, x.level, COUNT(*) AS n
FROM (
    SELECT DISTINCT i.unit_id, r.level, r.obligation_id, d.period
    FROM reminder r JOIN {ITEMS_TABLE} i ON i.id = r.obligation_id
    JOIN {DIGEST_DAYS_TABLE} d ON d.day = r.fired_on
    WHERE r.plan_id = :plan AND r.fired_on <= :as_of AND r.level IN :levels
) x
GROUP BY x.unit_id, x.level
"""

# The page first (ORDER BY … LIMIT on the items), then the latest status and the last report
# date of its items alone.
def _overdue_page(progress: str) -> str:
    return f"""
SELECT p.id, p.task_id, p.unit_id, p.period, p.due, p.original_due, p.overdue_wd,
       {_LATEST.format(col="status", ob="p")} AS status,
       {progress} AS progress, {_LAST_ON} AS last_on
FROM (
    SELECT i.id, i.task_id, i.unit_id, i.period, i.due, i.original_due, i.overdue_wd, i.progress
    FROM {ITEMS_TABLE} i
    WHERE i.light = 'red'
    ORDER BY i.due, i.overdue_wd DESC, i.task_id, i.unit_id, i.period
    LIMIT :limit OFFSET :offset
) p
ORDER BY p.due, p.overdue_wd DESC, p.task_id, p.unit_id, p.period
"""


OVERDUE_PAGE = _overdue_page("p.progress")
# The same page from items filled without progress (`fill_items_sql(progress=False)`).
OVERDUE_PAGE_LOOKED_UP = _overdue_page(_LATEST.format(col="progress", ob="p"))

OVERDUE_COUNT = f"SELECT COUNT(*) FROM {ITEMS_TABLE} WHERE light = 'red'"

# The week's report in a message: the summary's figures straight from the items, one row a
# light (the same sums as the cells' task rows roll up to).
WEEKLY_BY_LIGHT = f"""
SELECT light, COUNT(*) AS n, SUM(overdue_wd) AS overdue_wd, SUM(expected) AS expected,
    SUM(CASE WHEN expected = 1 AND first_on IS NOT NULL THEN 1 ELSE 0 END) AS received,
    SUM(CASE WHEN expected = 1 AND first_on <= due THEN 1 ELSE 0 END) AS on_time
FROM {ITEMS_TABLE}
GROUP BY light
"""

# The notice: items still red on the as-of date whose top-level step has fired by then.
_AT_TOP = f"""
FROM {ITEMS_TABLE} i JOIN reminder r ON r.obligation_id = i.id
WHERE i.light = 'red' AND r.level = :top AND r.fired_on <= :as_of"""

NOTICE_UNITS = f"""
SELECT i.unit_id, COUNT(DISTINCT i.id) AS items {_AT_TOP}
GROUP BY i.unit_id
"""

NOTICE_ITEMS = f"""
SELECT i.id, i.unit_id, i.task_id, i.period, i.due, i.original_due, i.overdue_wd,
       MIN(r.fired_on) AS first_notified, COUNT(*) AS times {_AT_TOP}
GROUP BY i.id, i.unit_id, i.task_id, i.period, i.due, i.original_due, i.overdue_wd
ORDER BY i.due, i.unit_id, i.task_id, i.period
LIMIT :limit
"""

# Indicator values: each obligation's latest numeric value per indicator (reports dated on
# or before the as-of date), aggregated per task, indicator and period, with the count that
# meets its target. The JSON functions differ per dialect; the rest is shared.
_JSON = {
    "sqlite": {
        "from": "json_each(r.indicator_values) AS j",
        "value": "CASE WHEN j.type IN ('integer', 'real') THEN CAST(j.value AS DOUBLE PRECISION) END",
    },
    "postgresql": {
        "from": "json_each(r.indicator_values) AS j",
        "value": ("CASE WHEN json_typeof(j.value) = 'number' "
                  "THEN CAST(j.value #>> '{}' AS DOUBLE PRECISION) END"),
    },
}

INDICATORS = """
WITH targets (task_id, ind, target, dir) AS ({targets}),
vals AS (
    SELECT i.id, i.task_id, i.period, j.key AS ind, {value} AS value, r.reported_on, r.id AS rid
    FROM status_report r JOIN """ + ITEMS_TABLE + """ i ON i.id = r.obligation_id, {json_from}
    WHERE r.reported_on <= :as_of AND r.received_on <= :as_of
),
ranked_vals AS (
    SELECT v.*, ROW_NUMBER() OVER (PARTITION BY v.id, v.ind ORDER BY v.reported_on DESC, v.rid DESC) AS rn
    FROM vals v JOIN targets t ON t.task_id = v.task_id AND t.ind = v.ind
    WHERE v.value IS NOT NULL
)
SELECT l.task_id, l.ind, l.period, COUNT(*) AS n, SUM(l.value) AS total,
       SUM(CASE WHEN t.target IS NULL THEN 0
                WHEN t.dir = 'at_least' AND l.value >= t.target THEN 1
                WHEN t.dir = 'at_most' AND l.value <= t.target THEN 1
                ELSE 0 END) AS met
FROM ranked_vals l JOIN targets t ON t.task_id = l.task_id AND t.ind = l.ind
WHERE l.rn = 1
GROUP BY l.task_id, l.ind, l.period
"""

_TARGET_ROW = ("SELECT CAST(:tk{n} AS VARCHAR(128)), CAST(:ik{n} AS VARCHAR(64)), "
               "CAST(:tg{n} AS DOUBLE PRECISION), CAST(:dr{n} AS VARCHAR(10))")
_NO_TARGETS = ("SELECT CAST(NULL AS VARCHAR(128)), CAST(NULL AS VARCHAR(64)), "
               "CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS VARCHAR(10)) WHERE 1 = 0")


def indicators_sql(dialect: str, count: int) -> str:
    """The indicator query for a dialect with `count` (task, indicator) target rows."""
    parts = _JSON.get(dialect, _JSON["sqlite"])
    targets = " UNION ALL ".join(_TARGET_ROW.format(n=n) for n in range(count)) or _NO_TARGETS
    return INDICATORS.format(targets=targets, value=parts["value"], json_from=parts["from"])


TREND = """
SELECT as_of,
       SUM(CASE WHEN light = 'red' THEN count ELSE 0 END) AS red,
       SUM(CASE WHEN light = 'yellow' THEN count ELSE 0 END) AS yellow,
       SUM(overdue_wd) AS overdue_wd
FROM daily_figure
WHERE plan_id = :plan AND as_of >= :first AND as_of <= :as_of
GROUP BY as_of
ORDER BY as_of
"""

PREVIOUS_SNAPSHOT = """
SELECT MAX(as_of) FROM daily_figure WHERE plan_id = :plan AND as_of < :as_of
"""

SNAPSHOT_ON_OR_BEFORE = """
SELECT MAX(as_of) FROM daily_figure WHERE plan_id = :plan AND as_of <= :as_of
"""

SNAPSHOT_ON = """
SELECT light, SUM(count) AS n FROM daily_figure WHERE plan_id = :plan AND as_of = :day GROUP BY light
"""
