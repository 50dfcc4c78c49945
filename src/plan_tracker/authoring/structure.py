"""The shape of a report's arrangements part: numbered headings, sections, enumerated items.

Chinese official reports number at five levels: 一、 > （一） > 1、/1． > （1） > ①, with
"一是……；二是……" enumerating inside a paragraph. This module only knows those shapes; what
the words mean (ids, titles, schedules) is decided in `draft`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plan_tracker.authoring.numerals import to_int

CN = "一二三四五六七八九十"

# "1." / "1．" / "1、" numbering, but not a decimal amount such as "1.5亿" ("2．6月30日前" is
# numbering: full-width "．" is never a decimal point in these reports).
_NUMBERED = r"(\d{1,2})(?:、|．|\.(?!\d+(?:\.\d+)?[%％万亿元倍个]))"
# Line-start heading markers by level.
_LEVELS: list[tuple[int, re.Pattern[str]]] = [
    (1, re.compile(rf"^(?:([{CN}]+)、|第([{CN}]+)部分[、：:．.]?)\s*")),
    (2, re.compile(rf"^[（(]([{CN}]+)[)）][、.．]?\s*")),
    (3, re.compile(rf"^{_NUMBERED}\s*")),
]

# Item markers. All but ① need a boundary before them (line start or punctuation) so that
# "统一是" or "第1、2条" are not taken for enumerations.
_BOUNDARY = r"(?:^|(?<=[。；;：:，,！!？?\s]))"
_ITEM_STYLES: dict[str, re.Pattern[str]] = {
    "paren-cn": re.compile(rf"{_BOUNDARY}[（(]([{CN}]+)[)）]、?", re.M),
    "number": re.compile(rf"{_BOUNDARY}{_NUMBERED}", re.M),
    "paren-number": re.compile(rf"{_BOUNDARY}[（(](\d{{1,2}})[)）]", re.M),
    "circled": re.compile(r"([①-⑳])"),
    "shi": re.compile(rf"{_BOUNDARY}([{CN}]+)(?:是|要)", re.M),
    "ordinal": re.compile(rf"{_BOUNDARY}第([{CN}]+)[，,、：:]", re.M),
}

# What usually trails the last paragraph and is no measure: a source note, a signature block.
_SOURCE_NOTE = re.compile(r"[（(][^（）()]{0,40}(?:供稿|来源|编辑|作者)[^（）()]{0,40}[)）]\s*$")
_DATE_LINE = re.compile(
    r"^(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}[-./]\d{1,2}[-./]\d{1,2}"
    r"|[〇零○一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日)$"
)
_SENTENCE_END = re.compile(r"[。；;！!？?]")


@dataclass(frozen=True)
class Block:
    """A heading's text (up to its first sentence end) and the body that follows it."""

    heading: str
    body: str
    text: str  # heading and body as written, numbering marker removed


def lines_of(text: str) -> list[str]:
    """Non-empty lines without indentation (reports indent with ideographic spaces)."""
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    stripped = (line.strip(" \t\u3000\xa0\ufeff") for line in raw)
    return [line for line in stripped if line]


def heading_level(line: str) -> tuple[int, str] | None:
    """(level, rest of the line) when the line starts with a heading marker."""
    for level, pattern in _LEVELS:
        m = pattern.match(line)
        if m:
            return level, line[m.end():]
    return None


def part_after(lines: list[str], index: int, level: int | None) -> list[str]:
    """Lines after the heading at `index` up to the next heading of its level or above."""
    part: list[str] = []
    for line in lines[index + 1:]:
        found = heading_level(line)
        if level is not None and found is not None and found[0] <= level:
            break
        if line.startswith(("附件", "附：")):  # annexes follow the report's last part
            break
        part.append(line)
    return _trim_trailer(part)


def _trim_trailer(part: list[str]) -> list[str]:
    part = list(part)
    while part and (_SOURCE_NOTE.fullmatch(part[-1]) or _DATE_LINE.match(part[-1])):
        dated = bool(_DATE_LINE.match(part.pop()))
        # A date closes a signature block: drop the one or two short lines naming the issuer.
        for _ in range(2 if dated else 0):
            if part and _is_signature(part[-1]):
                part.pop()
    if part:
        part[-1] = _SOURCE_NOTE.sub("", part[-1]).rstrip()
        if not part[-1]:
            part.pop()
    return part


def _is_signature(line: str) -> bool:
    return len(line) <= 25 and not _SENTENCE_END.search(line) and heading_level(line) is None


def split_heading(rest: str) -> tuple[str, str]:
    """Split a heading line's text into the heading (first sentence) and what follows."""
    m = _SENTENCE_END.search(rest)
    head, body = (rest[: m.start()], rest[m.end():]) if m else (rest, "")
    return head.strip().rstrip("：:，,、 "), body.strip()


def sections(part: list[str], part_level: int | None) -> list[Block] | None:
    """Blocks for the highest heading level (1 or 2) below the part's own; None if none."""
    below = [lv for lv in (1, 2) if part_level is None or lv > part_level]
    for level in below:
        heads = [(i, found[1]) for i, line in enumerate(part)
                 if (found := heading_level(line)) is not None and found[0] == level]
        if not heads:
            continue
        blocks = []
        for n, (start, rest) in enumerate(heads):
            end = heads[n + 1][0] if n + 1 < len(heads) else len(part)
            head, first = split_heading(rest)
            body = "\n".join([first, *part[start + 1:end]]).strip()
            text = "\n".join([rest, *part[start + 1:end]]).strip()
            blocks.append(Block(head, body, text))
        return blocks
    return None


def items(body: str) -> list[str]:
    """The enumerated items of a block body, each with its marker and separator removed.

    Every style is tried; the one whose "1" comes first wins, so nested enumerations
    (a "1、" item that itself says "一是……二是……") stay inside their item. A style needs at
    least two items in sequence (1, 2, …) to count: a lone "1." is too often something else.
    """
    best: list[re.Match[str]] | None = None
    for pattern in _ITEM_STYLES.values():
        run: list[re.Match[str]] = []
        for m in pattern.finditer(body):
            if to_int(m.group(1)) == len(run) + 1:
                run.append(m)
        if len(run) >= 2 and (best is None or run[0].start() < best[0].start()):
            best = run
    if best is None:
        return []
    ends = [m.start() for m in best[1:]] + [len(body)]
    texts = [body[m.end(): end] for m, end in zip(best, ends, strict=True)]
    return [t.strip().rstrip("；;，,、 \n").strip() for t in texts]
