"""`plan preview`: every obligation, its due date, each escalation date — and why a date moved.

The founding plan's `enforcement.self-inspection` is written `due: 2018-10-01`, the first
day of the National Day holiday (10-01..07); 2018-09-29/30 were adjusted working days.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import icalendar
import pytest
from typer.testing import CliRunner, Result

from plan_tracker.authoring import preview_render
from plan_tracker.authoring.messages import (
    MESSAGES,
    offset_text,
    reason_text,
    rule_text,
    uncovered_text,
    when_text,
)
from plan_tracker.cli import app
from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.escalation import occurrences_due
from plan_tracker.domain.obligations import expand
from plan_tracker.domain.plan import Plan
from plan_tracker.domain.preview import Preview, PreviewRow, Reason, UnknownUnit, day_note, preview
from plan_tracker.planfile import load_plan

ROOT = Path(__file__).resolve().parents[2]
FOUNDING_PLAN = ROOT / "src" / "plan_tracker" / "examples" / "plans" / "jingzhou-2018.yaml"
D = dt.date.fromisoformat
STAMP = dt.datetime(2018, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
NATIONAL_DAY_REASON = "2018-10-01 为国庆节假期，顺延至下一个工作日 2018-10-08"
NATIONAL_DAY_REASON_EN = "2018-10-01 is a holiday (国庆节) — rolled forward to the next working day"

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def founding() -> Plan:
    return load_plan(FOUNDING_PLAN)


@pytest.fixture(scope="module")
def founding_preview(founding: Plan) -> Preview:
    return preview(founding, WorkCalendar(founding.plan.calendar))


def rows_of(result: Preview, task: str, period: str | None = None) -> list[PreviewRow]:
    return [r for r in result.rows if r.task == task and (period is None or r.period == period)]


def small_plan(tasks: str, calendar: str = "CN", title: str = "预览测试计划", locale: str = "zh") -> Plan:
    import yaml

    text = f"""\
version: 1
plan: {{id: preview-2018, title: '{title}', coordinator: legal-office, calendar: {calendar},
       start: 2018-01-01, end: 2018-12-31, locale: {locale}}}
leading_group: {{name: 领导小组, email: lg@example.org}}
units:
  - {{id: legal-office, name: 区政府法制办, groups: [enforcement]}}
  - {{id: police-bureau, name: 区公安分局, groups: [enforcement]}}
escalation:
  - {{after: -3, level: remind, notify: [contact]}}
  - {{after: 1, level: urge, notify: [contact, head]}}
  - {{after: 5, level: supervise, notify: [head, coordinator]}}
  - {{after: 10, level: accountability, notify: [leading_group], repeat_every: 5}}
