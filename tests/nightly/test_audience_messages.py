"""Each reader's message, rendered for every level of the ladder in both locales: what it
must say (items, due dates, days overdue, the unit's own words, the portal link) and what it
must not (a command line, an unescaped note, the other readers' instructions)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from plan_tracker.domain.plan import Plan
from plan_tracker.domain.vocabulary import LEVEL_WORDS, STATUS_WORDS
from plan_tracker.planfile import load_plan
from plan_tracker.services.messages import (
    Decision,
    Item,
    MessageModel,
    Section,
    UnitWords,
    clean_note,
    render_model,
)

from .conftest import PLAN_YAML, build_digest

AS_OF = dt.date(2018, 10, 22)
PORTAL = "https://dc.example.org"
HOSTILE_NOTE = '涉及拆迁补偿纠纷 <script>alert("x")</script> & 待区领导协调'
LEVELS = ["remind", "urge", "supervise", "accountability"]
AUDIENCE_OF_LEVEL = {"remind": ["contact"], "urge": ["contact", "head"], "supervise": ["head", "coordinator"],
                     "accountability": ["leading_group"]}
COMMAND_LINE = re.compile(r"plan-tracker|\bsubmit\b|--\w|\$ ")


@pytest.fixture(scope="module", params=["zh", "en"])
def plan(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Plan:
    path: Path = tmp_path_factory.mktemp("plan") / "plan.yaml"
    text = PLAN_YAML if request.param == "zh" else PLAN_YAML.replace("  warn_days: 3\n", "  warn_days: 3\n  locale: en\n")
    path.write_text(text, encoding="utf-8")
    return load_plan(path)


def items_for(level: str) -> list[Item]:
    overdue = 0 if level == "remind" else {"urge": 1, "supervise": 5, "accountability": 10}[level]
    position = LEVELS.index(level)
    return [
        Item("s.self-check", "报送自查报告", "甲镇", "once", dt.date(2018, 10, 8), level, position, overdue,
             3 if overdue == 0 else None, obligation_id=11, unit_id="town-a", handler="王五",
             latest=UnitWords("blocked", 20, dt.date(2018, 10, 9), HOSTILE_NOTE)),
        Item("s.summary", "报送半年总结", "乙镇", "once", dt.date(2018, 10, 8), level, position, overdue,
             3 if overdue == 0 else None, obligation_id=12, unit_id="town-b", handler=None, latest=None),
    ]


def model_for(plan: Plan, audience: str, level: str) -> MessageModel:
    items = items_for(level)
    model = MessageModel(plan.plan.locale, "收件人", plan.plan.title, AS_OF, "区政府法制办", PORTAL,
                         [Section(audience, items)])
    if audience == "coordinator":
        model.decisions = [Decision("blocked", "报送自查报告", "甲镇", "once", clean_note(HOSTILE_NOTE),
                                    since=dt.date(2018, 10, 9)),
                           Decision("extension", "报送半年总结", "乙镇", "once", "材料待审计", new_due=dt.date(2018, 11, 1),
                                    since=dt.date(2018, 9, 30))]
    if audience == "leading_group":
        model.digest = build_digest(items, previous_total=1, new=1)
    return model


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            assert not (name in {"src", "href"} and value and value.startswith("http") and not value.startswith(PORTAL)), \
                f"remote resource {value}"

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


CASES = [(level, audience) for level in LEVELS for audience in AUDIENCE_OF_LEVEL[level]]


@pytest.mark.parametrize(("level", "audience"), CASES)
def test_each_readers_message_says_what_it_must(plan: Plan, level: str, audience: str) -> None:
    locale = plan.plan.locale
    rendered = render_model(plan, model_for(plan, audience, level))
    html = _Text()
    html.feed(rendered.html)
    html_text = "".join(html.parts)
    for body in (rendered.text, html_text):
        assert "报送自查报告" in body and "报送半年总结" in body  # every item
        assert "2018-10-08" in body  # its due date
        assert LEVEL_WORDS[locale][level] in body  # the level, in the catalogue's word
        if level != "remind":  # days overdue
            n = items_for(level)[0].overdue_wd
            assert (f"已逾期 {n} 个工作日" if locale == "zh" else f"{n} working day(s) overdue") in body
        else:
            assert ("还有 3 个工作日" if locale == "zh" else "3 working day(s) left") in body
        # the unit's own words: status, progress, date, note
        assert STATUS_WORDS[locale]["blocked"] in body and "20%" in body and "2018-10-09" in body
        assert "涉及拆迁补偿纠纷" in body
        assert ("尚未报送" if locale == "zh" else "none yet" if body is rendered.text else "no report yet") in body
        assert not COMMAND_LINE.search(body)  # no command line, ever
    assert LEVEL_WORDS[locale][level] in rendered.subject
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html  # escaped
    assert "style" not in html.tags and "link" not in html.tags and "img" not in html.tags  # inline styles only


def test_only_the_contact_is_told_how_to_report_and_given_item_links(plan: Plan) -> None:
    how = "报送方式" if plan.plan.locale == "zh" else "How to report"
    for audience in ("contact", "head", "coordinator", "leading_group"):
        text = render_model(plan, model_for(plan, audience, "urge")).text
        assert (how in text) == (audience == "contact")
        assert (f"{PORTAL}/portal/obligations/11" in text) == (audience == "contact")


def test_the_head_sees_who_handles_each_item(plan: Plan) -> None:
    text = render_model(plan, model_for(plan, "head", "urge")).text
    assert "王五" in text
    assert ("未指定联络员" if plan.plan.locale == "zh" else "no contact named") in text


def test_the_coordinator_sees_the_decisions_waiting_and_the_review_page(plan: Plan) -> None:
    text = render_model(plan, model_for(plan, "coordinator", "supervise")).text
    assert "2018-11-01" in text and "材料待审计" in text  # the extension request, with its reason
    assert f"{PORTAL}/portal/review" in text
    assert text.count("涉及拆迁补偿纠纷") == 2  # the blocked item's reason, and the item's own words


def test_the_leading_group_reads_a_digest_not_instructions(plan: Plan) -> None:
    text = render_model(plan, model_for(plan, "leading_group", "accountability")).text
    zh = plan.plan.locale == "zh"
    assert ("涉及 2 个单位" if zh else "in 2 unit(s)") in text
    assert ("上次 1 项，本次 2 项，其中新增 1 项" if zh else "1 item(s) then, 2 now, 1 new") in text
    assert ("逾期最长" if zh else "Longest overdue") in text
    assert "请抓紧办理" not in text and "please see that" not in text.lower()


def test_a_unit_note_is_flattened_and_cut() -> None:
    assert clean_note("  一\n\n二\t三\x00 ") == "一 二 三"
    long = clean_note("长" * 500)
    assert long is not None and len(long) == 120 and long.endswith("…")
    assert clean_note(" \n ") is None and clean_note(None) is None


def test_a_message_with_two_audiences_has_both_sections(plan: Plan) -> None:
    # The coordinating office's contact is also a unit contact: one message, two sections.
    model = model_for(plan, "contact", "urge")
    model.sections.append(Section("coordinator", items_for("supervise")))
    text = render_model(plan, model).text
    zh = plan.plan.locale == "zh"
    assert ("报送方式" if zh else "How to report") in text
    assert ("请研究督办" if zh else "please follow them up") in text


def _mail_to(outbox: Path, address: str) -> list[str]:
    from email import message_from_bytes, policy

    found = []
    for path in sorted(outbox.iterdir()):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in str(mail["To"]) and not str(mail["Subject"]).startswith("【督查督办周报】"):  # not the report alone
            html = mail.get_body(preferencelist=("html",))
            assert html is not None  # every reminder is multipart: text and HTML
            found.append(mail.get_body(preferencelist=("plain",)).get_content())
    return found


def test_the_night_writes_each_reader_its_own_message_with_the_units_words(applied, night, settings) -> None:
    from plan_tracker.services.submissions import Submission, submit

    on = dt.date(2018, 10, 9)
    submit(applied, Submission("national-day", "s.summary", "town-a", "once", "in_progress", on, 30,
                               "涉及拆迁补偿纠纷\n\n待协调"), today=on, actor="town-a")
    submit(applied, Submission("national-day", "s.self-check", "town-a", "once", "blocked", on, None,
                               "等待上级批复"), today=on, actor="town-a")
    night("2018-10-15")  # supervise: the heads and the coordinator; urge and remind skipped
    outbox = settings.folder("outbox")
    head = _mail_to(outbox, "town-a-head@example.org")
    coordinator = _mail_to(outbox, "legal@example.org")
    assert len(head) == 1 and len(coordinator) == 1
    assert "经办人：王五" in head[0] and "推进中，进度 30%（2018-10-09 报送）；情况说明：涉及拆迁补偿纠纷 待协调" in head[0]
    assert "报送自查报告" not in head[0]  # blocked: its escalation is paused, it waits for the coordinator
    assert "请研究督办" in coordinator[0] and "待督查办决定的事项（1 项）" in coordinator[0]
    assert "【受阻】甲镇“报送自查报告”（一次性任务），2018-10-09 报送；等待上级批复" in coordinator[0]
    # Monday 10-15 is the week's report day: the coordinator's one message carries the report too
    assert "【督查督办周报】" in coordinator[0] and "逾期事项清单" in coordinator[0]
    for body in head + coordinator:
        assert "plan-tracker" not in body and "报送方式" not in body


def test_a_large_digest_lists_the_first_items_and_counts_the_rest(plan: Plan) -> None:
    """A province's 通报 holds tens of thousands of items: the leader's message gives the
    counts for all of them, lists the first LEADING_GROUP_LISTED and says how many more the
    report has; the subject still counts every item."""
    from plan_tracker.services.messages import LEADING_GROUP_LISTED

    items = [Item(f"s.t{n:04d}", f"任务{n:04d}", "乙镇", "once", dt.date(2018, 10, 8), "accountability", 3, 10,
                  None, obligation_id=1000 + n, unit_id="town-b", handler=None, latest=None)
             for n in range(LEADING_GROUP_LISTED + 37)]
    model = MessageModel(plan.plan.locale, "组长", plan.plan.title, AS_OF, "区政府法制办", PORTAL,
                         [Section("leading_group", items)])
    model.digest = build_digest(items, previous_total=None, new=len(items))
    rendered = render_model(plan, model)
    zh = plan.plan.locale == "zh"
    assert ("237 项工作逾期未完成" if zh else "237") in rendered.text
    assert "任务0199" in rendered.text and "任务0200" not in rendered.text
    assert ("另有 37 项未逐项列出" if zh else "and 37 more item(s) not listed") in rendered.text
    assert ("另有 37 项未逐项列出" if zh else "and 37 more item(s) not listed") in (rendered.html or "")
    assert "任务0200" not in (rendered.html or "")
    assert ("237 项工作" if zh else "237 item(s)") in rendered.subject


def test_a_long_list_of_escalated_items_lists_the_first_and_counts_the_rest(plan: Plan) -> None:
    """A province's first night escalates thousands of items to the coordinator: the message
    lists the first COORDINATOR_LISTED, says how many more the report has, and the subject
    and the heading count every item."""
    from plan_tracker.services.messages import COORDINATOR_LISTED

    items = [Item(f"s.t{n:04d}", f"任务{n:04d}", "乙镇", "once", dt.date(2018, 10, 8), "supervise", 2, 5,
                  None, obligation_id=1000 + n, unit_id="town-b", handler=None, latest=None)
             for n in range(COORDINATOR_LISTED + 37)]
    model = MessageModel(plan.plan.locale, "督查室", plan.plan.title, AS_OF, "区政府法制办", PORTAL,
                         [Section("coordinator", items)])
    rendered = render_model(plan, model)
    zh = plan.plan.locale == "zh"
    for body in (rendered.text, rendered.html):
        assert ("下列 237 项工作经催办仍未办结" if zh else "The 237 item(s) below are still open") in body
        assert "任务0199" in body and "任务0200" not in body
        assert ("另有 37 项未逐项列出" if zh else "and 37 more item(s) not listed") in body
    assert ("237 项工作" if zh else "237 item(s)") in rendered.subject


def test_the_coordinators_message_from_the_store_counts_what_it_does_not_list(
        applied, night, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from plan_tracker.services.messages import LISTED_AT_MOST

    monkeypatch.setitem(LISTED_AT_MOST, "coordinator", 1)
    night("2018-10-15")  # supervise: the heads and the coordinator
    [body] = _mail_to(settings.folder("outbox"), "legal@example.org")
    total = int(re.search(r"下列 (\d+) 项工作经催办仍未办结", body).group(1))  # type: ignore[union-attr]
    assert total >= 2  # more than the one listed
    coordinator_part = body.split("请研究督办", 1)[1].split("【督查督办周报】", 1)[0]  # not the week's report
    assert re.findall(r"^(\d+)\.【", coordinator_part, re.MULTILINE) == ["1"]
    assert f"另有 {total - 1} 项未逐项列出，完整清单见督查督办报告。" in coordinator_part
