"""`plan draft`: a Chinese work report in, a draft plan YAML with marked blanks out.

A report's arrangements part (三、2018年工作安排, 下一步工作计划, …) already lists the measures
a plan tracks, section by section. What it cannot say (which unit leads, which deadline) is
left as blanks starting with "TODO", which `plan validate` reports until they are filled.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from plan_tracker.authoring import emit, naming, structure, timewords
from plan_tracker.authoring.emit import DraftPlan, DraftSection, DraftTask

TEXT_SUFFIXES = (".txt", ".md")
SUPPORTED = (*TEXT_SUFFIXES, ".docx")
MAX_TEXT_BYTES = 5 * 1024 * 1024  # a long report is ~100 KB; more is not a report
# Caps that keep a hostile text within seconds: real reports have well under 200 measures.
MAX_TEXT_CHARS = 2_000_000
MAX_TASKS = 2_000
PLAN_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
EXAMPLE_HEADINGS = (
    "三、2018年工作安排", "2019年工作打算", "下一步工作安排", "下一步工作计划",
    "明年工作思路", "今后工作打算",
)

_WHEN = r"(?P<when>(?P<year>\d{4})\s*年度?|下一?步|明年|来年|今后|新的?一年|下一年度?)"
# The heading must end right after its kind word: "2017年工作安排落实情况" looks back, and
# "2018年工作总结及2019年工作计划" (a title) must not be read as a 2018 arrangement.
_ARRANGE = re.compile(
    rf"(?:关于|对)?{_WHEN}"
    r"(?:(?!\d{4}\s*年|总结|情况|回顾|完成|成效)[^。；;，,：:！!？?\n]){0,20}?"
    r"(?:安排|打算|计划|思路|要点|重点工作|工作重点|设想|举措|措施|任务)"
    r"(?:如下)?\s*(?:[。：:]|$)"
)
_LOOKS_BACK = re.compile(r"总结|情况|报告|汇报|回顾")
_PLAN_TITLE = re.compile(r"(\d{4})\s*年度?[^。；;]*?(?:安排|计划|要点|打算|思路)$")
_PLAN_KIND = re.compile(r"(?:安排|计划|要点|打算|思路)$")
_NEXT_YEAR = ("明年", "来年", "下一年", "下一年度")
_TITLE_YEAR = re.compile(r"(\d{4})\s*年度?")
_TITLE_TAIL = re.compile(r"(?:的)?(?:工作)?(?:开展|落实|完成|执行)?(?:情况|总结|报告|汇报|回顾|自查).*$")
_TITLE_PERIOD = re.compile(r"^(?:上半年|下半年|前三季度|第?[一二三四]季度|年度)")


class DraftError(Exception):
    """The document cannot be drafted from; the message says why and what to do."""


def read_document(path: Path) -> str:
    """The text of a report: .txt/.md (UTF-8, else GB18030) or .docx (paragraphs and tables)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DraftError(
            f"{path}: unsupported document type {suffix or '(no extension)'!r}; plan draft reads "
            f"{', '.join(SUPPORTED)} (save .doc, .wps or .pdf as .docx or plain text first)"
        )
    if suffix == ".docx":
        from plan_tracker.authoring.docx_text import DocxUnreadable, docx_text

        try:
            return docx_text(path)
        except DocxUnreadable as exc:
            raise DraftError(f"{path}: {exc}") from None
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise DraftError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if len(data) > MAX_TEXT_BYTES:
        raise DraftError(f"{path}: larger than {MAX_TEXT_BYTES // 1024 // 1024} MB; not a report")
    return _decode(data, path)


def _decode(data: bytes, path: Path) -> str:
    # Windows editors save UTF-16 with a BOM; Chinese ones save GB18030 (a superset of GBK).
    encodings = ["utf-16"] if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else []
    for encoding in [*encodings, "utf-8-sig", "gb18030"]:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise DraftError(f"{path}: not readable as UTF-8 or GB18030 text; save it as UTF-8 text")


@dataclass(frozen=True)
class _Heading:
    index: int
    level: int | None
    text: str
    rest: str  # what follows the heading on its line ("三、2018年工作安排。2018年是……")
    when: str
    year: int | None


