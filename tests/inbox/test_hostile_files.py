"""Hostile files are rejected within fixed time and memory caps, with a clear reason, never a
traceback, and nothing is written outside the inbox.

Each case is measured around `ingest_file`: the process's CPU time (`time.process_time`: wall
time on a 2-core machine shared with other test runs measured the neighbours, not the file;
wall time is printed beside it), the Python heap peak with tracemalloc. The caps asserted are
REJECT_WITHIN_SECONDS of CPU (well inside the
run-time deadline `MAX_SECONDS`) and `MEMORY_BUDGET_BYTES`; docs/INBOX.md lists both.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plan_tracker.inbox.errors import InboxMisconfigured
from plan_tracker.inbox.folders import safe_name
from plan_tracker.inbox.ingest import ingest_file, ingest_inbox
from plan_tracker.inbox.safety import MAX_COLUMNS, MAX_DATA_ROWS, MAX_ROWS, MEMORY_BUDGET_BYTES

from . import corpus
from .conftest import PLAN_ID, TODAY, events, measured, reports

REJECT_WITHIN_SECONDS = 2.0

CASES: list[tuple[Callable[[bytes], tuple[str, bytes]], str]] = [
    (corpus.zip_bomb_declared, "声明解压后为"),
    (corpus.zip_bomb_ratio, "膨胀"),
    (corpus.zip_bomb_lying_header, "工作簿已损坏"),
    (corpus.entity_bomb, "DTD"),
    (corpus.external_entity, "DTD"),
    (corpus.utf16_part, "不是 UTF-8 编码的 XML"),
    (corpus.ebcdic_part, "只接受 UTF-8"),
    (corpus.huge_sheet_rows, f"只读取到第 {MAX_ROWS} 行"),
    (corpus.huge_sheet_columns, f"最多 {MAX_COLUMNS} 列"),
    (corpus.forged_row_number, "超出 Excel 最大行或最大列"),
    (corpus.too_many_data_rows, f"数据超过 {MAX_DATA_ROWS} 行"),
    (corpus.traversal_in_archive, "试图跳出压缩包"),
    (corpus.yaml_alias_bomb, "不接受 YAML 锚点（&name）"),
    (corpus.yaml_python_tag, "不接受 YAML 标签（!name）"),
    (corpus.csv_utf16, "UTF-16"),
    (corpus.csv_not_text, "既不是 UTF-8 也不是 GB18030"),
    (corpus.csv_huge_field, "CSV 文件格式有误"),
    (corpus.csv_too_many_rows, f"数据超过 {MAX_DATA_ROWS} 行"),
    (corpus.csv_sparse_rows, f"文件超过 {MAX_ROWS} 行"),
    (corpus.oversized, "上限为"),
    (corpus.old_xls, "旧版 .xls"),
    (corpus.not_a_zip, "不是 XLSX 工作簿"),
    (corpus.macro_workbook, "启用宏"),
]
_built: dict[str, tuple[str, bytes]] = {}  # a hostile file is built once and reused on both backends


def files_outside(root: Path, inbox: Path) -> set[Path]:
    return {p for p in root.rglob("*") if not p.is_relative_to(inbox)}


@pytest.mark.parametrize(("build", "reason"), CASES, ids=[c[0].__name__ for c in CASES])
def test_a_hostile_file_is_rejected_within_the_caps(
        build: Callable[[bytes], tuple[str, bytes]], reason: str, applied: Engine, base_template: bytes,
        inbox: Path, tmp_path: Path) -> None:
    if build.__name__ not in _built:
        _built[build.__name__] = build(base_template)
    name, data = _built[build.__name__]
    path = tmp_path / name
    path.write_bytes(data)
    before = files_outside(tmp_path, inbox)
    run = measured(lambda: ingest_file(applied, PLAN_ID, path, today=TODAY, inbox=inbox))
    receipt = run.result
    assert receipt.outcome == "rejected", receipt.summary()
    assert reason in " ".join(receipt.problems), receipt.problems
    assert run.cpu_seconds < REJECT_WITHIN_SECONDS, f"{name}: {run.cpu_seconds:.2f} s CPU ({run.seconds:.2f} s wall)"
    assert run.peak_bytes < MEMORY_BUDGET_BYTES, f"{name}: peak {run.peak_bytes / 2**20:.1f} MiB"
    assert reports(applied) == []
    assert [e["kind"] for e in events(applied, "inbox.rejected", "inbox.ingested")] == ["inbox.rejected"]
    assert files_outside(tmp_path, inbox) == before
    if receipt.stored is not None:  # an oversized file is never read, so never copied either
        assert receipt.errors_file is not None and receipt.errors_file.parent == inbox / PLAN_ID / "rejected"
    print(f"\n{build.__name__}: rejected in {run.cpu_seconds * 1000:.0f} ms CPU ({run.seconds * 1000:.0f} ms wall), peak {run.peak_bytes / 2**20:.1f} MiB")


@pytest.mark.parametrize(("given", "safe"), [
    ("../../etc/passwd", "passwd"), ("..\\..\\windows\\win.ini", "win.ini"), ("a\0b.xlsx", "a_b.xlsx"),
    ("报表\n第二行.csv", "报表_第二行.csv"), ("\u202egpj.csv", "_gpj.csv"), ("...", "file"), ("", "file"),
    (".bashrc", "bashrc"), ("川店镇 5月 反馈表.xlsx", "川店镇_5月_反馈表.xlsx"),
    ("x" * 300 + ".xlsx", "x" * 75 + ".xlsx"),
])
def test_file_names_are_reduced_to_a_safe_base_name(given: str, safe: str) -> None:
    assert safe_name(given) == safe


def test_names_that_climb_or_hide_in_the_inbox_never_lead_outside_it(
        applied: Engine, inbox: Path, tmp_path: Path) -> None:
    folder = inbox / PLAN_ID
    folder.mkdir(parents=True)
    report = "单位编号,town-a\n任务编号,期间,状态\ncap.training,2018-Q2,推进中\n".encode()
    for name in ("reports\\..\\..\\evil.csv", "a\nb.csv", "\u202egpj.csv"):
        (folder / name).write_bytes(report)
    (folder / ".~lock.a.csv#").write_bytes(b"editor lock")  # hidden names are left alone
    (folder / "..\\evil.csv").write_bytes(report)
    before = files_outside(tmp_path, inbox)
    receipts = ingest_inbox(applied, PLAN_ID, today=TODAY, inbox=inbox)
    assert len(receipts) == 3
    assert {r.outcome for r in receipts} == {"accepted", "already_ingested"}  # same bytes three times
    assert len(reports(applied)) == 1
    assert files_outside(tmp_path, inbox) == before
    for path in (folder / "processed").rglob("*"):
        assert path.resolve().is_relative_to(folder.resolve())
        assert "\\" not in path.name and "\n" not in path.name and "\u202e" not in path.name
    assert sorted(p.name for p in folder.iterdir()) == ["..\\evil.csv", ".~lock.a.csv#", "processed"]


def test_a_nul_in_a_file_name_is_refused_clearly_and_nothing_is_written(applied: Engine, inbox: Path) -> None:
    receipt = ingest_file(applied, PLAN_ID, "report\0.xlsx", today=TODAY, inbox=inbox)
    assert receipt.outcome == "rejected"
    assert "NUL" in receipt.message
    assert receipt.stored is None and not (inbox / PLAN_ID).exists()
    assert [e["payload"]["reason"] for e in events(applied, "inbox.rejected")] == [receipt.message]


def test_a_link_in_the_inbox_is_never_followed(applied: Engine, inbox: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("单位编号,town-a\n任务编号,期间,状态\ncap.training,2018-Q2,已完成\n", encoding="utf-8")
    folder = inbox / PLAN_ID
    folder.mkdir(parents=True)
    os.symlink(secret, folder / "report.csv")
    [receipt] = ingest_inbox(applied, PLAN_ID, today=TODAY, inbox=inbox)
    assert (receipt.outcome, receipt.message) == ("rejected", "收件箱中是符号链接而不是文件，链接一律不予跟随")
    assert reports(applied) == []
    assert secret.exists() and not secret.is_symlink()
    assert receipt.stored is not None and receipt.stored.is_symlink()  # the link itself was filed away


def test_an_outcome_folder_linking_out_of_the_inbox_is_refused_before_anything_is_recorded(
        applied: Engine, inbox: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = inbox / PLAN_ID
    folder.mkdir(parents=True)
    os.symlink(elsewhere, folder / "processed")
    (folder / "a.csv").write_text("单位编号,town-a\n任务编号,期间,状态\ncap.training,2018-Q2,推进中\n", encoding="utf-8")
    # Raised before any plan is read: Chinese, then the English in parentheses.
    with pytest.raises(InboxMisconfigured, match=r"是指向收件箱文件夹 .* 之外的链接，拒绝写入（.* is a link out of the inbox"):
        ingest_inbox(applied, PLAN_ID, today=TODAY, inbox=inbox)
    assert list(elsewhere.iterdir()) == []
    assert reports(applied) == []
