"""The day's report built beside the night (`reports.ahead`) is the report built after it:
the same files byte for byte, the overdue reminders in the states delivery left them; a
failed build ahead falls back to the stage's own, and a night that stops lets it go."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from plan_tracker import background
from plan_tracker.reports import ahead, schedule
from plan_tracker.reports.build import build_report
from plan_tracker.reports.files import render
from plan_tracker.services import nightly
from plan_tracker.settings import Settings

PLAN = "national-day"
# the first night (reminders due), the first working day after the holiday (urged, overdue),
# and a Monday a week later (supervised; the weekly report rides along)
NIGHTS = [dt.date(2018, 9, 27), dt.date(2018, 10, 8), dt.date(2018, 10, 15)]
FORMATS = ("html", "json", "xlsx")


def _files(settings: Settings, day: dt.date) -> dict[str, bytes]:
    folder = settings.folder("reports") / PLAN
    return {fmt: (folder / f"{day.isoformat()}.{fmt}").read_bytes() for fmt in FORMATS}


def _after_the_night(engine: Engine, day: dt.date) -> dict[str, bytes]:
    report = build_report(engine, PLAN, day)
    return {fmt: render(report, fmt) for fmt in FORMATS}


def _stage_must_not_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the report stage built the report itself")

    monkeypatch.setattr(schedule, "build_report", refuse)


def test_the_report_built_beside_the_night_is_the_report_after_it(
        applied: Engine, night: Callable[..., Any], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for day in NIGHTS:
        _stage_must_not_build(monkeypatch)  # the night's files come from the report built ahead
        night(day)
        monkeypatch.undo()
        assert _files(settings, day) == _after_the_night(applied, day)
    overdue = json.loads(_files(settings, NIGHTS[-1])["json"])["overdue"]
    states = {(r["fired_on"], r["state"]) for item in overdue for r in item["reminders"]}
    # tonight's reminders of the overdue items, as delivery left them: sent, not pending
    assert (NIGHTS[-1].isoformat(), "sent") in states
    assert not any(state == "pending" for _, state in states)


def test_reports_collected_tonight_are_in_the_report_built_beside_the_night(
        applied: Engine, night: Callable[..., Any], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit's report waiting in the inbox is ingested by the night's collect stage; the
    report built beside the night reads the status reports only after it."""
    inbox = settings.folder("inbox") / PLAN
    inbox.mkdir(parents=True)
    (inbox / "town-a.csv").write_text(
        f"计划编号,{PLAN},单位编号,town-a\n任务编号,期间,状态,进度(%)\ns.summary,,已完成,100\n", encoding="utf-8")
    _stage_must_not_build(monkeypatch)
    night(NIGHTS[0])
    monkeypatch.undo()
    assert not list(inbox.glob("*.csv"))  # ingested
    assert _files(settings, NIGHTS[0]) == _after_the_night(applied, NIGHTS[0])
    tasks = {t["id"]: t for t in json.loads(_files(settings, NIGHTS[0])["json"])["tasks"]}
    assert tasks["s.summary"]["lights"]["done"] == 1  # town-a's report, collected tonight


def test_a_failed_report_ahead_is_built_by_the_stage(
        applied: Engine, night: Callable[..., Any], settings: Settings, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ahead, "build_report", fails)
    with caplog.at_level(logging.WARNING, logger=ahead.__name__):
        for day in NIGHTS[:2]:
            night(day)
    assert "report built beside the night failed" in caplog.text
    monkeypatch.undo()
    assert _files(settings, NIGHTS[1]) == _after_the_night(applied, NIGHTS[1])


def test_the_weeks_report_built_beside_the_night_rides_with_the_managers_messages(
        applied: Engine, night: Callable[..., Any], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the week's report day the report's thread hands the night's delivery the week's
    part, from its own items: delivery does not evaluate every item again for it (at 1M, a
    delivery process's seconds), and the part is the one delivery would have built."""
    from plan_tracker.reports import build as report_build
    from plan_tracker.reports.weekly_mail import WeeklyParts

    for day in NIGHTS[:2]:
        night(day)
    real, handed = ahead.ReportAhead.weekly_parts, []

    def noting(self: ahead.ReportAhead) -> Any:
        handed.append(real(self))
        return handed[-1]

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("delivery built the week's report again")

    monkeypatch.setattr(ahead.ReportAhead, "weekly_parts", noting)
    monkeypatch.setattr(report_build, "build_weekly", refuse)
    summary = night(NIGHTS[-1])
    monkeypatch.undo()
    assert summary.report.weekly is not None and summary.report.weekly.sent == 2  # the coordinator, the leading group
    assert [list(parts) for parts in handed] == [[NIGHTS[-1]]]
    assert handed[0][NIGHTS[-1]] == WeeklyParts(applied, PLAN).weekly_part(NIGHTS[-1])
    assert handed[0][NIGHTS[-1]].overdue  # a part with its overdue list, not an empty one


def test_a_failed_report_ahead_leaves_the_weeks_report_to_delivery(
        applied: Engine, night: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for day in NIGHTS[:2]:
        night(day)

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ahead, "build_report", fails)
    summary = night(NIGHTS[-1])
    assert summary.report.weekly is not None and summary.report.weekly.sent == 2


def test_a_night_that_stops_lets_its_report_go(
        applied: Engine, night: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(nightly, "evaluate", fails)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        night(NIGHTS[0])
    assert not [t for t in threading.enumerate() if t.name == "report-ahead"]
    if applied.dialect.name == "postgresql":  # no connection left holding a transaction
        with applied.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND state LIKE 'idle in transaction%'")).scalar_one() == 0


def test_a_night_without_report_files_builds_no_report(
        applied: Engine, night: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a report was built for no file")

    monkeypatch.setattr(ahead, "build_report", refuse)
    _stage_must_not_build(monkeypatch)
    summary = night(NIGHTS[1], settings=Settings(data_dir=tmp_path / "none", database_url=None, nightly_formats=""))
    assert summary.report.files == [] and summary.delivery.messages_sent > 0


def test_the_report_ahead_yields_the_cores_to_the_night(
        applied: Engine, night: Callable[..., Any], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    real, seen = ahead.build_report, []

    def noting_priority(*args: Any, **kwargs: Any) -> Any:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return real(*args, **kwargs)

    monkeypatch.setattr(ahead, "build_report", noting_priority)
    night(NIGHTS[1])
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(ours + background.NICENESS, 19)]  # Linux: the thread alone runs at a lower priority
    monkeypatch.undo()
    assert _files(settings, NIGHTS[1]) == _after_the_night(applied, NIGHTS[1])


def test_starting_a_night_loads_no_renderer() -> None:
    """The night's start imports neither the HTML page nor its charts: the report's thread
    loads them while the night evaluates (0.1 s of every night's start)."""
    probe = ("import sys, plan_tracker.night, plan_tracker.reports.ahead, plan_tracker.reports.weekly_mail; "
             "print(sorted(m for m in ('pygal', 'plan_tracker.reports.html_page', 'plan_tracker.reports.build') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_still_gives_its_names() -> None:
    import plan_tracker.reports as reports

    assert reports.build_report is build_report
    assert reports.render_html.__module__ == "plan_tracker.reports.html_page"
    assert {"Report", "ics_for_unit"} <= set(reports.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        reports.nothing
