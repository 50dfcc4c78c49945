"""The coordinator's decisions digest (issue 15, audiences): blocked items with the unit's
reason, extension requests and reports to review reach the coordinator in one message per
night at most, only when something waits, in the plan's locale, with no command line —
through the delivery outbox, against a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from plan_tracker.night import run_nightly
from plan_tracker.reports.weekly_mail import deliver_with_weekly
from plan_tracker.services.plans import apply_plan
from plan_tracker.services.submissions import Submission, submit
from plan_tracker.settings import Settings

from .conftest import PLAN_YAML, at
from .test_escalation_nights import working_days

PLAN = "national-day"
COORDINATOR = "legal@example.org"  # 张三, the coordinating office's contact
REASON = "涉及拆迁补偿纠纷，需区政府协调"
WORDS = {"zh": ("【待决定事项】", "待督查办决定的事项", "受阻"),
         "en": ("[Decisions waiting]", "Waiting for the coordinator's decision", "Blocked")}


def mails_to(smtp: Any, address: str) -> list[Any]:
    return [m for m in (message_from_bytes(e.content, policy=policy.default) for e in smtp.handler.envelopes)
            if address in {a.addr_spec for a in m["To"].addresses}]


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_the_coordinator_gets_one_decisions_message_a_night_only_when_something_waits(
        engine, smtp_server, tmp_path: Path, locale: str) -> None:
    text = PLAN_YAML if locale == "zh" else PLAN_YAML.replace("  warn_days: 3\n", "  warn_days: 3\n  locale: en\n")
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    apply_plan(engine, path)
    settings = Settings(data_dir=tmp_path / "var", smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                        portal_url="https://dc.example.org")
    subject_word, heading, blocked_word = WORDS[locale]
    per_night: Counter[dt.date] = Counter()  # messages to the coordinator
    decisions: Counter[dt.date] = Counter()  # …of them carrying the decisions waiting

    def night(day: dt.date) -> None:
        before = len(mails_to(smtp_server, COORDINATOR))
        run_nightly(engine, PLAN, day, now=at(day, dt.time(9)), settings=settings)
        # an office-hours delivery run later the same day adds nothing for the coordinator
        deliver_with_weekly(engine, PLAN, now=at(day, dt.time(11)), as_of=day, settings=settings)
        new = mails_to(smtp_server, COORDINATOR)[before:]
        per_night[day] = len(new)
        decisions[day] = sum(heading in m.get_body(preferencelist=("plain",)).get_content() for m in new)

    for day in working_days("2018-09-25", "2018-09-26"):
        night(day)
    assert sum(decisions.values()) == 0  # nothing waits for a decision: no decisions message
    blocked_on = dt.date(2018, 9, 27)
    submit(engine, Submission(PLAN, "s.self-check", "town-a", "once", "blocked", blocked_on, None,
                              f"{REASON}\n（详见附件）"), today=blocked_on, actor="town-a")
    for day in working_days("2018-09-27", "2018-10-16"):
        night(day)
    assert set(per_night.values()) <= {0, 1}  # never two in a night (the weekly report rides along)
    assert all(decisions[d] == 1 for d in working_days("2018-09-27", "2018-10-16"))  # while it waits, each night
    mails = [m for m in mails_to(smtp_server, COORDINATOR) if heading in m.get_body(preferencelist=("plain",)).get_content()]
    first = next(m for m in mails if str(m["Subject"]).startswith(subject_word))  # a night with nothing else
    body = first.get_body(preferencelist=("plain",)).get_content()
    html = first.get_body(preferencelist=("html",)).get_content()
    assert str(first["Subject"]).startswith(subject_word)
    for part in (body, html):
        assert heading in part and blocked_word in part and "涉及拆迁补偿纠纷" in part
        assert "https://dc.example.org/portal/review" in part
        assert "plan-tracker" not in part and "--plan" not in part  # no command line
    assert "\n（详见附件）" not in body  # the unit's note, flattened
    # From 10-15 town-b's item reaches the coordinator's supervise step: the escalated items
    # and the decisions share that night's one message.
    supervise = [m for m in mails if str(m["Subject"]).startswith(("【督办】", "[Supervision]"))]
    assert supervise and all(heading in m.get_body(preferencelist=("plain",)).get_content() for m in supervise)
