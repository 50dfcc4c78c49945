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
