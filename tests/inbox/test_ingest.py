"""Ingesting filled report files into the store, on SQLite and PostgreSQL.

A template is filled with openpyxl as a unit's clerk would (`fill`), then ingested; the store,
the audit log, the receipt and the row-by-row error file are checked.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl
from sqlalchemy import Engine, func, select

from plan_tracker.inbox.ingest import ingest_file
from plan_tracker.services.plans import apply_plan
from plan_tracker.services.status import status_rows
from plan_tracker.store.models import Event, StatusReport

from .conftest import AS_OF, PLAN_ID, PLAN_YAML, TODAY, events, fill, reports

Q1 = ("cap.training", "2018-Q1")
Q2 = ("cap.training", "2018-Q2")
SELF_CHECK = ("cap.self-check", "once")


def read_errors(path: Path) -> list[tuple[str, str, str, str]]:
    """(sheet, row, column, found) of each line of an error file."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["工作表 sheet", "行 row", "列 column", "填写内容 found", "问题 expected"]
    return [tuple(r[:4]) for r in rows[1:]]


def read_expected(path: Path) -> list[str]:
    """The `问题 expected` column of an error file."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [r[4] for r in list(csv.reader(handle))[1:]]


def light_of(engine: Engine, task: str, unit: str, period: str, day: dt.date = AS_OF) -> tuple:
    row = next(r for r in status_rows(engine, PLAN_ID, day) if (r.task, r.unit, r.period) == (task, unit, period))
    return row.light, row.status, row.progress


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(StatusReport.__table__)).scalar_one(),
                conn.execute(select(func.count()).select_from(Event.__table__)).scalar_one())


def test_a_filled_template_is_ingested_and_the_store_shows_the_reports(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    filled = fill(templates["town-a"], tmp_path / "川店镇-5月.xlsx", {
        Q1: {"状态": "已完成", "进度(%)": 100, "情况说明": "一季度轮训已完成", "佐证材料链接": "https://example.org/q1.pdf",
             "报送日期": dt.date(2018, 4, 27), "参训人次(人次)": 35},
        SELF_CHECK: {"状态": "推进中", "进度(%)": 60, "评查案卷数(件)": 4},
    })
    receipt = ingest_file(applied, PLAN_ID, filled, today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.unit, receipt.accepted, receipt.rejected, receipt.blank) == (
        "accepted", "town-a", 2, 0, 1)
    assert reports(applied) == [
        ("cap.training", "town-a", "2018-Q1", "done", 100, "2018-04-27", "inbox"),
        ("cap.self-check", "town-a", "once", "in_progress", 60, "2018-05-02", "inbox"),  # undated: today
    ]
    # Q1 was due 2018-04-09 and reported done on 04-27: done late.
    assert light_of(applied, "cap.training", "town-a", "2018-Q1") == ("done_late", "done", 100)
    assert light_of(applied, "cap.self-check", "town-a", "once") == ("green", "in_progress", 60)
    with applied.connect() as conn:
        values = conn.execute(select(StatusReport.__table__.c.indicator_values).order_by(StatusReport.__table__.c.id)).scalars().all()
    assert values == [{"trained": 35}, {"cases": 4}]
    # The file given on the command line stays; a copy is filed with its receipt.
    assert filled.exists()
    assert receipt.stored is not None and receipt.stored.parent == inbox / PLAN_ID / "processed"
    assert receipt.stored.read_bytes() == filled.read_bytes()
    assert receipt.errors_file is None
    saved = json.loads(receipt.receipt_file.read_text(encoding="utf-8"))
    assert (saved["outcome"], saved["accepted"], saved["unit"], saved["received_on"]) == ("accepted", 2, "town-a", "2018-05-02")


def test_every_ingestion_and_report_is_an_audit_event_with_unit_and_source(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    filled = fill(templates["town-b"], tmp_path / "b.xlsx", {Q2: {"状态": "推进中"}})
    receipt = ingest_file(applied, PLAN_ID, filled, today=TODAY, inbox=inbox)
    blank = ingest_file(applied, PLAN_ID, templates["town-b"], today=TODAY, inbox=inbox)
    assert blank.outcome == "rejected"
    logged = events(applied, "report.recorded", "inbox.ingested", "inbox.rejected")
    assert [(e["kind"], e["actor"], e["source"]) for e in logged] == [
        ("report.recorded", "town-b", "inbox"), ("inbox.ingested", "town-b", "inbox"),
        ("inbox.rejected", "town-b", "inbox")]
    assert logged[1]["payload"]["sha256"] == receipt.sha256
    assert logged[1]["payload"]["report_ids"] == receipt.report_ids
    assert logged[2]["payload"]["reason"] == "没有填写任何一行（每行的“状态”均为空）"


def test_a_malformed_file_yields_a_row_by_row_error_file(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    filled = fill(templates["town-b"], tmp_path / "马山镇.xlsx", {
        Q1: {"状态": "完成了", "进度(%)": 150, "报送日期": "明天"},
        Q2: {"状态": "推进中", "佐证材料链接": "javascript:alert(1)", "参训人次(人次)": "很多"},
    })
    receipt = ingest_file(applied, PLAN_ID, filled, today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.accepted, receipt.rejected) == ("rejected", 0, 2)
    assert receipt.stored is not None and receipt.stored.parent == inbox / PLAN_ID / "rejected"
    assert receipt.errors_file is not None
    assert read_errors(receipt.errors_file) == [
        ("反馈表", "4", "F 状态", "完成了"),
        ("反馈表", "4", "G 进度(%)", "150"),
        ("反馈表", "4", "J 报送日期", "明天"),
        ("反馈表", "5", "I 佐证材料链接", "javascript:alert(1)"),
        ("反馈表", "5", "K 参训人次(人次)", "很多"),
    ]
    assert receipt.problems[:2] == [
        "反馈表 第4行 F列「状态」：应为 未开始、推进中、已完成、受阻 之一（填写的是“完成了”）",
        "反馈表 第4行 G列「进度(%)」：应为 0 到 100 之间的整数（填写的是“150”）",
    ]
    assert read_expected(receipt.errors_file) == [
        "应为 未开始、推进中、已完成、受阻 之一", "应为 0 到 100 之间的整数", "应为日期，例如 2018-03-31",
        "应为以 http:// 或 https:// 开头的网址", "应为数字"]
    assert receipt.message == "没有可以接收的行"
    assert reports(applied) == []
    assert [e["actor"] for e in events(applied, "inbox.rejected")] == ["town-b"]


def test_good_rows_are_recorded_and_bad_rows_listed_when_a_file_is_partly_wrong(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    filled = fill(templates["town-b"], tmp_path / "partly.xlsx", {
        Q1: {"状态": "已完成", "报送日期": dt.date(2018, 4, 27)},
        Q2: {"状态": "推进中", "报送日期": dt.date(2018, 3, 1)},  # before Q2 starts
    })
    receipt = ingest_file(applied, PLAN_ID, filled, today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.accepted, receipt.rejected) == ("partial", 1, 1)
    assert receipt.stored is not None and receipt.stored.parent.name == "processed"
    assert read_errors(receipt.errors_file) == [("反馈表", "5", "J 报送日期", "2018-03-01")]
    assert receipt.errors[0].expected_in("zh") == "报送日期 2018-03-01 早于期间开始日（2018-04-01）"
    assert light_of(applied, "cap.training", "town-b", "2018-Q1") == ("done_late", "done", 100)


def test_re_ingesting_the_same_file_changes_nothing(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    filled = fill(templates["town-a"], tmp_path / "a.xlsx", {Q2: {"状态": "推进中", "进度(%)": 30}})
    first = ingest_file(applied, PLAN_ID, filled, today=TODAY, inbox=inbox)
    before = counts(applied)
    files_before = sorted(p.name for p in (inbox / PLAN_ID).rglob("*"))
    # The next day: an undated row would be dated anew, but the file is recognised by its bytes.
    again = ingest_file(applied, PLAN_ID, filled, today=TODAY + dt.timedelta(days=1), inbox=inbox)
    assert (first.outcome, again.outcome) == ("accepted", "already_ingested")
    assert again.summary() == "a.xlsx：已接收过，未作任何更改（该文件已于 2018-05-02 接收）"
    assert counts(applied) == before
    assert sorted(p.name for p in (inbox / PLAN_ID).rglob("*")) == files_before


def test_a_resaved_file_with_the_same_dated_rows_records_no_duplicate(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    answers = {Q2: {"状态": "推进中", "进度(%)": 30, "报送日期": dt.date(2018, 4, 28)}}
    first = ingest_file(applied, PLAN_ID, fill(templates["town-a"], tmp_path / "a1.xlsx", answers), today=TODAY, inbox=inbox)
    workbook = openpyxl.load_workbook(tmp_path / "a1.xlsx")
    workbook.properties.title = "saved again"  # different bytes, same answers
    workbook.save(tmp_path / "a2.xlsx")
    second = ingest_file(applied, PLAN_ID, tmp_path / "a2.xlsx", today=TODAY, inbox=inbox)
    assert first.sha256 != second.sha256
    assert (second.outcome, second.accepted, second.duplicates) == ("accepted", 0, 1)
    assert len(reports(applied)) == 1


def test_a_row_on_another_units_obligation_is_refused_and_audited(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    # town-b unprotects the sheet and rewrites a row to report on town-a's self-check.
    workbook = openpyxl.load_workbook(templates["town-b"])
    sheet = workbook["反馈表"]
    sheet["A4"], sheet["C4"], sheet["F4"] = "cap.self-check", "once", "已完成"
    sheet["F5"] = "推进中"
    workbook.save(tmp_path / "b.xlsx")
    receipt = ingest_file(applied, PLAN_ID, tmp_path / "b.xlsx", today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.accepted, receipt.rejected) == ("partial", 1, 1)
    assert receipt.errors[0].expected_in("zh") == (
        "任务“cap.self-check”期间“once”的事项由其他单位牵头，“town-b”只能填报本单位的事项")
    assert reports(applied) == [("cap.training", "town-b", "2018-Q2", "in_progress", None, "2018-05-02", "inbox")]
    refused = events(applied, "report.refused")
    assert [(e["actor"], e["source"], e["payload"]["task"], e["payload"]["row"]) for e in refused] == [
        ("town-b", "inbox", "cap.self-check", 4)]


def test_a_csv_row_naming_another_unit_is_refused_and_audited(applied: Engine, inbox: Path, tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("计划编号,inbox-2018,单位编号,town-b\n"
                    "单位编号,任务编号,期间,状态\n"
                    "town-a,cap.training,2018-Q2,已完成\n"
                    "town-b,cap.training,2018-Q2,推进中\n", encoding="utf-8")
    receipt = ingest_file(applied, PLAN_ID, path, today=TODAY, inbox=inbox)
    assert (receipt.accepted, receipt.rejected) == (1, 1)
    assert receipt.errors[0].column == "A 单位编号"
    assert receipt.problems[0] == ("csv 第3行 A列「单位编号」：本行填报单位为“town-a”，但本文件来自“town-b”，"
                                   "只能填报本单位的事项（填写的是“town-a”）")
    refused = events(applied, "report.refused")
    assert [(e["actor"], e["payload"]["named_unit"]) for e in refused] == [("town-b", "town-a")]


def test_a_file_claiming_a_unit_the_plan_lacks_is_refused_and_audited_as_unknown(
        applied: Engine, inbox: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("单位编号,=cmd|' /C calc'!A0\n任务编号,期间,状态\ncap.training,2018-Q2,推进中\n", encoding="utf-8")
    receipt = ingest_file(applied, PLAN_ID, path, today=TODAY, inbox=inbox)
    assert receipt.outcome == "rejected" and receipt.message == "计划“inbox-2018”中没有这个单位编号"
    [event] = events(applied, "inbox.rejected")
    assert (event["actor"], event["payload"]["claimed_unit"]) == ("unknown", "=cmd|' /C calc'!A0")
    # The error file echoes the claim, neutralised: no spreadsheet runs it as a formula.
    assert "'=cmd|" in receipt.errors_file.read_text(encoding="utf-8-sig")


def test_a_gbk_csv_saved_by_wps_is_accepted(applied: Engine, inbox: Path, tmp_path: Path) -> None:
    path = tmp_path / "川店镇.csv"
    text = ("计划编号,inbox-2018,单位编号,town-a\r\n"
            "任务编号,期间,状态,进度（%）,情况说明,报送日期,参训人次(人次)\r\n"
            "cap.training,2018-Q2,推进中,45,已培训两批,2018/4/28,18\r\n")
    path.write_bytes(text.encode("gbk"))
    receipt = ingest_file(applied, PLAN_ID, path, today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.kind, receipt.accepted) == ("accepted", "csv", 1), receipt.errors
    assert reports(applied) == [("cap.training", "town-a", "2018-Q2", "in_progress", 45, "2018-04-28", "inbox")]


def test_a_yaml_report_file_is_accepted(applied: Engine, inbox: Path, tmp_path: Path) -> None:
    path = tmp_path / "legal.yaml"
    path.write_text("plan: inbox-2018\nunit: legal-office\nplan_version: 1\nreports:\n"
                    "  - {task: cap.study-plan, period: once, status: done, reported_on: 2018-03-28,\n"
                    "     evidence: 'https://example.org/plan.pdf'}\n", encoding="utf-8")
    receipt = ingest_file(applied, PLAN_ID, path, today=dt.date(2018, 3, 29), inbox=inbox)
    assert (receipt.outcome, receipt.kind, receipt.accepted) == ("accepted", "yaml", 1), receipt.errors
    assert light_of(applied, "cap.study-plan", "legal-office", "once") == ("done", "done", 100)


def test_a_yaml_report_with_a_bad_row_names_its_line_and_key(applied: Engine, inbox: Path, tmp_path: Path) -> None:
    path = tmp_path / "legal.yaml"
    path.write_text("plan: inbox-2018\nunit: town-a\nreports:\n"
                    "  - {task: cap.training, period: 2018-Q2, status: 推进中}\n"
                    "  - task: cap.self-check\n    status: 推进中\n    indicators: {cases: many}\n", encoding="utf-8")
    receipt = ingest_file(applied, PLAN_ID, path, today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.accepted) == ("partial", 1)
    assert [(e.sheet, e.row, e.column, e.found) for e in receipt.errors] == [("yaml", 5, "indicators.cases", "many")]


def _with_meta(template: Path, out: Path, **changes: object) -> Path:
    workbook = openpyxl.load_workbook(template)
    meta = workbook["_meta"]
    for row in meta.iter_rows():
        if row[0].value in changes:
            row[1].value = changes[row[0].value]
    sheet = workbook["反馈表"]
    if "plan" in changes:  # a template of another plan names it in its identity row too
        sheet["B2"] = changes["plan"]
    sheet["F5"] = "推进中"
    workbook.save(out)
    return out


def test_a_template_of_another_plan_or_a_newer_plan_version_is_refused(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    other = ingest_file(applied, PLAN_ID, _with_meta(templates["town-b"], tmp_path / "o.xlsx", plan="other-2018"),
                        today=TODAY, inbox=inbox)
    newer = ingest_file(applied, PLAN_ID, _with_meta(templates["town-b"], tmp_path / "n.xlsx", plan_version=7),
                        today=TODAY, inbox=inbox)
    assert other.outcome == newer.outcome == "rejected"
    assert other.message == "本文件属于计划“other-2018”，不是“inbox-2018”"
    assert newer.message.startswith("本文件依据第7版计划生成，但系统中该计划只有第1版")
    assert reports(applied) == []
    assert [e["actor"] for e in events(applied, "inbox.rejected")] == ["town-b", "town-b"]


def test_a_template_from_an_older_plan_version_is_accepted_where_its_obligations_still_exist(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    filled = fill(templates["town-a"], tmp_path / "old.xlsx", {Q2: {"状态": "推进中"}, SELF_CHECK: {"状态": "已完成"}})
    # Version 2 of the plan drops the self-check task.
    start = PLAN_YAML.index("      - id: cap.self-check")
    v2 = tmp_path / "plan-v2.yaml"
    v2.write_text(PLAN_YAML[:start], encoding="utf-8")
    assert apply_plan(applied, v2, effective=TODAY).version == 2  # in force on the day the file arrives
    receipt = ingest_file(applied, PLAN_ID, filled, today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.accepted, receipt.rejected) == ("partial", 1, 1)
    assert receipt.errors[0].expected_in("zh") == (
        "该任务已不在计划中（本表依据第1版计划生成，计划现为第2版），请联系督查部门重新下发模板")


def test_status_as_of_a_past_date_counts_only_reports_received_by_then(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    # Reports are append-only rows with the date they claim and the date they were received;
    # status as of D is what the office knew on D: a report received on 05-02 claiming 04-27
    # changes nothing about 04-27..05-01.
    filled = fill(templates["town-a"], tmp_path / "a.xlsx", {Q1: {"状态": "已完成", "报送日期": dt.date(2018, 4, 27)}})
    ingest_file(applied, PLAN_ID, filled, today=TODAY, inbox=inbox)
    assert light_of(applied, "cap.training", "town-a", "2018-Q1", dt.date(2018, 4, 27)) == ("red", None, None)
    assert light_of(applied, "cap.training", "town-a", "2018-Q1", dt.date(2018, 5, 1)) == ("red", None, None)
    assert light_of(applied, "cap.training", "town-a", "2018-Q1", TODAY) == ("done_late", "done", 100)


def test_a_row_dated_further_back_than_the_plan_allows_is_refused_with_the_rule(
        applied: Engine, templates: dict[str, Path], inbox: Path, tmp_path: Path) -> None:
    # 2018-05-02 (Wed): three working days back are 04-28 (an adjusted working Saturday), 04-27
    # and 04-26; 05-01 is May Day. A row dated 04-20 belongs to the coordinator's paper record.
    filled = fill(templates["town-a"], tmp_path / "old.xlsx", {Q1: {"状态": "已完成", "报送日期": dt.date(2018, 4, 20)}})
    receipt = ingest_file(applied, PLAN_ID, filled, today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.accepted, receipt.rejected) == ("rejected", 0, 1)
    assert receipt.errors[0].expected_in("zh") == (
        "报送日期 2018-04-20 早于收到之日（2018-05-02）前 3 个工作日，最早可填 2018-04-26；更早的情况请联系牵头协调单位登记")
    assert "ask the coordinator" in receipt.errors[0].expected_in("en")
    assert reports(applied) == []
