"""Splitting a long text into numbered parts that each fit a robot's byte limit.

Robot APIs cap the content in UTF-8 bytes (DingTalk 20,000; WeCom 4,096 markdown / 2,048
text), not characters: one Chinese character is three bytes. Parts are cut at line
boundaries so a listed item is not torn in two; only a single line longer than a whole
part is cut inside, and then at a character boundary, never inside a UTF-8 sequence.
"""

from __future__ import annotations

from collections.abc import Callable

Header = Callable[[int, int], str]  # (part number from 1, number of parts) -> text before it

# The header width depends on the number of parts ("(9/9)" vs "(10/10)"), which depends
# on the header width; a handful of rounds always reaches the fixed point in practice.
_MAX_ROUNDS = 16


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def split_text(body: str, max_bytes: int, header: Header) -> list[str]:
    """Return `header(i, n) + chunk` for each part; the chunks joined give back `body`.

    `header(1, 1)` is used when the whole body fits in one part, so a header can leave
    the numbering out then. Raises ValueError when a header alone leaves no room.
    """
    count = 1
    for _ in range(_MAX_ROUNDS):
        budget = max_bytes - max(utf8_len(header(i, count)) for i in range(1, count + 1))
        if budget < 4:  # room for at least one character of any width
            raise ValueError(f"a part header leaves no room within {max_bytes} bytes")
        chunks = _chunks(body, budget)
        if len(chunks) == count:
            return [header(i, count) + chunk for i, chunk in enumerate(chunks, start=1)]
        count = len(chunks)
    raise ValueError("could not number the parts consistently")  # pragma: no cover


def _chunks(body: str, budget: int) -> list[str]:
    """Greedy packing of whole lines into chunks of at most `budget` bytes."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in body.splitlines(keepends=True):
        length = utf8_len(line)
        if length > budget:  # a line longer than a part: flush, then cut it by characters
            if current:
                chunks.append("".join(current))
                current, size = [], 0
            pieces = _cut_line(line, budget)
            chunks.extend(pieces[:-1])
            current, size = [pieces[-1]], utf8_len(pieces[-1])
            continue
        if size + length > budget:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += length
    if current or not chunks:
        chunks.append("".join(current))
    return chunks


def _cut_line(line: str, budget: int) -> list[str]:
    pieces: list[str] = []
    start = 0
    size = 0
    for index, char in enumerate(line):
        width = utf8_len(char)
        if size + width > budget:
            pieces.append(line[start:index])
            start, size = index, 0
        size += width
    pieces.append(line[start:])
    return pieces
