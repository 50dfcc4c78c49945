"""The report as JSON: every figure of the model, rates included, dates as ISO strings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from plan_tracker.reports.model import LightCounts, Report, Reporting

FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, LightCounts):
        return dict(value.counts)
    if isinstance(value, Reporting):
        return {
            "expected": value.expected, "received": value.received, "on_time": value.on_time,
            "completed": value.completed, "done_on_time": value.done_on_time,
            "reporting_rate": value.reporting_rate, "timeliness": value.timeliness,
            "completion_rate": value.completion_rate, "on_time_rate": value.on_time_rate,
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def report_data(report: Report) -> dict[str, Any]:
    return {"format": FORMAT_VERSION, **_plain(report)}


def render_json(report: Report) -> str:
    return json.dumps(report_data(report), ensure_ascii=False, indent=1) + "\n"
