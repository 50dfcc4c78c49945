"""Units answer by replying (issue 19): the reminder carries the unit's signed form, the
reply mailbox is an inbox. Real servers throughout: dovecot (IMAP) and aiosmtpd (SMTP,
delivering into dovecot); the store on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import smtplib
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from plan_tracker.cli import app
from plan_tracker.inbox.mail import MAX_MESSAGE_BYTES, run_fetch
from plan_tracker.inbox.template import write_templates
from plan_tracker.night import run_nightly
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings, get_settings
from plan_tracker.store.mail_models import MailReply
from plan_tracker.store.models import Event, StatusReport

from ..inbox import corpus
from ..inbox.conftest import fill, reports
from .conftest import OCT9, OTHER_PLAN_YAML, PLAN_ID, REPLY, Dovecot, Relay, at

DONE = "plan-tracker-done"
MORNING = dt.time(9, 0)  # inside the delivery window: the night's reminders go out at once
runner = CliRunner()


def xlsx_of(message: EmailMessage) -> tuple[str, bytes]:
    (part,) = [p for p in message.iter_attachments() if (p.get_filename() or "").endswith(".xlsx")]
    return part.get_filename() or "", part.get_payload(decode=True)


def reply(*, sender: str, to: str = REPLY, subject: str = "Re: 催办", in_reply_to: str | None = None,
          attachments: list[tuple[str, bytes]] = (), text: str = "已填写，请查收。",  # type: ignore[assignment]
          ident: str | None = None) -> EmailMessage:
    message = EmailMessage()
    if ident:
        message["Message-ID"] = ident
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message


reply_to_office = reply


def filled(template: bytes, tmp_path: Path, answers: dict[tuple[str, str], dict[str, Any]]) -> bytes:
    source = tmp_path / "form.xlsx"
    source.write_bytes(template)
    return fill(source, tmp_path / "filled.xlsx", answers).read_bytes()


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(StatusReport.__table__)).scalar_one(),
                conn.execute(select(func.count()).select_from(Event.__table__)).scalar_one(),
                conn.execute(select(func.count()).select_from(MailReply.__table__)).scalar_one())


def events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    e = Event.__table__
    with engine.connect() as conn:
        return [dict(r[0]) for r in conn.execute(select(e.c.payload).where(e.c.kind == kind).order_by(e.c.id))]


def fetch_cli(env: dict[str, str], settings: Settings, *extra: str) -> Any:
    mail_env = {**env, "PLAN_TRACKER_IMAP_URL": settings.imap_url.get_secret_value(),  # type: ignore[union-attr]
                "PLAN_TRACKER_SMTP_HOST": "127.0.0.1", "PLAN_TRACKER_SMTP_PORT": str(settings.smtp_port),
                "PLAN_TRACKER_REPLY_ADDRESS": REPLY,
                "PLAN_TRACKER_TOKEN_SECRET": settings.token_secret.get_secret_value()}  # type: ignore[union-attr]
    return runner.invoke(app, ["mail", "fetch", "--now", at(OCT9, dt.time(10)).isoformat(), *extra], env=mail_env)


# -- Done when: the night's reminder, filled and answered by reply, is in the store --------------
def test_a_unit_answers_its_reminder_by_reply_and_gets_a_receipt(applied: Engine, mail_settings: Settings,
                                                                 dovecot: Dovecot, relay: Relay, cli_env: dict[str, str],
                                                                 tmp_path: Path) -> None:
    night = run_nightly(applied, PLAN_ID, OCT9, now=at(OCT9, MORNING), settings=mail_settings)
    assert night.as_dict()["mail"]["messages"] == 0  # the night's first stage read the (empty) mailbox
    (reminder,) = dovecot.messages("town-a@example.org")
    assert reminder["Reply-To"] == REPLY and f".{PLAN_ID}@" in reminder["Message-ID"]
    body = reminder.get_body(("plain",)).get_content()
    assert "请填写随信附上的报送模板（已列出上述事项），直接回复本邮件即可" in body
    name, form = xlsx_of(reminder)
    assert name == f"{PLAN_ID}-town-a-{OCT9}.xlsx"
    listed = {(row[0], row[2]) for row in openpyxl.load_workbook(io.BytesIO(form))["反馈表"].iter_rows(
        min_row=4, values_only=True) if row[0]}
    assert listed == {("s.self-check", "once"), ("s.summary", "once")}  # exactly the message's items

    answer = filled(form, tmp_path, {("s.self-check", "once"): {"状态": "已完成", "进度(%)": 100},
                                     ("s.summary", "once"): {"状态": "推进中", "进度(%)": 60, "情况说明": "初稿已成"}})
    message = reply(sender="王五 <town-a@example.org>", subject=f"Re: {reminder['Subject']}",
                    in_reply_to=reminder["Message-ID"], attachments=[(name, answer)])
    with smtplib.SMTP("127.0.0.1", relay.port) as smtp:  # through SMTP into the reply mailbox
        smtp.send_message(message)
    assert len(dovecot.messages(REPLY)) == 1

    result = fetch_cli(cli_env, mail_settings)
    assert result.exit_code == 0, result.output
    assert "已接收 1，" in result.output  # the summary in the plan's language (Chinese)
    stored = {(t, u, s, p, src) for t, u, _, s, p, _, src in reports(applied)}
    assert stored == {("s.self-check", "town-a", "done", 100, "inbox"), ("s.summary", "town-a", "in_progress", 60, "inbox")}
    receipts = [m for m in dovecot.messages("town-a@example.org") if str(m["Subject"]).startswith("回执：")]
    assert len(receipts) == 1
    text = receipts[0].get_body(("plain",)).get_content()
    assert "已接收 — 接收 2 行" in text and receipts[0]["In-Reply-To"] == message["Message-ID"]
    assert dovecot.messages(REPLY) == [] and len(dovecot.messages(REPLY, DONE)) == 1  # moved, not deleted
    assert "\\Seen" in dovecot.flags(REPLY, DONE)[0] and "\\Answered" in dovecot.flags(REPLY, DONE)[0]

    before, mailbox_before = counts(applied), len(dovecot.messages("town-a@example.org"))
    again = fetch_cli(cli_env, mail_settings)
    assert again.exit_code == 0 and "共 0 封" in again.output
    assert counts(applied) == before and len(dovecot.messages("town-a@example.org")) == mailbox_before


def test_a_message_seen_before_is_only_moved_away(applied: Engine, mail_settings: Settings, dovecot: Dovecot,
                                                   tmp_path: Path) -> None:
    """The ledger: the move to the done folder failed (or someone copied the message back)."""
    form = signed_form(applied, mail_settings, tmp_path, "town-a")
    raw = reply(sender="town-a@example.org", attachments=[("form.xlsx", form)]).as_bytes()
    dovecot.append(REPLY, raw)
    run_fetch(applied, mail_settings, now=at(OCT9, MORNING))
    before = counts(applied)
    dovecot.append(REPLY, raw)
    summary = run_fetch(applied, mail_settings, now=at(OCT9, MORNING))
    assert summary is not None and summary.seen == 1 and counts(applied) == before
    assert dovecot.messages(REPLY) == [] and len(dovecot.messages(REPLY, DONE)) == 2


def test_a_reply_from_the_units_other_address_counts_and_a_fetch_for_another_plan_leaves_it(
        applied: Engine, mail_settings: Settings, dovecot: Dovecot, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(OTHER_PLAN_YAML, encoding="utf-8")
    apply_plan(applied, other)
    form = filled(signed_form(applied, mail_settings, tmp_path, "town-b"), tmp_path,
                  {("s.self-check", "once"): {"状态": "已完成"}})
    dovecot.append(REPLY, reply(sender="town-b-office@example.org", attachments=[("乙镇.xlsx", form)]).as_bytes())
    elsewhere = run_fetch(applied, mail_settings, now=at(OCT9, MORNING), only_plan="other-plan")
    assert elsewhere is not None and elsewhere.skipped == 1 and len(dovecot.messages(REPLY)) == 1
    mine = run_fetch(applied, mail_settings, now=at(OCT9, MORNING), only_plan=PLAN_ID)
    assert mine is not None and mine.accepted == 1
    assert [(t, u, s) for t, u, _, s, *_ in reports(applied)] == [("s.self-check", "town-b", "done")]


def test_a_csv_reply_counts_only_from_the_unit_it_names(applied: Engine, mail_settings: Settings,
                                                        dovecot: Dovecot) -> None:
    """A CSV has no hidden sheet to sign: the sender's address is what binds it to its unit."""
    csv = "计划编号,national-day,单位编号,town-b\r\n任务编号,期间,状态,进度(%)\r\ns.self-check,once,已完成,100\r\n"
    data = csv.encode("utf-8-sig")
    dovecot.append(REPLY, reply(sender="town-a@example.org", attachments=[("b.csv", data)], ident="<a@t>").as_bytes())
    dovecot.append(REPLY, reply(sender="town-b@example.org", attachments=[("b.csv", data)], ident="<b@t>").as_bytes())
    summary = run_fetch(applied, mail_settings, now=at(OCT9, MORNING))
    assert summary is not None and (summary.accepted, summary.refused) == (1, 1)
    assert [(t, u, s) for t, u, _, s, *_ in reports(applied)] == [("s.self-check", "town-b", "done")]
    assert [e["sender"] for e in events(applied, "auth.refused")] == ["town-a@example.org"]


