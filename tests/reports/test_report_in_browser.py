"""The HTML report of the founding plan in headless Chromium: charts drawn, Chinese rendered,
no console error, nothing fetched from anywhere.

The store is prepared the way `make demo` does it (the founding plan, its deterministic demo
reports, evaluations and snapshots through the year), but without writing report files
every night, so the test stays quick.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
AS_OF = dt.date(2018, 10, 22)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))

# Counts, in the browser, the pixels of a PNG that are not (near) white and those close to a
# given colour; the browser decodes the PNG, so the test needs no imaging library.
PIXELS_JS = """
async ([b64, rgb]) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  let inked = 0, coloured = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235) inked++;
    if (Math.abs(d[i] - rgb[0]) < 40 && Math.abs(d[i + 1] - rgb[1]) < 40 && Math.abs(d[i + 2] - rgb[2]) < 40) coloured++;
  }
  return [inked, coloured, img.width * img.height];
}
"""


@pytest.fixture(scope="module")
def founding_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from plan_tracker.demo import demo_reports
    from plan_tracker.domain.calendar import WorkCalendar
    from plan_tracker.planfile import load_plan
    from plan_tracker.reports import build_report, render_html
    from plan_tracker.reports.schedule import first_working_day_of_week
    from plan_tracker.resources import example_plan_path
    from plan_tracker.services.nightly import evaluate, snapshot
    from plan_tracker.services.plans import apply_plan
    from plan_tracker.services.submissions import record_report
    from plan_tracker.store.db import make_engine, migrate

    folder = tmp_path_factory.mktemp("founding")
    engine = make_engine(f"sqlite:///{folder / 'store.sqlite3'}")
    migrate(engine)
    founding = example_plan_path("jingzhou-2018")
    apply_plan(engine, founding)
    plan = load_plan(founding)
    calendar = WorkCalendar(plan.plan.calendar)
    with engine.begin() as conn:
        for s in demo_reports(plan, calendar):
            record_report(conn, s, today=dt.date(2019, 3, 31), actor=s.unit, source="demo")
    # One night a week (the first working day) keeps the set-up quick; missed nights fire
    # only the highest due step, as in production after an outage.
    weeks = {first_working_day_of_week(calendar, AS_OF - dt.timedelta(weeks=n)) for n in range(43)}
    for day in sorted(d for d in weeks | {AS_OF} if d is not None):
        now = dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI)
        evaluate(engine, plan.id, day, now=now)
        snapshot(engine, plan.id, day)
    page = folder / "report.html"
    page.write_text(render_html(build_report(engine, plan.id, AS_OF)), encoding="utf-8")
    engine.dispose()
    return page


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is required for browser tests (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


def test_the_founding_plans_report_renders_with_charts_and_no_console_errors(founding_page, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(founding_page.as_uri())
    page.wait_for_load_state("load")

    assert page.locator("h1").inner_text() == "荆州区2018年法治政府建设工作安排"
    # Chinese renders with a real CJK font (Debian's fonts-noto-cjk), not as empty boxes.
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '督查督办')")

    shots = {}
    for name in ("lights", "trend", "reporting", "indicators"):
        svg = page.locator(f'figure[data-chart="{name}"] svg')
        box = svg.bounding_box()
        assert box and box["width"] > 600 and box["height"] > 150, name
        shots[name] = base64.b64encode(svg.screenshot()).decode()
    assert requests == [founding_page.as_uri()]  # nothing else fetched: self-contained
    assert problems == []

    blank = browser.new_page()
    colour = {"lights": (0xD9, 0x36, 0x3E), "trend": (0xD9, 0x36, 0x3E),
              "reporting": (0x2F, 0x7E, 0xD8), "indicators": (0x3A, 0xA7, 0x57)}
    for name, b64 in shots.items():
        inked, coloured, total = blank.evaluate(PIXELS_JS, [b64, list(colour[name])])
        assert inked / total > 0.03, f"chart {name} looks blank ({inked} of {total} pixels inked)"
        assert coloured > 200, f"chart {name} lacks its series colour ({coloured} pixels)"
    blank.close()
    page.close()


def test_the_page_screenshot_shows_the_summary_cards(founding_page, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(founding_page.as_uri())
    cards = page.locator(".cards .card")
    assert cards.count() == 6
    assert cards.nth(0).locator(".caption").inner_text() == "任务事项"
    assert cards.nth(0).locator(".figure").inner_text() == "413"
    path = tmp_path / "report.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000
    page.close()
