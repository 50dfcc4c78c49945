"""Ingesting report files: validate every row, record accepted rows as the unit's status
reports, audit everything, and file the file away with a receipt and a row-by-row error file.

Which unit: the file says so (hidden `_meta` sheet, identity row, or YAML keys); the inbox
trusts it, so the inbox folder must be writable only by the coordinating office. A row may
report only on that unit's own obligations: a row naming another unit, or an obligation
another unit leads, is refused and audited (`report.refused`).

Which plan version: a template records the plan version it was made from. A file for
another plan, or from a *newer* version than the store holds, is refused whole. A file from
an *older* version is not refused for its age: each row is checked against the plan as it
is now, and only rows whose obligation no longer exists (task removed, unit no longer
leading, period gone) are rejected, with a message asking for a new template. Everything
that still exists is recorded, so a plan change never voids a unit's unchanged work.

Idempotency: a file whose bytes (SHA-256) were ingested before is "already ingested" and
changes nothing; rows are also recorded with `dedupe=True`, so the same row inside a
re-saved file is not recorded twice either. The ledger is the `inbox.ingested` events.

Order of effects: the reports and the audit events commit in one transaction; only then is
the file moved and the receipt written. A crash in between leaves the file in the inbox,
and the next run finds it in the ledger and only moves it. Two runs ingesting the very same
file at the same instant could both record its undated rows (documented in docs/INBOX.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from plan_tracker.domain.errors import DomainError
from plan_tracker.domain.plan import Plan
from plan_tracker.inbox.errors import FileRefused, RowError
from plan_tracker.inbox.folders import (
    PROCESSED,
    REJECTED,
    check_layout,
    destination,
    plan_folder,
    stored_name,
    within,
)
from plan_tracker.inbox.messages import DEFAULT_LOCALE, Msg, msg, word
from plan_tracker.inbox.readers import RawRow, ReadFile, read_report
from plan_tracker.inbox.rows import Checked, RowContext, check_row, is_blank
from plan_tracker.inbox.safety import MAX_FILE_BYTES, Deadline, neutralise
from plan_tracker.services.plans import stored_plan
from plan_tracker.services.submissions import NotYourObligation, record_report
from plan_tracker.store.audit import record_event
from plan_tracker.store.models import Event, Obligation

SOURCE = "inbox"
# Files a nightly run takes from one plan's inbox; the rest wait for the next run.
MAX_FILES_PER_RUN = 500
# Names the collect stage leaves alone: editors' lock files and files still being copied in.
SKIPPED_PREFIXES = (".", "~$")
SKIPPED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
EVENT = Event.__table__  # type: ignore[attr-defined]


@dataclass
class FileReceipt:
    """What happened to one file; printed by the CLI and written next to the stored file.

    Its sentences (`message`, `summary`, `problems`, the JSON's `message` and `expected`)
    are worded in `locale`, the plan's (`plan.locale`); the JSON keys and `outcome` values
    are the same in every locale."""

    file: str
    plan: str
    locale: str = DEFAULT_LOCALE
    outcome: str = "rejected"  # accepted | partial | rejected | already_ingested
    unit: str | None = None
    sha256: str | None = None
    kind: str | None = None
    accepted: int = 0  # new reports recorded
    duplicates: int = 0  # rows identical to reports already recorded
    rejected: int = 0  # rows with errors (the whole file, if the file was refused)
    blank: int = 0  # rows left empty
    report_ids: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    reason: Msg | None = None  # why the file was refused, or what to look at
    stored: Path | None = None
    errors_file: Path | None = None
    receipt_file: Path | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("accepted", "already_ingested")

    @property
    def message(self) -> str:
        return self.reason.render(self.locale) if self.reason else ""

    @property
    def problems(self) -> list[str]:
        """Each row error as one located line, in the receipt's locale."""
        return [e.text(self.locale) for e in self.errors]

    def say(self, message: str, **fields: Any) -> str:
        """A catalogue message in the receipt's locale (for the lines the CLI adds)."""
        return word(message, self.locale, **fields)

    def summary(self) -> str:
        if self.outcome == "already_ingested":
            return self.say("summary.already", file=self.file, reason=self.message)
        if self.outcome == "rejected" and not (self.accepted or self.duplicates or self.rejected):
            return self.say("summary.refused", file=self.file, reason=self.message)
        text = self.say("summary.counts", file=self.file, outcome=msg(f"outcome.{self.outcome}"),
                        accepted=self.accepted, duplicates=self.duplicates, rejected=self.rejected, blank=self.blank)
        return self.say("summary.reason", text=text, reason=self.message) if self.message else text

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file, "plan": self.plan, "unit": self.unit, "outcome": self.outcome,
            "sha256": self.sha256, "kind": self.kind, "accepted": self.accepted,
            "duplicates": self.duplicates, "rejected": self.rejected, "blank": self.blank,
            "report_ids": self.report_ids, "message": self.message, "locale": self.locale,
            "errors": [e.as_json(self.locale) for e in self.errors],
            "stored": str(self.stored) if self.stored else None,
            "errors_file": str(self.errors_file) if self.errors_file else None,
        }


