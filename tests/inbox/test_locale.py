"""The inbox speaks the plan's locale: Chinese by default, English for `plan.locale: en`.

Unit staff read receipts and error files, so every sentence comes from one catalogue
(`plan_tracker.inbox.messages`) in both languages. What programs read does not change with
the locale: JSON keys, outcomes, error-file headers, audit event kinds.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plan_tracker.inbox import messages
from plan_tracker.inbox.errors import FileRefused, InboxMisconfigured, RowError
from plan_tracker.inbox.ingest import FileReceipt, ingest_file
from plan_tracker.inbox.messages import MESSAGES, bilingual, msg
from plan_tracker.inbox.template import write_templates
from plan_tracker.services.plans import apply_plan

from .conftest import AS_OF, PLAN_ID, TODAY, events, fill

SRC = Path(__file__).resolve().parents[2] / "src" / "plan_tracker"
HAN = re.compile(r"[\u4e00-\u9fff]")
# Latin words a Chinese sentence may carry: file formats, keys and literal values a unit types.
LATIN_IN_CHINESE = {"once", "http", "https", "YAML", "CSV", "UTF", "GB18030", "GBK", "XLSX", "xlsx", "xls", "csv",
                    "yaml", "DTD", "DOCTYPE", "ENTITY", "_meta", "Excel", "WPS", "NUL", "OpenDocument", "Unicode",
                    "zip", "XML", "name", "unit", "reports", "Windows"}
Q1 = ("cap.training", "2018-Q1")
Q2 = ("cap.training", "2018-Q2")


def without_fields(template: str) -> str:
    return re.sub(r"\{[^{}]*\}", "", template)


# -- the catalogue -----------------------------------------------------------------------------
def test_every_message_has_chinese_and_english() -> None:
    assert all(set(texts) == {"zh", "en"} and all(t.strip() for t in texts.values()) for texts in MESSAGES.values())


@pytest.mark.parametrize("message_id", sorted(MESSAGES))
def test_no_chinese_message_is_left_in_english(message_id: str) -> None:
    # A Chinese template has Chinese words, or no words at all (e.g. "{where}：{expected}").
    text = without_fields(MESSAGES[message_id]["zh"])
    assert HAN.search(text) or not re.search(r"[A-Za-z]", text), text
    latin = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text)) - {"8", "16"}
    assert latin <= LATIN_IN_CHINESE, f"{message_id}: English left in {text!r}: {sorted(latin - LATIN_IN_CHINESE)}"


@pytest.mark.parametrize("message_id", sorted(MESSAGES))
def test_both_languages_fill_in_the_same_fields(message_id: str) -> None:
    fields = messages.fields_of(MESSAGES[message_id])
    if MESSAGES[message_id]["en"] == "{detail}":
        return  # English quotes the domain's own sentence; Chinese words it from the other fields
    assert fields["zh"] == fields["en"]


def test_every_message_the_inbox_uses_is_in_the_catalogue_and_every_entry_is_used() -> None:
    sources = [*(SRC / "inbox").glob("*.py"), SRC / "commands" / "inbox.py"]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources if p.name != "messages.py")
    prefixes = {i.split(".")[0] for i in MESSAGES}
    used = {m for m in re.findall(r"\"([a-z_]+\.[a-z_0-9]+)\"", text) if m.split(".")[0] in prefixes}
    dynamic = set(re.findall(r"f\"([a-z_]+)\.\{", text))  # msg(f"every.{task.every.value}") and the like
    assert used - set(MESSAGES) == set()
    unused = {i for i in MESSAGES if i not in used and i.split(".")[0] not in dynamic and "." in i}
    assert unused == set()


class Anything:
    def __format__(self, spec: str) -> str:
        return "x"

    def __repr__(self) -> str:
        return "'x'"


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_template_can_be_filled_in(locale: str) -> None:
    for message_id, texts in MESSAGES.items():
        names = messages.fields_of(texts)[locale]
        assert messages.word(message_id, locale, **{n: Anything() for n in names})


def test_lists_are_joined_the_way_each_language_writes_them() -> None:
    choice = msg("row.status_choice", choices=("未开始", "推进中"))
    assert (choice.render("zh"), choice.render("en")) == ("应为 未开始、推进中 之一", "one of 未开始, 推进中")


def test_a_problem_worded_without_a_plan_is_chinese_and_a_misconfigured_inbox_says_both() -> None:
    refused = FileRefused.because("safety.not_zip")
    assert str(refused) == "不是 XLSX 工作簿（.xlsx 文件是 zip 压缩包）"
    problem = RowError("反馈表", 5, "F 状态", msg("row.status_choice", choices=("未开始", "已完成")), "x")
    assert str(problem) == "反馈表 第5行 F列「状态」：应为 未开始、已完成 之一（填写的是“x”）"
    assert problem.text("en") == "反馈表 row 5 F 状态: one of 未开始, 已完成 (found 'x')"
    assert str(InboxMisconfigured("folder.not_folder", target="/srv/inbox/p/processed")) == (
        "/srv/inbox/p/processed 不是文件夹（/srv/inbox/p/processed is not a folder）")
    assert bilingual(msg("file.missing")) == "文件不存在（no such file）"


@pytest.mark.parametrize(("column", "zh", "en"), [
    ("F 状态", "F列「状态」", "F 状态"), ("K 参训人次(人次)", "K列「参训人次(人次)」", "K 参训人次(人次)"),
    ("F", "F列", "F"), ("indicators.cases", "「indicators.cases」", "indicators.cases"), ("col 7", "第7列", "col 7"),
])
def test_a_located_column_reads_naturally_in_each_language(column: str, zh: str, en: str) -> None:
    from plan_tracker.inbox.errors import column_text

    assert (column_text(column, "zh"), column_text(column, "en")) == (zh, en)


def test_a_receipt_has_the_same_keys_and_outcomes_in_both_languages() -> None:
    error = RowError("csv", 3, "B 期间", msg("row.date"), "明天")
    zh = FileReceipt("a.csv", PLAN_ID, "zh", errors=[error], reason=msg("file.rows_rejected", count=1)).as_json()
    en = FileReceipt("a.csv", PLAN_ID, "en", errors=[error], reason=msg("file.rows_rejected", count=1)).as_json()
    assert zh.keys() == en.keys() and zh["errors"][0].keys() == en["errors"][0].keys()
    assert (zh["outcome"], zh["message"], zh["errors"][0]["expected"]) == (
        "rejected", "1 行未通过校验，详见错误清单", "应为日期，例如 2018-03-31")
    assert (en["outcome"], en["message"], en["errors"][0]["expected"]) == (
        "rejected", "1 row(s) rejected: see the error file", "a date such as 2018-03-31")


# -- ingestion, end to end ---------------------------------------------------------------------
def test_an_english_plan_gets_english_receipts_and_error_files(
        applied_en: Engine, inbox: Path, tmp_path: Path) -> None:
    files = write_templates(applied_en, PLAN_ID, as_of=AS_OF, today=TODAY, out_dir=tmp_path / "templates")
    template = next(f.path for f in files if f.unit == "town-b")
    filled = fill(template, tmp_path / "b.xlsx", {
        Q1: {"状态": "完成了", "进度(%)": 150},
        Q2: {"状态": "推进中", "报送日期": "2018-03-01"},
    })
    receipt = ingest_file(applied_en, PLAN_ID, filled, today=TODAY, inbox=inbox)
    assert receipt.locale == "en"
    assert receipt.problems == [
        "反馈表 row 4 F 状态: one of 未开始, 推进中, 已完成, 受阻 (found '完成了')",
        "反馈表 row 4 G 进度(%): a whole number from 0 to 100 (found '150')",
        "反馈表 row 5 J 报送日期: report date 2018-03-01 is before the period starts (2018-04-01) (found '2018-03-01')",
    ]
    assert receipt.summary() == ("b.xlsx: rejected — 0 row(s) accepted, 0 already recorded, 2 rejected, 0 blank"
                                 " — no row could be accepted")
    with receipt.errors_file.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["工作表 sheet", "行 row", "列 column", "填写内容 found", "问题 expected"]
    assert [r[4] for r in rows[1:]] == ["one of 未开始, 推进中, 已完成, 受阻", "a whole number from 0 to 100",
                                        "report date 2018-03-01 is before the period starts (2018-04-01)"]
    saved = json.loads(receipt.receipt_file.read_text(encoding="utf-8"))
    assert (saved["outcome"], saved["message"], saved["locale"]) == (
        "rejected", "no row could be accepted", "en")
    assert [e["payload"]["reason"] for e in events(applied_en, "inbox.rejected")] == ["no row could be accepted"]


def test_a_chinese_plan_words_every_row_rule_in_chinese(applied: Engine, inbox: Path, tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("计划编号,inbox-2018,单位编号,town-b\n"
                    "任务编号,期间,状态,进度(%),报送日期,佐证材料链接,参训人次(人次),,案卷\n"
                    ",2018-Q2,推进中\n"
                    "cap.nothing,2018-Q2,推进中\n"
                    "cap.training,2018-Q9,推进中\n"
                    "cap.training,2019-Q1,推进中\n"
                    "cap.training,,推进中\n"
                    "cap.training,2018-Q2,,50\n"
                    "cap.training,2018-Q2,推进中,,2018-06-01\n"
                    "cap.training,2018-Q2,推进中,,,,,7\n"
                    "cap.training,2018-Q2,推进中,,,,,,3\n"
                    "cap.study-plan,2018,推进中\n", encoding="utf-8")
    receipt = ingest_file(applied, PLAN_ID, path, today=TODAY, inbox=inbox)
    assert receipt.problems == [
        "csv 第3行 A列「任务编号」：请填写任务编号",
        "csv 第4行 A列「任务编号」：计划“inbox-2018”中没有这个任务编号（填写的是“cap.nothing”）",
        "csv 第5行 B列「期间」：期间格式不对：本任务按季度报送，应填写如 2018-Q1（填写的是“2018-Q9”）",
        "csv 第6行 B列「期间」：期间“2019-Q1”不在计划“inbox-2018”的起止日期（2018-01-01 至 2018-12-31）内"
        "（填写的是“2019-Q1”）",
        "csv 第7行 B列「期间」：请填写期间：本任务按季度报送，例如 2018-Q1",
        "csv 第8行 C列「状态」：请填写状态：未开始、推进中、已完成、受阻 之一",
        "csv 第9行 E列「报送日期」：报送日期 2018-06-01 晚于今天（2018-05-02）（填写的是“2018-06-01”）",
        "csv 第10行 H列：该列没有表头，无法识别所填内容（填写的是“7”）",
        "csv 第11行 I列「案卷」：既不是反馈表的列，也不是任务“cap.training”的指标（该任务的指标：参训人次）"
        "（填写的是“3”）",
        "csv 第12行 B列「期间」：本任务为一次性任务，期间请填写 once 或留空（填写的是“2018”）",
    ]
    assert all(HAN.search(p) for p in receipt.problems)


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_a_file_refused_before_its_identity_is_read_speaks_the_plans_locale(
        locale: str, engine: Engine, plan_file: Path, en_plan_file: Path, inbox: Path, tmp_path: Path) -> None:
    # The plan is named by the inbox folder (or --plan), not by the file: its locale is known
    # before a single byte of the file is read, so even a hostile file is refused in it.
    apply_plan(engine, plan_file if locale == "zh" else en_plan_file)
    path = tmp_path / "report.xlsx"
    path.write_bytes(b"hello, this is not a workbook\n")
    receipt = ingest_file(engine, PLAN_ID, path, today=TODAY, inbox=inbox)
    expected = {"zh": ("report.xlsx：已退回 — 不是 XLSX 工作簿（.xlsx 文件是 zip 压缩包）",
                       "不是 XLSX 工作簿（.xlsx 文件是 zip 压缩包）"),
                "en": ("report.xlsx: rejected — not an XLSX workbook (an .xlsx file is a zip archive)",
                       "not an XLSX workbook (an .xlsx file is a zip archive)")}[locale]
    assert (receipt.summary(), receipt.message) == expected
    [event] = events(engine, "inbox.rejected")
    assert (event["kind"], event["payload"]["reason"], event["payload"]["outcome"]) == (
        "inbox.rejected", expected[1], "rejected")
