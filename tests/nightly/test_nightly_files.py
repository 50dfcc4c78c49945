"""The day's report files of a night: only the configured formats, after the reminders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from plan_tracker.settings import Settings

from .conftest import reminders

FIRST = dt.date(2018, 10, 29)


def files(folder: Path) -> list[str]:
    plan = folder / "national-day"
    return sorted(p.name for p in plan.iterdir()) if plan.exists() else []


def test_a_night_writes_its_report_files_only_in_the_configured_formats(
    applied: Engine, night: Callable[..., Any], tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "md-json", database_url=None, nightly_formats="md, json")
    summary = night(FIRST, settings=settings)
    assert files(settings.folder("reports")) == ["2018-10-29.json", "2018-10-29.md"]
    assert [p.name for p in summary.report.files] == ["2018-10-29.md", "2018-10-29.json"]
    none = Settings(data_dir=tmp_path / "none", database_url=None, nightly_formats="")
    assert night(FIRST, settings=none).report.files == [] and files(none.folder("reports")) == []


def test_the_formats_setting_reads_a_comma_separated_list_and_refuses_an_unknown_format(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().nightly_formats == ("html", "xlsx", "json")
    monkeypatch.setenv("PLAN_TRACKER_NIGHTLY_FORMATS", "html, md,html")
    assert Settings().nightly_formats == ("html", "md")
    monkeypatch.setenv("PLAN_TRACKER_NIGHTLY_FORMATS", "html,pdf")
    with pytest.raises(ValidationError):
        Settings()


def test_report_files_that_cannot_be_written_lose_no_reminder(
    applied: Engine, night: Callable[..., Any], tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the reports folder should be", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "var", reports_dir=blocked, database_url=None)
    with pytest.raises(OSError):
        night(FIRST, settings=settings)
    # the reminders were recorded and delivered before the files were attempted
    sent = reminders(applied)
    assert [st for *_, st in sent if st != "skipped"] == ["sent"] * 3
    assert len(list(settings.folder("outbox").glob("*.eml"))) > 0
    fixed = Settings(data_dir=tmp_path / "var", database_url=None)
    summary = night(FIRST, settings=fixed)  # the re-run writes the files and raises nothing again
    assert reminders(applied) == sent and summary.evaluation.raised == 0
    assert files(fixed.folder("reports")) == ["2018-10-29.html", "2018-10-29.json", "2018-10-29.xlsx"]