sections:
  - id: s
    title: 测试
    tasks:
{tasks}"""
    return Plan.model_validate(yaml.safe_load(text))


def one_off(due: str, lead: str = "legal-office", task_id: str = "s.t") -> str:
    return f"      - {{id: {task_id}, title: 任务, lead: {lead}, due: {due}}}\n"


def preview_of(plan: Plan, **kwargs: Any) -> Preview:
    return preview(plan, WorkCalendar(plan.plan.calendar), **kwargs)


def said(reasons: tuple[Reason, ...], locale: str = "zh") -> tuple[str, ...]:
    """The reasons as the preview words them: Chinese by default, or English."""
    return tuple(reason_text(r, locale) for r in reasons)


# -- due dates and why -----------------------------------------------------------------------
def test_preview_explains_national_day_roll_forward(founding_preview: Preview) -> None:
    rows = rows_of(founding_preview, "enforcement.self-inspection")
    assert len(rows) == 30  # group:enforcement
    for row in rows:
        assert (row.period, row.written, row.due) == ("once", D("2018-10-01"), D("2018-10-08"))
        assert said(row.reasons) == (NATIONAL_DAY_REASON,)
        assert said(row.reasons, "en") == (NATIONAL_DAY_REASON_EN,)
        assert row.rolled


def test_preview_lists_escalation_dates(founding_preview: Preview) -> None:
    row = rows_of(founding_preview, "enforcement.self-inspection")[0]
    steps = {s.level: s for s in row.steps}
    assert [s.level for s in row.steps] == ["remind", "urge", "supervise", "accountability"]
    assert steps["remind"].on == D("2018-09-28")  # -3 wd: 09-30 and 09-29 were working days
    assert steps["urge"].on == D("2018-10-09")
    assert steps["supervise"].on == D("2018-10-15")
    assert steps["accountability"].on == D("2018-10-22")
    assert steps["accountability"].repeat_every == 5
    assert when_text(steps["accountability"]) == "2018-10-22，此后每5个工作日一次"
    assert when_text(steps["accountability"], "en") == "2018-10-22, then every 5 wd"
    assert (offset_text(-3), offset_text(0), offset_text(1)) == ("时限前3个工作日", "时限当日", "时限后1个工作日")
    assert (offset_text(-3, "en"), offset_text(0, "en"), offset_text(1, "en")) == ("-3 wd", "0 wd", "+1 wd")


def test_preview_explains_weekend_roll_forward(founding_preview: Preview) -> None:
    row = rows_of(founding_preview, "capability.leader-law-study", "2018-Q1")[0]
    assert (row.written, row.due) == (D("2018-03-31"), D("2018-04-02"))
    assert rule_text(row.rule) == "2018-Q1 最后一天（2018-03-31）"
    assert rule_text(row.rule, "en") == "last day of 2018-Q1 (2018-03-31)"
    assert said(row.reasons) == ("2018-03-31 为星期六，顺延至下一个工作日 2018-04-02",)
    assert said(row.reasons, "en") == ("2018-03-31 is a Saturday — rolled forward to the next working day",)


def test_preview_explains_an_adjusted_working_day_keeps_the_deadline(founding_preview: Preview) -> None:
    row = rows_of(founding_preview, "capability.leader-law-study", "2018-Q3")[0]
    assert row.due == D("2018-09-30") and not row.rolled
    assert said(row.reasons) == ("2018-09-30 为星期日，但为国庆节调休上班日，完成时限不变",)
    assert said(row.reasons, "en") == (
        "2018-09-30 is a Sunday but an adjusted working day (调休, 国庆节) — the deadline stays",
    )


def test_preview_explains_new_years_eve_holiday(founding_preview: Preview) -> None:
    row = rows_of(founding_preview, "capability.leader-law-study", "2018-Q4")[0]
    assert row.due == D("2019-01-02")
    assert said(row.reasons) == ("2018-12-31 为元旦假期，顺延至下一个工作日 2019-01-02",)
    assert said(row.reasons, "en") == ("2018-12-31 is a holiday (元旦) — rolled forward to the next working day",)


def test_preview_names_holidays_skipped_when_counting_working_days(founding_preview: Preview) -> None:
    row = rows_of(founding_preview, "capability.enforcement-training", "2018-Q3")[0]
    assert row.due == D("2018-10-12") and not row.rolled
    assert rule_text(row.rule) == "2018-Q3 最后一天（2018-09-30）后第 5 个工作日"
    assert rule_text(row.rule, "en") == "5 working days after 2018-09-30, the last day of 2018-Q3"
    assert said(row.reasons) == ("跳过 2018-10-01 至 2018-10-07（国庆节假期）",)
    assert said(row.reasons, "en") == ("skips 2018-10-01 – 2018-10-07, a holiday (国庆节)",)
    q1 = rows_of(founding_preview, "capability.enforcement-training", "2018-Q1")[0]
    assert said(q1.reasons) == (
        "跳过 2018-04-05 至 2018-04-07（清明假期）",
        "2018-04-08 计为工作日（星期日，但为清明调休上班日）",
    )
    assert said(q1.reasons, "en") == (
        "skips 2018-04-05 – 2018-04-07, a holiday (清明)",
        "counts 2018-04-08, a Sunday but an adjusted working day (调休, 清明)",
    )


def test_preview_says_nothing_when_a_date_is_plain(founding_preview: Preview) -> None:
    row = rows_of(founding_preview, "enforcement.inspection-review")[0]
    assert (row.due, row.reasons, row.rolled) == (D("2018-11-30"), (), False)


def test_preview_rolls_onto_an_adjusted_working_sunday_and_says_so() -> None:
    # 2018-02-10 is a Saturday; Sunday 2018-02-11 was worked in lieu of the Spring Festival.
    row = preview_of(small_plan(one_off("2018-02-10"))).rows[0]
    assert row.due == D("2018-02-11")
    assert said(row.reasons) == ("2018-02-10 为星期六，顺延至下一个工作日 2018-02-11（星期日，但为春节调休上班日）",)
    assert said(row.reasons, "en") == (
        "2018-02-10 is a Saturday — rolled forward to the next working day, "
        "2018-02-11, a Sunday but an adjusted working day (调休, 春节)",
    )


def test_preview_explains_the_plans_own_calendar_overrides() -> None:
    plan = small_plan(
        one_off("2018-06-01") + one_off("2018-06-02", task_id="s.u"),
        calendar="{base: CN, holidays: [2018-06-01], workdays: [2018-06-02]}",
    )
    holiday, workday = preview_of(plan).rows
    assert holiday.due == D("2018-06-02")
    assert said(holiday.reasons)[0].startswith("2018-06-01 为计划日历规定的休息日，顺延至下一个工作日 2018-06-02")
    assert said(holiday.reasons, "en")[0].startswith(
        "2018-06-01 is a holiday in the plan's calendar — rolled forward to the next working day"
    )
    assert workday.due == D("2018-06-02")
    assert said(workday.reasons) == ("2018-06-02 为星期六，但计划日历定为工作日，完成时限不变",)
    assert said(workday.reasons, "en") == (
        "2018-06-02 is a Saturday but a working day in the plan's calendar — the deadline stays",
    )


def test_preview_on_a_weekends_calendar_names_no_official_holidays() -> None:
    row = preview_of(small_plan(one_off("2018-10-01"), calendar="weekends")).rows[0]
    assert (row.due, row.reasons) == (D("2018-10-01"), ())
    assert day_note(WorkCalendar(small_plan(one_off("2018-10-01")).plan.calendar), D("2018-10-01")).holiday == "国庆节"


def test_preview_marks_escalation_dates_beyond_the_published_calendar() -> None:
    plan = small_plan(one_off("2018-12-28"))
    year_end = plan.model_copy(update={"plan": plan.plan.model_copy(update={
        "start": dt.date(2026, 1, 1), "end": dt.date(2026, 12, 31)})})
    task = year_end.sections[0].tasks[0].model_copy(update={"due": dt.date(2026, 12, 31)})
    year_end = year_end.model_copy(update={"sections": [year_end.sections[0].model_copy(update={"tasks": [task]})]})
    row = preview_of(year_end).rows[0]
    steps = {s.level: s for s in row.steps}
    assert steps["remind"].on is not None
    assert steps["accountability"].on is None
    assert steps["accountability"].uncovered == ("CN", 2027)
    assert uncovered_text(steps["accountability"]) == "CN 工作日历尚无 2027 年的安排"
    assert uncovered_text(steps["accountability"], "en") == "the CN calendar has no schedule for 2027"
    assert when_text(steps["accountability"]) == "—（CN 工作日历尚无 2027 年的安排）"


# -- agreement with the tracker's own rules --------------------------------------------------
def test_preview_has_exactly_the_obligations_expand_creates(founding: Plan, founding_preview: Preview) -> None:
    expected = [(o.task, o.unit, o.period, o.due) for o in expand(founding, WorkCalendar(founding.plan.calendar))]
    assert [(r.task, r.unit, r.period, r.due) for r in founding_preview.rows] == expected
    assert len(expected) == 413


def test_preview_step_dates_are_when_the_escalation_rules_first_fire(
    founding: Plan, founding_preview: Preview
) -> None:
    calendar = WorkCalendar(founding.plan.calendar)
    ladder = {s.level: s for s in founding.escalation}
    for row in founding_preview.rows[::7]:
        for step_date in row.steps:
            step = ladder[step_date.level]
            assert step_date.on is not None
            assert occurrences_due(calendar, row.due, step, step_date.on)[0] == (0, step_date.on)
            assert occurrences_due(calendar, row.due, step, step_date.on - dt.timedelta(days=1)) == []


def test_preview_counts_the_rolled_dates(founding_preview: Preview) -> None:
    assert founding_preview.moved == sum(
        1 for r in founding_preview.rows if r.due != r.written and r.rule.kind in ("due", "last_day"))
    assert founding_preview.moved >= 30  # at least the self-inspection of every enforcement unit


def test_preview_for_one_unit_keeps_only_its_obligations(founding: Plan, founding_preview: Preview) -> None:
    mine = preview(founding, WorkCalendar(founding.plan.calendar), unit="police-bureau")
    assert mine.unit == "police-bureau"
    assert mine.rows == tuple(r for r in founding_preview.rows if r.unit == "police-bureau")
    assert {r.unit_name for r in mine.rows} == {"区公安分局"}


def test_preview_for_an_unknown_unit_is_an_error(founding: Plan) -> None:
    with pytest.raises(UnknownUnit, match="unknown unit 'nobody'"):
        preview(founding, WorkCalendar(founding.plan.calendar), unit="nobody")


# -- table -----------------------------------------------------------------------------------
def test_preview_table_shows_due_and_escalation_dates_and_the_reason() -> None:
    result = invoke("plan", "preview", str(FOUNDING_PLAN), "--unit", "police-bureau")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "2018-10-08" in text and NATIONAL_DAY_REASON in text
    line = next(ln for ln in text.splitlines() if "enforcement.self-inspect" in ln)
    for day in ("2018-10-08", "2018-09-28", "2018-10-09", "2018-10-15", "2018-10-22"):
        assert day in line, line
    assert "单位 police-bureau：督办事项 13 项" in text.replace("\n", " ")
    assert "时限前3个工作日" in text and " wd" not in text
    assert "legal-office" not in text


def test_preview_table_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "preview.txt"
    result = invoke("plan", "preview", str(FOUNDING_PLAN), "--out", str(target))
    assert result.exit_code == 0, result.stderr
    assert "督办事项 413 项" in result.stdout
    text = target.read_text(encoding="utf-8")
    assert NATIONAL_DAY_REASON in text
    assert "\x1b[" not in text  # no terminal colours in a file
    assert sum(1 for ln in text.splitlines() if "enforcement.self-inspection" in ln) == 30


# -- iCalendar -------------------------------------------------------------------------------
def test_preview_ics_parses_with_one_all_day_event_per_obligation(founding_preview: Preview) -> None:
    text = preview_render.ics(founding_preview, stamp=STAMP)
    calendar = icalendar.Calendar.from_ical(text)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == len(founding_preview.rows) == 413
    assert len({str(e["UID"]) for e in events}) == 413
    for event, row in zip(events, founding_preview.rows, strict=True):
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert type(start) is dt.date and start == row.due
        assert end == row.due + dt.timedelta(days=1)
        assert event.decoded("DTSTAMP") == STAMP
    event = next(e for e in events if "enforcement.self-inspection/police-bureau/" in str(e["UID"]))
    assert event.decoded("DTSTART") == D("2018-10-08")
    description = str(event["DESCRIPTION"])
    assert NATIONAL_DAY_REASON in description
    assert "提醒（时限前3个工作日）：2018-09-28" in description.splitlines()
    assert "通报（时限后10个工作日）：2018-10-22，此后每5个工作日一次" in description.splitlines()
    assert "完成时限：2018-10-08（计划时限 2018-10-01）" in description.splitlines()
    assert "开展年度行政执法自查" in str(event["SUMMARY"]) and "区公安分局" in str(event["SUMMARY"])


def test_preview_ics_follows_rfc_5545_line_rules(founding_preview: Preview) -> None:
    data = preview_render.ics(founding_preview, stamp=STAMP).encode("utf-8")
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert all(b"\n" not in ln and b"\r" not in ln for ln in lines)
    assert all(len(ln) <= 75 for ln in lines), max(lines, key=len)
    for ln in lines:
        ln.decode("utf-8")  # folding never splits a character
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-1] == b"END:VCALENDAR"


def test_preview_ics_escapes_text_values() -> None:
    plan = small_plan(
        "      - {id: s.t, title: 'a;b,c\\d 任务', lead: legal-office, due: 2018-10-01}\n",
        title="计划;一,二",
    )
    text = preview_render.ics(preview_of(plan), stamp=STAMP)
    assert "完成时限：a\\;b\\,c\\\\d 任务" in text.replace("\r\n ", "")
    event = next(iter(icalendar.Calendar.from_ical(text).walk("VEVENT")))
    assert str(event["SUMMARY"]) == "完成时限：a;b,c\\d 任务（区政府法制办）"
    # X- properties are TEXT too (RFC 5545 3.8.8.2); icalendar leaves unknown ones escaped.
    assert "X-WR-CALNAME:计划\\;一\\,二（preview-2018）" in text.replace("\r\n ", "")


def test_preview_ics_command_for_one_unit(tmp_path: Path) -> None:
    target = tmp_path / "police.ics"
    result = invoke("plan", "preview", str(FOUNDING_PLAN), "--unit", "police-bureau", "--format", "ics", "--out", str(target))
    assert result.exit_code == 0, result.stderr
    raw = target.read_bytes()
    assert b"\r\n" in raw and b"\r\r\n" not in raw
    events = list(icalendar.Calendar.from_ical(raw).walk("VEVENT"))
    assert len(events) == 13
    assert all("/police-bureau/" in str(e["UID"]) for e in events)


def test_preview_ics_to_standard_output() -> None:
    result = invoke("plan", "preview", str(FOUNDING_PLAN), "--unit", "legal-office", "--format", "ics")
    assert result.exit_code == 0, result.stderr
    assert len(list(icalendar.Calendar.from_ical(result.stdout_bytes).walk("VEVENT"))) == 14


# -- HTML ------------------------------------------------------------------------------------
class Rows(HTMLParser):
    """Collect <tr data-…> rows and every external reference of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.headers: list[str] = []
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tr" and "data-task" in values:
            self.rows.append(values)
        if tag == "th":
            self._in_th = True
            self.headers.append("")
        for name in ("src", "href"):
            value = values.get(name)
            if value and not value.startswith("data:"):
                self.external.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.headers[-1] += data


