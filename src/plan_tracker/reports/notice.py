"""通报: the accountability notice as a document (HTML to print, XLSX to edit).

It names the units with items that are still open on the as-of date and have reached the
top step of the escalation ladder (see `Notice`). The wording follows the usual shape of a
government notice: title 关于……的通报, salutation, the facts, the list, the requirements,
signature and date. English plans get the same document in English.
"""

from __future__ import annotations

from dataclasses import dataclass

from plan_tracker.domain.vocabulary import status_word
from plan_tracker.reports.labels import long_date, period_text
from plan_tracker.reports.model import NoticeItem, Report
from plan_tracker.reports.templating import environment
from plan_tracker.reports.workbook import ReportWorkbook

_NUMERALS = "一二三四五六七八九十"


@dataclass(frozen=True)
class NoticeDocument:
    title: str
    salutation: str
    opening: list[str]
    heading_items: str
    columns: list[str]
    rows: list[list[str | int]]
    truncated: str
    heading_requirements: str
    requirements: list[str]
    date: str


def unit_words(item: NoticeItem, locale: str) -> str:
    """The unit's latest report on a notified item, in one cell: status, progress, date, note."""
    if item.status is None or item.reported_on is None:
        return "尚未报送" if locale != "en" else "no report"
    parts = [status_word(item.status, locale) + (f" {item.progress}%" if item.progress is not None else ""),
             item.reported_on.isoformat()]
    if item.note:
        parts.append(item.note)
    return ("；" if locale != "en" else "; ").join(parts)


def notice_document(report: Report, *, rectify_days: int = 5) -> NoticeDocument:
    """The words of the notice, ready for either rendering."""
    n = report.notice
    units = len(n.units)
    after = n.level.after if n.level else 0
    lower = [lv.wording for lv in report.levels[:-1]]
    rows: list[list[str | int]] = [
        [index, u.unit_name, i.task_title, period_text(i.period, report.locale), i.original_due.isoformat(),
         i.overdue_wd, i.first_notified.isoformat(), unit_words(i, report.locale)]
        for index, (u, i) in enumerate(((u, i) for u in n.units for i in u.items), start=1)
    ]
    if report.locale == "en":
        return NoticeDocument(
            title=f"Notice on overdue items of “{report.plan_title}”",
            salutation="To all units concerned:",
            opening=[
                (f"As of {report.as_of.isoformat()}, {n.item_total} item(s) of {units} unit(s) remained "
                 f"undone more than {after} working days after their deadline despite "
                 f"{', '.join(lower) or 'reminders'}. They are hereby notified.")
                if units else f"As of {report.as_of.isoformat()}, no overdue item has reached the notice level.",
            ],
            heading_items="I. Units and items notified",
            columns=["No.", "Unit", "Task", "Period", "Original deadline", "Working days overdue", "First notified",
                     "Unit's latest report"],
            rows=rows,
            truncated=f"{n.item_total - len(rows)} more item(s) not listed.",
            heading_requirements="II. Requirements",
            requirements=[
                f"1. The units notified complete the items within {rectify_days} working days of this notice "
                f"and report the rectification in writing to {report.coordinator_name}.",
                "2. A unit notified again is reported to the leading group, and the annual assessment "
                "deducts points accordingly.",
                "3. Every unit reviews its own items against the plan so that each is done on time.",
            ],
            date=report.as_of.isoformat(),
        )
    as_of = long_date(report.as_of, report.locale)
    steps = "、".join(lower)
    leading = report.leading_group_name or "领导小组"
    return NoticeDocument(
        title=f"关于《{report.plan_title}》逾期未完成事项的通报",
        salutation="各有关单位：",
        opening=[
            (f"按照《{report.plan_title}》督查督办要求，{report.coordinator_name}对各单位承担的工作任务落实情况进行了跟踪督办。"
             f"截至{as_of}，下列{units}个单位承担的{n.item_total}项工作任务超过完成时限{after}个工作日仍未完成，"
             + (f"经{steps}仍未办结，" if steps else "")
             + "现予以通报。")
            if units else f"截至{as_of}，各单位承担的工作任务中没有达到通报级别的逾期事项，特此通报。",
        ],
        heading_items="一、被通报单位及事项",
        columns=["序号", "单位", "任务", "期间", "原定完成时限", "逾期工作日", "首次通报日期", "单位最近反馈"],
        rows=rows,
        truncated=f"另有 {n.item_total - len(rows)} 项未列出。",
        heading_requirements="二、有关要求",
        requirements=[
            f"（{_NUMERALS[0]}）被通报单位要高度重视，认真查找原因，自本通报印发之日起{rectify_days}个工作日内完成整改，"
            f"并将整改情况书面报送{report.coordinator_name}。",
            f"（{_NUMERALS[1]}）对整改不力、再次被通报的单位，将提请{leading}约谈单位主要负责人，并在年度考核中相应扣分。",
            f"（{_NUMERALS[2]}）各单位要举一反三，对照工作安排逐项梳理，确保各项任务按期保质完成。",
        ],
        date=as_of,
    )


def render_notice_html(report: Report) -> str:
    doc = notice_document(report)
    template = environment("html").get_template("reports/notice.html.j2")
    return template.render(report=report, doc=doc, zh=report.locale != "en")


def render_notice_xlsx(report: Report) -> bytes:
    doc = notice_document(report)
    book = ReportWorkbook(report.as_of, doc.title)
    sheet = book.sheet("通报" if report.locale != "en" else "Notice")
    row = sheet.title_rows([doc.title, doc.salutation, *doc.opening])
    if doc.rows:
        sheet.put(row, 1, doc.heading_items)
        sheet.table(doc.columns, doc.rows, start_row=row + 1)
        row += len(doc.rows) + 3
        lines = [doc.heading_requirements, *doc.requirements]
    else:
        lines = []
    for line in [*lines, "", report.coordinator_name, doc.date]:
        sheet.put(row, 1, line)
        row += 1
    return book.bytes()
