"""Extensions and send-backs end to end: through the API, then through the nightly run
(lights and escalation in SQL), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.web.conftest import DUE, PLAN_ID, events, obligation_id

from plan_tracker.night import run_nightly
from plan_tracker.services.plans import apply_plan
from plan_tracker.services.status import status_rows
from plan_tracker.settings import Settings
from plan_tracker.store.models import Obligation
from plan_tracker.store.outbox_models import Reminder

P = f"/api/v1/plans/{PLAN_ID}"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def night(applied: Engine, settings: Settings) -> Callable[[str], Any]:
    def run(day: str) -> Any:
        date = dt.date.fromisoformat(day)
        now = dt.datetime.combine(date, dt.time(2, 0), tzinfo=SHANGHAI).astimezone(dt.UTC)
        return run_nightly(applied, PLAN_ID, date, now=now, settings=settings)

    return run


def light_of(engine: Engine, day: str, task: str, unit: str) -> tuple[str, dt.date, int]:
    row = next(r for r in status_rows(engine, PLAN_ID, dt.date.fromisoformat(day)) if r.task == task and r.unit == unit)
    return row.light, row.due, row.overdue_wd


def levels(engine: Engine, task: str, unit: str) -> list[tuple[str, str, str]]:
    """(level, fired_on, state) of an obligation's reminders."""
    r, o = Reminder.__table__, Obligation.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.level, r.c.fired_on, r.c.state).join(o, o.c.id == r.c.obligation_id)
                            .where(o.c.task_id == task, o.c.unit_id == unit).order_by(r.c.id))
        return [(lv, f.isoformat(), st) for lv, f, st in rows]


def dues(engine: Engine, task: str, unit: str) -> tuple[dt.date, dt.date]:
    o = Obligation.__table__
    with engine.connect() as conn:
        row = conn.execute(select(o.c.due, o.c.original_due).where(o.c.task_id == task, o.c.unit_id == unit)).one()
        return row.due, row.original_due


# -- extensions ---------------------------------------------------------------------------
def test_an_approved_extension_moves_lights_and_escalation_but_not_the_original_due(
        applied: Engine, api: Callable[..., Any], clock: Any, night: Callable[[str], Any]) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    # Asked on 2018-09-20 for Saturday 2018-10-20: rolled forward to Monday 2018-10-22.
    asked = api("own", "POST", f"{P}/obligations/{check}/extensions",
                json={"new_due": "2018-10-20", "reason": "评查案卷数量大，需延期两周"})
    assert asked.status_code == 201, asked.text
    assert asked.json()["new_due"] == "2018-10-22" and asked.json()["old_due"] == DUE.isoformat()
    assert dues(applied, "s.self-check", "town-a") == (DUE, DUE)  # nothing moves before approval

    decided = api("coordinator", "POST", f"{P}/extensions/{asked.json()['id']}/decision", json={"decision": "approve"})
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    assert dues(applied, "s.self-check", "town-a") == (dt.date(2018, 10, 22), DUE)
    view = api("own", "GET", f"{P}/obligations/{check}").json()["obligation"]
    assert (view["due"], view["original_due"], view["extended"]) == ("2018-10-22", DUE.isoformat(), True)

    # The day after the old due date: town-a (extended) is not red and not urged; town-b is.
    night("2018-10-09")
    assert light_of(applied, "2018-10-09", "s.self-check", "town-a")[0] == "green"
    assert light_of(applied, "2018-10-09", "s.self-check", "town-b")[0] == "red"
    assert levels(applied, "s.self-check", "town-a") == []
    # (raised, and `dead` rather than `sent`: town-b has no head for the urge to reach)
    assert ("urge", "2018-10-09", "dead") in levels(applied, "s.self-check", "town-b")
    # Three working days before the new date the reminder fires; the day after it, the urge.
    night("2018-10-17")
    assert levels(applied, "s.self-check", "town-a") == [("remind", "2018-10-17", "sent")]
    night("2018-10-23")
    assert light_of(applied, "2018-10-23", "s.self-check", "town-a") == ("red", dt.date(2018, 10, 22), 1)
    assert levels(applied, "s.self-check", "town-a")[-1] == ("urge", "2018-10-23", "sent")
    assert [e["payload"]["new_due"] for e in events(applied, "extension.approved")] == ["2018-10-22"]


