"""What `plan preview` says, in the plan's locale: one catalogue of message ids.

Coordinators send the preview round before a plan is adopted, so its sentences follow
`plan.locale` (Chinese by default, English for `locale: en`). The domain's preview holds
facts (`Reason`, `DueRule`, `DayNote`, `StepDate`); this module words them. Templates are
`str.format` strings with named fields; English keeps the sentences the preview has always
written.
"""

from __future__ import annotations

from typing import Any

from plan_tracker.domain.preview import DayNote, DueRule, Reason, StepDate
from plan_tracker.wording import DEFAULT_LOCALE, for_locale

WEEKDAYS = {
    "zh": ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

MESSAGES: dict[str, dict[str, str]] = {
    # -- what a day is (DayNote) ----------------------------------------------------------------
    "day.working": {"zh": "工作日", "en": "a working day"},
    "day.plan_workday": {"zh": "{weekday}，但计划日历定为工作日", "en": "a {weekday} but a working day in the plan's calendar"},
    "day.adjusted_for": {"zh": "{weekday}，但为{holiday}调休上班日",
                         "en": "a {weekday} but an adjusted working day (调休, {holiday})"},
    "day.adjusted": {"zh": "{weekday}，但为调休上班日", "en": "a {weekday} but an adjusted working day (调休)"},
    "day.plan_holiday": {"zh": "计划日历规定的休息日", "en": "a holiday in the plan's calendar"},
    "day.holiday": {"zh": "{holiday}假期", "en": "a holiday ({holiday})"},
    "day.weekend": {"zh": "{weekday}", "en": "a {weekday}"},
    "day.off": {"zh": "非工作日", "en": "not a working day"},
    # -- why a due date is what it is (Reason) ----------------------------------------------------
    "reason.rolled": {"zh": "{written} 为{what}，顺延至下一个工作日 {due}",
                      "en": "{written} is {what} — rolled forward to the next working day"},
    "reason.rolled_onto": {"zh": "{written} 为{what}，顺延至下一个工作日 {due}（{landed}）",
                           "en": "{written} is {what} — rolled forward to the next working day, {due}, {landed}"},
    "reason.stays": {"zh": "{written} 为{what}，完成时限不变", "en": "{written} is {what} — the deadline stays"},
    "reason.skips": {"zh": "跳过 {first}（{what}）", "en": "skips {first}, {what}"},
    "reason.skips_run": {"zh": "跳过 {first} 至 {last}（{what}）", "en": "skips {first} – {last}, {what}"},
    "reason.counts": {"zh": "{day} 计为工作日（{what}）", "en": "counts {day}, {what}"},
    "reason.lands": {"zh": "{due} 为{what}", "en": "{due} is {what}"},
    # -- how the due date follows from the plan (DueRule) ----------------------------------------------
    "rule.due": {"zh": "计划时限 {due}", "en": "due {due}"},
    "rule.last_day": {"zh": "{period} 最后一天（{end}）", "en": "last day of {period} ({end})"},
    "rule.after": {"zh": "{period} 最后一天（{end}）后第 {shift} 个工作日",
                   "en": "{shift} working day{plural} after {end}, the last day of {period}"},
    # -- escalation steps (StepDate, LadderColumn) -------------------------------------------------------
    "offset.before": {"zh": "时限前{days}个工作日", "en": "{signed} wd"},
    "offset.on": {"zh": "时限当日", "en": "{signed} wd"},
    "offset.after": {"zh": "时限后{days}个工作日", "en": "{signed} wd"},
    "step.repeat": {"zh": "，此后每{days}个工作日一次", "en": ", then every {days} wd"},
    "step.uncovered": {"zh": "{calendar} 工作日历尚无 {year} 年的安排", "en": "the {calendar} calendar has no schedule for {year}"},
    "step.when_uncovered": {"zh": "—（{note}）", "en": "— ({note})"},
    "step.header": {"zh": "{wording}\n{offset}{repeat}", "en": "{wording} {level}\n{offset}{repeat}"},
    "step.small": {"zh": "{offset}{repeat}", "en": "{level} {offset}{repeat}"},
    "step.line": {"zh": "{wording}（{offset}）：{when}", "en": "{wording} {level} ({offset}): {when}"},
    # -- the whole preview ----------------------------------------------------------------------------
    "summary": {
        "zh": "计划 {plan}（{title}），{start} 至 {end}，工作日历 {calendar}：{scope}督办事项 {count} 项，"
              "因非工作日顺延 {moved} 项",
        "en": "plan {plan} ({title}), {start} to {end}, calendar {calendar}: {scope}{count} obligation(s), "
              "{moved} due date(s) rolled forward off a non-working day"},
    "summary.scope": {"zh": "单位 {unit}：", "en": "unit {unit}: "},
    "empty": {"zh": "计划 {plan}：没有督办事项", "en": "plan {plan}: no obligations"},
    "empty.unit": {"zh": "计划 {plan}：单位 {unit} 没有督办事项", "en": "plan {plan}: no obligations for unit {unit}"},
    "wrote": {"zh": "已写入 {path}：督办事项 {count} 项", "en": "wrote {path}: {count} obligation(s)"},
    # -- table and page headers -------------------------------------------------------------------------
    "col.task": {"zh": "任务", "en": "Task"},
    "col.unit": {"zh": "单位", "en": "Unit"},
    "col.lead": {"zh": "牵头单位", "en": "Lead unit"},
    "col.period": {"zh": "周期", "en": "Period"},
    "col.due": {"zh": "完成时限", "en": "Due"},
    "col.why": {"zh": "计算依据与说明", "en": "How the due date is set"},
    # -- iCalendar --------------------------------------------------------------------------------------
    "ics.task": {"zh": "任务：{task} {title}", "en": "Task: {task} {title}"},
    "ics.unit": {"zh": "单位：{unit} {name}", "en": "Unit: {unit} {name}"},
    "ics.period": {"zh": "周期：{period}", "en": "Period: {period}"},
    "ics.period_dates": {"zh": "周期：{period}（{start} 至 {end}）", "en": "Period: {period} ({start} – {end})"},
    "ics.due": {"zh": "完成时限：{due}（{rule}）", "en": "Due: {due} ({rule})"},
    "ics.summary": {"zh": "完成时限：{title}（{unit}）", "en": "Due: {title} ({unit})"},
    "ics.summary_period": {"zh": "完成时限：{title}（{unit}，{period}）", "en": "Due: {title} ({unit}, {period})"},
    "ics.calendar": {"zh": "{title}（{plan}）", "en": "{title} ({plan})"},
    # -- HTML -------------------------------------------------------------------------------------------
    "html.title": {"zh": "计划预览 — {title}", "en": "Plan preview — {title}"},
    "html.heading": {"zh": "计划预览：{title}", "en": "Plan preview: {title}"},
    "html.meta": {
        "zh": "计划编号 {plan} · {start} 至 {end} · 工作日历 {calendar}{scope} · 督办事项 {count} 项 · "
              "因非工作日顺延 {moved} 项",
        "en": "plan {plan} · {start} to {end} · calendar {calendar}{scope} · {count} obligation(s) · "
              "{moved} due date(s) rolled forward off a non-working day"},
    "html.scope": {"zh": " · 单位 {unit}", "en": " · unit {unit}"},
    "html.empty": {"zh": "没有督办事项", "en": "no obligations"},
}


def word(id: str, locale: str = DEFAULT_LOCALE, **fields: Any) -> str:
    """The message `id` in `locale` (unknown locales get the default), its fields filled in."""
    return for_locale(MESSAGES[id], locale).format_map(fields)


def day_text(note: DayNote, locale: str = DEFAULT_LOCALE) -> str:
    """What a day is: `国庆节假期`, `星期日，但为国庆节调休上班日`, `a holiday (国庆节)`."""
    weekday = for_locale(WEEKDAYS, locale)[note.day.weekday()]
    if note.working:
        if not note.weekend:
            return word("day.working", locale)
        if note.source == "plan":
            return word("day.plan_workday", locale, weekday=weekday)
        if note.holiday:
            return word("day.adjusted_for", locale, weekday=weekday, holiday=note.holiday)
        return word("day.adjusted", locale, weekday=weekday)
    if note.source == "plan":
        return word("day.plan_holiday", locale)
    if note.holiday:
        return word("day.holiday", locale, holiday=note.holiday)
    return word("day.weekend", locale, weekday=weekday) if note.weekend else word("day.off", locale)


def reason_text(reason: Reason, locale: str = DEFAULT_LOCALE) -> str:
    what = day_text(reason.note, locale)
    day = reason.note.day
    if reason.kind == "rolled":
        if reason.landed is not None:
            return word("reason.rolled_onto", locale, written=day, what=what, due=reason.due,
                        landed=day_text(reason.landed, locale))
        return word("reason.rolled", locale, written=day, what=what, due=reason.due)
    if reason.kind == "stays":
        return word("reason.stays", locale, written=day, what=what)
    if reason.kind == "skips":
        if reason.until is not None and reason.until != day:
            return word("reason.skips_run", locale, first=day, last=reason.until, what=what)
        return word("reason.skips", locale, first=day, what=what)
    if reason.kind == "counts":
        return word("reason.counts", locale, day=day, what=what)
    return word("reason.lands", locale, due=day, what=what)


def rule_text(rule: DueRule, locale: str = DEFAULT_LOCALE) -> str:
    if rule.kind == "due":
        return word("rule.due", locale, due=rule.written)
    if rule.kind == "last_day":
        return word("rule.last_day", locale, period=rule.period, end=rule.written)
    return word("rule.after", locale, shift=rule.shift, plural="s" if rule.shift > 1 else "", end=rule.written,
                period=rule.period)


def offset_text(after: int, locale: str = DEFAULT_LOCALE) -> str:
    """A step's offset from the due date: `时限前3个工作日` / `-3 wd`."""
    kind = "offset.before" if after < 0 else "offset.after" if after > 0 else "offset.on"
    return word(kind, locale, days=abs(after), signed=f"{after:+d}" if after else "0")


def repeat_text(repeat_every: int | None, locale: str = DEFAULT_LOCALE) -> str:
    return word("step.repeat", locale, days=repeat_every) if repeat_every else ""


def when_text(step: StepDate, locale: str = DEFAULT_LOCALE) -> str:
    """When a step first fires (and how often after), or why the calendar cannot say."""
    if step.on is None:
        return word("step.when_uncovered", locale, note=uncovered_text(step, locale) or "")
    return step.on.isoformat() + repeat_text(step.repeat_every, locale)


def uncovered_text(step: StepDate, locale: str = DEFAULT_LOCALE) -> str | None:
    if step.uncovered is None:
        return None
    calendar, year = step.uncovered
    return word("step.uncovered", locale, calendar=calendar, year=year)
