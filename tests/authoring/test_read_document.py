"""`read_document`: report text from .txt/.md in the encodings offices use, and from .docx."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from plan_tracker.authoring import DraftError, draft_plan, read_document

DATA = Path(__file__).parent / "data"
SEED = DATA / "jingzhou-2017-report.txt"
MARKET = DATA / "county-market-2019-summary.txt"


@pytest.mark.parametrize(
    ("source", "suffix", "encoding"),
    [
        (SEED, ".txt", "utf-8"),
        (SEED, ".txt", "utf-8-sig"),
        (SEED, ".txt", "gb18030"),
        (SEED, ".md", "utf-16"),
        (MARKET, ".TXT", "gbk"),  # the seed has a no-break space, which GBK lacks
    ],
)
def test_text_reports_are_read_in_common_encodings(
    tmp_path: Path, source: Path, suffix: str, encoding: str
) -> None:
    text = source.read_text(encoding="utf-8")
    path = tmp_path / f"report{suffix}"
    path.write_bytes(text.encode(encoding))
    assert read_document(path) == text


def test_a_docx_report_drafts_the_same_plan_as_its_text(tmp_path: Path) -> None:
    text = MARKET.read_text(encoding="utf-8")
    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    path = tmp_path / "report.docx"
    document.save(str(path))
    assert draft_plan(read_document(path)) == draft_plan(text)


def test_docx_tables_are_read_in_document_order_each_merged_cell_once(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("三、2018年工作安排")
    table = document.add_table(rows=2, cols=2)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "（一）加强执法监督。"
    table.cell(1, 0).text = "一是每月开展执法检查；"
    table.cell(1, 1).text = "二是年底前完成案卷评查。"
    document.add_paragraph("附件：台账")
    path = tmp_path / "table.docx"
    document.save(str(path))
    assert read_document(path).splitlines() == [
        "三、2018年工作安排",
        "（一）加强执法监督。",
        "一是每月开展执法检查；",
        "二是年底前完成案卷评查。",
        "附件：台账",
    ]


@pytest.mark.parametrize("name", ["report.pdf", "report.doc", "report.wps", "report"])
def test_unsupported_document_types_are_refused_naming_the_supported_ones(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(DraftError, match=r"unsupported document type.*\.docx"):
        read_document(path)


@pytest.mark.parametrize("name", ["missing.txt", "missing.docx"])
def test_a_missing_file_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(DraftError, match="cannot read"):
        read_document(tmp_path / name)


def test_a_damaged_docx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DraftError, match=r"not a readable \.docx"):
        read_document(path)


def test_a_docx_that_unpacks_to_too_much_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (101 * 1024 * 1024))
    with pytest.raises(DraftError, match="unpacks to more than"):
        read_document(path)


def test_binary_content_in_a_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.txt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DraftError, match="not readable as UTF-8 or GB18030"):
        read_document(path)


def test_an_oversized_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b"a" * (5 * 1024 * 1024 + 1))
    with pytest.raises(DraftError, match="larger than"):
        read_document(path)