def test_an_extension_survives_re_applying_the_plan(applied: Engine, api: Callable[..., Any], plan_file: Any) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    ext = api("own", "POST", f"{P}/obligations/{check}/extensions", json={"new_due": "2018-10-19", "reason": "延期"})
    api("coordinator", "POST", f"{P}/extensions/{ext.json()['id']}/decision", json={"decision": "approve"})
    plan_file.write_text(plan_file.read_text(encoding="utf-8").replace("warn_days: 3", "warn_days: 4"), encoding="utf-8")
    apply_plan(applied, plan_file)
    assert dues(applied, "s.self-check", "town-a") == (dt.date(2018, 10, 19), DUE)


@pytest.mark.parametrize(("today", "body", "status", "words"), [
    # On the due date itself it is too late: the request must come before it.
    ("2018-10-08", {"new_due": "2018-10-19", "reason": "来不及"}, 422, "before the due date"),
    ("2018-09-20", {"new_due": "2018-10-19", "reason": "   "}, 422, "must not be blank"),  # by the schema
    # 2018-10-06 lies in the National Day holiday and rolls forward to 10-08, the due date itself.
    ("2018-09-20", {"new_due": "2018-10-06", "reason": "提前"}, 422, "must be later"),
    ("2018-09-20", {"new_due": "2018-10-08", "reason": "同一天"}, 422, "must be later"),
    # 2031 has no official working-day schedule: refused, never guessed.
    ("2018-09-20", {"new_due": "2031-01-10", "reason": "很久以后"}, 422, "2031"),
])
def test_extension_rules(applied: Engine, api: Callable[..., Any], clock: Any, today: str, body: dict[str, str],
                         status: int, words: str) -> None:
    clock.day = dt.date.fromisoformat(today)
    check = obligation_id(applied, "s.self-check", "town-a")
    response = api("own", "POST", f"{P}/obligations/{check}/extensions", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]
    assert dues(applied, "s.self-check", "town-a") == (DUE, DUE)


def test_one_pending_request_at_a_time_and_a_rejection_needs_a_reason(applied: Engine, api: Callable[..., Any]) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    first = api("own", "POST", f"{P}/obligations/{check}/extensions", json={"new_due": "2018-10-19", "reason": "一"})
    again = api("own", "POST", f"{P}/obligations/{check}/extensions", json={"new_due": "2018-10-26", "reason": "二"})
    assert (first.status_code, again.status_code) == (201, 409)
    url = f"{P}/extensions/{first.json()['id']}/decision"
    assert api("coordinator", "POST", url, json={"decision": "reject"}).status_code == 422
    rejected = api("coordinator", "POST", url, json={"decision": "reject", "reason": "理由不充分"})
    assert rejected.json()["state"] == "rejected" and rejected.json()["decision_reason"] == "理由不充分"
    assert api("coordinator", "POST", url, json={"decision": "approve"}).status_code == 409
    assert dues(applied, "s.self-check", "town-a") == (DUE, DUE)


# -- review: accept (审结) and send back (退办) ------------------------------------------------
def test_a_sent_back_report_reopens_the_obligation_and_escalation_resumes(
        applied: Engine, api: Callable[..., Any], clock: Any, night: Callable[[str], Any]) -> None:
    summary = obligation_id(applied, "s.summary", "town-a")
    clock.day = DUE
    done = api("own", "POST", f"{P}/obligations/{summary}/reports", json={"status": "done", "note": "已报送总结"})
    assert done.status_code == 201 and done.json()["obligation"]["light"] == "done"
    night("2018-10-09")
    assert light_of(applied, "2018-10-09", "s.summary", "town-a")[0] == "done"
    assert levels(applied, "s.summary", "town-a") == []
    queue = api("coordinator", "GET", f"{P}/reports?awaiting_review=true").json()
    assert [r["id"] for r in queue] == [done.json()["report_id"]]

    clock.day = dt.date(2018, 10, 10)
    sent_back = api("coordinator", "POST", f"{P}/reports/{done.json()['report_id']}/review",
                    json={"decision": "send_back", "reason": "缺少数据附件"})
    assert sent_back.status_code == 200, sent_back.text
    assert sent_back.json()["decision"] == "sent_back" and sent_back.json()["reopen_report_id"]
    view = api("own", "GET", f"{P}/obligations/{summary}").json()
    assert view["obligation"]["status"] == "in_progress" and view["obligation"]["light"] == "red"
    assert view["reports"][0]["actor"] == "coordinator" and "缺少数据附件" in view["reports"][0]["note"]
    assert api("coordinator", "GET", f"{P}/reports?awaiting_review=true").json() == []

    night("2018-10-10")
    assert light_of(applied, "2018-10-10", "s.summary", "town-a") == ("red", DUE, 2)
    assert ("urge", "2018-10-10", "sent") in levels(applied, "s.summary", "town-a")

    # Reported done again and accepted: closed; escalation stops; no further reports taken.
    clock.day = dt.date(2018, 10, 11)
    again = api("own", "POST", f"{P}/obligations/{summary}/reports", json={"status": "done", "note": "已补充附件"})
    accepted = api("coordinator", "POST", f"{P}/reports/{again.json()['report_id']}/review", json={"decision": "accept"})
    assert accepted.json()["decision"] == "accepted"
    assert api("own", "POST", f"{P}/obligations/{summary}/reports", json={"status": "in_progress"}).status_code == 409
    night("2018-10-16")
    assert light_of(applied, "2018-10-16", "s.summary", "town-a")[0] == "done_late"
    assert not any(f == "2018-10-16" for _, f, _ in levels(applied, "s.summary", "town-a"))
    kinds = [e["payload"]["report_id"] for e in events(applied, "report.sent_back")]
    assert kinds == [done.json()["report_id"]]