def draft_plan(text: str, *, plan_id: str | None = None, year: int | None = None) -> str:
    """Draft plan YAML from a report's text; `year` overrides the year the heading names.

    Raises DraftError when the text has no arrangements part, names no year (and none is
    given), or is too large to be a report.
    """
    if plan_id is not None and not PLAN_ID.fullmatch(plan_id):
        raise DraftError(f"plan id {plan_id!r} must be lowercase letters, digits and '-'")
    if len(text) > MAX_TEXT_CHARS:
        raise DraftError(f"the document has more than {MAX_TEXT_CHARS:,} characters; not a report")
    lines = structure.lines_of(text)
    if not lines:
        raise DraftError("the document is empty")
    heading = _find_arrangements(lines) or _title_as_heading(lines[0])
    if heading is None:
        looked_for = "、".join(f"“{h}”" for h in EXAMPLE_HEADINGS)
        raise DraftError(
            "could not find the arrangements part of the report (找不到工作安排部分): "
            f"looked for a heading line such as {looked_for}"
        )
    title_line = lines[0] if _looks_like_title(lines[0]) else None
    if heading.index == 0 and heading.level is not None:  # no title: starts with its heading
        title_line = None
    plan_year = _plan_year(heading, title_line, year)
    part = structure.part_after(lines, heading.index, heading.level)
    part = [heading.rest, *part] if heading.rest else part
    blocks = structure.sections(part, heading.level)
    draft = DraftPlan(plan_id, _plan_title(title_line, plan_year), plan_year, [])
    if blocks is None:  # no (一)(二) headings: the whole part is one section
        body = "\n".join(part)
        whole = structure.Block(heading.text, body, body)
        draft.sections.append(_section(whole, 1, set(), plan_year, titled=False))
    else:
        taken: set[str] = set()
        for n, block in enumerate(blocks, start=1):
            _check_size(draft)
            draft.sections.append(_section(block, n, taken, plan_year, titled=True))
            taken.add(draft.sections[-1].id)
    _check_size(draft)
    return emit.render(draft)


def _check_size(draft: DraftPlan) -> None:
    if len(draft.sections) + sum(len(s.tasks) for s in draft.sections) > MAX_TASKS:
        raise DraftError(f"more than {MAX_TASKS} measures found; not a report's arrangements")


def _find_arrangements(lines: list[str]) -> _Heading | None:
    for index, line in enumerate(lines):
        found = structure.heading_level(line)
        level, rest = found if found else (None, line)
        m = _ARRANGE.match(rest)
        if m is None:
            continue
        number = int(m.group("year")) if m.group("year") else None
        head = rest[: m.end()].rstrip("。：: ")
        return _Heading(index, level, head, rest[m.end():].strip(), m.group("when"), number)
    return None


def _title_as_heading(title: str) -> _Heading | None:
    """A document that is itself an arrangement ("X区2018年法治政府建设工作要点")."""
    if not _looks_like_title(title) or _LOOKS_BACK.search(title):
        return None
    m = _PLAN_TITLE.search(title)
    return _Heading(0, None, title, "", "", int(m.group(1))) if m else None


def _looks_like_title(line: str) -> bool:
    return len(line) <= 60 and not re.search(r"[。；;]", line)


def _plan_year(heading: _Heading, title: str | None, explicit: int | None) -> int:
    year = explicit if explicit is not None else heading.year
    if year is None and heading.when.startswith(_NEXT_YEAR) and title:
        m = _TITLE_YEAR.search(title)
        year = int(m.group(1)) + 1 if m else None
    if year is None:
        raise DraftError(
            f"could not tell the plan year: the heading “{heading.text}” names none; "
            "pass the year (plan draft --year YYYY)"
        )
    if not 1990 <= year <= 2100:
        raise DraftError(f"plan year {year} is out of range (1990–2100)")
    return year


def _plan_title(title: str | None, year: int) -> str:
    """"X区2017年度法治政府建设工作报告" -> "X区2018年法治政府建设工作安排"."""
    if title is None:
        return f"{year}年工作安排"
    m = _TITLE_YEAR.search(title)
    if m:
        head, tail = title[: m.start()], title[m.end():]
    else:  # "X街道办事处关于上半年法治建设工作情况的报告": the subject follows 关于
        head, _, tail = title.partition("关于")
    head = _TITLE_TAIL.sub("", head).removesuffix("关于")
    tail = _TITLE_TAIL.sub("", _TITLE_PERIOD.sub("", tail))
    if _PLAN_KIND.search(tail):  # the document is itself a plan: keep its own title
        return f"{head}{year}年{tail}"
    return f"{head}{year}年{tail}工作安排"


def _section(
    block: structure.Block, index: int, taken: set[str], year: int, *, titled: bool
) -> DraftSection:
    section_id = naming.section_id(block.heading, index, taken)
    texts = [t for t in structure.items(block.body) if t]
    titles = [naming.short_title(t) for t in texts]
    if not texts and titled:  # a section without enumeration is one measure, named by it
        texts, titles = [block.text], [naming.short_title(block.heading)]
    elif not texts:  # untitled prose: one measure per paragraph
        texts = structure.lines_of(block.body) or [block.heading]
        titles = [naming.short_title(t) for t in texts]
    tasks: list[DraftTask] = []
    task_ids: set[str] = set()
    for n, (title, description) in enumerate(zip(titles, texts, strict=True), start=1):
        task_id = naming.task_id(section_id, title, n, task_ids)
        task_ids.add(task_id)
        tasks.append(DraftTask(task_id, title, description, timewords.suggest(description, year)))
    return DraftSection(section_id, naming.clip(block.heading, naming.MAX_SECTION_TITLE), tasks)
