"""Splitting a long text into numbered parts that each fit a robot's byte limit.

Robot APIs cap sizes in UTF-8 bytes, not characters (one Chinese character is three
bytes): DingTalk the whole request body (20,000), WeCom the content (4,096 markdown /
2,048 text). Parts are cut between items — a reminder lists its items as blocks of lines
separated by a blank line — so an item is never torn in two. Only an item longer than a
whole part is cut, at line ends, and only a single line longer than a part is cut inside,
at a character boundary, never inside a UTF-8 sequence.

What counts against the limit is pluggable: `measure` gives the cost of a piece of text
(UTF-8 bytes, or bytes once escaped into a JSON string) and must add up over
concatenation; `fixed(number, total)` gives the cost of everything else in a part (its
header, or the whole JSON envelope around the content).
"""

from __future__ import annotations

from collections.abc import Callable

Header = Callable[[int, int], str]  # (part number from 1, number of parts) -> text before it
Fixed = Callable[[int, int], int]  # (part number, number of parts) -> bytes outside the chunk
Measure = Callable[[str], int]

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
    chunks = split_chunks(body, max_bytes, lambda i, n: utf8_len(header(i, n)))
    count = len(chunks)
    return [header(i, count) + chunk for i, chunk in enumerate(chunks, start=1)]


def split_chunks(body: str, max_bytes: int, fixed: Fixed, measure: Measure = utf8_len) -> list[str]:
    """The chunks of `body` such that `fixed(i, n) + measure(chunk_i) <= max_bytes` for all i.

    Joined, the chunks give back `body`. Raises ValueError when `fixed` alone leaves no room.
    """
    count = 1
    for _ in range(_MAX_ROUNDS):
        budget = max_bytes - max(fixed(i, count) for i in range(1, count + 1))
        if budget < 4:  # room for at least one character of any width
            raise ValueError(f"a part header leaves no room within {max_bytes} bytes")
        chunks = _chunks(body, budget, measure)
        if len(chunks) == count:
            return chunks
        count = len(chunks)
    raise ValueError("could not number the parts consistently")  # pragma: no cover


def items(body: str) -> list[str]:
    """The blocks of `body`: lines up to and including a blank line (the item separator)."""
    blocks: list[str] = []
    current: list[str] = []
    for line in body.splitlines(keepends=True):
        current.append(line)
        if not line.strip():
            blocks.append("".join(current))
            current = []
    if current:
        blocks.append("".join(current))
    return blocks


def _chunks(body: str, budget: int, measure: Measure) -> list[str]:
    """Greedy packing of whole items (then whole lines) into chunks of at most `budget`."""
    packer = _Packer(budget, measure)
    for block in items(body):
        if measure(block) <= budget:
            packer.add(block)
            continue
        for line in block.splitlines(keepends=True):  # an item longer than a part
            if measure(line) <= budget:
                packer.add(line)
            else:
                packer.flush()
                for piece in _cut_line(line, budget, measure):
                    packer.add(piece)
    return packer.done()


class _Packer:
    def __init__(self, budget: int, measure: Measure) -> None:
        self.budget, self.measure = budget, measure
        self.chunks: list[str] = []
        self.current: list[str] = []
        self.size = 0

    def add(self, piece: str) -> None:
        length = self.measure(piece)
        if self.size + length > self.budget:
            self.flush()
        self.current.append(piece)
        self.size += length

    def flush(self) -> None:
        if self.current:
            self.chunks.append("".join(self.current))
        self.current, self.size = [], 0

    def done(self) -> list[str]:
        if self.current or not self.chunks:
            self.chunks.append("".join(self.current))
        return self.chunks


def _cut_line(line: str, budget: int, measure: Measure) -> list[str]:
    pieces: list[str] = []
    start = 0
    size = 0
    for index, char in enumerate(line):
        width = measure(char)
        if size + width > budget and index > start:
            pieces.append(line[start:index])
            start, size = index, 0
        size += width
    pieces.append(line[start:])
    return pieces
