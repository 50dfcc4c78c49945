"""Renderings of the report model: XLSX, JSON, Markdown, HTML, the notice, the .ics feed, and
the CLI commands that write them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import icalendar
import openpyxl
import pytest
from typer.testing import CliRunner

from plan_tracker.reports import ics_for_unit, render_html
from plan_tracker.reports.json_data import render_json
from plan_tracker.reports.markdown import render_markdown
from plan_tracker.reports.notice import render_notice_html, render_notice_xlsx
from plan_tracker.reports.workbook import render_xlsx

from .conftest import AS_OF, PLAN_ID

HOSTILE = ['=HYPERLINK("http://evil.example","点我")', "+1+1", "-2-2", "@SUM(A1)", "\t=1+1", "\r=1", "\0=1"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def hostile(report):
    """The scenario's report with formula-like text in every name and title users control."""
    names = iter(HOSTILE * 20)
    units = [dataclasses.replace(u, name=next(names)) for u in report.units]
    tasks = [dataclasses.replace(t, title=next(names)) for t in report.tasks]
    sections = [dataclasses.replace(s, title=next(names)) for s in report.sections]
    indicators = [dataclasses.replace(i, name=next(names), task_title=next(names)) for i in report.indicators]
    overdue = [dataclasses.replace(o, unit_name=next(names), task_title=next(names)) for o in report.overdue]
    notice_units = [dataclasses.replace(u, unit_name=next(names),
                                        items=[dataclasses.replace(i, task_title=next(names)) for i in u.items])
                    for u in report.notice.units]
    return dataclasses.replace(
        report, plan_title=next(names), coordinator_name=next(names), units=units, tasks=tasks,
        sections=sections, indicators=indicators, overdue=overdue,
        notice=dataclasses.replace(report.notice, units=notice_units))


def all_cells(data: bytes):
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from row


def test_the_xlsx_report_opens_and_holds_the_figures(report):
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(report)))
    assert wb.sheetnames == ["总体情况", "分领域情况", "分任务情况", "单位考核评分", "指标完成情况", "逾期事项", "通报"]
    units = wb["单位考核评分"]
    header = [c.value for c in units[1]]
    rows = {r[0]: dict(zip(header, r, strict=False)) for r in units.iter_rows(min_row=2, values_only=True)}
    assert rows["乙镇"]["报送率"] == 0.5 and rows["乙镇"]["考核评分"] == 90
    assert rows["甲镇"]["考核评分"] == 94.5
    overdue = list(wb["逾期事项"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[5]) for r in overdue] == [("乙镇", 14), ("乙镇", 9)]
    assert overdue[0][3] == dt.datetime(2018, 3, 30)  # a real date cell, not text


def test_no_cell_of_the_xlsx_report_is_a_formula_even_with_hostile_names(report):
    cells = list(all_cells(render_xlsx(hostile(report))))
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(TRIGGERS)]
    # Each hostile name survives as text behind one apostrophe (NUL and CR are dropped).
    assert "'=HYPERLINK(\"http://evil.example\",\"点我\")" in texts
    assert "'@SUM(A1)" in texts


def test_the_xlsx_report_shows_rates_as_percentages_dates_as_dates_and_keeps_headers_in_view(report):
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(report)))
    summary = wb["总体情况"]
    assert summary["A1"].font.b and summary["A1"].font.sz == 14  # the title
    figures = {name.value: value for name, value in summary.iter_rows(min_row=5, max_col=2) if name.value}
    assert (figures["完成率"].value, figures["完成率"].number_format) == (0.6, "0.0%")
    changes = [value for name, value in figures.items() if name.startswith("较上期变化")]
    assert changes and {c.number_format for c in changes} == {"+0;-0;0"}  # signed: +2, -1, 0
    # the figures under a blank header row, then a blank row and the definitions
    assert summary.freeze_panes is None and summary.auto_filter.ref == f"A4:B{summary.max_row - 2}"
    units = wb["单位考核评分"]
    header = units[1]
    assert all(c.font.b and c.fill.fgColor.rgb[-6:] == "F3F5F8" and c.alignment.wrap_text for c in header)
    rate = next(c for c in header if c.value == "报送率").column_letter
    assert {units[f"{rate}{r}"].number_format for r in range(2, units.max_row + 1)} == {"0.0%"}
    assert units.freeze_panes == "B2" and units.auto_filter.ref == f"A1:{header[-1].column_letter}{units.max_row}"
    overdue = wb["逾期事项"]
    assert overdue["D2"].number_format == "yyyy-mm-dd"
    targets = [row[3] for row in wb["指标完成情况"].iter_rows(min_row=2, max_col=4)]
    assert [(c.value, c.number_format) for c in targets] == [(20, '"≥"0.##'), (5, '"≤"0.##')]
    # columns as wide as their text (two for a CJK character), within 8 and 62
    assert overdue.column_dimensions["I"].width == 62  # the reminder history
    assert overdue.column_dimensions["C"].width == 12  # 一次性任务 and 期间: 10 + 2


