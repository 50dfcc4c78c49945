"""Ids and short titles for drafted sections and tasks.

Ids must be ASCII (`[a-z0-9][a-z0-9.-]*`) while the report is Chinese, so a small keyword map
gives readable ids for the usual areas of government work and numbered ids cover the rest;
coordinators rename freely before the plan is applied.
"""

from __future__ import annotations

import re

# First match wins, so the more specific words come before the general ones.
SECTION_KEYWORDS: list[tuple[str, str]] = [
    ("能力", "capability"),
    ("决策", "decision"),
    ("执法", "enforcement"),
    ("监督", "oversight"),
    ("公开", "openness"),
    ("普法", "publicity"),
    ("宣传", "publicity"),
    ("队伍", "workforce"),
    ("安全", "safety"),
    ("服务", "service"),
    ("纠纷", "disputes"),
    ("矛盾", "disputes"),
    ("复议", "reconsideration"),
    ("考核", "assessment"),
    ("改革", "reform"),
    ("制度", "institutions"),
    ("组织", "leadership"),
    ("领导", "leadership"),
]

TASK_KEYWORDS: list[tuple[str, str]] = [
    ("学法", "law-study"),
    ("轮训", "training"),
    ("培训", "training"),
    ("风险评估", "risk-assessment"),
    ("信息公开", "disclosure"),
    ("政务公开", "openness"),
    ("规范性文件", "normative-docs"),
    ("案卷评查", "case-review"),
    ("裁量", "discretion"),
    ("资格", "qualification"),
    ("证件", "credentials"),
    ("责任追究", "accountability"),
    ("追责", "accountability"),
    ("问责", "accountability"),
    ("法律顾问", "legal-advisers"),
    ("听证", "hearing"),
    ("复议", "reconsideration"),
    ("调解", "mediation"),
    ("诉讼", "litigation"),
    ("应诉", "litigation"),
    ("普法", "publicity"),
    ("宣传", "publicity"),
    ("检查", "inspection"),
    ("考核", "assessment"),
    ("清单", "power-list"),
    ("备案", "filing"),
    ("程序", "procedure"),
    ("监督", "oversight"),
    ("执法", "enforcement"),
    ("决策", "decision"),
]

# Words that open a measure without saying what it is ("继续…", "进一步…").
_FILLER = re.compile(
    r"^(?:我们将|我区将|我局将|我们|将|要|继续|进一步|不断|切实|努力|积极|认真|着力|"
    r"全面|扎实|大力|持续|深入|坚决)"
)
_CLAUSE_END = re.compile(r"[，,；;。：:！!？?\n]")
MAX_TITLE = 30
MAX_SECTION_TITLE = 60  # a heading line without any punctuation must not become the title


def section_id(title: str, index: int, taken: set[str]) -> str:
    """A keyword id not yet used by another section, else `section-<index>`."""
    for word, slug in SECTION_KEYWORDS:
        if word in title and slug not in taken:
            return slug
    return f"section-{index}"


def task_id(section: str, title: str, index: int, taken: set[str]) -> str:
    """`<section>.<keyword>` when the title names a known measure, else `<section>.<index>`.

    A keyword equal to the section's own id says nothing ("oversight.oversight") and
    is skipped; numbered ids cannot collide with keyword ones (keywords have no digits).
    """
    for word, slug in TASK_KEYWORDS:
        candidate = f"{section}.{slug}"
        if word in title and slug != section and candidate not in taken:
            return candidate
    return f"{section}.{index}"


def short_title(text: str) -> str:
    """The measure's first clause without filler words, at most MAX_TITLE characters."""
    clause = _CLAUSE_END.split(text.strip(), maxsplit=1)[0].strip()
    if len(clause) < 4:  # "为此，…": the first clause is an opener, keep going
        clause = "".join(_CLAUSE_END.split(text.strip(), maxsplit=2)[:2]).strip()
    stripped = clause
    while (m := _FILLER.match(stripped)) and len(stripped) - m.end() >= 4:
        stripped = stripped[m.end():]
    title = clip(stripped.rstrip("。；;，,、：: "), MAX_TITLE)
    return title or clip(text.strip(), MAX_TITLE)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