def test_only_the_latest_done_report_is_reviewed_once(applied: Engine, api: Callable[..., Any]) -> None:
    summary = obligation_id(applied, "s.summary", "town-a")
    progress = api("own", "POST", f"{P}/obligations/{summary}/reports", json={"status": "in_progress"}).json()
    url = f"{P}/reports/{progress['report_id']}/review"
    assert api("coordinator", "POST", url, json={"decision": "accept"}).status_code == 409
    done = api("own", "POST", f"{P}/obligations/{summary}/reports", json={"status": "done"}).json()
    url = f"{P}/reports/{done['report_id']}/review"
    assert api("coordinator", "POST", url, json={"decision": "send_back"}).status_code == 422  # reason required
    assert api("coordinator", "POST", url, json={"decision": "accept"}).status_code == 200
    assert api("coordinator", "POST", url, json={"decision": "accept"}).status_code == 409


# -- reports and supporting input ------------------------------------------------------------
def test_a_report_through_the_api_is_recorded_with_source_api(applied: Engine, api: Callable[..., Any]) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    made = api("own", "POST", f"{P}/obligations/{check}/reports",
               json={"status": "in_progress", "progress": 60, "note": "已评查6件", "indicator_values": {"cases": 6}})
    assert made.status_code == 201, made.text
    detail = api("own", "GET", f"{P}/obligations/{check}").json()
    report = detail["reports"][0]
    assert (report["source"], report["actor"], report["progress"], report["indicator_values"]) == (
        "api", "town-a", 60, {"cases": 6.0})
    assert events(applied, "report.recorded")[-1]["payload"]["report_id"] == made.json()["report_id"]
    bad = api("own", "POST", f"{P}/obligations/{check}/reports", json={"status": "done", "indicator_values": {"x": 1}})
    assert bad.status_code == 422 and "no indicator x" in bad.json()["error"]["message"]
    future = api("own", "POST", f"{P}/obligations/{check}/reports", json={"status": "done", "reported_on": "2018-09-21"})
    assert future.status_code == 422 and "future" in future.json()["error"]["message"]


def test_supporting_input_shows_on_the_lead_units_obligation(applied: Engine, api: Callable[..., Any]) -> None:
    listed = api("supporter", "GET", f"{P}/supporting").json()
    assert sorted(o["unit"] for o in listed) == ["town-a", "town-b"]
    check = obligation_id(applied, "s.self-check", "town-a")
    made = api("supporter", "POST", f"{P}/obligations/{check}/support-inputs",
               json={"note": "已提供案卷评查标准", "evidence": "https://example.org/std"})
    assert made.status_code == 201
    detail = api("own", "GET", f"{P}/obligations/{check}").json()
    assert [(s["unit"], s["unit_name"], s["note"]) for s in detail["support_inputs"]] == [
        ("justice-bureau", "区司法局", "已提供案卷评查标准")]
    assert detail["supporters"] == ["justice-bureau"]
    summary = obligation_id(applied, "s.summary", "town-a")  # a task it does not support
    assert api("supporter", "POST", f"{P}/obligations/{summary}/support-inputs", json={"note": "x"}).status_code == 403
