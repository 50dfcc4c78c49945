"""Renderers of a plan preview (`plan preview`): a Rich table, an iCalendar file, an HTML page.

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

from plan_tracker.domain.preview import LadderColumn, Preview, PreviewRow

PRODID = "-//plan-tracker//plan preview//ZH"
MAX_OCTETS = 75  # RFC 5545 3.1: lines SHOULD NOT be longer than 75 octets, excluding CRLF


def _summary(preview: Preview) -> str:
    scope = f"unit {preview.unit}: " if preview.unit else ""
    return (
        f"plan {preview.plan_id} ({preview.title}), {preview.start} to {preview.end}, "
        f"calendar {preview.calendar}: {scope}{len(preview.rows)} obligation(s), "
        f"{preview.moved} due date(s) rolled forward off a non-working day"
    )


def _step_header(col: LadderColumn) -> str:
    offset = f"{col.after:+d} wd" if col.after else "0 wd"
    repeat = f", then every {col.repeat_every} wd" if col.repeat_every else ""
    return f"{col.wording} {col.level}\n{offset}{repeat}"


# -- table ------------------------------------------------------------------------------------
def table(preview: Preview) -> RenderableType:
    """A Rich table, one row per obligation; the reasons for moved dates as numbered notes."""
    if not preview.rows:
        scope = f" for unit {preview.unit}" if preview.unit else ""
        return Text(f"plan {preview.plan_id}: no obligations{scope}")
    grid = Table(show_lines=False)
    # Dates keep their width (min_width); on a narrow terminal the task and unit ids fold.
    grid.add_column("任务 task", overflow="fold")
    if preview.unit is None:  # with --unit the title names the unit
        grid.add_column("单位 unit", overflow="fold")
    grid.add_column("周期 period", overflow="fold", min_width=7)
    grid.add_column("完成时限 due", overflow="fold", min_width=10)
    for col in preview.ladder:
        grid.add_column(_step_header(col), overflow="fold", min_width=10)
    notes: dict[tuple[str, ...], int] = {}
    for row in preview.rows:
        due = Text(row.due.isoformat(), style="bold yellow" if row.rolled else "")
        if row.reasons:
            number = notes.setdefault(row.reasons, len(notes) + 1)
            due.append(f" [{number}]", style="dim")
        cells = [Text(row.task), *([Text(row.unit)] if preview.unit is None else []), Text(row.period), due]
        cells += [Text(s.on.isoformat() if s.on else "—") for s in row.steps]
        grid.add_row(*cells)
    footnotes = [Text(f"[{n}] " + "; ".join(reasons)) for reasons, n in notes.items()]
    return Group(Text(_summary(preview)), grid, *footnotes)


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
    period = "" if row.period == "once" else f"，{row.period}"
    description = [
        f"任务 task: {row.task} {row.title}",
        f"单位 unit: {row.unit} {row.unit_name}",
        f"周期 period: {row.period}" + ("" if row.period == "once" else f" ({row.period_start} – {row.period_end})"),
        f"完成时限 due: {row.due} ({row.rule})",
        *row.reasons,
        *(f"{s.wording} {s.level} ({s.offset}): {s.describe()}" for s in row.steps),
    ]
    return [
        "BEGIN:VEVENT",
        f"UID:{ics_text(f'{preview.plan_id}/{row.task}/{row.unit}/{row.period}@plan-tracker')}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{row.due:%Y%m%d}",
        f"DTEND;VALUE=DATE:{row.due + dt.timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{ics_text(f'完成时限：{row.title}（{row.unit_name}{period}）')}",
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
        f"X-WR-CALNAME:{ics_text(f'{preview.title}（{preview.plan_id}）')}",
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
    for row in preview.rows:
        why = "".join(f"<li>{_e(r)}</li>" for r in row.reasons)
        steps = "".join(
            f'<td class="date step" data-level="{_e(s.level)}">'
            f"{_e(s.on.isoformat() if s.on else '—')}"
            + (f"<br><small>{_e(s.note)}</small>" if s.note else "")
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
            f"<td>{_e(row.rule)}" + (f'<ul class="why">{why}</ul>' if why else "") + "</td>"
            f"{steps}</tr>"
        )


def html_page(preview: Preview) -> str:
    """A self-contained HTML page (no external assets) with Chinese headers."""
    steps = "".join(
        f"<th>{_e(c.wording)}<br><small>{_e(c.level)} {c.after:+d} wd"
        + (f"，此后每 {c.repeat_every} 个工作日" if c.repeat_every else "")
        + "</small></th>"
        for c in preview.ladder
    )
    scope = f" · 单位 {_e(preview.unit)}" if preview.unit else ""
    body = "\n".join(_html_rows(preview)) or (
        f'<tr><td colspan="{5 + len(preview.ladder)}">没有督办事项 no obligations</td></tr>'
    )
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>计划预览 — {_e(preview.title)}</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body>
<h1>计划预览：{_e(preview.title)}</h1>
<p class="meta">计划编号 {_e(preview.plan_id)} · {preview.start} 至 {preview.end} · 工作日历 {_e(preview.calendar)}{scope}
 · 督办事项 {len(preview.rows)} 项 · 因非工作日顺延 {preview.moved} 项<br>
<small>{_e(_summary(preview))}</small></p>
<table>
<thead><tr><th>任务</th><th>牵头单位</th><th>周期</th><th>完成时限</th><th>计算依据与说明</th>{steps}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""