def ingest_inbox(engine: Engine, plan_id: str, *, today: dt.date, inbox: Path) -> list[FileReceipt]:
    """Ingest every file waiting in `<inbox>/<plan_id>/` (oldest first); what the nightly
    collect stage runs. A missing folder means nothing to do (it is never created here)."""
    folder = plan_folder(inbox, plan_id)
    if not folder.is_dir():
        return []
    waiting = []
    for entry in folder.iterdir():
        name = entry.name
        if name in (PROCESSED, REJECTED) or name.startswith(SKIPPED_PREFIXES) or name.endswith(SKIPPED_SUFFIXES):
            continue
        if entry.is_dir() and not entry.is_symlink():
            continue
        try:
            mtime = entry.lstat().st_mtime
        except OSError:
            continue
        waiting.append((mtime, name, entry))
    waiting.sort()
    return [ingest_file(engine, plan_id, entry, today=today, inbox=inbox, via="nightly")
            for _, _, entry in waiting[:MAX_FILES_PER_RUN]]


def ingest_file(engine: Engine, plan_id: str, path: Path | str, *, today: dt.date, inbox: Path,
                via: str = "cli") -> FileReceipt:
    """Ingest one file. A file inside the plan's inbox folder is moved to `processed/` or
    `rejected/`; a file elsewhere (the CLI) is copied there and left where it was."""
    folder = plan_folder(inbox, plan_id)
    check_layout(folder)
    name = _last_component(str(path))
    receipt = FileReceipt(file=repr(name)[1:-1], plan=plan_id)
    # the template writer imports openpyxl: only once a file arrives
    from plan_tracker.inbox.template import plan_version

    with engine.connect() as conn:
        plan = stored_plan(conn, plan_id, today)  # the version in force the day it arrives; raises UnknownPlan: a usage error, not a file's fault
        version = plan_version(conn, plan_id)
    # The plan is known before a byte of the file is read: everything about it is worded in
    # the plan's locale, hostile files included.
    receipt.locale = plan.plan.locale
    # A name with a NUL byte stays a string: no system call accepts it, `_read_bytes` refuses it.
    path = str(path) if "\x00" in str(path) else Path(path)
    in_inbox = isinstance(path, Path) and within(folder, path)
    deadline = Deadline()
    data: bytes | None = None
    read: ReadFile | None = None
    try:
        data = _read_bytes(path, link_allowed=not in_inbox)
        receipt.sha256 = hashlib.sha256(data).hexdigest()
        with engine.connect() as conn:
            earlier = _ledger(conn, plan_id, receipt.sha256)
        if earlier is not None:
            return _already(receipt, earlier, folder, path, in_inbox, today)
        read = read_report(data, name, deadline)
        receipt.kind = read.kind
        receipt.unit, template_version = _identity(read, plan, version)
    except FileRefused as refused:
        receipt.errors, receipt.reason = refused.problems, refused.problems[0].expected
        claimed = receipt.unit or _claimed_unit(read)
        # The audit actor is a unit of the plan or `unknown`; a hostile claim stays in the payload.
        receipt.unit = claimed if claimed in {u.id for u in plan.units} else None
        with engine.begin() as conn:
            _event(conn, plan_id, "inbox.rejected", receipt.unit,
                   {**_payload(receipt, via, today, version, None), "claimed_unit": claimed})
        return _file_away(receipt, folder, path, data, in_inbox, today)
    with engine.begin() as conn:
        if _ledger(conn, plan_id, receipt.sha256) is not None:  # another run got there first
            return _already(receipt, {}, folder, path, in_inbox, today)
        _record_rows(conn, read, plan, receipt, today=today, version=version, template_version=template_version)
        if receipt.accepted or receipt.duplicates:
            receipt.outcome = "partial" if receipt.rejected else "accepted"
            kind = "inbox.ingested"
        else:
            receipt.outcome = "rejected"
            receipt.reason = receipt.reason or msg("file.no_filled_rows" if not receipt.rejected
                                                   else "file.no_row_accepted")
            kind = "inbox.rejected"
        if receipt.rejected:
            receipt.reason = receipt.reason or msg("file.rows_rejected", count=receipt.rejected)
        _event(conn, plan_id, kind, receipt.unit, _payload(receipt, via, today, version, template_version))
    return _file_away(receipt, folder, path, data, in_inbox, today)


