"""Set-based evaluation in SQL: each obligation's status, light and overdue working days as
of a date, over the calendar table. Mirrors `domain.lights` (the reference) exactly; a
property test holds the two equal.

Status as of D: the latest report dated on or before D (ties broken by arrival order). It
is done when that report says done; the completion date is the earliest done report since
the last report that was not done (a send-back or a correction reopens the item).

Parameters: :plan, :as_of, :ord_d (ordinal of as_of), :cal (calendar key), :lo, :hi (id range).
"""

from __future__ import annotations

REPORT_STATE = """
ranked AS (
    SELECT r.obligation_id, r.status, r.progress, r.reported_on,
           ROW_NUMBER() OVER (PARTITION BY r.obligation_id
                              ORDER BY r.reported_on DESC, r.id DESC) AS rn
    FROM status_report r
    JOIN obligation o ON o.id = r.obligation_id
    WHERE o.plan_id = :plan AND o.id BETWEEN :lo AND :hi AND r.reported_on <= :as_of
),
latest AS (SELECT obligation_id, status, progress FROM ranked WHERE rn = 1),
reopened AS (
    SELECT obligation_id, MIN(rn) AS rn FROM ranked WHERE status <> 'done' GROUP BY obligation_id
),
completed AS (
    SELECT k.obligation_id, MIN(k.reported_on) AS done_on
    FROM ranked k LEFT JOIN reopened ro ON ro.obligation_id = k.obligation_id
    WHERE k.status = 'done' AND (ro.rn IS NULL OR k.rn < ro.rn)
    GROUP BY k.obligation_id
)"""

EVALUATED = f"""
WITH {REPORT_STATE},
evaluated AS (
    SELECT o.id, o.task_id, o.unit_id, o.period, o.period_start, o.due, o.original_due,
           lt.status, lt.progress, c.done_on, d.wd_ordinal AS due_ord,
           CASE
             WHEN c.done_on IS NOT NULL AND c.done_on <= o.due THEN 'done'
             WHEN c.done_on IS NOT NULL THEN 'done_late'
             WHEN :as_of < o.period_start THEN 'pending'
             WHEN :as_of > o.due THEN 'red'
             WHEN :ord_d >= d.wd_ordinal - o.warn_days THEN 'yellow'
             ELSE 'green'
           END AS light,
           CASE
             WHEN c.done_on IS NULL AND :as_of > o.due THEN :ord_d - d.wd_ordinal
             ELSE 0
           END AS overdue_wd
    FROM obligation o
    JOIN calendar_day d ON d.calendar_key = :cal AND d.day = o.due
    LEFT JOIN latest lt ON lt.obligation_id = o.id
    LEFT JOIN completed c ON c.obligation_id = o.id
    WHERE o.plan_id = :plan AND o.active AND o.id BETWEEN :lo AND :hi
)"""

STATUS_ROWS = EVALUATED + """
SELECT e.id, e.task_id AS task, e.unit_id AS unit, e.period, e.due, e.light, e.status,
       e.progress, e.overdue_wd, t.section_id, t.position
FROM evaluated e JOIN task t ON t.plan_id = :plan AND t.id = e.task_id
ORDER BY t.position, e.period, e.unit_id
"""
