"""Renderers of a plan preview (`plan preview`): a Rich table, an iCalendar file, an HTML page.

Each speaks the plan's locale (`Preview.locale`: Chinese by default, English for
`locale: en`), worded from the catalogue in `authoring.messages`.

The iCalendar output is written by hand (RFC 5545 needs a few rules only: CRLF line ends,
TEXT escaping, folding at 75 octets without splitting a UTF-8 character, all-day dates);
this keeps a runtime dependency out for ~40 lines. The tests parse it with the independent
`icalendar` package.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from plan_tracker.authoring.messages import (
    offset_text,
    reason_text,
    repeat_text,
    rule_text,
    uncovered_text,
    when_text,
    word,
)
from plan_tracker.domain.preview import LadderColumn, Preview, PreviewRow

PRODID = "-//plan-tracker//plan preview//ZH"
MAX_OCTETS = 75  # RFC 5545 3.1: lines SHOULD NOT be longer than 75 octets, excluding CRLF


def summary(preview: Preview) -> str:
    """One line: the plan, its dates and calendar, how many obligations and rolled dates."""
    scope = word("summary.scope", preview.locale, unit=preview.unit) if preview.unit else ""
    return word("summary", preview.locale, plan=preview.plan_id, title=preview.title, start=preview.start,
                end=preview.end, calendar=preview.calendar, scope=scope, count=len(preview.rows),
                moved=preview.moved)


def wrote(preview: Preview, path: object) -> str:
    """What `plan preview --out` prints once the file is written."""
    return word("wrote", preview.locale, path=path, count=len(preview.rows))


def _step_header(col: LadderColumn, locale: str, template: str = "step.header") -> str:
    return word(template, locale, wording=col.wording, level=col.level, offset=offset_text(col.after, locale),
                repeat=repeat_text(col.repeat_every, locale))


# -- table ------------------------------------------------------------------------------------
def table(preview: Preview) -> RenderableType:
    """A Rich table, one row per obligation; the reasons for moved dates as numbered notes."""
    locale = preview.locale
    if not preview.rows:
        if preview.unit:
            return Text(word("empty.unit", locale, plan=preview.plan_id, unit=preview.unit))
        return Text(word("empty", locale, plan=preview.plan_id))
    grid = Table(show_lines=False)
    # Dates keep their width (min_width); on a narrow terminal the task and unit ids fold.
    grid.add_column(word("col.task", locale), overflow="fold")
    if preview.unit is None:  # with --unit the title names the unit
        grid.add_column(word("col.unit", locale), overflow="fold")
    grid.add_column(word("col.period", locale), overflow="fold", min_width=7)
    grid.add_column(word("col.due", locale), overflow="fold", min_width=10)
    for col in preview.ladder:
        grid.add_column(_step_header(col, locale), overflow="fold", min_width=10)
    notes: dict[tuple[str, ...], int] = {}
    for row in preview.rows:
        due = Text(row.due.isoformat(), style="bold yellow" if row.rolled else "")
        if row.reasons:
            number = notes.setdefault(tuple(reason_text(r, locale) for r in row.reasons), len(notes) + 1)
            due.append(f" [{number}]", style="dim")
        cells = [Text(row.task), *([Text(row.unit)] if preview.unit is None else []), Text(row.period), due]
        cells += [Text(s.on.isoformat() if s.on else "—") for s in row.steps]
        grid.add_row(*cells)
    separator = "；" if locale == "zh" else "; "
    footnotes = [Text(f"[{n}] " + separator.join(reasons)) for reasons, n in notes.items()]
    return Group(Text(summary(preview)), grid, *footnotes)


# -- iCalendar --------------------------------------------------------------------------------
def ics_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 sequence."""
    parts: list[str] = []
    current: list[str] = []
    size, limit = 0, MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, MAX_OCTETS - 1  # the leading space takes one octet
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _event(preview: Preview, row: PreviewRow, stamp: str) -> list[str]:
    locale = preview.locale
    once = row.period == "once"
    description = [
        word("ics.task", locale, task=row.task, title=row.title),
        word("ics.unit", locale, unit=row.unit, name=row.unit_name),
        word("ics.period", locale, period=row.period) if once else
        word("ics.period_dates", locale, period=row.period, start=row.period_start, end=row.period_end),
        word("ics.due", locale, due=row.due, rule=rule_text(row.rule, locale)),
        *(reason_text(r, locale) for r in row.reasons),
        *(word("step.line", locale, wording=s.wording, level=s.level, offset=offset_text(s.after, locale),
               when=when_text(s, locale)) for s in row.steps),
    ]
    title = (word("ics.summary", locale, title=row.title, unit=row.unit_name) if once else
             word("ics.summary_period", locale, title=row.title, unit=row.unit_name, period=row.period))
    return [
        "BEGIN:VEVENT",
        f"UID:{ics_text(f'{preview.plan_id}/{row.task}/{row.unit}/{row.period}@plan-tracker')}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{row.due:%Y%m%d}",
        f"DTEND;VALUE=DATE:{row.due + dt.timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{ics_text(title)}",
        f"DESCRIPTION:{ics_text(chr(10).join(description))}",
        f"CATEGORIES:{ics_text(preview.plan_id)}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def ics(preview: Preview, *, stamp: dt.datetime) -> str:
    """An iCalendar document: one all-day VEVENT per obligation, on its due date.

    `stamp` (DTSTAMP, when the file was made) is passed in: the clock is read at the edge.
    """
    utc = stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp
    stamp_text = f"{utc:%Y%m%dT%H%M%SZ}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ics_text(word('ics.calendar', preview.locale, title=preview.title, plan=preview.plan_id))}",
    ]
    for row in preview.rows:
        lines += _event(preview, row, stamp_text)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


