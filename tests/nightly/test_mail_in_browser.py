"""The HTML reminder and the weekly mail in headless Chromium: Chinese drawn with a real CJK
font (no empty boxes), nothing fetched from anywhere, and a screenshot with ink on it."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from plan_tracker.planfile import load_plan
from plan_tracker.services.messages import Item, MessageModel, UnitWords, WeeklyPart, render_model

from .conftest import PLAN_YAML
from .test_audience_messages import model_for

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
INKED_JS = """
async (b64) => {
  const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode();
  const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
  const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data; let inked = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 200 && d[i + 1] < 200 && d[i + 2] < 200) inked++;
  return [inked, img.width * img.height];
}
"""
# A tofu box is drawn the same for every missing glyph: with a real font, two different
# characters have different ink; with boxes, the same.
GLYPHS_DIFFER_JS = """
() => {
  const font = getComputedStyle(document.body).fontFamily;
  const ink = (ch) => { const c = document.createElement('canvas'); c.width = 40; c.height = 40;
    const x = c.getContext('2d'); x.font = '32px ' + font; x.fillText(ch, 2, 32);
    return Array.from(x.getImageData(0, 0, 40, 40).data).join(','); };
  return ink('督') !== ink('办') && document.fonts.check('16px "Noto Sans CJK SC"', '督查督办');
}
"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mail")
    (folder / "plan.yaml").write_text(PLAN_YAML, encoding="utf-8")
    plan = load_plan(folder / "plan.yaml")
    overdue = [Item("s.self-check", "报送自查报告", "甲镇", "once", dt.date(2018, 10, 8), "", 0, 10, None,
                    wording="红灯", latest=UnitWords("blocked", 20, dt.date(2018, 10, 9), "涉及拆迁补偿纠纷"))]
    weekly = WeeklyPart("【督查督办周报】国庆节前后测试计划（截至2018年10月22日）",
                        [("任务事项", "3"), ("红灯", "2"), ("完成率", "33.3%")], "逾期事项清单（按时限先后）", overdue, None)
    found = {}
    for name, model in (("reminder", model_for(plan, "contact", "urge")),
                        ("digest", model_for(plan, "leading_group", "accountability")),
                        ("weekly", MessageModel("zh", "领导小组办公室", plan.plan.title, dt.date(2018, 10, 22),
                                                "区政府法制办", None, [], weekly=weekly))):
        path = folder / f"{name}.html"
        path.write_text(render_model(plan, model).html, encoding="utf-8")
        found[name] = path
    return found


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


@pytest.mark.parametrize("name", ["reminder", "digest", "weekly"])
def test_the_mail_renders_chinese_glyphs_and_fetches_nothing(pages, browser, name: str) -> None:
    page = browser.new_page(viewport={"width": 900, "height": 700})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(pages[name].as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate(GLYPHS_DIFFER_JS), "Chinese drawn as boxes (fonts-noto-cjk missing?)"
    inked, total = page.evaluate(INKED_JS, base64.b64encode(page.screenshot(full_page=True)).decode())
    assert inked / total > 0.01, f"{name}: the screenshot looks blank ({inked} of {total} pixels inked)"
    assert requests == [pages[name].as_uri()]  # inline styles, no remote resources
    page.close()
