"""The wording helpers of `plan draft`: time-word suggestions, short titles, numerals."""

from __future__ import annotations

import pytest

from plan_tracker.authoring.naming import MAX_TITLE, section_id, short_title, task_id
from plan_tracker.authoring.numerals import to_int
from plan_tracker.authoring.timewords import suggest


@pytest.mark.parametrize(
    ("text", "year", "expected"),
    [
        ("每周报送进度", 2018, [("every", "week")]),
        ("每月开展检查", 2018, [("every", "month")]),
        ("按月通报", 2018, [("every", "month")]),
        ("每季度组织培训", 2018, [("every", "quarter")]),
        ("按季报送", 2018, [("every", "quarter")]),
        ("每半年公示一次", 2018, [("every", "half_year")]),
        ("下半年开展评查", 2018, [("every", "half_year")]),
        ("上半年完成配备", 2018, [("every", "half_year"), ("due", "2018-06-30")]),
        ("落实年度检查", 2018, [("every", "year")]),
        ("每年组织一次", 2018, [("every", "year")]),
        ("年底前完成清理", 2018, [("due", "2018-12-31")]),
        ("年末总结", 2019, [("due", "2019-12-31")]),
        ("9月底前完成", 2018, [("due", "2018-09-30")]),
        ("2月底前完成", 2020, [("due", "2020-02-29")]),  # leap year
        ("三月底前完成", 2018, [("due", "2018-03-31")]),
        ("12月底前完成", 2018, [("due", "2018-12-31")]),  # not also "2月底"
        ("6月30日前完成", 2018, [("due", "2018-06-30")]),
        ("十月十日之前报送", 2018, [("due", "2018-10-10")]),
        ("2月30日前完成", 2018, []),  # no such day: nothing rather than a guess
        ("12月4日开展宣传", 2018, []),  # a date without 前 is no deadline
        ("加强执法队伍建设", 2018, []),
    ],
)
def test_time_words_suggest_schedules(text: str, year: int, expected: list[tuple[str, str]]) -> None:
    assert [(s.key, s.value) for s in suggest(text, year)] == expected


def test_a_repeated_suggestion_appears_once_naming_every_source() -> None:
    (only,) = suggest("每季度检查，按季度通报", 2018)
    assert only.comment() == '# 建议 suggestion: every: quarter  (原文 "每季度" "按季度")'


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("继续规范行政决策程序；", "规范行政决策程序"),
        ("进一步加大政府信息公开力度。", "加大政府信息公开力度"),
        ("我们将切实加强执法监督，确保公正。", "加强执法监督"),
        ("为此，要求各单位报送台账", "为此要求各单位报送台账"),
        ("继续做好", "继续做好"),  # too short once stripped: keep the words
    ],
)
def test_short_titles_are_the_first_clause_without_filler(text: str, title: str) -> None:
    assert short_title(text) == title


def test_long_titles_are_cut_with_an_ellipsis() -> None:
    title = short_title("加" * 50)
    assert len(title) == MAX_TITLE
    assert title.endswith("…")


def test_section_ids_fall_back_to_numbers_when_no_keyword_is_free() -> None:
    assert section_id("强化执法监督", 1, set()) == "enforcement"
    assert section_id("强化执法监督", 2, {"enforcement"}) == "oversight"
    assert section_id("其他工作", 3, set()) == "section-3"


def test_task_ids_skip_a_keyword_equal_to_their_section() -> None:
    assert task_id("oversight", "加强监督", 1, set()) == "oversight.1"
    assert task_id("oversight", "加强培训", 2, set()) == "oversight.training"
    assert task_id("oversight", "再加强培训", 3, {"oversight.training"}) == "oversight.3"


@pytest.mark.parametrize(
    ("token", "value"),
    [("3", 3), ("３", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21), ("⑤", 5), ("两", 2), ("是", -1)],
)
def test_numerals_are_read_in_both_scripts(token: str, value: int) -> None:
    assert to_int(token) == value
