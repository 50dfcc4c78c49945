"""The nightly report stage: the day's files, and the weekly report to managers."""

from __future__ import annotations

import datetime as dt
import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from plan_tracker.channels import DeliveryError, Receipt
from plan_tracker.reports.weekly_mail import deliver_with_weekly
from plan_tracker.services.plans import apply_plan
from plan_tracker.settings import Settings
from plan_tracker.store.models import Event

from .conftest import AS_OF, PLAN_ID, PLAN_YAML, SHANGHAI, nights


def local(day: str, clock: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(clock), tzinfo=SHANGHAI)


def weekly_events(engine):
    ev = Event.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(ev.c.payload).where(ev.c.kind == "report.weekly").order_by(ev.c.id))
        return [(p["week"], p["recipient"], p["state"]) for (p,) in rows]


def test_every_night_writes_the_days_report_files(scenario):
    folder = scenario.settings.folder("reports") / PLAN_ID
    days = nights(dt.date(2018, 3, 26), AS_OF)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{d.isoformat()}.{ext}" for d in days for ext in ("html", "json", "xlsx"))
    data = json.loads((folder / "2018-04-20.json").read_text(encoding="utf-8"))
    assert data["summary"]["lights"]["red"] == 2
    assert (folder / "2018-04-20.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert not list(folder.glob(".tmp-*"))  # written atomically, nothing left behind


def test_the_weekly_report_went_to_managers_once_a_week(scenario):
    # Weeks 13-16 of 2018 start on 03-26, 04-02, 04-09, 04-16 (all working Mondays); the
    # managers are the coordinator's contact and the leading group's mailbox.
    managers = ["email:lg@example.org", "email:office@example.org"]
    expected = [(f"2018-W{w}", m, "sent") for w in (13, 14, 15, 16) for m in managers]
    assert sorted(weekly_events(scenario.engine)) == expected
    outbox = scenario.settings.folder("outbox")
    weekly = [m for m in (message_from_bytes(p.read_bytes(), policy=policy.default) for p in outbox.glob("*.eml"))
              if "周报" in m["Subject"]]
    assert len(weekly) == 8
    latest = [m for m in weekly if "2018年4月16日" in m["Subject"]]
    assert {m["To"].addresses[0].addr_spec for m in latest} == {"lg@example.org", "office@example.org"}
    for mail in latest:  # text and HTML from one model: headline figures and the overdue list
        body = mail.get_body(preferencelist=("plain",)).get_content()
        html = mail.get_body(preferencelist=("html",)).get_content()
        assert "逾期事项清单（按时限先后）" in body and "乙镇" in body and "完成率" in body
        assert "|---" not in body  # not raw Markdown
        # "Change since the previous report" compares with the week before (04-09).
        assert "与 2018-04-09 相比" in body and "与 2018-04-09 相比" in html


class Recording:
    """A fake channel: records messages; can be told to fail."""

    def __init__(self, fail: DeliveryError | None = None):
        self.name = "smtp"
        self.sent: list = []
        self.fail = fail

    def send(self, message):
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)
        return Receipt(channel="smtp", detail=f"<{message.message_key}@test>")


@pytest.fixture
def county(engine, tmp_path: Path):
    plan_file = tmp_path / "county.yaml"
    plan_file.write_text(PLAN_YAML, encoding="utf-8")
    apply_plan(engine, plan_file)
    return engine


@pytest.fixture
def smtp_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=None, smtp_host="127.0.0.1")


def weekly_rows(engine) -> list[tuple[str, str, int]]:
    from plan_tracker.store.outbox_models import Delivery

    d = Delivery.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(d.c.topic, d.c.state, d.c.attempts)
                                               .where(d.c.topic.like("weekly:%")).order_by(d.c.recipient_key))]


def test_weekly_e_mail_goes_through_the_outbox_waits_for_the_window_and_goes_once(county, smtp_settings):
    channel = Recording()
    factory = lambda kind, options: channel  # noqa: E731
    night = deliver_with_weekly(county, PLAN_ID, as_of=dt.date(2018, 4, 16), now=local("2018-04-16", "02:00"),
                                settings=smtp_settings, factory=factory)
    assert (night.waiting, night.messages_sent, channel.sent) == (2, 0, [])
    assert weekly_rows(county) == [("weekly:2018-W16", "pending", 0)] * 2  # raised, waiting in the outbox
    morning = deliver_with_weekly(county, PLAN_ID, as_of=dt.date(2018, 4, 16), now=local("2018-04-16", "09:00"),
                                  settings=smtp_settings, factory=factory)
    assert morning.messages_sent == 2 and len(channel.sent) == 2
    assert {m.address for m in channel.sent} == {"lg@example.org", "office@example.org"}
    assert channel.sent[0].subject == "【督查督办周报】测试县2018年法治政府建设工作安排（截至2018年4月16日）"
    assert weekly_rows(county) == [("weekly:2018-W16", "sent", 1)] * 2
    assert sorted(weekly_events(county)) == [("2018-W16", "email:lg@example.org", "sent"),
                                             ("2018-W16", "email:office@example.org", "sent")]
    again = deliver_with_weekly(county, PLAN_ID, as_of=dt.date(2018, 4, 17), now=local("2018-04-17", "09:00"),
                                settings=smtp_settings, factory=factory)
    assert (again.messages_sent, len(channel.sent), len(weekly_rows(county))) == (0, 2, 2)