def test_a_message_that_fails_stays_in_the_mailbox_and_is_read_again(
        applied: Engine, mail_settings: Settings, dovecot: Dovecot, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    form = filled(signed_form(applied, mail_settings, tmp_path, "town-a"), tmp_path,
                  {("s.summary", "once"): {"状态": "已完成"}})
    dovecot.append(REPLY, reply(sender="town-a@example.org", attachments=[("a.xlsx", form)]).as_bytes())
    import plan_tracker.inbox.mail as mail

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the store went away")

    monkeypatch.setattr(mail, "ingest_file", broken)
    first = run_fetch(applied, mail_settings, now=at(OCT9, MORNING))
    assert first is not None and first.failed == 1 and len(dovecot.messages(REPLY)) == 1
    assert counts(applied)[2] == 0  # no ledger row: nothing was decided
    monkeypatch.undo()
    second = run_fetch(applied, mail_settings, now=at(OCT9, MORNING))
    assert second is not None and second.accepted == 1 and dovecot.messages(REPLY) == []


def test_without_a_mailbox_the_stage_does_nothing_and_the_command_says_what_to_set(
        applied: Engine, cli_env: dict[str, str], closed_port: int) -> None:
    assert run_fetch(applied, Settings(data_dir=Path(cli_env["PLAN_TRACKER_DATA_DIR"])), now=at(OCT9, MORNING)) is None
    result = runner.invoke(app, ["mail", "fetch"], env={**cli_env, "PLAN_TRACKER_IMAP_URL": ""})
    assert result.exit_code == 2 and "未配置邮箱" in result.output  # Chinese: no plan named, default locale
    get_settings.cache_clear()
    clear = runner.invoke(app, ["mail", "fetch"], env={**cli_env, "PLAN_TRACKER_IMAP_URL": "imap://u:p@mail.example.org/INBOX"})
    assert clear.exit_code == 2 and "明文" in clear.output and "Traceback" not in clear.output
    get_settings.cache_clear()
    down = runner.invoke(app, ["mail", "fetch"],
                         env={**cli_env, "PLAN_TRACKER_IMAP_URL": f"imaps://u:p@127.0.0.1:{closed_port}/INBOX"})
    assert down.exit_code == 2 and "无法打开邮箱 127.0.0.1" in down.output, down.output


def test_a_mailbox_out_of_reach_does_not_stop_the_night(applied: Engine, tmp_path: Path, closed_port: int,
                                                       smtp_server: Any) -> None:
    settings = Settings(data_dir=tmp_path / "var", imap_url=f"imap://u:p@127.0.0.1:{closed_port}/INBOX?plain",
                        smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    night = run_nightly(applied, PLAN_ID, OCT9, now=at(OCT9, MORNING), settings=settings).as_dict()
    assert "cannot open the mailbox" in night["mail"]["unavailable"]
    assert night["delivery"]["messages"] > 0 and smtp_server.handler.envelopes  # the reminders went out


def test_the_templates_command_signs_each_form_with_the_install_secret(
        applied: Engine, cli_env: dict[str, str], tmp_path: Path) -> None:
    from plan_tracker.inbox import signature
    from plan_tracker.token_secret import resolve_secret

    result = runner.invoke(app, ["templates", "--plan", PLAN_ID, "--as-of", OCT9.isoformat(), "--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    secret = resolve_secret(Settings(data_dir=Path(cli_env["PLAN_TRACKER_DATA_DIR"])))  # generated on first use
    for path in (tmp_path / "t").glob("*.xlsx"):
        meta = {row[0]: row[1] for row in openpyxl.load_workbook(path)["_meta"].iter_rows(values_only=True)}
        assert signature.verify(secret, meta)
        assert not signature.verify(secret, {**meta, "unit": "legal-office"})


# -- Who may answer, and hostile mail -----------------------------------------------------------
def signed_form(engine: Engine, settings: Settings, tmp_path: Path, unit: str, *, secret: str | None = "settings") -> bytes:
    key = settings.token_secret.get_secret_value() if secret == "settings" and settings.token_secret else secret
    (made,) = write_templates(engine, PLAN_ID, as_of=OCT9, today=OCT9, out_dir=tmp_path / f"forms-{unit}", unit=unit,
                              secret=key)
    return made.path.read_bytes()


def edited_to(form: bytes, unit: str) -> bytes:
    """The form with its hidden identity and identity row changed to another unit."""
    workbook = openpyxl.load_workbook(io.BytesIO(form))
    meta = workbook["_meta"]
    for row in meta.iter_rows():
        if row[0].value == "unit":
            row[1].value = unit
    workbook["反馈表"].cell(2, 4).value = unit
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


MALFORMED = (b"From: town-a@example.org\r\nTo: reply@office.example\r\nSubject: broken\r\n"
             b"Message-ID: <malformed-MIME@test.example>\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"never-there\"\r\n\r\n"
             b"--wrong\r\nContent-Type: application/octet-stream; name=a.xlsx\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64\x00\xff\r\n")


def slug(case: str) -> str:
    return case.replace(" ", "-")


def hostile(case: str, engine: Engine, settings: Settings, tmp_path: Path) -> tuple[str, bytes]:
    """(sender, raw message) of each hostile case; its Message-ID is `<slug@test.example>`."""
    own = signed_form(engine, settings, tmp_path, "town-a")

    def reply(**kwargs: Any) -> EmailMessage:  # an answer to a reminder of the plan, unless told otherwise
        kwargs.setdefault("in_reply_to", "<" + "b" * 40 + f".{PLAN_ID}@office.example>")
        return reply_to_office(ident=f"<{slug(case)}@test.example>", **kwargs)

    if case == "zip bomb attachment":
        _, bomb = corpus.zip_bomb_ratio(own)
        return "town-a@example.org", reply(sender="town-a@example.org", attachments=[("form.xlsx", bomb)]).as_bytes()
    if case == "30 MB message":
        big = own + bytes(22 * 1024 * 1024)  # 30 MB once base64-encoded
        return "town-a@example.org", reply(sender="town-a@example.org", attachments=[("form.xlsx", big)]).as_bytes()
    if case == "forged From":
        return "stranger@example.net", reply(sender="stranger@example.net", attachments=[("form.xlsx", own)]).as_bytes()
    if case == "template edited to another unit":
        return "town-a@example.org", reply(sender="town-a@example.org",
                                           attachments=[("form.xlsx", edited_to(own, "town-b"))]).as_bytes()
    if case == "template signed for another unit":
        theirs = signed_form(engine, settings, tmp_path, "town-b")
        return "town-a@example.org", reply(sender="town-a@example.org", attachments=[("b.xlsx", theirs)]).as_bytes()
    if case == "unsigned template":
        bare = signed_form(engine, settings, tmp_path, "town-b", secret=None)
        return "town-b@example.org", reply(sender="town-b@example.org", attachments=[("b.xlsx", bare)]).as_bytes()
    if case == "reply to a reminder of another plan":
        other = tmp_path / "other.yaml"
        other.write_text(OTHER_PLAN_YAML, encoding="utf-8")
        apply_plan(engine, other)
        theirs = "<" + "a" * 40 + ".other-plan@office.example>"
        return "town-a@example.org", reply(sender="town-a@example.org", in_reply_to=theirs,
                                           attachments=[("form.xlsx", own)]).as_bytes()
    if case == "malformed MIME":
        return "town-a@example.org", MALFORMED
    if case == "text-only reply":
        return "town-a@example.org", reply(sender="town-a@example.org", text="已完成").as_bytes()
    raise AssertionError(case)


# case -> (what the receipt says, is it an auth.refused)
HOSTILE = {
    "zip bomb attachment": ("疑为压缩炸弹", False),
    "30 MB message": ("超过上限", False),
    "forged From": ("只接受其联络员、负责人或登记邮箱的回复", True),
    "template edited to another unit": ("隐藏标识已被改动", True),
    "template signed for another unit": ("只接受其联络员、负责人或登记邮箱的回复", True),
    "unsigned template": ("不是督查部门下发的报送模板", True),
    "reply to a reminder of another plan": ("但本邮件回复的是计划“other-plan”的提醒", True),
    "malformed MIME": ("邮件结构无法解析", False),
    "text-only reply": ("仅凭正文（如“已完成”）无法登记", False),
}


def test_hostile_mail_is_refused_with_a_receipt_and_nothing_recorded(
        applied: Engine, mail_settings: Settings, dovecot: Dovecot, tmp_path: Path) -> None:
    """The whole table in one mailbox and one fetch: no hostile message stops another."""
    senders = {}
    for n, case in enumerate(HOSTILE):
        senders[case], raw = hostile(case, applied, mail_settings, tmp_path / str(n))
        assert (len(raw) > MAX_MESSAGE_BYTES) == (case == "30 MB message")  # that one is answered from its header
        dovecot.append(REPLY, raw)
    started = time.perf_counter()
    summary = run_fetch(applied, mail_settings, now=at(OCT9, MORNING))
    took = time.perf_counter() - started
    assert summary is not None and summary.failed == 0 and summary.refused == len(HOSTILE), summary.as_dict()
    assert reports(applied) == []
    assert dovecot.count(REPLY) == 0 and dovecot.count(REPLY, DONE) == len(HOSTILE)
    refused = {e["message_id"] for e in events(applied, "auth.refused")}
    for case, (expected, audited) in HOSTILE.items():
        ident = f"<{slug(case)}@test.example>"
        (receipt,) = [m for m in dovecot.messages(senders[case]) if m["In-Reply-To"] == ident]
        assert expected in receipt.get_body(("plain",)).get_content(), case
        assert (ident in refused) == audited, case
    assert took < 20, f"{took:.1f} s"
    print(f"\nFIGURE hostile mail: {len(HOSTILE)} messages (one of 30 MB) handled in {took:.2f} s")


def test_the_demo_round_trip_through_the_file_outbox_and_a_local_maildir(applied: Engine, tmp_path: Path) -> None:
    """No mail server at all: reminders land in the file outbox, the answer in a Maildir."""
    from plan_tracker.inbox.demo import reply_round_trip

    settings = Settings(data_dir=tmp_path / "var", reply_address=REPLY)
    run_nightly(applied, PLAN_ID, OCT9, now=at(OCT9, MORNING), settings=settings)
    outbox, maildir = settings.folder("outbox"), tmp_path / "maildir"
    lines = reply_round_trip(applied, settings, outbox=outbox, maildir=maildir, now=at(OCT9, dt.time(10)))
    assert "'accepted': 1" in lines[1] and "'receipts_sent': 1" in lines[1], lines
    assert len(reports(applied)) == 1
    (receipt,) = outbox.glob("mail-receipt*.eml")
    parsed = message_from_bytes(receipt.read_bytes(), policy=policy.default)
    assert str(parsed["Subject"]).startswith("回执：") and "接收 1 行" in parsed.get_body(("plain",)).get_content()
    assert not list((maildir / "new").iterdir()) and len(list((maildir / ".plan-tracker-done" / "cur").iterdir())) == 1
