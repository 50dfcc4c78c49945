"""docs/INBOX.md's table of caps says exactly what the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

from plan_tracker.inbox import ingest, rows, safety

DOC = Path(__file__).resolve().parents[2] / "docs" / "INBOX.md"
SAFETY_CAPS = [name for name in dir(safety) if name.startswith("MAX_") or name in ("RATIO_FLOOR", "MEMORY_BUDGET_BYTES")]
OTHER_CAPS = {"rows.MAX_NOTE_CHARS": rows.MAX_NOTE_CHARS, "rows.MAX_EVIDENCE_CHARS": rows.MAX_EVIDENCE_CHARS,
              "rows.MAX_NUMBER": rows.MAX_NUMBER, "ingest.MAX_FILES_PER_RUN": ingest.MAX_FILES_PER_RUN}


def documented() -> dict[str, str]:
    table = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^\| `([\w.]+)` \| ([^|]+) \|", line)
        if found:
            table[found.group(1)] = found.group(2).strip()
    return table


def test_every_cap_is_documented_with_its_value() -> None:
    table = documented()
    expected = {name: getattr(safety, name) for name in SAFETY_CAPS} | OTHER_CAPS
    assert {name: table.get(name) for name in expected} == {name: str(value) for name, value in expected.items()}


def test_the_documented_caps_all_exist() -> None:
    assert set(documented()) <= set(SAFETY_CAPS) | set(OTHER_CAPS)


def test_the_documented_messages_are_what_the_catalogue_says() -> None:
    from plan_tracker.inbox.errors import RowError
    from plan_tracker.inbox.ingest import FileReceipt
    from plan_tracker.inbox.messages import msg

    doc = DOC.read_text(encoding="utf-8")
    row = RowError("反馈表", 5, "F 状态", msg("row.status_choice", choices=("未开始", "推进中", "已完成", "受阻")), "x")
    for locale in ("zh", "en"):
        summary = FileReceipt("b.xlsx", "p", locale, outcome="partial", accepted=1, rejected=1,
                              reason=msg("file.rows_rejected", count=1)).summary()
        for sentence in (row.text(locale), msg("row.other_unit", claimed="a", unit="b").render(locale),
                         msg("safety.dtd", name="xl/workbook.xml").render(locale), summary):
            assert f"`{sentence}`" in doc, sentence