# -- HTML -------------------------------------------------------------------------------------
_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: .25rem; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; vertical-align: top; text-align: left; }
th { background: #f2f2f2; position: sticky; top: 0; }
th small, td small { color: #666; font-weight: normal; }
td.date { white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.rolled td.due { background: #fff3cd; font-weight: bold; }
ul.why { margin: .2rem 0 0 1rem; padding: 0; color: #7a4b00; }
code { font-size: .85em; color: #555; white-space: nowrap; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html_rows(preview: Preview) -> Iterable[str]:
    locale = preview.locale
    for row in preview.rows:
        why = "".join(f"<li>{_e(reason_text(r, locale))}</li>" for r in row.reasons)
        steps = "".join(
            f'<td class="date step" data-level="{_e(s.level)}">'
            f"{_e(s.on.isoformat() if s.on else '—')}"
            + (f"<br><small>{_e(note)}</small>" if (note := uncovered_text(s, locale)) else "")
            + "</td>"
            for s in row.steps
        )
        yield (
            f'<tr class="{"rolled" if row.rolled else "plain"}" data-task="{_e(row.task)}" '
            f'data-unit="{_e(row.unit)}" data-period="{_e(row.period)}" data-due="{row.due}">'
            f"<td>{_e(row.title)}<br><code>{_e(row.task)}</code></td>"
            f"<td>{_e(row.unit_name)}<br><code>{_e(row.unit)}</code></td>"
            f'<td class="date">{_e(row.period)}</td>'
            f'<td class="date due">{row.due}</td>'
            f"<td>{_e(rule_text(row.rule, locale))}" + (f'<ul class="why">{why}</ul>' if why else "") + "</td>"
            f"{steps}</tr>"
        )


def html_page(preview: Preview) -> str:
    """A self-contained HTML page (no external assets) in the plan's locale."""
    locale = preview.locale
    steps = "".join(
        f"<th>{_e(c.wording)}<br><small>{_e(_step_header(c, locale, 'step.small'))}</small></th>"
        for c in preview.ladder
    )
    scope = word("html.scope", locale, unit=preview.unit) if preview.unit else ""
    body = "\n".join(_html_rows(preview)) or (
        f'<tr><td colspan="{5 + len(preview.ladder)}">{_e(word("html.empty", locale))}</td></tr>'
    )
    meta = word("html.meta", locale, plan=preview.plan_id, start=preview.start, end=preview.end,
                calendar=preview.calendar, scope=scope, count=len(preview.rows), moved=preview.moved)
    headers = "".join(f"<th>{_e(word(key, locale))}</th>" for key in ("col.task", "col.lead", "col.period", "col.due",
                                                                       "col.why"))
    return f"""<!doctype html>
<html lang="{'en' if locale == 'en' else 'zh-CN'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(word("html.title", locale, title=preview.title))}</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body>
<h1>{_e(word("html.heading", locale, title=preview.title))}</h1>
<p class="meta">{_e(meta)}</p>
<table>
<thead><tr>{headers}{steps}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""
