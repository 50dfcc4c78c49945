"""SQL of the report: one evaluation into a temporary table, then GROUP BY queries over it.

`FILL_ITEMS` evaluates every active obligation of a plan as of a date with the very CTE the
status command and the nightly evaluation use (`store.evaluation_sql.EVALUATED`), so the
report's lights can never differ from theirs. The per-obligation rows stay in the database
(a temporary table of the report's connection); Python reads only aggregates, the bounded
overdue page and the bounded notice.

Parameters: :plan, :as_of, :ord_d, :cal, :lo, :hi as in `evaluation_sql`.
"""

from __future__ import annotations

from plan_tracker.store.evaluation_sql import EVALUATED

ITEMS_TABLE = "report_item"

CREATE_ITEMS = f"""
CREATE TEMPORARY TABLE {ITEMS_TABLE} (
    id INTEGER PRIMARY KEY,
    task_id VARCHAR(128) NOT NULL,
    unit_id VARCHAR(64) NOT NULL,
    section_id VARCHAR(64) NOT NULL,
    period VARCHAR(16) NOT NULL,
    due DATE NOT NULL,
    original_due DATE NOT NULL,
    light VARCHAR(12) NOT NULL,
    status VARCHAR(16),
    progress INTEGER,
    overdue_wd INTEGER NOT NULL,
    done_on DATE,
    first_on DATE,
    last_on DATE,
    expected INTEGER NOT NULL,
    late_open INTEGER NOT NULL,
    done_late INTEGER NOT NULL
)"""

DROP_ITEMS = f"DROP TABLE IF EXISTS {ITEMS_TABLE}"

# expected: due (effective) on or before the as-of date. late_open / done_late compare with
# the ORIGINAL due date: an approved extension changes the light, not the score.
FILL_ITEMS = EVALUATED + f"""
INSERT INTO {ITEMS_TABLE} (id, task_id, unit_id, section_id, period, due, original_due, light,
                           status, progress, overdue_wd, done_on, first_on, last_on, expected,
                           late_open, done_late)
SELECT e.id, e.task_id, e.unit_id, t.section_id, e.period, e.due, e.original_due, e.light,
       e.status, e.progress, e.overdue_wd, e.done_on, e.first_on, e.last_on,
       CASE WHEN e.due <= :as_of THEN 1 ELSE 0 END,
       CASE WHEN e.done_on IS NULL AND :as_of > e.original_due THEN 1 ELSE 0 END,
       CASE WHEN e.done_on IS NOT NULL AND e.done_on > e.original_due THEN 1 ELSE 0 END
FROM evaluated e
JOIN task t ON t.plan_id = :plan AND t.id = e.task_id
"""

# Shared SUM columns: reporting figures and progress of obligations whose period has started
# (a missing progress counts 0, a done item without one counts 100).
_FIGURES = """
    COUNT(*) AS n,
    SUM(overdue_wd) AS overdue_wd,
    MAX(overdue_wd) AS max_overdue_wd,
    SUM(expected) AS expected,
    SUM(CASE WHEN expected = 1 AND first_on IS NOT NULL THEN 1 ELSE 0 END) AS received,
    SUM(CASE WHEN expected = 1 AND first_on <= due THEN 1 ELSE 0 END) AS on_time,
    SUM(CASE WHEN light <> 'pending' THEN 1 ELSE 0 END) AS started,
    SUM(CASE WHEN light = 'pending' THEN 0
             ELSE COALESCE(progress, CASE WHEN light IN ('done', 'done_late') THEN 100 ELSE 0 END)
        END) AS progress_sum,
    SUM(late_open) AS late_open,
    SUM(done_late) AS done_late"""

BY_TASK_LIGHT = f"""
SELECT section_id, task_id, light, {_FIGURES}
FROM {ITEMS_TABLE}
GROUP BY section_id, task_id, light
"""

BY_UNIT_LIGHT = f"""
SELECT unit_id, light, {_FIGURES}
FROM {ITEMS_TABLE}
GROUP BY unit_id, light
"""

# Reminders a unit received up to the as-of date: raised (any delivery state), not skipped.
BY_UNIT_LEVEL = f"""
SELECT i.unit_id, r.level, COUNT(*) AS n
FROM reminder r JOIN {ITEMS_TABLE} i ON i.id = r.obligation_id
WHERE r.plan_id = :plan AND r.fired_on <= :as_of AND r.state <> 'skipped'
GROUP BY i.unit_id, r.level
"""

OVERDUE_PAGE = f"""
SELECT i.id, i.task_id, i.unit_id, i.period, i.due, i.original_due, i.overdue_wd, i.status,
       i.progress, i.last_on
FROM {ITEMS_TABLE} i
WHERE i.light = 'red'
ORDER BY i.due, i.overdue_wd DESC, i.task_id, i.unit_id, i.period
LIMIT :limit OFFSET :offset
"""

OVERDUE_COUNT = f"SELECT COUNT(*) FROM {ITEMS_TABLE} WHERE light = 'red'"

HISTORY = """
SELECT obligation_id, level, position, seq, fired_on, state
FROM reminder
WHERE obligation_id IN ({ids}) AND fired_on <= :as_of
ORDER BY obligation_id, fired_on, position, seq
"""

# The notice: items still red on the as-of date whose top-level step has fired by then.
_AT_TOP = f"""
FROM {ITEMS_TABLE} i JOIN reminder r ON r.obligation_id = i.id
WHERE i.light = 'red' AND r.level = :top AND r.fired_on <= :as_of AND r.state <> 'skipped'"""

NOTICE_UNITS = f"""
SELECT i.unit_id, COUNT(DISTINCT i.id) AS items {_AT_TOP}
GROUP BY i.unit_id
"""

NOTICE_ITEMS = f"""
SELECT i.unit_id, i.task_id, i.period, i.due, i.original_due, i.overdue_wd,
       MIN(r.fired_on) AS first_notified, COUNT(*) AS times {_AT_TOP}
GROUP BY i.unit_id, i.task_id, i.period, i.due, i.original_due, i.overdue_wd
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
    WHERE r.reported_on <= :as_of
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
