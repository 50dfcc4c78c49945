"""Wording of the reports in Chinese (default) and English, and small formatters.

Renderers take every visible word from here so a report reads in one language throughout.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from plan_tracker.domain.vocabulary import lights, reminder_states, statuses

LIGHT_COLOURS = {
    "red": "#d9363e", "yellow": "#f0a020", "green": "#3aa757",
    "pending": "#b4bcc8", "done": "#2f7ed8", "done_late": "#8e5ea2",
}
CJK_FONTS = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
             '"WenQuanYi Micro Hei", sans-serif')

_ZH: dict[str, Any] = {
    "lights": lights("zh"),
    "trend": {"better": "向好", "worse": "变差", "steady": "持平", "unknown": "—"},
    "direction": {"at_least": "不低于", "at_most": "不高于"},
    "status": statuses("zh"),
    "states": reminder_states("zh"),
    "report_title": "督查督办情况报告",
    "as_of": "截至",
    "issued_by": "编制单位",
    "summary": "总体情况",
    "total": "任务事项",
    "expected": "应报",
    "received": "已报",
    "on_time_reports": "按时报送",
    "reporting_rate": "报送率",
    "timeliness": "及时率",
    "completion_rate": "完成率",
    "on_time_rate": "按期完成率",
    "overdue_items": "逾期事项",
    "overdue_wd": "逾期工作日",
    "max_overdue_wd": "最长逾期（工作日）",
    "change": "较上期变化",
    "change_since": "与 {day} 相比",
    "no_previous": "无上期数据",
    "reminders": "催办次数",
    "charts": "图表",
    "chart_lights": "各领域任务亮灯情况",
    "chart_reporting": "各单位报送率与及时率",
    "chart_trend": "全年红灯、黄灯数量走势",
    "chart_indicators": "指标完成情况（占目标值 %）",
    "by_section": "分领域情况",
    "by_task": "分任务情况",
    "by_unit": "分单位情况与考核评分",
    "section": "领域",
    "task": "任务",
    "unit": "单位",
    "progress": "平均进度",
    "score": "考核评分",
    "deductions": "扣分明细",
    "late_open": "超原定时限未完成",
    "done_late": "超原定时限完成",
    "indicators": "指标完成情况",
    "indicator": "指标",
    "target": "目标值",
    "actual": "平均值",
    "sum": "合计",
    "met": "达标数",
    "gap": "差距",
    "trend_word": "趋势",
    "reported": "填报数",
    "overdue_list": "逾期事项清单（按时限先后）",
    "extended": "延期",
    "adjusted_was": "计划调整，原 {day}",
    "withdrawn": "撤销及不再跟踪的事项",
    "withdrawn_kind": {"task": "任务", "unit": "单位"},
    "withdrawn_from": "自",
    "withdrawn_reason": "原因",
    "left_out": "计划第 {version} 版未列入",
    "plan_version": "计划版本",
    "period": "期间",
    "due": "完成时限",
    "original_due": "原定时限",
    "status_word": "状态",
    "light_word": "亮灯",
    "progress_word": "进度",
    "last_report": "最近报送",
    "reminder_history": "催办记录",
    "none": "无",
    "more_items": "另有 {n} 项未列出",
    "showing": "第 {first}–{last} 项，共 {total} 项",
    "blocked_list": "受阻事项（催办暂停，待督查办决定）",
    "blocked_since": "报告受阻日期",
    "blocked_reason": "受阻原因",
    "notice": "通报",
    "notice_units": "被通报单位",
    "notice_none": "截至本期，没有达到通报级别的逾期事项。",
    "first_notified": "首次通报",
    "times": "通报次数",
    "latest": "最近",
    "period_once": "一次性任务",
    "footer": "本报告由 plan-tracker 根据各单位报送情况自动生成。",
    "weekly_subject": "【督查督办周报】{title}（截至{day}）",
    "definitions": ("说明：应报为完成时限在截止日前（含）的事项；报送率＝已报÷应报；及时率＝首次报送在完成时限前（含）的事项÷应报；"
                    "完成率＝已完成÷应报；按期完成率＝按期完成÷应报。考核评分以原定时限计，延期不免扣分。"),
}

_EN: dict[str, Any] = {
    "lights": lights("en"),
    "trend": {"better": "better", "worse": "worse", "steady": "steady", "unknown": "—"},
    "direction": {"at_least": "at least", "at_most": "at most"},
    "status": statuses("en"),
    "states": reminder_states("en"),
    "report_title": "Follow-up status report",
    "as_of": "As of",
    "issued_by": "Issued by",
    "summary": "Summary",
    "total": "Obligations",
    "expected": "Expected",
    "received": "Received",
    "on_time_reports": "On time",
    "reporting_rate": "Reporting rate",
    "timeliness": "Timeliness",
    "completion_rate": "Completion rate",
    "on_time_rate": "On-time rate",
    "overdue_items": "Overdue items",
    "overdue_wd": "Working days overdue",
    "max_overdue_wd": "Longest overdue (wd)",
    "change": "Change",
    "change_since": "since {day}",
    "no_previous": "no earlier snapshot",
    "reminders": "Reminders",
    "charts": "Charts",
    "chart_lights": "Lights by area",
    "chart_reporting": "Reporting rate and timeliness by unit",
    "chart_trend": "Red and yellow over the year",
    "chart_indicators": "Indicators against targets (% of target)",
    "by_section": "By area",
    "by_task": "By task",
    "by_unit": "By unit, with scores",
    "section": "Area",
    "task": "Task",
    "unit": "Unit",
    "progress": "Mean progress",
    "score": "Score",
    "deductions": "Deductions",
    "late_open": "Open past original deadline",
    "done_late": "Done past original deadline",
    "indicators": "Indicators",
    "indicator": "Indicator",
    "target": "Target",
    "actual": "Mean",
    "sum": "Total",
    "met": "Met",
    "gap": "Gap",
    "trend_word": "Trend",
    "reported": "Reported",
    "overdue_list": "Overdue items, oldest first",
    "extended": "extended",
    "adjusted_was": "plan adjustment, was {day}",
    "withdrawn": "Withdrawn and no longer tracked",
    "withdrawn_kind": {"task": "task", "unit": "unit"},
    "withdrawn_from": "from",
    "withdrawn_reason": "reason",
    "left_out": "left out of plan version {version}",
    "plan_version": "plan version",
    "period": "Period",
    "due": "Due",
    "original_due": "Original due",
    "status_word": "Status",
    "light_word": "Light",
    "progress_word": "Progress",
    "last_report": "Last report",
    "reminder_history": "Reminders",
    "none": "none",
    "more_items": "{n} more not listed",
    "showing": "items {first}–{last} of {total}",
    "blocked_list": "Blocked items (escalation paused until the coordinator decides)",
    "blocked_since": "Blocked since",
    "blocked_reason": "Reason",
    "notice": "Accountability notice",
    "notice_units": "Units named",
    "notice_none": "No overdue item has reached the notice level.",
    "first_notified": "First notified",
    "times": "Times",
    "latest": "latest",
    "period_once": "one-off",
    "footer": "Generated by plan-tracker from the units' status reports.",
    "weekly_subject": "[Weekly follow-up report] {title} (as of {day})",
    "definitions": ("Expected: items due on or before the as-of date. Reporting rate = received / expected; "
                    "timeliness = items whose first report is dated on or before the due date / expected; "
                    "completion rate = done / expected; on-time rate = done on time / expected. Scores count "
                    "the original deadline even after an extension."),
}


def labels(locale: str) -> dict[str, Any]:
    return _EN if locale == "en" else _ZH


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(int(value))


def signed(value: int | None) -> str:
    return "—" if value is None else f"{value:+d}"


def long_date(day: dt.date, locale: str) -> str:
    return day.isoformat() if locale == "en" else f"{day.year}年{day.month}月{day.day}日"


def period_text(period: str, locale: str) -> str:
    return labels(locale)["period_once"] if period == "once" else period