def test_a_failed_weekly_send_is_retried_from_the_outbox_byte_identical(county, smtp_settings):
    broken = Recording(fail=DeliveryError("451 try again later"))
    first = deliver_with_weekly(county, PLAN_ID, as_of=dt.date(2018, 4, 16), now=local("2018-04-16", "09:00"),
                                settings=smtp_settings, factory=lambda kind, options: broken)
    assert (first.failed, first.messages_sent) == (2, 0)
    assert weekly_rows(county) == [("weekly:2018-W16", "failed", 1)] * 2 and weekly_events(county) == []
    healed = Recording()
    second = deliver_with_weekly(county, PLAN_ID, as_of=dt.date(2018, 4, 17), now=local("2018-04-17", "09:00"),
                                 settings=smtp_settings, factory=lambda kind, options: healed)
    assert second.messages_sent == 2 and len(healed.sent) == 2
    # frozen on the 16th: the report of the 16th, not rebuilt for the 17th
    assert all("2018年4月16日" in m.subject and "2018-04-17" not in m.text for m in healed.sent)


def test_the_weekly_report_honours_a_disabled_channel(county, smtp_settings):
    from plan_tracker.services.delivery import enable_channel
    from plan_tracker.store.outbox_models import ChannelState

    with county.begin() as conn:
        conn.execute(ChannelState.__table__.insert().values(name="smtp", disabled=True, reason="535 auth",
                                                            changed_at=local("2018-04-15", "09:00")))
    channel = Recording()
    held = deliver_with_weekly(county, PLAN_ID, as_of=dt.date(2018, 4, 16), now=local("2018-04-16", "09:00"),
                               settings=smtp_settings, factory=lambda kind, options: channel)
    assert (held.held, held.messages_sent, channel.sent) == (2, 0, [])
    assert weekly_rows(county) == [("weekly:2018-W16", "pending", 0)] * 2
    enable_channel(county, "smtp", local("2018-04-16", "10:00"))
    sent = deliver_with_weekly(county, PLAN_ID, as_of=dt.date(2018, 4, 16), now=local("2018-04-16", "10:30"),
                               settings=smtp_settings, factory=lambda kind, options: channel)
    assert sent.messages_sent == 2 and weekly_rows(county) == [("weekly:2018-W16", "sent", 1)] * 2


def test_a_night_reruns_without_a_second_weekly_report(county, tmp_path: Path, monkeypatch):
    from plan_tracker.night import run_nightly
    from plan_tracker.settings import get_settings

    monkeypatch.setenv("PLAN_TRACKER_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    settings = Settings(data_dir=tmp_path / "var", database_url=None)
    first = run_nightly(county, PLAN_ID, dt.date(2018, 4, 16), now=local("2018-04-16", "09:00"), settings=settings)
    files = {p.name: p.read_bytes() for p in (settings.folder("reports") / PLAN_ID).iterdir()}
    second = run_nightly(county, PLAN_ID, dt.date(2018, 4, 16), now=local("2018-04-16", "09:00"), settings=settings)
    get_settings.cache_clear()
    # The delivery stage raised and sent the week's rows (inside the managers' messages);
    # the report stage, after the snapshot, says where they stand.
    assert first.as_dict()["report"] == {
        "files": ["2018-04-16.html", "2018-04-16.xlsx", "2018-04-16.json"],
        "weekly": {"week": "2018-W16", "sent": 2, "waiting": 0, "failed": 0}}
    assert second.report.weekly.sent == 2 and weekly_rows(county) == [("weekly:2018-W16", "sent", 1)] * 2
    assert len(weekly_events(county)) == 2
    after = {p.name: p.read_bytes() for p in (settings.folder("reports") / PLAN_ID).iterdir()}
    assert after.keys() == files.keys()
    assert after["2018-04-16.html"] == files["2018-04-16.html"]  # same night, same page
    assert after["2018-04-16.json"] == files["2018-04-16.json"]
    assert after["2018-04-16.xlsx"] == files["2018-04-16.xlsx"]  # dated by the night, not the clock
