"""`draft_plan` on the many ways reports phrase and number their arrangements, and its refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from plan_tracker.authoring import DraftError, draft_plan

BODY = "（一）加强执法监督。一是每月开展执法检查；二是年底前完成案卷评查。\n"
REVIEW = "一、2017年工作情况\n我们开展了执法检查，完成了案卷评查。\n"


def _plan(text: str, **kwargs: Any) -> dict[str, Any]:
    return yaml.safe_load(draft_plan(text, **kwargs))


@pytest.mark.parametrize(
    ("heading", "year_arg", "year"),
    [
        ("三、2018年工作安排", None, 2018),
        ("2019年工作打算", None, 2019),
        ("四、2019年法治政府建设工作计划如下：", None, 2019),
        ("第三部分 2018年重点工作", None, 2018),
        ("三、关于2018年的工作思路", None, 2018),
        ("二、下一步工作安排", 2021, 2021),
        ("二、下步工作打算", 2021, 2021),
        ("三、今后工作打算", 2021, 2021),
        ("三、明年工作思路", None, 2018),  # the year after the report's own
    ],
)
def test_arrangement_headings_are_found_in_their_usual_phrasings(
    heading: str, year_arg: int | None, year: int
) -> None:
    text = f"某区2017年工作总结\n{REVIEW}{heading}\n{BODY}"
    plan = _plan(text, year=year_arg)
    assert plan["plan"]["start"] == dt.date(year, 1, 1)
    (section,) = plan["sections"]
    assert section["title"] == "加强执法监督"
    assert [t["title"] for t in section["tasks"]] == ["每月开展执法检查", "年底前完成案卷评查"]


def test_an_explicit_year_overrides_the_heading() -> None:
    plan = _plan(f"三、2018年工作安排\n{BODY}", year=2019)
    assert plan["plan"]["end"] == dt.date(2019, 12, 31)
    assert plan["plan"]["title"] == "2019年工作安排"


def test_a_document_that_is_itself_a_plan_is_drafted_whole() -> None:
    text = f"某区2018年法治政府建设工作要点\n{BODY}（二）强化监督。一是定期通报；二是跟踪问效。\n"
    plan = _plan(text)
    assert plan["plan"]["title"] == "某区2018年法治政府建设工作要点"
    assert [len(s["tasks"]) for s in plan["sections"]] == [2, 2]


def test_the_next_top_level_heading_ends_the_arrangements_part() -> None:
    text = f"三、2018年工作安排\n{BODY}四、其他事项\n（一）做好档案整理。一是整理；二是归档。\n"
    plan = _plan(text)
    assert [s["title"] for s in plan["sections"]] == ["加强执法监督"]


def test_unnumbered_heading_with_inline_items_becomes_one_untitled_section() -> None:
    text = "2019年工作打算\n下一步，我们将做好以下工作：一是加强学习；二是完善制度；三是强化考核。\n"
    (section,) = _plan(text)["sections"]
    assert section["id"] == "section-1"
    assert [t["title"] for t in section["tasks"]] == ["加强学习", "完善制度", "强化考核"]


def test_arrangements_in_plain_prose_become_one_task_per_paragraph() -> None:
    text = "2019年工作打算\n继续加强执法队伍培训。\n年底前完成规范性文件清理。\n"
    (section,) = _plan(text)["sections"]
    assert [t["description"] for t in section["tasks"]] == [
        "继续加强执法队伍培训。",
        "年底前完成规范性文件清理。",
    ]


def test_numbered_items_within_a_lettered_section_keep_their_nested_enumeration() -> None:
    text = (
        "三、2018年工作安排\n（一）强化监督。\n"
        "1．完善监督制度。一是建立台账；二是定期通报。\n2．开展专项督查。\n"
    )
    (section,) = _plan(text)["sections"]
    assert [t["description"] for t in section["tasks"]] == [
        "完善监督制度。一是建立台账；二是定期通报。",
        "开展专项督查。",
    ]


def test_half_width_parentheses_and_numbering_comma_are_recognised() -> None:
    text = "三、2018年工作安排\n(一)强化监督。\n1、完善监督制度。\n2、开展专项督查。\n"
    (section,) = _plan(text)["sections"]
    assert (section["id"], len(section["tasks"])) == ("oversight", 2)


def test_descriptions_with_yaml_special_characters_round_trip_verbatim() -> None:
    tricky = ['落实"双随机": #1 要求', "完善 \\ 反斜杠和 'quote' 以及 key: value", "- 列表？ & *别名"]
    text = "三、2018年工作安排\n（一）规范执法。\n" + "".join(
        f"{n}．{item}\n" for n, item in enumerate(tricky, start=1)
    )
    (section,) = _plan(text)["sections"]
    assert [t["description"] for t in section["tasks"]] == tricky


def test_a_given_plan_id_is_used() -> None:
    assert _plan(f"三、2018年工作安排\n{BODY}", plan_id="jingzhou-2018")["plan"]["id"] == "jingzhou-2018"


@pytest.mark.parametrize("plan_id", ["Jingzhou", "jingzhou 2018", "-x", "荆州"])
def test_an_invalid_plan_id_is_refused(plan_id: str) -> None:
    with pytest.raises(DraftError, match="plan id"):
        draft_plan(f"三、2018年工作安排\n{BODY}", plan_id=plan_id)


@pytest.mark.parametrize(
    "text",
    [
        REVIEW,
        "某区2018年工作总结及2019年工作计划\n" + REVIEW,  # a title, not a heading
        REVIEW + "二、2017年工作安排落实情况\n全部完成。\n",  # looks back, not ahead
        REVIEW + "下一步，我们将继续加强执法检查，完善工作计划。\n",  # prose, not a heading
    ],
)
def test_a_report_without_an_arrangements_part_is_refused_with_the_headings_looked_for(
    text: str,
) -> None:
    with pytest.raises(DraftError) as caught:
        draft_plan(text, year=2018)
    message = str(caught.value)
    assert "could not find the arrangements part" in message
    for example in ("2018年工作安排", "2019年工作打算", "下一步工作计划", "明年工作思路"):
        assert example in message


@pytest.mark.parametrize("text", ["", "  \n\u3000\n"])
def test_an_empty_document_is_refused(text: str) -> None:
    with pytest.raises(DraftError, match="empty"):
        draft_plan(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("三、2018年工作安排\n" + "加强。" * 700_000, "more than 2,000,000 characters"),
        ("三、2018年工作安排\n" + "\n".join(["（一）加强。"] * 5000), "more than 2000 measures"),
    ],
)
def test_hostile_sizes_are_refused_quickly(text: str, message: str) -> None:
    with pytest.raises(DraftError, match=message):
        draft_plan(text)


def test_a_heading_without_punctuation_is_clipped_to_a_title() -> None:
    (section,) = _plan("三、2018年工作安排\n（一）" + "加强" * 100 + "\n1、甲项。\n2、乙项。\n")["sections"]
    assert len(section["title"]) == 60
    assert section["title"].endswith("…")