# -- reading --------------------------------------------------------------------------------
def _last_component(name: str) -> str:
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or name


def _read_bytes(path: Path | str, *, link_allowed: bool) -> bytes:
    if isinstance(path, str):  # only a name with a NUL byte stays a string
        raise FileRefused.because("file.nul_name")
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            if not link_allowed:
                raise FileRefused.because("file.symlink")
            info = path.stat()
    except FileNotFoundError:
        raise FileRefused.because("file.missing") from None
    except (OSError, ValueError) as exc:
        raise FileRefused.because("file.cannot_open", detail=str(exc)) from None
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused.because("file.not_regular")
    if info.st_size > MAX_FILE_BYTES:
        raise FileRefused.because("file.too_big", size=info.st_size, cap=MAX_FILE_BYTES)
    try:
        with path.open("rb") as handle:
            data = handle.read(min(info.st_size, MAX_FILE_BYTES) + 1)  # it may have grown since the stat
    except OSError as exc:
        raise FileRefused.because("file.cannot_read", detail=exc.strerror) from None
    if len(data) > info.st_size:
        raise FileRefused.because("file.growing")
    return data


def _identity(read: ReadFile, plan: Plan, version: int) -> tuple[str, int | None]:
    """The sending unit and the template's plan version, or FileRefused."""
    sheet = read.sheet
    claimed_plan = read.identity.get("plan")
    if claimed_plan is not None and str(claimed_plan).strip() != plan.id:
        raise FileRefused.because("file.other_plan", sheet=sheet, claimed=str(claimed_plan).strip(), plan=plan.id)
    unit = _claimed_unit(read)
    if unit is None:
        raise FileRefused.because("file.no_unit_yaml" if read.kind == "yaml" else "file.no_unit_sheet", sheet=sheet)
    if unit not in {u.id for u in plan.units}:
        raise FileRefused.because("file.unknown_unit", found=unit, sheet=sheet, plan=plan.id)
    raw_version = read.identity.get("plan_version")
    template_version: int | None = None
    if raw_version is not None:
        try:
            template_version = int(str(raw_version).strip())
        except ValueError:
            raise FileRefused.because("file.version_not_whole", found=str(raw_version), sheet=sheet) from None
        if template_version > version:
            raise FileRefused.because("file.version_newer", sheet=sheet, template=template_version, stored=version)
    return unit, template_version


def _claimed_unit(read: ReadFile | None) -> str | None:
    if read is None or read.identity.get("unit") is None:
        return None
    text = str(read.identity["unit"]).strip()
    return text[:64] or None


# -- recording ------------------------------------------------------------------------------
def _record_rows(conn: Connection, read: ReadFile, plan: Plan, receipt: FileReceipt, *, today: dt.date,
                 version: int, template_version: int | None) -> None:
    assert receipt.unit is not None
    ctx = RowContext(plan, receipt.unit, today, version, template_version)
    tasks = {t.id: t for _, t in plan.tasks()}
    for raw in read.rows:
        if is_blank(raw):
            receipt.blank += 1
            continue
        checked = check_row(raw, ctx, tasks)
        if checked.submission is not None:
            try:
                recorded = record_report(conn, checked.submission, today=today, actor=receipt.unit,
                                         source=SOURCE, dedupe=True, received_on=today)
            except NotYourObligation:
                _not_own(conn, checked, ctx)
            except DomainError as exc:
                checked.errors.append(RowError(raw.sheet, raw.row, "", msg("row.not_recorded", detail=exc.message)))
            else:
                if recorded.duplicate:
                    receipt.duplicates += 1
                else:
                    receipt.accepted += 1
                    receipt.report_ids.append(recorded.report_id)
        if checked.errors:
            receipt.rejected += 1
            receipt.errors.extend(checked.errors)
        if checked.refused:
            _event(conn, plan.id, "report.refused", receipt.unit, {
                "file": receipt.file, "sha256": receipt.sha256, "sheet": raw.sheet, "row": raw.row,
                "task": _cell_text(raw, "task"), "period": _cell_text(raw, "period"),
                "named_unit": _cell_text(raw, "unit"), "reason": checked.errors[0].expected_in(receipt.locale)})


def _not_own(conn: Connection, checked: Checked, ctx: RowContext) -> None:
    """Explain why the unit has no such obligation; another unit's obligation is a refusal."""
    s = checked.submission
    assert s is not None
    o = Obligation.__table__  # type: ignore[attr-defined]
    leaders = set(conn.execute(select(o.c.unit_id).where(
        o.c.plan_id == s.plan_id, o.c.task_id == s.task, o.c.period == s.period, o.c.active)).scalars())
    column = checked.raw.fields["task"].column if "task" in checked.raw.fields else "任务编号"
    if leaders:
        checked.refused = True
        expected = msg("row.others_obligation", task=s.task, period=s.period, unit=s.unit)
    else:
        expected = ctx.stale("obligation") or msg("row.no_obligation", unit=s.unit, task=s.task, period=s.period)
    checked.errors.append(RowError(checked.raw.sheet, checked.raw.row, column, expected, s.task))


