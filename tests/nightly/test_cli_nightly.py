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
    # a zh plan's summary speaks Chinese: lights by their labels, then the reminders line
    head, counts = result.output.splitlines()[:2]
    assert head.startswith("每晚跟进 national-day，截至 2018-10-09：") and "红灯 3" in head, result.output
    assert counts.startswith("  新增催办 ") and "已送达 " in counts and "red" not in result.output
    listed = runner.invoke(app, ["reminders", "--plan", "national-day", "--format", "json"])
    rows = json.loads(listed.stdout)
    assert rows and all(set(r) == {"task", "unit", "period", "level", "recipients", "fired_on", "state"} for r in rows)
    urge = [r for r in rows if r["level"] == "urge" and r["unit"] == "town-a" and r["task"] == "s.self-check"]
    assert urge == [{"task": "s.self-check", "unit": "town-a", "period": "once", "level": "urge",
                     "recipients": ["town-a-head@example.org", "town-a@example.org"],
                     "fired_on": "2018-10-09", "state": "sent"}]
    assert {r["state"] for r in rows if r["level"] == "remind"} == {"skipped"}
    table = runner.invoke(app, ["reminders", "--plan", "national-day"]).stdout
    assert "national-day 催办记录" in table and "产生日期" in table and "收件人" in table
    assert "催办" in table and "已发送" in table and "已跳过" in table  # levels and states by their labels
    assert "urge" not in table and "sent" not in table and "fired_on" not in table


def test_an_english_plans_summary_and_reminders_table_speak_english(cli_env, plan_file):
    plan_file.write_text(plan_file.read_text(encoding="utf-8").replace("plan:\n", "plan:\n  locale: en\n", 1),
                         encoding="utf-8")
    applied = runner.invoke(app, ["plan", "apply", str(plan_file)])
    assert applied.exit_code == 0 and "plan national-day: applied version 1 (new plan), in force from " in applied.stdout
    assert "  + unit town-a" in applied.stdout and "  obligations: +" in applied.stdout
    result = runner.invoke(app, ["nightly", "--plan", "national-day", "--as-of", "2018-10-09"])
    assert result.exit_code == 0, result.output
    head, counts = result.output.splitlines()[:2]
    assert head.startswith("nightly national-day as of 2018-10-09: ") and "Red 3" in head, result.output
    assert counts.startswith("  reminders raised ") and " message(s), failed " in counts
    table = runner.invoke(app, ["reminders", "--plan", "national-day"]).stdout
    assert "national-day reminders" in table and "fired on" in table and "recipients" in table
    assert "Urging" in table and "sent" in table and "skipped" in table
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in head + counts + table.replace("国庆节前后测试计划", ""))
    listed = runner.invoke(app, ["plans", "list"]).stdout
    assert "plans" in listed and "follow-up until" in listed and "last night" in listed
    assert "2018-10-09" in listed and "跟进截止" not in listed
    doctor = runner.invoke(app, ["doctor", "--now", "2018-10-09T09:00+08:00"]).stdout
    assert "plan-tracker doctor" in doctor and "result" in doctor and "体检" not in doctor


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
    assert late.exit_code == 0 and "跟进已于 " in late.output and "无需处理" in late.output
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
