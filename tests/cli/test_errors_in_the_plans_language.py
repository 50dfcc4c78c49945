"""CLI errors speak the plan's language: `status`, `submit` and `plan validate` refuse bad
input in Chinese for a Chinese plan (the default) and in English for `locale: en`, with the
same exit code (2), the hint on its own line and FILE:LINE:COL in front of plan-file
problems. With no plan to ask (no store yet), PLAN_TRACKER_LOCALE decides, Chinese by default.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from plan_tracker.cli import app

from .conftest import words_plan_text

runner = CliRunner()
in_both_languages = pytest.mark.parametrize("words_store", ["zh", "en"], indirect=True)


def refused(*args: str) -> list[str]:
    result: Result = runner.invoke(app, list(args))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout and result.stdout == ""
    return result.stderr.splitlines()


EXPECTED = {
    "status-date": {
        "zh": ["错误：--as-of 的值“2018-13-01”不是日期（应为 YYYY-MM-DD）"],
        "en": ["error: --as-of '2018-13-01' is not a date (expected YYYY-MM-DD)"],
    },
    "status-format": {
        "zh": ["错误：--format 应为 table、json 之一，给出的是“xml”"],
        "en": ["error: --format must be one of table, json, got 'xml'"],
    },
    "submit-task": {
        "zh": ["错误：计划“words-2018”中没有任务“s.reprot”", "  是否应为“s.report”？已有：s.report、s.rules"],
        "en": ["error: plan 'words-2018' has no task 's.reprot'", "  did you mean 's.report'? known: s.report, s.rules"],
    },
    "submit-progress": {
        "zh": ["错误：进度须在 0 至 100 之间（填写了 150）"],
        "en": ["error: progress must be between 0 and 100, got 150"],
    },
    "submit-lead": {
        "zh": ["错误：2018-03-01，单位“office”不是任务“s.report”期间“once”的牵头单位"],
        "en": ["error: unit 'office' does not lead task 's.report' for period 'once' on 2018-03-01"],
    },
}


@in_both_languages
def test_status_refuses_bad_input_in_the_plans_language(words_store: str) -> None:
    assert refused("status", "--plan", "words-2018", "--as-of", "2018-13-01") == EXPECTED["status-date"][words_store]
    assert refused("status", "--plan", "words-2018", "--as-of", "2018-04-02", "--format", "xml") == \
        EXPECTED["status-format"][words_store]
    beyond = " ".join(refused("status", "--plan", "words-2018", "--as-of", "2040-01-02"))
    assert ("超出工作日历范围" if words_store == "zh" else "after the last day of this plan's working-day calendar") in beyond


@in_both_languages
def test_submit_refuses_bad_input_in_the_plans_language(words_store: str) -> None:
    base = ["submit", "--plan", "words-2018", "--period", "once", "--on", "2018-03-01"]
    assert refused(*base, "--task", "s.reprot", "--unit", "town-a", "--status", "done") == \
        EXPECTED["submit-task"][words_store]
    assert refused(*base, "--task", "s.report", "--unit", "town-a", "--status", "in_progress", "--progress", "150") == \
        EXPECTED["submit-progress"][words_store]
    assert refused(*base, "--task", "s.report", "--unit", "office", "--status", "done") == \
        EXPECTED["submit-lead"][words_store]


def validated(locale: str, tmp_path: Path, written: str, instead: str) -> tuple[Path, list[str]]:
    """`plan validate` of the plan in `locale` with `written` replaced by `instead`: the file
    and what the refusal said."""
    path = tmp_path / "plan.yaml"
    path.write_text(words_plan_text(locale).replace(written, instead), encoding="utf-8")
    return path, refused("plan", "validate", str(path))


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_validate_reports_problems_in_the_files_language_at_their_place(locale: str, tmp_path: Path) -> None:
    path, said = validated(locale, tmp_path, "lead: town-a", "lead: twn-a")
    where = f"{path}:13:43: sections.0.tasks.0.lead: "
    assert said == {
        "zh": [where + "未知单位“twn-a”（是否应为“town-a”？）", "共发现 1 个问题"],
        "en": [where + "unknown unit 'twn-a' (did you mean 'town-a'?)", "1 problem(s) found"],
    }[locale]


@pytest.mark.parametrize(("setting", "expected"), [
    (None, "错误：'sqlite:///"), ("zh", "错误：'sqlite:///"), ("en", "error: no store at 'sqlite:///")])
def test_with_no_plan_to_ask_the_locale_setting_decides(
    setting: str | None, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for

    monkeypatch.delenv("PLAN_TRACKER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "nowhere"))
    if setting is None:
        monkeypatch.delenv("PLAN_TRACKER_LOCALE", raising=False)
    else:
        monkeypatch.setenv("PLAN_TRACKER_LOCALE", setting)
    get_settings.cache_clear()
    engine_for.cache_clear()
    try:
        said = refused("status", "--plan", "words-2018")
    finally:
        get_settings.cache_clear()
        engine_for.cache_clear()
    assert said[0].startswith(expected), said
    assert ("处没有存储" in said[0]) == (setting != "en")


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_a_value_not_among_the_choices_lists_them_in_the_files_language(locale: str, tmp_path: Path) -> None:
    # pydantic words the choices "'a', 'b' or 'c'": its English "or" stayed in the Chinese sentence
    path, said = validated(locale, tmp_path, "notify: [contact]", "notify: [{contact: }]")
    where = f"{path}:8:38: escalation.0.notify.0: "
    assert said[0] == where + {
        "zh": "“{'contact': None}”不是 contact、head、coordinator、leading_group 之一",
        "en": "\"{'contact': None}\" is not one of contact, head, coordinator, leading_group",
    }[locale]
