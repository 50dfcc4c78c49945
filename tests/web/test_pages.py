"""The server-rendered pages: login with an HttpOnly session, forms with CSRF tokens, the same
object-level rules as the API, Chinese by default and English on request."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.web.conftest import csrf, events, obligation_id
from tests.web.conftest import login as form_login


def login(client: TestClient, token: str) -> None:
    response = form_login(client, token)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pt_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


def test_pages_are_chinese_phone_friendly_and_have_a_favicon(client: TestClient, tokens: dict[str, str]) -> None:
    page = client.get("/login")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "访问令牌" in page.text
    assert '<link rel="icon" href="data:,">' in page.text
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, nothing external
    english = client.get("/login?lang=en")
    assert 'lang="en"' in english.text and "Access token" in english.text
    assert 'lang="en"' in client.get("/login").text  # remembered in a cookie
    fresh = TestClient(client.app)
    assert "Access token" in fresh.get("/login", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"}).text
    assert "访问令牌" in fresh.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).text


def test_a_unit_logs_in_sees_its_obligations_and_reports_through_the_form(
        applied: Engine, client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/login"
    form_login(client, "pt_nonsense", status=401)
    login(client, tokens["own"])
    home = client.get("/portal")
    assert "报送自查报告" in home.text and "2018-10-08" in home.text and "乙镇" not in home.text
    check = obligation_id(applied, "s.self-check", "town-a")
    page = client.get(f"/portal/obligations/{check}")
    assert page.status_code == 200 and 'id="report-form"' in page.text
    form = {"csrf": csrf(page.text), "status": "in_progress", "progress": "30", "reported_on": "2018-09-20",
            "note": "已完成一半", "evidence": "", "indicator.cases": "3"}
    # without the CSRF token the form is refused
    refused = client.post(f"/portal/obligations/{check}/report", data={**form, "csrf": "0" * 32}, follow_redirects=False)
    assert refused.status_code == 403
    done = client.post(f"/portal/obligations/{check}/report", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("msg=report_recorded")
    after = client.get(done.headers["location"])
    assert "进展已提交" in after.text and "已完成一半" in after.text
    bad = client.post(f"/portal/obligations/{check}/report", data={**form, "progress": "130"})
    assert bad.status_code == 422 and "进度须在 0 至 100 之间（填写了 130）" in bad.text
    english = client.post(f"/portal/obligations/{check}/report?lang=en", data={**form, "progress": "130"})
    assert "progress must be between 0 and 100, got 130" in english.text
    other = obligation_id(applied, "s.self-check", "town-b")
    assert client.get(f"/portal/obligations/{other}").status_code == 404
    assert client.post(f"/portal/obligations/{other}/report", data=form).status_code == 403
    # the token's first refusal of the minute is written in full, the next one counted
    assert [e["payload"]["action"] for e in events(applied, "auth.refused")] == ["obligation.read"]
    assert [r.count for r in client.app.state.refusals.flush()] == [1]  # type: ignore[attr-defined]


def test_a_unit_asks_for_an_extension_and_the_coordinator_approves_it_in_the_queue(
        applied: Engine, app: Any, tokens: dict[str, str]) -> None:
    town_b, coordinator = TestClient(app), TestClient(app)
    login(town_b, tokens["other"])
    check = obligation_id(applied, "s.self-check", "town-b")
    page = town_b.get(f"/portal/obligations/{check}")
    asked = town_b.post(f"/portal/obligations/{check}/extension", follow_redirects=False,
                        data={"csrf": csrf(page.text), "new_due": "2018-10-19", "reason": "人手不足"})
    assert asked.status_code == 303
    assert 'id="extension-form"' not in town_b.get(f"/portal/obligations/{check}").text  # one request at a time
    login(coordinator, tokens["coordinator"])
    assert coordinator.get("/portal", follow_redirects=False).headers["location"] == "/portal/review"
    queue = coordinator.get("/portal/review")
    assert "人手不足" in queue.text and "乙镇" in queue.text
    ext_id = re.search(r'data-extension="(\d+)"', queue.text).group(1)  # type: ignore[union-attr]
    approved = coordinator.post(f"/portal/extensions/{ext_id}/decision", follow_redirects=False,
                                data={"csrf": csrf(queue.text), "decision": "approve", "reason": ""})
    assert approved.status_code == 303
    view = town_b.get(f"/portal/obligations/{check}")
    assert "2018-10-19" in view.text and "已延期" in view.text
    # a unit cannot open the review queue
    assert town_b.get("/portal/review").status_code == 403


def test_the_coordinator_sends_a_report_back_from_the_queue(applied: Engine, app: Any, tokens: dict[str, str],
                                                            clock: Any) -> None:
    import datetime as dt

    unit, coordinator = TestClient(app), TestClient(app)
    login(unit, tokens["own"])
    summary = obligation_id(applied, "s.summary", "town-a")
    page = unit.get(f"/portal/obligations/{summary}")
    unit.post(f"/portal/obligations/{summary}/report", data={"csrf": csrf(page.text), "status": "done", "note": "完成"})
    clock.day = dt.date(2018, 9, 25)
    login(coordinator, tokens["coordinator"])
    queue = coordinator.get("/portal/review")
    report_id = re.search(r'data-report="(\d+)"', queue.text).group(1)  # type: ignore[union-attr]
    no_reason = coordinator.post(f"/portal/reports/{report_id}/review",
                                 data={"csrf": csrf(queue.text), "decision": "send_back", "reason": ""})
    assert no_reason.status_code == 422
    sent = coordinator.post(f"/portal/reports/{report_id}/review", follow_redirects=False,
                            data={"csrf": csrf(queue.text), "decision": "send_back", "reason": "请补充附件"})
    assert sent.status_code == 303
    view = unit.get(f"/portal/obligations/{summary}")
    assert "退办：请补充附件" in view.text and "已退办" in view.text


def test_a_supporting_unit_adds_input_that_the_lead_unit_sees(applied: Engine, app: Any, tokens: dict[str, str]) -> None:
    supporter, lead = TestClient(app), TestClient(app)
    login(supporter, tokens["supporter"])
    page = supporter.get("/portal/supporting")
    check = obligation_id(applied, "s.self-check", "town-a")
    assert f'data-obligation="{check}"' in page.text
    sent = supporter.post(f"/portal/obligations/{check}/support", follow_redirects=False,
                          data={"csrf": csrf(page.text), "note": "已提供评查标准", "evidence": ""})
    assert sent.status_code == 303
    login(lead, tokens["own"])
    assert "区司法局" in lead.get(f"/portal/obligations/{check}").text


def test_logout_ends_the_session(client: TestClient, tokens: dict[str, str]) -> None:
    login(client, tokens["own"])
    page = client.get("/portal")
    out = client.post("/logout", data={"csrf": csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/portal", follow_redirects=False).status_code == 303


def test_unit_text_is_escaped_and_only_web_links_become_links(applied: Engine, api: Any, client: TestClient,
                                                              tokens: dict[str, str]) -> None:
    check = obligation_id(applied, "s.self-check", "town-a")
    url = f"/api/v1/plans/portal-2018/obligations/{check}/reports"
    api("own", "POST", url, json={"status": "in_progress", "note": "<script>alert(1)</script>",
                                  "evidence": "javascript:alert(2)"})
    api("own", "POST", url, json={"status": "in_progress", "evidence": "https://example.org/file.pdf"})
    login(client, tokens["own"])
    page = client.get(f"/portal/obligations/{check}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page and "javascript:alert(2)" in page
    assert 'href="https://example.org/file.pdf"' in page


def test_rule_messages_are_in_chinese_on_chinese_pages(applied: Engine, client: TestClient, tokens: dict[str, str],
                                                       clock: Any) -> None:
    import datetime as dt

    login(client, tokens["own"])
    check = obligation_id(applied, "s.self-check", "town-a")
    token = csrf(client.get(f"/portal/obligations/{check}").text)
    url = f"/portal/obligations/{check}/extension"
    cases = [
        ({"new_due": "2018-10-06", "reason": "提前"}, "申请延至的日期 2018-10-06 须晚于当前时限 2018-10-08"),
        ({"new_due": "2018-10-19", "reason": " "}, "请填写理由"),
        ({"new_due": "2031-01-10", "reason": "很久以后"}, "超出工作日历范围"),
        ({"new_due": "明天", "reason": "x"}, "申请延至的日期“明天”不是日期（YYYY-MM-DD）"),
    ]
    for form, words in cases:
        page = client.post(url, data={"csrf": token, **form})
        assert page.status_code == 422 and words in page.text, (form, page.text[-2000:])
    clock.day = dt.date(2018, 10, 8)
    late = client.post(url, data={"csrf": token, "new_due": "2018-10-19", "reason": "晚了"})
    assert "延期须在完成时限（2018-10-08）之前申请，今天是 2018-10-08" in late.text


def test_the_coordinator_resumes_a_blocked_item_from_the_queue(applied: Engine, app: Any, tokens: dict[str, str],
                                                               clock: Any) -> None:
    import datetime as dt

    unit, coordinator = TestClient(app), TestClient(app)
    login(unit, tokens["own"])
    check = obligation_id(applied, "s.self-check", "town-a")
    page = unit.get(f"/portal/obligations/{check}")
    unit.post(f"/portal/obligations/{check}/report", data={
        "csrf": csrf(page.text), "status": "blocked", "note": "涉及拆迁补偿纠纷 <b>x</b>", "reported_on": "2018-09-20"})
    login(coordinator, tokens["coordinator"])
    queue = coordinator.get("/portal/review")
    assert "受阻事项（催办已暂停）" in queue.text and f'data-blocked="{check}"' in queue.text
    assert "涉及拆迁补偿纠纷 &lt;b&gt;x&lt;/b&gt;" in queue.text  # the unit's reason, escaped
    assert unit.post(f"/portal/obligations/{check}/resume", data={"csrf": csrf(page.text)}).status_code == 403
    clock.day = dt.date(2018, 9, 21)
    resumed = coordinator.post(f"/portal/obligations/{check}/resume", follow_redirects=False,
                               data={"csrf": csrf(queue.text), "reason": "已协调"})
    assert resumed.status_code == 303 and resumed.headers["location"] == "/portal/review?msg=escalation_resumed"
    after = coordinator.get("/portal/review?msg=escalation_resumed")
    assert f'data-blocked="{check}"' not in after.text and "已恢复催办" in after.text
    assert [e["payload"]["resumed_on"] for e in events(applied, "escalation.resumed")] == ["2018-09-21"]
    again = coordinator.post(f"/portal/obligations/{check}/resume", data={"csrf": csrf(after.text)})
    assert again.status_code == 409
