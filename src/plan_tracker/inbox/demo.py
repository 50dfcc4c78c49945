"""Filled templates for demonstrations: every unit answers its template as a clerk would.

`make demo` (plan_tracker.demo) can drop these into `<inbox>/<plan>/` before a night so that
the collect stage ingests them; the tests use the same helper on the founding plan.
Deterministic: the answers depend only on each row's position.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine

from plan_tracker.inbox.columns import COLUMNS
from plan_tracker.inbox.template import FIRST_ROW, HEADER_ROW, SHEET, write_templates

ANSWERS = (
    ("推进中", 40, "按计划推进，已完成阶段性工作"),
    ("已完成", 100, "已完成，材料已归档"),
    ("推进中", 70, "正在组织实施"),
    ("受阻", 20, "因人员调整暂缓，已报分管领导协调"),
    (None, None, None),  # some rows are left for later
)


def filled_templates(engine: Engine, plan_id: str, *, as_of: dt.date, today: dt.date, out_dir: Path) -> list[Path]:
    """Write each unit's template into `out_dir`, filled in; returns the files."""
    paths = []
    for template in write_templates(engine, plan_id, as_of=as_of, today=today, out_dir=out_dir):
        workbook = load_workbook(template.path)
        sheet = workbook[SHEET]
        column = {c.key: i for i, c in enumerate(COLUMNS, start=1)}
        last = sheet.max_column
        for offset in range(template.rows):
            row = FIRST_ROW + offset
            status, progress, note = ANSWERS[offset % len(ANSWERS)]
            if status is None:
                continue
            sheet.cell(row, column["status"]).value = status
            sheet.cell(row, column["progress"]).value = progress
            sheet.cell(row, column["note"]).value = note
            if status == "已完成":
                sheet.cell(row, column["evidence"]).value = f"https://oa.example.org/evidence/{plan_id}/{offset}"
            for c in range(len(COLUMNS) + 1, last + 1):  # the row's own indicators are unlocked
                cell = sheet.cell(row, c)
                if cell.protection.locked is False and sheet.cell(HEADER_ROW, c).value:
                    cell.value = 10 + offset
        workbook.save(template.path)
        paths.append(template.path)
    return paths


def reply_round_trip(engine: Engine, settings: Any, *, outbox: Path, maildir: Path, now: dt.datetime,
                     factory: Any = None) -> list[str]:
    """`make demo`'s answer by reply, with no mail server: the newest reminder in the file
    outbox that carries a form is filled in, answered into a local Maildir, and fetched
    (`maildir:` as PLAN_TRACKER_IMAP_URL); the receipt lands in the file outbox."""
    import mailbox
    from email import message_from_bytes, policy
    from email.message import EmailMessage

    from pydantic import SecretStr

    from plan_tracker.inbox.mail import run_fetch

    found = _newest_form(outbox)
    if found is None:
        return ["reply round-trip: no reminder carried a form"]
    reminder_path, name, form = found
    reminder = message_from_bytes(reminder_path.read_bytes(), policy=policy.default)
    answer = EmailMessage()
    answer["From"], answer["To"] = reminder["To"], reminder["Reply-To"] or settings.reply_address
    answer["Subject"], answer["In-Reply-To"] = f"Re: {reminder['Subject']}", reminder["Message-ID"]
    answer.set_content("已填写，请查收。")
    answer.add_attachment(_fill_first_row(form), maintype="application", subtype="octet-stream", filename=name)
    mailbox.Maildir(maildir, create=True).add(answer.as_bytes())
    local = settings.model_copy(update={"imap_url": SecretStr(f"maildir:{maildir.resolve()}")})
    summary = run_fetch(engine, local, now=now, factory=factory)
    assert summary is not None
    receipt = max(outbox.glob("mail-receipt*.eml"), key=lambda p: p.stat().st_mtime, default=None)
    return [f"reply round-trip: {reminder['To']} answered {reminder_path.name} with its form ({name}) "
            f"into the Maildir {maildir}",
            f"  mail fetch: {summary.as_dict()}",
            f"  receipt → {receipt}; the reply moved to {maildir / ('.' + local.imap_done_folder)}"]


def _newest_form(outbox: Path) -> tuple[Path, str, bytes] | None:
    from email import message_from_bytes, policy

    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:200]:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in message.iter_attachments():  # type: ignore[attr-defined]
            name, data = part.get_filename() or "", part.get_payload(decode=True)
            if name.endswith(".xlsx") and isinstance(data, bytes):
                return path, name, data
    return None


def _fill_first_row(form: bytes) -> bytes:
    import io

    workbook = load_workbook(io.BytesIO(form))
    sheet = workbook[SHEET]
    column = {c.key: i for i, c in enumerate(COLUMNS, start=1)}
    sheet.cell(FIRST_ROW, column["status"]).value = "推进中"
    sheet.cell(FIRST_ROW, column["progress"]).value = 50
    sheet.cell(FIRST_ROW, column["note"]).value = "已按通知要求推进（邮件回复）"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
