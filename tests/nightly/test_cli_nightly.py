"""`plan-tracker nightly` and `reminders` through the CLI (in-process, no Prefect server)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from plan_tracker.cli import app

runner = CliRunner()


def test_nightly_prints_a_summary_and_reminders_lists_rows_as_in_design(cli_env, plan_file):
    assert runner.invoke(app, ["plan", "apply", str(plan_file)]).exit_code == 0
    result = runner.invoke(app, ["nightly", "--plan", "national-day", "--as-of", "2018-10-09"])
    assert result.exit_code == 0, result.output
    assert "red 3" in result.output and "reminders raised" in result.output
    listed = runner.invoke(app, ["reminders", "--plan", "national-day", "--format", "json"])
    rows = json.loads(listed.stdout)
    assert rows and all(set(r) == {"task", "unit", "period", "level", "recipients", "fired_on", "state"} for r in rows)
    urge = [r for r in rows if r["level"] == "urge" and r["unit"] == "town-a" and r["task"] == "s.self-check"]
    assert urge == [{"task": "s.self-check", "unit": "town-a", "period": "once", "level": "urge",
                     "recipients": ["town-a-head@example.org", "town-a@example.org"],
                     "fired_on": "2018-10-09", "state": "sent"}]
    assert {r["state"] for r in rows if r["level"] == "remind"} == {"skipped"}


def test_nightly_on_an_unknown_plan_or_a_bad_date_exits_2(cli_env, plan_file):
    runner.invoke(app, ["plan", "apply", str(plan_file)])
    unknown = runner.invoke(app, ["nightly", "--plan", "nope", "--as-of", "2018-10-09"])
    assert unknown.exit_code == 2 and "存储中没有计划“nope”" in unknown.output
    bad = runner.invoke(app, ["nightly", "--plan", "national-day", "--as-of", "2018-13-01"])
    assert bad.exit_code == 2 and "不是日期" in bad.output
    assert "Traceback" not in unknown.output + bad.output


def test_nightly_long_after_the_plan_says_follow_up_ended_and_changes_nothing(cli_env, plan_file):
    runner.invoke(app, ["plan", "apply", str(plan_file)])
    late = runner.invoke(app, ["nightly", "--plan", "national-day", "--as-of", "2031-01-05"])
    assert late.exit_code == 0 and "follow-up ended on" in late.output and "nothing to do" in late.output
    listed = runner.invoke(app, ["plans", "list", "--format", "json"])
    assert '"last_night": null' in listed.output


def test_shards_without_a_prefect_server_exit_2_with_what_to_do(cli_env, plan_file, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    runner.invoke(app, ["plan", "apply", str(plan_file)])
    split = runner.invoke(app, ["nightly", "--plan", "national-day", "--as-of", "2018-10-09", "--shards", "4"])
    assert split.exit_code == 2 and "请将 PREFECT_API_URL 设为" in split.output
    zero = runner.invoke(app, ["nightly", "--plan", "national-day", "--as-of", "2018-10-09", "--shards", "0"])
    assert zero.exit_code == 2 and "Traceback" not in split.output + zero.output
    whole = runner.invoke(app, ["nightly", "--plan", "national-day", "--as-of", "2018-10-09", "--shards", "1"])
    assert whole.exit_code == 0, whole.output