def test_the_same_report_is_the_same_xlsx_bytes_dated_by_its_as_of(report):
    # A re-run of a night rewrites the very same file.
    first, second = render_xlsx(report), render_xlsx(report)
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    properties = openpyxl.load_workbook(io.BytesIO(first)).properties
    assert (properties.created, properties.creator) == (dt.datetime(2018, 4, 20), "plan-tracker")
    assert render_notice_xlsx(report) == render_notice_xlsx(report)


def test_the_report_workbooks_sheets_are_the_bytes_xlsxwriters_own_sheet_writes(report, monkeypatch):
    # `RowsSheet` writes the rows' XML itself: with XlsxWriter's own worksheet the same
    # workbooks (the report, one with hostile text, the notice) are the same bytes.
    from xlsxwriter.worksheet import Worksheet

    from plan_tracker.inbox.form_xlsx import RowsSheet
    from plan_tracker.reports.workbook import ReportWorkbook

    def rendered():
        return [render_xlsx(report), render_xlsx(hostile(report)), render_notice_xlsx(report)]

    assert ReportWorkbook.SHEET_CLASS is RowsSheet
    ours = rendered()
    monkeypatch.setattr(ReportWorkbook, "SHEET_CLASS", Worksheet)
    assert rendered() == ours


@pytest.mark.parametrize("text", ["<r><t>轮训</t></r>", "<r><t>未闭合</r>", "川店镇_x0041_", " 边 ", "<b>&amp;</b>"])
def test_text_shaped_like_markup_or_an_escape_reads_back_as_written(report, text):
    # XlsxWriter writes text shaped like <r>…</r> as rich-text XML: a task titled so came back
    # changed, and one that is not well-formed XML made the whole workbook unreadable.
    named = dataclasses.replace(report, tasks=[dataclasses.replace(t, title=text) for t in report.tasks],
                                units=[dataclasses.replace(u, name=text) for u in report.units])
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(named)))
    assert [r[0] for r in wb["分任务情况"].iter_rows(min_row=2, values_only=True)] == [text] * len(report.tasks)
    assert [r[0] for r in wb["单位考核评分"].iter_rows(min_row=2, values_only=True)] == [text] * len(report.units)


def test_the_notice_xlsx_names_exactly_the_top_level_units_and_holds_no_formula(report):
    ws = openpyxl.load_workbook(io.BytesIO(render_notice_xlsx(report))).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "关于《测试县2018年法治政府建设工作安排》逾期未完成事项的通报"
    header = next(i for i, r in enumerate(rows) if r[0] == "序号")
    listed = [r for r in rows[header + 1:] if isinstance(r[0], int)]
    assert [(r[1], r[2], r[5]) for r in listed] == [("乙镇", "制定年度学法计划", 14)]
    assert not [c for c in all_cells(render_notice_xlsx(hostile(report))) if c.data_type == "f"]


def test_the_notice_document_is_worded_as_a_chinese_notice(report):
    page = render_notice_html(report)
    assert "<title>关于《测试县2018年法治政府建设工作安排》逾期未完成事项的通报</title>" in page
    assert "各有关单位：" in page
    assert "截至2018年4月20日，下列1个单位承担的1项工作任务超过完成时限10个工作日仍未完成，经提醒、催办、督办仍未办结" in page
    assert page.count("<td class=\"text\">乙镇</td>") == 1 and "甲镇" not in page
    assert "一、被通报单位及事项" in page and "二、有关要求" in page


def test_the_notice_and_the_overdue_list_carry_the_units_own_words(report):
    ws = openpyxl.load_workbook(io.BytesIO(render_notice_xlsx(report))).active
    rows = list(ws.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r[0] == "序号")
    assert rows[header][7] == "单位最近反馈" and rows[header + 1][7] == "尚未报送"  # 乙镇 never reported
    town_b_q1 = next(o for o in report.overdue if (o.unit_id, o.period) == ("town-b", "2018-Q1"))
    assert (town_b_q1.status, town_b_q1.progress, town_b_q1.note) == ("in_progress", 40, "培训场地 待落实 <b>x</b>")
    markdown = render_markdown(report)
    assert "| 状态 | 最近报送 |" in markdown  # the weekly report's overdue list has a status column
    assert "推进中 40%：培训场地 待落实" in markdown and "<b>x</b>" not in markdown
    assert "培训场地 待落实 &lt;b&gt;x&lt;/b&gt;" in render_html(report)


