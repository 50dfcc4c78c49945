"""`plan draft`: from a Chinese work report to a draft plan YAML with TODO blanks."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from plan_tracker.authoring import DraftError, draft_plan, read_document
from plan_tracker.domain.plan import Plan, cross_check

DATA = Path(__file__).parent / "data"
SEED = DATA / "jingzhou-2017-report.txt"  # the founding example: a 2017 report, 2018 plan
MARKET = DATA / "county-market-2019-summary.txt"  # （一） headings, 1．items, time words
STREET = DATA / "chengguan-2019-h1-report.txt"  # 下一步工作计划, （1） and ① items, no year

TASK_ID = re.compile(r"[a-z0-9][a-z0-9.-]*")
DEFAULT_LADDER = [
    {"after": -3, "level": "remind", "notify": ["contact"]},
    {"after": 1, "level": "urge", "notify": ["contact", "head"]},
    {"after": 5, "level": "supervise", "notify": ["head", "coordinator"]},
    {"after": 10, "level": "accountability", "notify": ["leading_group"]},
]


NAMES = ["seed", "market", "street"]


@cache
def _draft(name: str) -> str:
    path, year = {"seed": (SEED, None), "market": (MARKET, None), "street": (STREET, 2019)}[name]
    return draft_plan(read_document(path), year=year)


def _loaded(name: str) -> dict[str, Any]:
    return yaml.safe_load(_draft(name))


def _tasks(plan: dict[str, Any], section_id: str) -> list[dict[str, Any]]:
    return next(s["tasks"] for s in plan["sections"] if s["id"] == section_id)


def _comments_above_due(text: str, task_id: str) -> list[str]:
    """The comment lines directly above the `due:` blank of one task."""
    lines = text.splitlines()
    start = lines.index(f"      - id: {task_id}")
    due = next(i for i in range(start, len(lines)) if lines[i].startswith("        due: "))
    comments: list[str] = []
    for line in reversed(lines[start:due]):
        if not line.strip().startswith("#"):
            break
        comments.insert(0, line.strip())
    return comments


# --- the seed report: four sections, fourteen measures ---------------------------------


def test_seed_draft_has_the_four_arrangement_sections_with_the_report_titles() -> None:
    sections = [(s["id"], s["title"]) for s in _loaded("seed")["sections"]]
    assert sections == [
        ("capability", "进一步提高依法行政的能力和水平"),
        ("decision", "进一步健全行政决策机制"),
        ("enforcement", "进一步完善行政执法保障措施"),
        ("oversight", "进一步加大对行政行为的监督力度"),
    ]


@pytest.mark.parametrize(
    ("section_id", "phrases"),
    [
        ("capability", ["领导干部学法制度", "轮训"]),
        ("decision", ["行政决策程序", "风险评估", "跟踪反馈和责任追究", "政府信息公开"]),
        ("enforcement", ["主体资格管理", "自由裁量权", "案卷评查", "执法责任追究"]),
        ("oversight", ["新闻媒体等监督力量", "规范性文件", "行政复议、行政调解、行政诉讼", "政务公开"]),
    ],
)
def test_seed_draft_has_one_task_per_measure_in_report_order(
    section_id: str, phrases: list[str]
) -> None:
    tasks = _tasks(_loaded("seed"), section_id)
    assert len(tasks) == len(phrases)
    for task, phrase in zip(tasks, phrases, strict=True):
        assert phrase in task["description"]


def test_seed_task_descriptions_are_the_report_text_verbatim() -> None:
    report = SEED.read_text(encoding="utf-8")
    for section in _loaded("seed")["sections"]:
        for task in section["tasks"]:
            assert task["description"] in report
            assert not task["description"].startswith(("一是", "二是", "三是", "四是"))


@pytest.mark.parametrize(
    ("task_id", "title"),
    [
        ("capability.law-study", "坚持和完善领导干部学法制度"),
        ("capability.training", "实时开展法制培训工作"),
        ("decision.procedure", "规范行政决策程序"),  # without 一是/继续
        ("oversight.normative-docs", "提高规范性文件质量"),  # without 努力
        ("oversight.openness", "创新政务公开方式"),
    ],
)
def test_seed_task_titles_are_the_first_clause_without_filler(task_id: str, title: str) -> None:
    titles = {t["id"]: t["title"] for s in _loaded("seed")["sections"] for t in s["tasks"]}
    assert titles[task_id] == title


def test_seed_draft_is_a_2018_plan_with_a_title_from_the_report() -> None:
    plan = _loaded("seed")
    assert plan["version"] == 1
    assert plan["plan"]["title"] == "荆州市荆州区人民政府2018年法治政府建设工作安排"
    assert plan["plan"]["start"] == dt.date(2018, 1, 1)
    assert plan["plan"]["end"] == dt.date(2018, 12, 31)
    assert plan["plan"]["timezone"] == "Asia/Shanghai"
    assert plan["plan"]["calendar"] == "CN"
    assert plan["plan"]["warn_days"] == 3
    assert plan["units"] == []
    assert plan["escalation"] == DEFAULT_LADDER


def test_seed_draft_suggests_a_yearly_recurrence_for_the_annual_inspection() -> None:
    assert _comments_above_due(_draft("seed"), "enforcement.case-review") == [
        '# 建议 suggestion: every: year  (原文 "年度")'
    ]


# --- properties of every draft ---------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_task_leaves_lead_and_due_as_todo_blanks(name: str) -> None:
    plan = _loaded(name)
    for key in ("id", "coordinator"):
        assert plan["plan"][key].startswith("TODO")
    for section in plan["sections"]:
        for task in section["tasks"]:
            assert task["lead"].startswith("TODO")
            assert task["due"].startswith("TODO")
            assert "every" not in task  # recurrences are only suggested, in comments


@pytest.mark.parametrize("name", NAMES)
def test_section_and_task_ids_are_valid_and_unique(name: str) -> None:
    plan = _loaded(name)
    section_ids = [s["id"] for s in plan["sections"]]
    task_ids = [t["id"] for s in plan["sections"] for t in s["tasks"]]
    assert len(set(section_ids)) == len(section_ids)
    assert len(set(task_ids)) == len(task_ids)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", i) for i in section_ids)
    assert all(TASK_ID.fullmatch(i) for i in task_ids)
    for section in plan["sections"]:
        assert all(t["id"].startswith(section["id"] + ".") for t in section["tasks"])


@pytest.mark.parametrize("name", NAMES)
def test_draft_parses_and_round_trips_through_yaml(name: str) -> None:
    plan = _loaded(name)
    assert yaml.safe_load(yaml.safe_dump(plan, allow_unicode=True)) == plan


@pytest.mark.parametrize("name", NAMES)
def test_draft_opens_with_a_header_asking_to_fill_every_todo_and_validate(name: str) -> None:
    header = _draft(name).split("\nversion: 1\n")[0].splitlines()
    assert all(line.startswith("#") for line in header)
    text = "\n".join(header)
    assert "TODO" in text
    assert "plan-tracker plan validate" in text
    assert "请填写" in text
    assert "yaml-language-server" not in _draft(name)


@pytest.mark.parametrize("name", NAMES)
def test_draft_with_its_blanks_filled_is_a_valid_plan(name: str) -> None:
    data = _loaded(name)
    year = data["plan"]["start"].year
    data["plan"].update(id="filled", coordinator="office")
    data["leading_group"] = {"name": "领导小组", "email": "lg@example.org"}
    data["units"] = [{"id": "office", "name": "办公室"}]
    for section in data["sections"]:
        for task in section["tasks"]:
            task.update(lead="office", due=dt.date(year, 12, 31))
    assert cross_check(Plan.model_validate(data)) == []


# --- a report with （一） headings, 1． items and time words -----------------------------


def test_fullwidth_report_drafts_only_its_arrangements_part() -> None:
    plan = _loaded("market")
    assert [(s["id"], s["title"], len(s["tasks"])) for s in plan["sections"]] == [
        ("capability", "强化执法能力建设", 3),
        ("safety", "加强食品安全监管", 2),
        ("reform", "深化“放管服”改革", 2),
    ]
    assert plan["plan"]["title"] == "某县市场监督管理局2020年依法行政工作安排"
    assert plan["plan"]["end"] == dt.date(2020, 12, 31)
    descriptions = " ".join(t["description"] for s in plan["sections"] for t in s["tasks"])
    assert "860人次" not in descriptions  # the review of 2019 is no plan
    assert "着力打造" not in descriptions  # a section's preamble is no measure
    assert "2019年12月28日" not in descriptions  # nor is the signature block
    assert "监督管理局" not in descriptions


@pytest.mark.parametrize(
    ("section_id", "index", "suggestions"),
    [
        ("capability", 0, ['every: quarter  (原文 "每季度")', 'every: year  (原文 "全年")']),
        ("capability", 1, ['due: 2020-12-31  (原文 "年底前")']),
        (
            "capability",
            2,
            [
                'every: half_year  (原文 "上半年")',
                'due: 2020-06-30  (原文 "上半年")',
                'due: 2020-09-30  (原文 "9月底前")',
            ],
        ),
        ("safety", 0, ['every: month  (原文 "按月")']),
        ("safety", 1, ['due: 2020-06-30  (原文 "6月30日前")']),
        ("reform", 0, ['every: half_year  (原文 "每半年")']),
        ("reform", 1, []),
    ],
)
def test_time_words_become_suggestions_right_above_the_due_blank(
    section_id: str, index: int, suggestions: list[str]
) -> None:
    task_id = _tasks(_loaded("market"), section_id)[index]["id"]
    expected = [f"# 建议 suggestion: {s}" for s in suggestions]
    assert _comments_above_due(_draft("market"), task_id) == expected


# --- a report with 二、下一步工作计划, （1） and ① items ----------------------------------


def test_next_steps_report_without_a_year_needs_one() -> None:
    with pytest.raises(DraftError, match=r"--year"):
        draft_plan(read_document(STREET))


def test_next_steps_report_drafts_paren_and_circled_items() -> None:
    plan = _loaded("street")
    assert plan["plan"]["title"] == "城关街道办事处2019年法治建设工作安排"
    assert plan["plan"]["start"] == dt.date(2019, 1, 1)
    assert [(s["id"], len(s["tasks"])) for s in plan["sections"]] == [
        ("publicity", 2),
        ("decision", 3),
        ("disputes", 1),  # no enumeration: the section is one measure
    ]
    publicity, decision, disputes = (s["tasks"] for s in plan["sections"])
    assert publicity[0]["description"] == "每月组织一次“法律进社区”活动，由各社区轮流承办"
    assert decision[1]["description"] == "每周对执法案卷进行抽查"
    assert disputes[0]["title"] == "化解矛盾纠纷"
    assert "年内实现" in disputes[0]["description"]
    assert "2019年7月5日" not in disputes[0]["description"]


@pytest.mark.parametrize(
    ("section_id", "index", "suggestion"),
    [
        ("publicity", 0, 'every: month  (原文 "每月")'),
        ("publicity", 1, 'due: 2019-12-04  (原文 "12月4日前")'),
        ("decision", 1, 'every: week  (原文 "每周")'),
        ("decision", 2, 'due: 2019-10-31  (原文 "10月底前")'),
        ("disputes", 0, 'due: 2019-12-31  (原文 "年内")'),
    ],
)
def test_next_steps_report_suggests_its_time_words(
    section_id: str, index: int, suggestion: str
) -> None:
    task_id = _tasks(_loaded("street"), section_id)[index]["id"]
    assert _comments_above_due(_draft("street"), task_id) == [f"# 建议 suggestion: {suggestion}"]
