"""Answers by e-mail: `plan-tracker mail fetch` reads a mailbox and ingests the forms units
send back by replying to their reminder (docs/INBOX.md, "Answer by reply").

For each message in the mailbox (channels.mailbox):

1. The ledger (`mail_reply`, by the SHA-256 of the raw message): a message handled before
   is only moved away, nothing else changes.
2. Automatic mail (Auto-Submitted, delivery reports, our own receipts) is filed without an
   answer: two robots must never answer each other.
3. The plan: the one the reply's In-Reply-To/References names (the reminder's Message-ID
   carries it), else the plan the form names, else `--plan`, else the store's only plan.
4. Each XLSX/CSV attachment is checked for who may send it — the form's plan is the
   message's, an XLSX carries this install's signature (inbox.signature), the sender is
   one of the unit's known addresses (contact, head, `also_from`) — and then ingested by
   the inbox's own rules (`ingest_file`: caps, row checks, idempotency by content hash).
   A refusal is audited as `auth.refused`.
5. One receipt per message (accepted and rejected rows with the reason, in the plan's
   locale; both languages when no plan can be told) is queued in the same row as the
   ledger entry, and sent by `services.reply_receipts`.

A message that fails in an unforeseen way is left in the mailbox and read again next time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import imaplib
import logging
import re
import tempfile
import zoneinfo
from dataclasses import dataclass, field
from email.message import Message as ParsedMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from plan_tracker.channels.email_format import envelope_address, plans_named
from plan_tracker.channels.mailbox import Incoming, MailSource, parse
from plan_tracker.domain.plan import Plan
from plan_tracker.inbox import signature
from plan_tracker.inbox.errors import FileRefused
from plan_tracker.inbox.ingest import FileReceipt, ingest_file
from plan_tracker.inbox.messages import Msg, msg, word
from plan_tracker.inbox.readers import ReadFile, read_report
from plan_tracker.inbox.safety import Deadline, MiB
from plan_tracker.services.plans import stored_plan
from plan_tracker.settings import Settings
from plan_tracker.store.audit import record_event
from plan_tracker.store.mail_models import MailReply
from plan_tracker.store.models import PlanRow

logger = logging.getLogger(__name__)
M = MailReply.__table__  # type: ignore[attr-defined]
SOURCE = "mail"
# A reply carries one or a few forms of 10-200 KB; 20 MiB is what most mail servers accept
# at all. A bigger message is never downloaded: its header is read to answer the sender.
MAX_MESSAGE_BYTES = 20 * MiB
# Forms per message: a contact of several units gets one form per unit.
MAX_FORMS = 10
SPREADSHEETS = (".xlsx", ".csv")
PROBLEMS_LISTED = 20  # row problems quoted per attachment in a receipt (the error file has all)


@dataclass
class Line:
    """What became of one attachment (or of the message as a whole)."""

    outcome: str  # accepted | partial | rejected | already_ingested | refused
    text: Msg | FileReceipt


@dataclass
class Handled:
    outcome: str  # seen | skipped | ignored | accepted | partial | rejected | refused | no_attachment
    plan_id: str | None = None
    unit: str | None = None
    lines: list[Line] = field(default_factory=list)


@dataclass
class FetchSummary:
    messages: int = 0
    accepted: int = 0  # messages with at least one row recorded or already recorded
    refused: int = 0  # messages nothing was taken from (refused, rejected, no attachment)
    ignored: int = 0  # automatic mail, filed unanswered
    seen: int = 0  # handled before: only moved
    skipped: int = 0  # another plan's (left in the mailbox for its fetch)
    failed: int = 0  # left in the mailbox, read again next time
    receipts: Any = None
    errors: list[str] = field(default_factory=list)
    unavailable: str | None = None  # the nightly stage could not reach the mailbox (the night goes on)

    def as_dict(self) -> dict[str, Any]:
        r = self.receipts
        if self.unavailable is not None:
            return {"unavailable": self.unavailable}
        return {"messages": self.messages, "accepted": self.accepted, "refused": self.refused,
                "ignored": self.ignored, "seen_before": self.seen, "other_plan": self.skipped,
                "failed": self.failed, "receipts_sent": r.sent if r else 0, "receipts_failed": r.failed if r else 0}


def fetch_mail(engine: Engine, source: MailSource, *, settings: Settings, now: dt.datetime,
               only_plan: str | None = None, factory: Any = None) -> FetchSummary:
    """Handle every message of the source, move the handled ones, then send the receipts."""
    from plan_tracker.services.reply_receipts import send_receipts
    from plan_tracker.token_secret import resolve_secret

    secret = resolve_secret(settings)
    summary = FetchSummary()
    for incoming in source.messages(MAX_MESSAGE_BYTES):
        summary.messages += 1
        try:
            handled = handle_message(engine, incoming, secret=secret, settings=settings, now=now, only_plan=only_plan)
            if handled.outcome != "skipped":
                source.done(incoming.uid, answered=handled.outcome not in ("ignored", "seen"))
        except Exception as exc:
            logger.exception("mail %s left in the mailbox", incoming.uid)
            summary.failed += 1
            summary.errors.append(f"{incoming.uid}: {type(exc).__name__}: {exc}")
            continue
        _count(summary, handled.outcome)
    summary.receipts = send_receipts(engine, now=now, settings=settings, factory=factory)
    return summary


def _count(summary: FetchSummary, outcome: str) -> None:
    if outcome in ("accepted", "partial"):
        summary.accepted += 1
    elif outcome in ("ignored", "seen", "skipped"):
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    else:
        summary.refused += 1


def handle_message(engine: Engine, incoming: Incoming, *, secret: str, settings: Settings, now: dt.datetime,
                   only_plan: str | None = None) -> Handled:
    digest = hashlib.sha256(incoming.raw).hexdigest()
    with engine.connect() as conn:
        if conn.execute(select(M.c.id).where(M.c.digest == digest)).first() is not None:
            return Handled("seen")
        plans = {str(r[0]) for r in conn.execute(select(PlanRow.__table__.c.id))}  # type: ignore[attr-defined]
    parsed, unreadable = _parse(incoming.raw)
    sender = _sender(parsed)
    if parsed is not None and _automatic(parsed, sender, settings):
        _record(engine, digest, parsed, sender, Handled("ignored"), None, now, answer=False)
        return Handled("ignored")
    named = [p for p in plans_named(_header(parsed, "In-Reply-To") + " " + _header(parsed, "References"))
             if p in plans]
    forms = [] if parsed is None or not incoming.whole else _spreadsheets(parsed)
    reads = [(name, data, _try_read(data, name)) for name, data in forms[:MAX_FORMS]]
    claimed = {str(r.identity.get("plan", "")).strip() for _, _, r in reads if r is not None} & plans
    plan_id = (named[0] if named else next(iter(claimed)) if len(claimed) == 1 else only_plan
               or _plan_of_sender(engine, plans, sender, now))
    if only_plan is not None and plan_id is not None and plan_id != only_plan:
        return Handled("skipped")  # another plan's reply: its own fetch takes it
    plan = _plan(engine, plan_id, now)
    handled = Handled("refused", plan.id if plan else None)
    if not incoming.whole:
        handled.lines.append(Line("refused", msg("mail.too_big", size=incoming.size, cap=MAX_MESSAGE_BYTES)))
    elif parsed is None or unreadable:
        handled.lines.append(Line("refused", msg("mail.unreadable")))
    elif (failed := _authentication_failed(parsed)) is not None:
        handled.lines.append(Line("refused", msg("mail.sender_failed", result=failed)))
        _refusal(engine, handled, sender, None, None, failed, parsed)
    elif not forms:
        handled.outcome = "no_attachment"
        handled.lines.append(Line("refused", msg("mail.no_attachment")))
    elif len(forms) > MAX_FORMS:
        handled.lines.append(Line("refused", msg("mail.too_many", count=len(forms), cap=MAX_FORMS)))
    elif plan is None:
        handled.lines.append(Line("refused", msg("mail.unknown_plan")))
    else:
        for name, data, read in reads:
            handled.lines.append(_one_form(engine, plan, name, data, read, sender, secret, settings, now, parsed,
                                           handled))
        handled.outcome = _overall([line.outcome for line in handled.lines])
    _record(engine, digest, parsed, sender, handled, plan, now, answer=bool(sender))
    return handled


# -- one attachment ---------------------------------------------------------------------------
def _one_form(engine: Engine, plan: Plan, name: str, data: bytes, read: ReadFile | None, sender: str, secret: str,
              settings: Settings, now: dt.datetime, parsed: ParsedMessage, handled: Handled) -> Line:
    """Who may send this form, then the inbox's own rules (`ingest_file`)."""
    if read is not None:
        claimed_plan = str(read.identity.get("plan", "")).strip()
        unit_id = str(read.identity.get("unit", "")).strip()
        refusal: Msg | None = None
        if claimed_plan and claimed_plan != plan.id:
            refusal = msg("mail.other_plan", claimed=claimed_plan[:64], plan=plan.id)
        elif read.kind == "xlsx" and not signature.verify(secret, read.identity):
            refusal = msg("mail.unsigned")
        elif (unit := next((u for u in plan.units if u.id == unit_id), None)) is not None \
                and sender.lower() not in known_addresses(unit):
            refusal = msg("mail.not_unit_address", unit=unit.name, sender=sender or "?")
        if refusal is not None:
            _refusal(engine, handled, sender, name, unit_id[:64] or None, refusal.render("en"), parsed)
            return Line("refused", msg("mail.refused_file", file=name, reason=refusal))
        handled.unit = unit_id[:64] or None
    today = now.astimezone(zoneinfo.ZoneInfo(plan.plan.timezone)).date()
    with tempfile.TemporaryDirectory(prefix="plan-tracker-mail-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        receipt = ingest_file(engine, plan.id, path, today=today, inbox=settings.folder("inbox"), via=SOURCE)
    return Line(receipt.outcome, receipt)


def known_addresses(unit: Any) -> set[str]:
    """Where a unit may answer from: its contact, its head, and its `also_from` list."""
    found = {person.email for person in (unit.contact, unit.head) if person is not None and person.email}
    return {address.lower() for address in (*found, *unit.also_from)}


def _overall(outcomes: list[str]) -> str:
    if any(o in ("accepted", "partial", "already_ingested") for o in outcomes):
        return "accepted" if all(o in ("accepted", "already_ingested") for o in outcomes) else "partial"
    return "refused" if all(o == "refused" for o in outcomes) else "rejected"


def _try_read(data: bytes, name: str) -> ReadFile | None:
    """The file's identity, within the inbox's caps; None when the inbox would refuse it
    (`ingest_file` then refuses it the usual way, with the usual receipt)."""
    try:
        return read_report(data, name, Deadline())
    except FileRefused:
        return None


# -- reading the message ----------------------------------------------------------------------
def _parse(raw: bytes) -> tuple[ParsedMessage | None, bool]:
    """(message, unreadable): the email package is lenient and records defects instead of
    raising; a message whose structure it had to guess (no boundary found) is unreadable."""
    try:
        parsed = parse(raw)
        # A missing close boundary is common and harmless (every part is still found): not here.
        structural = [d for part in parsed.walk() for d in part.defects
                      if type(d).__name__ in ("NoBoundaryInMultipartDefect", "StartBoundaryNotFoundDefect",
                                              "MultipartInvariantViolationDefect")]
        return parsed, bool(structural)
    except Exception:
        return None, True


def _header(parsed: ParsedMessage | None, name: str) -> str:
    if parsed is None:
        return ""
    try:
        return " ".join(str(v) for v in parsed.get_all(name, []))[:4000]
    except Exception:
        return ""


def _sender(parsed: ParsedMessage | None) -> str:
    """The From address when there is exactly one well-formed one, else ''."""
    found = [a for _, a in getaddresses([_header(parsed, "From")]) if a]
    address = found[0] if len(found) == 1 else ""
    return address if re.fullmatch(r"[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,190}", address) else ""


def _automatic(parsed: ParsedMessage, sender: str, settings: Settings) -> bool:
    """Mail no person wrote (RFC 3834 Auto-Submitted, delivery reports, our own receipts)."""
    auto = _header(parsed, "Auto-Submitted").strip().lower()
    own = {envelope_address(a).lower() for a in (settings.smtp_sender, settings.reply_address or "") if a}
    local = sender.partition("@")[0].lower()
    return (bool(auto) and auto != "no") or parsed.get_content_type() == "multipart/report" \
        or sender.lower() in own or local in ("mailer-daemon", "postmaster")


def _authentication_failed(parsed: ParsedMessage) -> str | None:
    """'dmarc=fail' (or dkim/spf) in the receiving server's Authentication-Results: a From
    the server itself could not verify. Anyone may write this header, but only to their harm."""
    found = re.search(r"\b(dmarc|dkim|spf)=(fail|hardfail)\b", _header(parsed, "Authentication-Results").lower())
    return found.group(0) if found else None


def _spreadsheets(parsed: ParsedMessage) -> list[tuple[str, bytes]]:
    found = []
    for part in parsed.walk():
        if part.is_multipart():
            continue
        try:
            name = _safe_name(part.get_filename() or "")
            if not name.lower().endswith(SPREADSHEETS):
                continue
            data = part.get_payload(decode=True)
        except Exception as exc:  # an attachment the parser cannot decode is no form
            logger.info("attachment skipped: %s", exc)
            continue
        if isinstance(data, bytes):
            found.append((name, data))
    return found


def _safe_name(name: str) -> str:
    """The attachment's own name, kept to one plain component (it names a temporary file)."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^\w.\-]+", "_", last).lstrip(".")[-100:]
    return cleaned or "attachment"


def _plan_of_sender(engine: Engine, plans: set[str], sender: str, now: dt.datetime) -> str | None:
    """The store's only plan, or the only plan one of whose units knows the sender."""
    if len(plans) == 1:
        return next(iter(plans))
    found = set()
    for plan_id in plans:
        plan = _plan(engine, plan_id, now)
        if plan is not None and any(sender.lower() in known_addresses(u) for u in plan.units):
            found.add(plan_id)
    return found.pop() if len(found) == 1 else None


def _plan(engine: Engine, plan_id: str | None, now: dt.datetime) -> Plan | None:
    if plan_id is None:
        return None
    with engine.connect() as conn:
        return stored_plan(conn, plan_id, now.date())


# -- the ledger, the audit log and the receipt ---------------------------------------------------
def _refusal(engine: Engine, handled: Handled, sender: str, file: str | None, unit: str | None, reason: str,
             parsed: ParsedMessage) -> None:
    with engine.begin() as conn:
        record_event(conn, plan_id=handled.plan_id, kind="auth.refused", actor=(sender or "anonymous")[:64],
                     source=SOURCE, payload={"action": "reply-by-mail", "sender": sender, "file": file,
                                             "claimed_unit": unit, "reason": reason,
                                             "message_id": _header(parsed, "Message-ID")[:300]})


def _record(engine: Engine, digest: str, parsed: ParsedMessage | None, sender: str, handled: Handled,
            plan: Plan | None, now: dt.datetime, *, answer: bool) -> None:
    subject, text = _receipt(parsed, handled, plan, now) if answer else ("", "")
    message_id = _header(parsed, "Message-ID").strip()[:300] or None
    with engine.begin() as conn:
        if _seen(conn, digest):
            return  # another fetch recorded it first
        conn.execute(M.insert().values(
            digest=digest, plan_id=handled.plan_id, message_id=message_id, sender=sender[:254],
            unit_id=handled.unit, outcome=handled.outcome, received_at=now,
            receipt_subject=subject, receipt_text=text, state="pending" if answer else "none", attempts=0))


def _seen(conn: Connection, digest: str) -> bool:
    return conn.execute(select(M.c.id).where(M.c.digest == digest)).first() is not None


def _receipt(parsed: ParsedMessage | None, handled: Handled, plan: Plan | None, now: dt.datetime) -> tuple[str, str]:
    """Subject and text in the plan's locale; both languages when no plan could be told."""
    locales = [plan.plan.locale] if plan is not None else ["zh", "en"]
    original = " ".join(_header(parsed, "Subject").split())[:120]
    zone = zoneinfo.ZoneInfo(plan.plan.timezone) if plan is not None else dt.UTC
    day = now.astimezone(zone).date().isoformat()
    coordinator = _coordinator(plan)
    texts = []
    for locale in locales:
        lines = [word("mail.greeting", locale, day=day), ""]
        for line in handled.lines:
            lines.extend(_line_text(line, locale, single=len(handled.lines) == 1))
        lines += ["", word("mail.footer", locale, coordinator=coordinator)]
        texts.append("\n".join(lines))
    subject = " / ".join(word("mail.subject", locale, subject=original or "-") for locale in locales)
    return subject[:200], "\n\n".join(texts) + "\n"


def _line_text(line: Line, locale: str, *, single: bool) -> list[str]:
    if isinstance(line.text, FileReceipt):
        receipt = line.text
        found = [receipt.summary()]
        found += [f"  {p}" for p in receipt.problems[:PROBLEMS_LISTED] if p != receipt.message]  # said once
        if len(receipt.errors) > PROBLEMS_LISTED:
            found.append("  " + receipt.say("receipt.more", count=len(receipt.errors) - PROBLEMS_LISTED))
        return found
    text = line.text.render(locale)
    return [text if line.text.id.startswith("mail.refused") or line.text.id == "mail.no_attachment"
            else word("mail.refused", locale, reason=line.text)]


def _coordinator(plan: Plan | None) -> str:
    if plan is None:
        return "督查部门 / the coordinating office"
    unit = next((u for u in plan.units if u.id == plan.plan.coordinator), None)
    return unit.name if unit else plan.plan.coordinator


def run_fetch(engine: Engine, settings: Settings, *, now: dt.datetime, only_plan: str | None = None,
              factory: Any = None) -> FetchSummary | None:
    """`mail fetch`, the nightly stage and the office-hours deployment: None when no
    mailbox is configured (PLAN_TRACKER_IMAP_URL unset)."""
    from imap_tools.errors import ImapToolsError

    from plan_tracker.channels.mailbox import MailboxConfigError, open_source

    if not settings.has_mailbox() or settings.imap_url is None:
        return None
    source = open_source(settings.imap_url.get_secret_value(), settings.imap_done_folder)
    try:
        return fetch_mail(engine, source, settings=settings, now=now, only_plan=only_plan, factory=factory)
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:  # the server went away mid-fetch
        raise MailboxConfigError("mailbox.stopped_answering", reason=f"{type(exc).__name__}: {exc}") from None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error, ImapToolsError):
            source.close()