def test_a_notice_without_units_says_so(report):
    empty = dataclasses.replace(report, notice=dataclasses.replace(report.notice, units=[], item_total=0))
    page = render_notice_html(empty)
    assert "没有达到通报级别的逾期事项" in page and "<table>" not in page


def test_the_json_report_carries_every_figure_with_rates(report):
    data = json.loads(render_json(report))
    assert data["format"] == 1 and data["as_of"] == "2018-04-20"
    assert data["summary"]["reporting"] == {
        "expected": 5, "received": 4, "on_time": 2, "completed": 3, "done_on_time": 2,
        "reporting_rate": 0.8, "timeliness": 0.4, "completion_rate": 0.6, "on_time_rate": 0.4}
    assert [u["score"] for u in data["units"]] == [98, 94.5, 90]
    assert data["notice"]["units"][0]["unit_name"] == "乙镇"
    assert data["overdue"][0]["reminders"][0] == {
        "level": "remind", "wording": "提醒", "fired_on": "2018-03-27", "state": "sent", "seq": 0}


def test_the_markdown_report_has_tables_and_escapes_user_text(report):
    text = render_markdown(report)
    assert text.startswith("# 测试县2018年法治政府建设工作安排 — 督查督办情况报告")
    assert "| 乙镇 | 2 | 1 | 0 | 50.0% | 0.0% | 2 | 23 | 2 | 2 | 2 | 1 | 90 |" in text
    assert "被通报单位：乙镇（1）" in text
    piped = dataclasses.replace(report, units=[dataclasses.replace(report.units[0], name="a|b*c")])
    assert "| a\\|b\\*c |" in render_markdown(piped)


def test_the_html_report_escapes_user_text_in_tables_and_charts(report):
    evil = "<script>alert(1)</script>"
    page = render_html(dataclasses.replace(
        report, units=[dataclasses.replace(u, name=evil) for u in report.units],
        sections=[dataclasses.replace(s, title=evil) for s in report.sections]))
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_html_report_is_self_contained(report):
    page = render_html(report)
    assert '<link rel="icon" href="data:,">' in page
    for attribute in ("src=", "href=", "@import", "url("):
        found = [chunk[:60] for chunk in page.split(attribute)[1:]]
        assert all(c.startswith(('"data:', '"#', "'#", '"data')) for c in found), (attribute, found)
    assert page.count("<svg") == 4


def test_reports_read_in_english_for_an_english_plan(report):
    english = dataclasses.replace(report, locale="en")
    assert "Follow-up status report" in render_html(english)
    assert "## By unit, with scores" in render_markdown(english)
    assert "Notice on overdue items of" in render_notice_html(english)
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(english)))
    assert wb.sheetnames[0] == "Summary"


def test_a_units_deadlines_feed_parses_as_icalendar(scenario):
    feed = ics_for_unit(scenario.engine, PLAN_ID, "town-b", AS_OF)
    assert all(len(line.encode()) <= 75 for line in feed.split("\r\n"))
    calendar = icalendar.Calendar.from_ical(feed)
    events = list(calendar.walk("VEVENT"))
    # study.plan and the four quarters of study.quarterly
    assert [e.decoded("DTSTART") for e in events] == [
        dt.date(2018, 3, 30), dt.date(2018, 4, 9), dt.date(2018, 7, 6), dt.date(2018, 10, 12), dt.date(2019, 1, 8)]
    assert len({str(e["UID"]) for e in events}) == 5
    assert str(events[0]["SUMMARY"]) == "【截止】制定年度学法计划（一次性任务）"
    assert "红灯" in str(events[0]["DESCRIPTION"])  # its light on the as-of date (the catalogue's word)
    assert all(e.walk("VALARM") for e in events)  # nothing is done: every event has an alarm


def test_the_feed_shows_the_extended_deadline_and_marks_done_items(scenario):
    calendar = icalendar.Calendar.from_ical(ics_for_unit(scenario.engine, PLAN_ID, "office", AS_OF))
    rules, catalogue = sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("DTSTART"))
    assert str(rules["SUMMARY"]).startswith("【已完成】") and not rules.walk("VALARM")
    assert catalogue.decoded("DTSTART") == dt.date(2018, 4, 27)
    assert "原定时限：2018-04-13" in str(catalogue["DESCRIPTION"])


def test_an_unknown_unit_has_no_feed(scenario):
    with pytest.raises(LookupError, match="no unit 'town-z'"):
        ics_for_unit(scenario.engine, PLAN_ID, "town-z", AS_OF)


