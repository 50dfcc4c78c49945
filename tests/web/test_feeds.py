"""The managers' report page and the units' deadlines feed."""

from __future__ import annotations

import base64

from icalendar import Calendar

from .conftest import auth, login


def test_the_coordinator_reads_the_report_page(client, tokens):
    login(client, tokens["coordinator"])
    page = client.get("/portal/report")
    assert page.status_code == 200
    assert "<svg" in page.text and "甲镇" in page.text


def test_a_unit_cannot_read_the_managers_report(client, tokens):
    login(client, tokens["own"])
    assert client.get("/portal/report").status_code in (403, 404)  # read refusals answer 404


def test_a_unit_reads_its_own_deadlines_feed_with_bearer_or_basic(client, tokens):
    feed = client.get("/units/town-a/deadlines.ics", headers=auth(tokens["own"]))
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = [c for c in Calendar.from_ical(feed.content).walk() if c.name == "VEVENT"]
    assert events
    basic = base64.b64encode(f"town-a:{tokens['own']}".encode()).decode()
    assert client.get("/units/town-a/deadlines.ics", headers={"Authorization": f"Basic {basic}"}).content == feed.content


def test_the_deadlines_feed_refuses_other_units_missing_and_revoked_tokens(client, tokens):
    assert client.get("/units/town-b/deadlines.ics", headers=auth(tokens["own"])).status_code in (403, 404)
    assert client.get("/units/town-a/deadlines.ics").status_code == 401
    assert client.get("/units/town-a/deadlines.ics", headers=auth(tokens["revoked"])).status_code == 401
    assert client.get("/units/town-b/deadlines.ics", headers=auth(tokens["coordinator"])).status_code == 200
