"""Splitting long texts into numbered parts within a byte limit (pure functions)."""

from __future__ import annotations

import pytest

from plan_tracker.channels.splitting import split_text, utf8_len


def numbered(number: int, total: int) -> str:
    return f"催办 ({number}/{total})\n" if total > 1 else "催办\n"


def check(parts: list[str], body: str, limit: int) -> list[str]:
    """Every part within the limit and correctly numbered; the chunks give back the body."""
    chunks = []
    for number, part in enumerate(parts, start=1):
        header = numbered(number, len(parts))
        assert part.startswith(header)
        assert utf8_len(part) <= limit
        chunks.append(part[len(header):])
    assert "".join(chunks) == body
    return chunks


def test_a_short_text_is_one_part_without_numbering() -> None:
    assert split_text("第一行\n第二行", 100, numbered) == ["催办\n第一行\n第二行"]


def test_an_empty_text_is_one_part() -> None:
    assert split_text("", 100, numbered) == ["催办\n"]


@pytest.mark.parametrize("limit", [40, 64, 100, 333])
def test_parts_break_at_line_ends_when_lines_fit(limit: int) -> None:
    body = "".join(f"第{n}项逾期\n" for n in range(60))  # lines of 14-17 bytes
    chunks = check(split_text(body, limit, numbered), body, limit)
    assert all(chunk.endswith("\n") for chunk in chunks)


def test_a_line_longer_than_a_part_is_cut_between_characters() -> None:
    body = "督" * 100  # 300 bytes, no line break; 3-byte characters must not be torn
    chunks = check(split_text(body, 50, numbered), body, 50)
    assert len(chunks) > 1
    assert all(set(chunk) == {"督"} for chunk in chunks)


def test_numbering_stays_consistent_when_the_count_gains_a_digit() -> None:
    # Around 9 → 10 parts the header grows by two bytes, which can add a part itself.
    body = "x" * 9 + "\n" + "y" * 200
    for limit in range(30, 60):
        check(split_text(body, limit, numbered), body, limit)


def test_a_header_that_leaves_no_room_is_refused() -> None:
    with pytest.raises(ValueError):
        split_text("正文", 8, numbered)


ITEM = "{n}.【催办】报送自查报告\n   责任单位：甲镇　期间：2018年第三季度\n   单位反馈：尚未报送\n\n"


def test_parts_are_cut_between_items_not_inside_one() -> None:
    body = "".join(ITEM.format(n=n) for n in range(1, 40))
    item_bytes = utf8_len(ITEM.format(n=10))
    for limit in range(item_bytes + 20, 4 * item_bytes, 17):  # room for 1 to 3 items a part
        chunks = check(split_text(body, limit, numbered), body, limit)
        assert all(chunk.endswith("\n\n") and chunk.split(".", 1)[0].isdigit() for chunk in chunks)


def test_an_item_longer_than_a_part_is_cut_at_its_line_ends() -> None:
    long_item = "1.【催办】" + "很长的事项\n" * 30 + "\n"  # one item of ~500 bytes
    chunks = check(split_text(long_item + ITEM.format(n=2), 160, numbered), long_item + ITEM.format(n=2), 160)
    assert all(chunk.endswith("\n") for chunk in chunks)
    assert chunks[-1] == ITEM.format(n=2)  # the next item still starts a part of its own


def test_the_measure_counts_what_the_limit_is_about() -> None:
    # Bytes as escaped in a JSON string: a line break takes two, a quote two.
    from plan_tracker.channels.robot import json_len
    from plan_tracker.channels.splitting import split_chunks

    text = '第"1"项\n' * 50
    chunks = split_chunks(text, 200, lambda i, n: 20, json_len)
    assert "".join(chunks) == text
    assert all(20 + json_len(chunk) <= 200 for chunk in chunks)
    assert json_len(text) == sum(json_len(chunk) for chunk in chunks)  # additive, as splitting needs
