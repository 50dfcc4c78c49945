"""Building e-mails with header classes made once (issue 17) gives the very bytes the stock
`email` policy gives: a resend after an upgrade is still the message first sent."""

from __future__ import annotations

import dataclasses
import datetime as dt
from email import policy

import pytest

from plan_tracker.channels import Attachment, Message, email_format

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def variants(message: Message) -> list[Message]:
    long_subject = "【督办提醒】" + "县级月度任务尚未报送，" * 8
    return [
        message,
        dataclasses.replace(message, subject=long_subject, html="<p>" + message.text * 30 + "</p>"),
        dataclasses.replace(message, reply_to="回复 <reply@example.org>", in_reply_to="<abc.plan-1@example.org>",
                            plan_id="plan-1", attachments=(Attachment("县1-报送表.xlsx", b"PK\x03\x04" * 900, XLSX),)),
        dataclasses.replace(message, recipient_name="Zhang, San \"the head\"", html=None),
    ]


@pytest.mark.parametrize("sender", ["plan-tracker@localhost", "区政府法制办 <duban@example.org>"])
def test_emails_are_byte_for_byte_those_of_the_stock_policy(message: Message, sender: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    when = dt.datetime(2018, 10, 15, 1, 0, tzinfo=dt.UTC)
    ours = [email_format.build_email(m, sender=sender, date=when).as_bytes(policy=policy.SMTP)
            for m in variants(message)]
    monkeypatch.setattr(email_format, "POLICY", policy.default)
    stock = [email_format.build_email(m, sender=sender, date=when).as_bytes(policy=policy.SMTP)
             for m in variants(message)]
    assert ours == stock