@pytest.fixture
def cli(scenario, tmp_path, monkeypatch):
    from plan_tracker.cli import app
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    monkeypatch.setenv("PLAN_TRACKER_DATABASE_URL", scenario.url)
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    engine_for.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()
    engine_for.cache_clear()


@pytest.mark.parametrize("fmt", ["html", "md", "xlsx", "json"])
def test_the_report_command_writes_each_format(cli, tmp_path: Path, fmt):
    out = tmp_path / f"report.{fmt}"
    result = cli("report", "--plan", PLAN_ID, "--as-of", "2018-04-20", "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000
    if fmt == "json":
        assert json.loads(out.read_text(encoding="utf-8"))["summary"]["total"] == 12


def test_the_notice_and_deadlines_commands_write_their_documents(cli, tmp_path: Path):
    assert cli("notice", "--plan", PLAN_ID, "--as-of", "2018-04-20", "--format", "xlsx",
               "--out", str(tmp_path / "n.xlsx")).exit_code == 0
    result = cli("deadlines", "--plan", PLAN_ID, "--unit", "town-a", "--as-of", "2018-04-20", "--out", "-")
    assert result.exit_code == 0 and result.output.startswith("BEGIN:VCALENDAR")


@pytest.mark.parametrize(("args", "message"), [
    (["report", "--plan", PLAN_ID, "--format", "pdf", "--out", "x"], "--format 应为"),
    (["report", "--plan", "nope", "--as-of", "2018-04-20", "--out", "x"], "存储中没有计划“nope”"),
    (["report", "--plan", PLAN_ID, "--as-of", "2018-04-20", "--format", "xlsx", "--out", "-"], "只用于文本格式"),
    (["deadlines", "--plan", PLAN_ID, "--unit", "nope", "--as-of", "2018-04-20", "--out", "-"], "中没有单位“nope”"),
])
def test_report_commands_refuse_bad_input_with_exit_2(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.output


# -- wording and small things (issue 16) --------------------------------------------------------
def test_the_notice_heading_does_not_repeat_the_word_notice(report):
    # The top step's wording is 通报 itself: "通报（通报）" says it twice.
    assert report.notice.level is not None and report.notice.level.wording == "通报"
    assert "通报（通报）" not in render_html(report) and "通报（通报）" not in render_markdown(report)
    renamed = dataclasses.replace(report, notice=dataclasses.replace(
        report.notice, level=dataclasses.replace(report.notice.level, wording="问责通报")))
    assert "通报（问责通报）" in render_html(renamed)


def test_the_notice_task_column_of_the_report_is_left_aligned(report):
    html = render_html(report)
    notice = html[html.index('<section id="notice">'):]
    title = report.notice.units[0].items[0].task_title
    assert f'<td class="text">{title}</td>' in notice
    assert "td.text { text-align: left; }" in html or "td.history, td.text { text-align: left; }" in html


def test_report_and_deadline_files_are_readable_by_others(cli, tmp_path: Path):
    import stat

    for args, name in ((["report", "--format", "html"], "r.html"), (["notice"], "n.html"),
                       (["deadlines", "--unit", "town-a"], "d.ics")):
        out = tmp_path / name
        result = cli(*args, "--plan", PLAN_ID, "--as-of", "2018-04-20", "--out", str(out))
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o644, name


def test_an_ics_alarm_falls_on_the_working_day_warn_days_before(scenario):
    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.domain.plan import CalendarSpec
    from plan_tracker.reports.ics import alarm_trigger

    # Due Monday 2019-02-11, the first working day after the Spring Festival (02-04..02-10):
    # three working days before is Friday 2019-02-01 (02-02 and 02-03 were adjusted working days),
    # never 2019-02-08, in the holiday, as a fixed -P2DT15H would have it.
    calendar = WorkCalendar(CalendarSpec())
    alarm_day = calendar.shift(dt.date(2019, 2, 11), -3)
    assert alarm_day == dt.date(2019, 2, 1) and calendar.is_working_day(alarm_day)
    assert alarm_trigger(dt.date(2019, 2, 11), alarm_day) == "-P9DT15H"
    assert alarm_trigger(dt.date(2018, 4, 27), dt.date(2018, 4, 24)) == "-P2DT15H"
    assert alarm_trigger(dt.date(2018, 4, 27), dt.date(2018, 4, 27)) == "PT9H"
    feed = icalendar.Calendar.from_ical(ics_for_unit(scenario.engine, PLAN_ID, "town-b", AS_OF))
    for event in feed.walk("VEVENT"):
        start = event.decoded("DTSTART")
        for alarm in event.walk("VALARM"):
            fires = dt.datetime.combine(start, dt.time()) + alarm.decoded("TRIGGER")
            assert fires.hour == 9 and calendar.is_working_day(fires.date()), (start, fires)