def test_preview_html_has_a_row_per_obligation_with_chinese_headers(tmp_path: Path) -> None:
    target = tmp_path / "preview.html"
    result = invoke("plan", "preview", str(FOUNDING_PLAN), "--format", "html", "--out", str(target))
    assert result.exit_code == 0, result.stderr
    page = Rows()
    page.feed(target.read_text(encoding="utf-8"))
    assert len(page.rows) == 413
    assert page.external == []  # self-contained
    assert page.headers[:6] == ["任务", "牵头单位", "周期", "完成时限", "计算依据与说明", "提醒时限前3个工作日"]
    assert any(h.startswith("通报") for h in page.headers)
    rolled = [r for r in page.rows if r["data-task"] == "enforcement.self-inspection"]
    assert len(rolled) == 30
    assert all(r["data-due"] == "2018-10-08" and r["class"] == "rolled" for r in rolled)
    assert NATIONAL_DAY_REASON in target.read_text(encoding="utf-8")


def test_preview_html_for_one_unit_and_escaping() -> None:
    plan = small_plan(
        "      - {id: s.t, title: '<script>alert(1)</script>', lead: group:enforcement, due: 2018-10-01}\n",
    )
    page_text = preview_render.html_page(preview_of(plan, unit="police-bureau"))
    assert "<script>" not in page_text and "&lt;script&gt;" in page_text
    page = Rows()
    page.feed(page_text)
    assert [(r["data-unit"], r["data-due"]) for r in page.rows] == [("police-bureau", "2018-10-08")]


