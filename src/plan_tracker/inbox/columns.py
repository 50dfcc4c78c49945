"""The report sheet: its fixed columns with Chinese headers, indicator columns, identity keys.

A template (and any CSV saved from it) looks like this:

    row 1   title
    row 2   计划编号 | <plan id> | 单位编号 | <unit id> | 计划版本 | <n> | 亮灯日期 | <date>
    row 3   任务编号 | 任务名称 | 期间 | 完成时限 | 亮灯 | 状态 | 进度(%) | 情况说明 | 佐证材料链接 | 报送日期 | <indicators…>
    row 4…  one row per open obligation

Readers find the header row by its names (Chinese or the English keys), so a hand-made file
may omit the title, reorder columns or use English headers. Indicator columns are headed
`名称(单位)` and are matched, row by row, against the indicators of that row's task (also
accepted: `指标:ID`, `indicator:ID`, or the bare indicator id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from plan_tracker.domain.reports import STATUS_LABELS_ZH
from plan_tracker.domain.vocabulary import lights


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    fill_in: bool  # unlocked for the unit to fill; the others are pre-filled and protected


COLUMNS = (
    Column("task", "任务编号", 28, False),
    Column("title", "任务名称", 36, False),
    Column("period", "期间", 10, False),
    Column("due", "完成时限", 12, False),
    Column("light", "亮灯", 8, False),
    Column("status", "状态", 10, True),
    Column("progress", "进度(%)", 9, True),
    Column("note", "情况说明", 40, True),
    Column("evidence", "佐证材料链接", 30, True),
    Column("reported_on", "报送日期", 12, True),
)
BY_KEY = {c.key: c for c in COLUMNS}
# An optional column a hand-made file may carry: it must name the file's own unit.
UNIT_COLUMN = Column("unit", "单位编号", 16, False)
REQUIRED = ("task", "period", "status")
FILL_IN_KEYS = tuple(c.key for c in COLUMNS if c.fill_in)

STATUS_CHOICES = tuple(STATUS_LABELS_ZH.values())
LIGHT_LABELS_ZH = lights("zh")
LIGHT_COLOURS = {"green": "C6EFCE", "yellow": "FFEB9C", "red": "FFC7CE", "pending": "EDEDED"}

# The identity row (and the hidden `_meta` sheet) name the plan, unit and plan version.
IDENTITY_LABELS = {"plan": "计划编号", "unit": "单位编号", "plan_version": "计划版本", "as_of": "亮灯日期"}
META_SHEET = "_meta"
META_FORMAT = "plan-tracker/report-template/1"


_HALF_WIDTH = {ord("（"): "(", ord("）"): ")", ord("："): ":", ord("％"): "%", ord("\u3000"): " "}


def normalise(text: Any) -> str:
    """Header text for matching: no spaces, half-width brackets and colon, lower case."""
    value = str(text or "")
    value = value.translate(_HALF_WIDTH)
    return re.sub(r"\s+", "", value).lower()


_HEADER_KEYS: dict[str, str] = {}
for _column in (*COLUMNS, UNIT_COLUMN):
    _HEADER_KEYS[normalise(_column.label)] = _column.key
    _HEADER_KEYS[normalise(_column.key)] = _column.key
_HEADER_KEYS.update({"进度": "progress", "progress(%)": "progress", "reportedon": "reported_on",
                     "date": "reported_on", "evidencelink": "evidence"})

_IDENTITY_KEYS: dict[str, str] = {}
for _key, _label in IDENTITY_LABELS.items():
    _IDENTITY_KEYS[normalise(_label)] = _key
    _IDENTITY_KEYS[normalise(_key)] = _key


def header_key(text: Any) -> str | None:
    """The fixed column a header names, or None (then it may be an indicator column)."""
    return _HEADER_KEYS.get(normalise(text))


def identity_key(text: Any) -> str | None:
    return _IDENTITY_KEYS.get(normalise(text))


def indicator_label(indicator: dict[str, Any]) -> str:
    unit = indicator.get("unit")
    return f"{indicator['name']}({unit})" if unit else str(indicator["name"])


def indicator_aliases(indicator: dict[str, Any]) -> set[str]:
    """Every normalised header that names this indicator."""
    ident = str(indicator["id"])
    return {normalise(indicator_label(indicator)), normalise(indicator["name"]), normalise(ident),
            normalise(f"指标:{ident}"), normalise(f"indicator:{ident}")}
