"""The portal in a real browser: Debian's headless Chromium driven by Playwright, against the
app served by uvicorn on a free local port (SQLite store).

A unit logs in with its token, reports through the form, and the report is in the store;
another unit asks for an extension and the coordinator approves it in the review queue; all
on a phone-sized screen, with no console errors and no token in the server's logs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.conftest import free_port
from tests.web.conftest import obligation_id

from plan_tracker.store.db import make_engine, migrate
from plan_tracker.store.models import Obligation, StatusReport

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The browser test runs on SQLite only (the API tests cover both backends)."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield browser
        finally:
            browser.close()


def log_in(browser: Any, base: str, token: str, problems: list[str]) -> Any:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(f"{base}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    cookie = next(c for c in context.cookies() if c["name"] == "pt_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    return page


def fits_the_screen(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_units_report_and_ask_for_an_extension_and_the_coordinator_approves_it(
        applied: Engine, server: str, browser: Any, tokens: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    problems: list[str] = []

    # town-a reports its self-check done through the form.
    page = log_in(browser, server, tokens["own"], problems)
    assert page.url.endswith("/portal") and "报送自查报告" in page.inner_text("main")
    assert fits_the_screen(page)
    check = obligation_id(applied, "s.self-check", "town-a")
    page.click(f'tr[data-obligation="{check}"] a')
    page.select_option("#status", "done")
    page.fill("#progress", "100")
    page.fill("#note", "浏览器填报：自查报告已报送")
    page.fill("#ind-cases", "12")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector(".flash")
    assert "进展已提交" in page.inner_text(".flash")
    assert fits_the_screen(page)
    r = StatusReport.__table__
    with applied.connect() as conn:
        stored = conn.execute(select(r.c.status, r.c.progress, r.c.note, r.c.source, r.c.actor, r.c.indicator_values)
                              .where(r.c.obligation_id == check)).one()
    assert tuple(stored) == ("done", 100, "浏览器填报：自查报告已报送", "web", "town-a", {"cases": 12.0})

    # town-b asks for an extension.
    other = log_in(browser, server, tokens["other"], problems)
    b_check = obligation_id(applied, "s.self-check", "town-b")
    other.goto(f"{server}/portal/obligations/{b_check}")
    other.fill("#new_due", "2018-10-19")
    other.fill("#reason", "人手不足，需延期")
    other.click("#extension-form button[type=submit]")
    other.wait_for_selector(".flash")
    assert "延期申请已提交" in other.inner_text(".flash")

    # The coordinator approves it in the review queue.
    coordinator = log_in(browser, server, tokens["coordinator"], problems)
    assert coordinator.url.endswith("/portal/review")
    item = coordinator.locator("[data-extension]").filter(has_text="人手不足")
    item.locator("button[value=approve]").click()
    coordinator.wait_for_selector(".flash")
    assert "已批准延期" in coordinator.inner_text(".flash")
    assert fits_the_screen(coordinator)
    o = Obligation.__table__
    with applied.connect() as conn:
        due, original = conn.execute(select(o.c.due, o.c.original_due).where(o.c.id == b_check)).one()
    assert (due, original) == (dt.date(2018, 10, 19), dt.date(2018, 10, 8))
    other.reload()
    assert "2018-10-19" in other.inner_text("#due") and "已延期" in other.inner_text("#due")

    assert problems == []
    for token in tokens.values():
        assert token not in caplog.text
    assert "POST /login" in caplog.text  # the access log was captured, without any token