def test_preview_html_to_standard_output_for_a_unit_that_leads_nothing() -> None:
    result = invoke("plan", "preview", str(FOUNDING_PLAN), "--unit", "chuandian-town", "--format", "html")
    assert result.exit_code == 0, result.stderr
    assert "没有督办事项" in result.stdout
    assert re.search(r"督办事项 0 项", result.stdout)


# -- bad input -------------------------------------------------------------------------------
def assert_bad_input(result: Result, fragment: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_preview_of_an_unknown_unit_exits_2() -> None:
    assert_bad_input(invoke("plan", "preview", str(FOUNDING_PLAN), "--unit", "nobody"), "未知单位“nobody”")


def test_preview_with_an_unknown_format_exits_2() -> None:
    assert_bad_input(invoke("plan", "preview", str(FOUNDING_PLAN), "--format", "pdf"), "--format 应为 table、ics、html 之一")


def test_preview_of_a_broken_plan_exits_2_with_located_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        FOUNDING_PLAN.read_text(encoding="utf-8")
        .replace("units_file: ../units/jingzhou.yaml", f"units_file: {ROOT / 'src/plan_tracker/examples/units/jingzhou.yaml'}")
        .replace("every: quarter\n        due_after: 0", "every: fortnight\n        due_after: 0"),
        encoding="utf-8",
    )
    result = invoke("plan", "preview", str(broken))
    assert_bad_input(result, f"{broken}:")
    assert re.search(rf"{re.escape(str(broken))}:\d+:\d+: .*fortnight", result.stderr), result.stderr
    assert not (tmp_path / "var").exists()


