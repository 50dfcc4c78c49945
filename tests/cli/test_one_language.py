"""Human CLI surfaces speak the plan's language: the status table shows light and status
labels (JSON keeps the codes), `submit` echoes the status the store recorded, and `doctor`'s
messages and fixes, `mail fetch`'s summary, `serve`'s warning, the one-line internal error
and the night run through Prefect are Chinese for a Chinese plan and English for
`locale: en` — with nothing of the other language left in them."""

from __future__ import annotations

import datetime as dt
import json
import re
import string
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plan_tracker.cli import app

from .conftest import WORDS_PLAN_ID

runner = CliRunner()
english_plan = pytest.mark.parametrize("words_store", ["en"], indirect=True)
both_languages = pytest.mark.parametrize("words_store", ["zh", "en"], indirect=True)

# Three English words in a row: a sentence, not a name (a check name, a code, an id, UTC).
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}\b")
# What a Chinese sentence may quote in English: code (`…`), quoted data (“…”), a command.
QUOTED = re.compile(r"`[^`]*`|“[^”]*”|\bplan-tracker(?: [a-z-]+)+")
CJK = re.compile(r"[\u4e00-\u9fff]")


def speaks(text: str, locale: str) -> bool:
    """`text` is a sentence of `locale`: Chinese with no English sentence in it (what it quotes
    aside), or English with no Chinese."""
    if locale == "zh":
        return bool(CJK.search(text)) and not ENGLISH_RUN.search(QUOTED.sub(" ", text))
    return not CJK.search(text) and bool(re.search(r"[A-Za-z]{3,}", text))


def test_the_sentence_test_tells_the_languages_apart() -> None:
    assert speaks("本计划从未成功完成过每晚跟进；请运行 `plan-tracker nightly --plan p --catch-up`", "zh")
    assert not speaks("本计划 has never run", "zh") and not speaks("no nightly run has ever completed", "zh")
    assert speaks("no nightly run has ever completed for this plan", "en")
    assert not speaks("本计划从未运行", "en") and not speaks("2018-04-03 (CN)", "en")


def submit(status: str) -> str:
    result = runner.invoke(app, ["submit", "--plan", WORDS_PLAN_ID, "--task", "s.rules", "--unit", "office",
                                 "--period", "once", "--status", status, "--on", "2018-04-02"])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_the_status_table_shows_chinese_labels_and_json_keeps_codes(words_store: str) -> None:
    said = submit("推进中")
    assert "= 推进中（in_progress），报送日期 2018-04-02" in said  # what was recorded, not what was typed
    table = runner.invoke(app, ["status", "--plan", WORDS_PLAN_ID, "--as-of", "2018-04-03"]).stdout
    for word in ("亮灯", "状态", "红灯", "推进中", "绿灯"):  # the one vocabulary (domain.vocabulary)
        assert word in table, table
    for code in ("red", "in_progress", "green"):
        assert code not in table, table
    rows = json.loads(runner.invoke(app, ["status", "--plan", WORDS_PLAN_ID, "--as-of", "2018-04-03",
                                          "--format", "json"]).stdout)
    assert {r["light"] for r in rows} == {"red", "green"} and {r["status"] for r in rows} == {None, "in_progress"}


@english_plan
def test_an_english_plan_gets_english_labels(words_store: str) -> None:
    assert "= In progress (in_progress)" in submit("in_progress")
    table = runner.invoke(app, ["status", "--plan", WORDS_PLAN_ID, "--as-of", "2018-04-03"]).stdout
    for word in ("Light", "Red", "Green"):  # the one vocabulary (domain.vocabulary)
        assert word in table, table
    assert "红灯" not in table and "逾期" not in table


# -- doctor ------------------------------------------------------------------------------------------
def disable_a_channel() -> None:
    from sqlalchemy import insert

    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import engine_for
    from plan_tracker.store.outbox_models import ChannelState

    with engine_for(get_settings().resolved_database_url()).begin() as conn:
        conn.execute(insert(ChannelState.__table__).values(  # type: ignore[attr-defined]
            name="dingtalk:town-robot", disabled=True, reason="errcode 310000",
            changed_at=dt.datetime(2018, 4, 2, 8, tzinfo=dt.UTC)))


@both_languages
def test_doctor_words_every_message_and_fix_in_the_plans_language(words_store: str) -> None:
    disable_a_channel()
    now = "2018-04-03T10:00:00+08:00"  # the plan never ran: the dead-man check fails, with its fix
    result = runner.invoke(app, ["doctor", "--format", "json", "--now", now])
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)
    states = {r["check"]: r["state"] for r in rows}
    assert states == {"database": "ok", "migrations": "ok", "nightly": "fail", "calendar": "ok", "outbox": "ok",
                      "channels": "fail"}  # the names and states scripts read: the same in every language
    for row in rows:
        assert speaks(row["message"], words_store), row
        assert row["fix"] is None or speaks(row["fix"], words_store), row
        assert row["key"].startswith("doctor.") and (row["fix_key"] is None) == (row["fix"] is None)
    nightly = next(r for r in rows if r["check"] == "nightly")
    assert (nightly["key"], nightly["fix_key"], nightly["params"]) == (
        "doctor.never_ran", "doctor.fix_never_ran", {"plan": WORDS_PLAN_ID})
    table = runner.invoke(app, ["doctor", "--now", now]).stdout
    assert {"zh": "本计划从未成功完成过每晚跟进", "en": "no nightly run has ever completed"}[words_store] in table
    assert {"zh": "no nightly run", "en": "从未"}[words_store] not in table