def _cell_text(raw: RawRow, key: str) -> str | None:
    cell = raw.fields.get(key)
    return None if cell is None or cell.value is None else str(cell.value)[:128]


# -- the ledger and the audit log -------------------------------------------------------------
def _ledger(conn: Connection, plan_id: str, sha256: str | None) -> dict[str, Any] | None:
    """The payload of the `inbox.ingested` event of a file with these bytes, if any."""
    if sha256 is None:
        return None
    found = conn.execute(
        select(EVENT.c.payload).where(
            EVENT.c.plan_id == plan_id, EVENT.c.kind == "inbox.ingested",
            EVENT.c.payload["sha256"].as_string() == sha256).limit(1)).first()
    return None if found is None else dict(found[0])


def _event(conn: Connection, plan_id: str, kind: str, actor: str | None, payload: dict[str, Any]) -> None:
    record_event(conn, plan_id=plan_id, kind=kind, actor=(actor or "unknown")[:64], source=SOURCE,
                 payload=payload)


def _payload(receipt: FileReceipt, via: str, today: dt.date, version: int,
             template_version: int | None) -> dict[str, Any]:
    return {"file": receipt.file, "unit": receipt.unit, "sha256": receipt.sha256, "kind": receipt.kind, "via": via,
            "received_on": today.isoformat(),
            "outcome": receipt.outcome, "accepted": receipt.accepted, "duplicates": receipt.duplicates,
            "rejected": receipt.rejected, "blank": receipt.blank, "report_ids": receipt.report_ids[:1000],
            "plan_version": version, "template_version": template_version,
            "reason": receipt.message or None, "errors": len(receipt.errors)}


# -- filing away ----------------------------------------------------------------------------
def _already(receipt: FileReceipt, earlier: dict[str, Any], folder: Path, path: Path | str, in_inbox: bool,
             today: dt.date) -> FileReceipt:
    receipt.outcome = "already_ingested"
    when = earlier.get("received_on") or ""
    receipt.unit = earlier.get("unit") or receipt.unit
    receipt.reason = msg("file.ingested_on", day=when) if when else msg("file.ingested_before")
    if in_inbox and isinstance(path, Path):  # take it out of the inbox; the store is untouched
        stored = destination(folder, PROCESSED, stored_name(path.name, receipt.sha256 or "", today))
        os.replace(path, stored)
        receipt.stored = stored
    return receipt


def _file_away(receipt: FileReceipt, folder: Path, path: Path | str, data: bytes | None, in_inbox: bool,
               today: dt.date) -> FileReceipt:
    outcome_dir = PROCESSED if receipt.outcome in ("accepted", "partial") else REJECTED
    name = stored_name(receipt.file, receipt.sha256 or "0" * 12, today)
    if in_inbox and isinstance(path, Path) and (path.exists() or path.is_symlink()):
        receipt.stored = destination(folder, outcome_dir, name)
        os.replace(path, receipt.stored)  # a link is moved as a link, never followed
    elif data is not None:
        receipt.stored = destination(folder, outcome_dir, name)
        with receipt.stored.open("xb") as handle:
            handle.write(data)
    if receipt.stored is None:  # nothing was read (no such file, NUL in the name): the event says it all
        return receipt
    base = receipt.stored
    if receipt.errors:
        receipt.errors_file = base.with_name(base.name + ".errors.csv")
        receipt.errors_file.write_bytes(error_file(receipt.errors, receipt.locale))
    receipt.receipt_file = base.with_name(base.name + ".receipt.json")
    body = {**receipt.as_json(), "received_on": today.isoformat()}
    receipt.receipt_file.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    return receipt


# Both languages in every locale: programs read these headers, people read the rows below.
ERROR_HEADERS = ("工作表 sheet", "行 row", "列 column", "填写内容 found", "问题 expected")


def error_file(errors: list[RowError], locale: str = DEFAULT_LOCALE) -> bytes:
    """The row-by-row error file: UTF-8 CSV with a BOM (Excel and WPS open it directly);
    every cell neutralised, since `found` echoes what the unit typed; `expected` worded in
    the plan's locale."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ERROR_HEADERS)
    for e in errors:
        cells = (e.sheet, "" if e.row is None else e.row, e.column, e.found, e.expected_in(locale))
        writer.writerow([neutralise(v) for v in cells])
    return buffer.getvalue().encode("utf-8-sig")
