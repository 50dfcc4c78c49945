"""The nightly run on the store, around 2018's National Day, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import text

from plan_tracker.services.nightly import evaluation_summary
from plan_tracker.services.status import status_rows
from plan_tracker.services.submissions import Submission, submit

from .conftest import deliveries, reminders


def working_days(first: str, last: str) -> list[dt.date]:
    from plan_tracker.domain.calendar import WorkCalendar

    cal, day, out = WorkCalendar(), dt.date.fromisoformat(first), []
    while day <= dt.date.fromisoformat(last):
        if cal.is_working_day(day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def fired(engine, task="s.self-check", unit="town-a"):
    return [(lv, seq, f, st) for t, u, lv, seq, f, st in reminders(engine) if (t, u) == (task, unit)]


def test_each_step_fires_on_its_working_day_around_national_day(applied, night):
    # Due 2018-10-01 (holiday) rolls to Monday 10-08. -3 wd: 09-28 (09-29/30 were working
    # Sat/Sun, so they count: 10-08 -1 = 09-30, -2 = 09-29, -3 = 09-28). +1 wd: 10-09.
    # +5 wd: 10-15. +10 wd: 10-22; the accountability step repeats every 5 wd: 10-29.
    for day in working_days("2018-09-20", "2018-10-30"):
        night(day)
    assert fired(applied) == [
        ("remind", 0, "2018-09-28", "sent"),
        ("urge", 0, "2018-10-09", "sent"),
        ("supervise", 0, "2018-10-15", "sent"),
        ("accountability", 0, "2018-10-22", "sent"),
        ("accountability", 1, "2018-10-29", "sent"),
    ]


def test_lights_around_national_day(applied, night):
    def light(day: str) -> tuple[str, int]:
        row = next(r for r in status_rows(applied, "national-day", dt.date.fromisoformat(day))
                   if (r.task, r.unit) == ("s.self-check", "town-a"))
        return row.light, row.overdue_wd

    assert light("2018-09-27") == ("green", 0)
    assert light("2018-09-28") == ("yellow", 0)   # due - 3 wd
    assert light("2018-10-03") == ("yellow", 0)   # holiday before the rolled-forward due date
    assert light("2018-10-08") == ("yellow", 0)   # the due date itself
    assert light("2018-10-09") == ("red", 1)
    assert light("2018-10-14") == ("red", 4)      # Sunday: 10-09..10-12 are the 4 working days late


def test_running_the_same_night_twice_raises_and_delivers_nothing_new(applied, night, settings):
    first = night("2018-10-09")
    before = (reminders(applied), deliveries(applied), sorted(p.name for p in settings.folder("outbox").iterdir()))
    second = night("2018-10-09")
    after = (reminders(applied), deliveries(applied), sorted(p.name for p in settings.folder("outbox").iterdir()))
    assert first.delivery.deliveries_sent > 0
    assert second.delivery.deliveries_sent == 0
    assert before == after


def test_a_missed_week_fires_only_the_highest_step_and_skips_the_lower(applied, night):
    night("2018-09-27")  # nothing due yet
    night("2018-10-16")  # the scheduler was down from 09-28 to 10-15
    assert fired(applied) == [
        ("remind", 0, "2018-10-16", "skipped"),
        ("urge", 0, "2018-10-16", "skipped"),
        ("supervise", 0, "2018-10-16", "sent"),
    ]


def test_skipped_steps_are_kept_apart_from_the_reminders_and_counted_in_the_nights_summary(applied, night):
    # A skipped step is for the record, never a message: it is a `skipped_step` row, not a
    # reminder (the outbox), and it still belongs to a tracked obligation.
    night("2018-09-27")
    first = night("2018-10-16")
    again = night("2018-10-16")
    with applied.connect() as conn:
        as_reminders = conn.execute(text("SELECT count(*) FROM reminder WHERE state = 'skipped'")).scalar_one()
        kept = conn.execute(text("SELECT count(*) FROM skipped_step")).scalar_one()
        orphans = conn.execute(text("SELECT count(*) FROM skipped_step k WHERE NOT EXISTS "
                                    "(SELECT 1 FROM obligation o WHERE o.id = k.obligation_id)")).scalar_one()
    listed = [st for *_, st in reminders(applied)].count("skipped")
    assert as_reminders == 0 and orphans == 0 and kept == listed > 0
    assert first.evaluation.skipped == kept and again.evaluation.skipped == 0  # a re-run records none again
    assert evaluation_summary(applied, "national-day", dt.date(2018, 10, 16)).skipped == kept  # read from the store


def test_a_done_report_stops_further_escalation(applied, night):
    night("2018-09-28")
    submit(applied, Submission("national-day", "s.self-check", "town-a", "once", "done", dt.date(2018, 10, 10)),
           today=dt.date(2018, 10, 10), actor="town-a")
    for day in working_days("2018-10-09", "2018-10-30"):
        night(day)
    assert [lv for lv, *_ in fired(applied)] == ["remind", "urge"]  # urge on 10-09, done 10-10
    assert [lv for lv, *_ in fired(applied, unit="town-b")] == ["remind", "urge", "supervise", "accountability", "accountability"]


def test_one_message_per_recipient_lists_all_its_items(applied, night, settings):
    night("2018-10-09")  # urge: both town-a tasks go to town-a's contact and head
    outbox = settings.folder("outbox")
    to_contact = []
    for path in outbox.iterdir():
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        if "town-a@example.org" in str(msg["To"]):
            to_contact.append(msg)
    assert len(to_contact) == 1
    body = to_contact[0].get_body(preferencelist=("plain",)).get_content()
    assert "报送自查报告" in body and "报送半年总结" in body and "催办" in str(to_contact[0]["Subject"])
    assert "已逾期 1 个工作日" in body


def test_messages_never_go_out_empty_and_every_raised_reminder_has_a_recipient(applied, night, settings):
    night("2018-10-16")
    for path in settings.folder("outbox").iterdir():
        body = message_from_bytes(path.read_bytes(), policy=policy.default).get_body(preferencelist=("plain",)).get_content()
        assert "1.【" in body
    # every addressable delivery went out; town-b has no head: that one is recorded dead, not skipped
    assert {(key, state) for key, state in deliveries(applied) if state != "sent"} == {
        ("unreachable:head:town-b", "dead")}


def test_a_unit_without_a_contact_address_is_recorded_not_dropped(engine, tmp_path: Path, settings):
    from plan_tracker.night import run_nightly
    from plan_tracker.services.plans import apply_plan

    from .conftest import PLAN_YAML, at

    path = tmp_path / "p.yaml"
    path.write_text(PLAN_YAML.replace(", contact: {name: 钱七, email: town-b@example.org}", ""), encoding="utf-8")
    apply_plan(engine, path)
    run_nightly(engine, "national-day", dt.date(2018, 9, 28), now=at(dt.date(2018, 9, 28)), settings=settings)
    states = {(t, u, st) for t, u, lv, _, _, st in reminders(engine) if lv == "remind"}
    assert ("s.self-check", "town-b", "dead") in states


def test_a_role_nobody_holds_is_recorded_dead_with_the_reason_and_doctor_lists_it(applied, night):
    import datetime as dt

    from sqlalchemy import select

    from plan_tracker.services.doctor import diagnose
    from plan_tracker.store.outbox_models import Delivery

    night("2018-10-09")  # urge: contact and head; town-b has a contact but no head
    d = Delivery.__table__
    with applied.connect() as conn:
        dead = conn.execute(select(d.c.recipient_key, d.c.last_error).where(d.c.state == "dead")).all()
    assert {tuple(row) for row in dead} == {
        ("unreachable:head:town-b", "nobody to receive it: no address for head of unit town-b")}
    assert ("s.self-check", "town-b", "urge", 0, "2018-10-09", "dead") in {
        (t, u, lv, seq, f, st) for t, u, lv, seq, f, st in reminders(applied)}
    checks = diagnose(applied, now=dt.datetime(2018, 10, 9, 3, tzinfo=dt.UTC), plan_id="national-day")
    found = [c.message.render("en") for c in checks if c.name == "recipients"]
    assert found and "by role: head of town-b: 1" in found[0]