# -- the plan's locale -----------------------------------------------------------------------
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("message_id", sorted(MESSAGES))
def test_no_chinese_preview_message_is_left_in_english(message_id: str) -> None:
    text = re.sub(r"\{[^{}]*\}", "", MESSAGES[message_id]["zh"])
    assert set(MESSAGES[message_id]) == {"zh", "en"}
    assert HAN.search(text) or not re.search(r"[A-Za-z]", text), text


def test_an_english_plan_gets_an_english_preview() -> None:
    result = preview_of(small_plan(one_off("2018-10-01"), locale="en"))
    assert result.locale == "en"
    table = render_text(preview_render.table(result))
    assert NATIONAL_DAY_REASON_EN in table
    assert "plan preview-2018 (预览测试计划), 2018-01-01 to 2018-12-31, calendar CN: 1 obligation(s)" in table
    assert "Task" in table and "-3 wd" in table and "then every 5 wd" in table
    assert "星期" not in table and "顺延" not in table
    description = str(next(iter(icalendar.Calendar.from_ical(preview_render.ics(result, stamp=STAMP))
                                .walk("VEVENT")))["DESCRIPTION"]).splitlines()
    assert description[:4] == ["Task: s.t 任务", "Unit: legal-office 区政府法制办", "Period: once",
                               "Due: 2018-10-08 (due 2018-10-01)"]
    assert "通报 accountability (+10 wd): 2018-10-22, then every 5 wd" in description
    page = Rows()
    page.feed(preview_render.html_page(result))
    assert page.headers[:5] == ["Task", "Lead unit", "Period", "Due", "How the due date is set"]
    assert '<html lang="en">' in preview_render.html_page(result)


def test_a_chinese_plan_previews_without_english_words() -> None:
    table = render_text(preview_render.table(preview_of(small_plan(one_off("2018-10-01")))))
    assert "计划 preview-2018（预览测试计划），2018-01-01 至 2018-12-31，工作日历 CN：督办事项 1 项，因非工作日顺延 1 项" in table
    assert NATIONAL_DAY_REASON in table
    assert not re.search(r"\b(wd|then|every|obligation|rolled|holiday|Task|due)\b", table), table


def render_text(renderable: Any) -> str:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None, soft_wrap=False).print(renderable)
    return buffer.getvalue()