# -- mail fetch, serve, the internal error, nightly through Prefect -----------------------------------
@both_languages
def test_mail_fetch_sums_up_in_the_plans_language(
    words_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plan_tracker.settings import get_settings

    box = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    monkeypatch.setenv("PLAN_TRACKER_IMAP_URL", f"maildir:{box}")
    get_settings.cache_clear()
    result = runner.invoke(app, ["mail", "fetch", "--plan", WORDS_PLAN_ID, "--now", "2018-04-03T10:00+08:00"])
    assert result.exit_code == 0, result.output
    assert speaks(result.stdout, words_store), result.stdout
    assert result.stdout.startswith({"zh": "收取邮件：共 0 封", "en": "mail fetch: messages 0"}[words_store])


@both_languages
def test_serve_warns_of_insecure_http_in_the_plans_language(
    words_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from plan_tracker.settings import get_settings

    served: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: served.append(target))  # no listening here
    monkeypatch.setenv("PLAN_TRACKER_INSECURE_HTTP", "true")
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0 and served, result.output
    assert speaks(result.stderr, words_store) and "PLAN_TRACKER_INSECURE_HTTP" in result.stderr, result.stderr


@both_languages
def test_an_internal_error_is_one_line_in_the_plans_language(
    words_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("light")  # a bug, not the user's input

    monkeypatch.setattr("plan_tracker.services.status.status_rows", broken)
    result = runner.invoke(app, ["status", "--plan", WORDS_PLAN_ID, "--as-of", "2018-04-03"])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    start = {"zh": "内部错误：KeyError: 'light'（详细记录见 ", "en": "internal error: KeyError: 'light' (traceback in "}
    assert line.startswith(start[words_store]) and line.endswith({"zh": "plan-tracker.log）", "en": ".log)"}[words_store])


@both_languages
def test_a_night_run_through_prefect_is_worded_like_the_cli_night(
    words_store: str, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI prints the flow's results (`commands.core._print_flow_night`): the same summary
    as an in-process night, what did not go out, and a night after follow-up ended."""
    from plan_tracker.commands.core import _print_flow_night
    from plan_tracker.night import run_nightly
    from plan_tracker.settings import Settings, get_settings
    from plan_tracker.store.db import engine_for

    engine = engine_for(get_settings().resolved_database_url())
    summary = run_nightly(engine, WORDS_PLAN_ID, dt.date(2018, 4, 2), now=dt.datetime(2018, 4, 2, 2, tzinfo=dt.UTC),
                          settings=Settings(data_dir=Path(cli_env["PLAN_TRACKER_DATA_DIR"]))).as_dict()
    capsys.readouterr()
    summary["delivery"] |= {"failed": 2, "dead": 1}  # as a flow whose SMTP server was down returns it
    _print_flow_night(summary, words_store)
    _print_flow_night({"plan": WORDS_PLAN_ID, "as_of": "2019-06-01", "follow_up_ended": "2019-03-05"}, words_store)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(speaks(line, words_store) for line in lines), lines
    assert {"zh": "有 3 条未能发出（失败 2，无法送达 1", "en": "3 deliveries did not go out (failed 2, dead 1"}[
        words_store] in lines[2]
    assert "2019-03-05" in lines[3]


# -- the code: no printed English sentence bypasses the catalogue --------------------------------------
def test_every_out_and_doctor_key_reads_as_one_language() -> None:
    """Each CLI and doctor catalogue entry: its Chinese has no English sentence (what it quotes
    aside) and its English no Chinese (fields left out: they hold the data)."""
    from plan_tracker.domain.messages import MESSAGES

    def literal(text: str) -> str:
        return "".join(part for part, *_ in string.Formatter().parse(text))

    mixed = [key for key, texts in MESSAGES.items() if key.startswith(("out.", "doctor.", "cli."))
             and (ENGLISH_RUN.search(QUOTED.sub(" ", literal(texts["zh"]))) or CJK.search(literal(texts["en"])))]
    assert mixed == []


@both_languages
def test_deliver_says_which_channel_it_stopped_trying_in_the_plans_language(
    words_store: str, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    from plan_tracker.settings import get_settings

    monkeypatch.setenv("PLAN_TRACKER_SMTP_HOST", "127.0.0.1")  # mail by SMTP, and its server down
    monkeypatch.setenv("PLAN_TRACKER_SMTP_PORT", str(closed_port))
    monkeypatch.setenv("PLAN_TRACKER_SMTP_BREAKER_THRESHOLD", "1")
    monkeypatch.setenv("PLAN_TRACKER_NOW", "2018-04-03T02:00:00+08:00")  # the night: outside the window
    get_settings.cache_clear()
    night = runner.invoke(app, ["nightly", "--plan", WORDS_PLAN_ID, "--as-of", "2018-04-03"])
    assert night.exit_code == 0, night.output
    monkeypatch.setenv("PLAN_TRACKER_NOW", "2018-04-03T10:00:00+08:00")  # office hours
    get_settings.cache_clear()
    result = runner.invoke(app, ["deliver", "--plan", WORDS_PLAN_ID])
    get_settings.cache_clear()
    stopped = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(stopped) == 1, result.stdout
    assert stopped[0].startswith({"zh": "smtp：连续 1 次连接失败后停止尝试",
                                  "en": "smtp: stopped trying after 1 connection failures"}[words_store])
    assert speaks(QUOTED.sub(" ", stopped[0].split("（最后一次：")[0].split("(the last:")[0]), words_store), stopped
