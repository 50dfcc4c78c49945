"""JSON Schemas of the plan format and of a units file, generated from the pydantic models.

The models in `plan_tracker.domain.plan` are the source of truth; the schemas only add what
the loader does before the models see a document, so that an editor accepts exactly what
`plan validate` accepts at the field level:

- `units_file:` (a path the loader resolves into `units` and `groups`) instead of `units:`;
- the calendar shorthand `calendar: CN`;
- the shape rules a model validator enforces: a task has `due` or `every` (not both),
  `due_after` only with `every`; `lead` is a unit id, a list of ids or `group:NAME`;
- the loader's refusal of blanks: no string value may start with "TODO".

Rules that need the whole document (unknown units, duplicate ids, cycles, dates inside the
plan, covered calendar years) stay with `plan validate`.

The generated files are shipped in `plan_tracker/schema/` for YAML language servers; a test
fails when they are stale. Regenerate both with `python -m plan_tracker.authoring.schema`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pydantic import Field

from plan_tracker.domain.plan import BLANK_PREFIX, ID_RE, Group, Plan, Strict, Unit

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
PLAN_SCHEMA_FILE = SCHEMA_DIR / "plan.schema.json"
UNITS_SCHEMA_FILE = SCHEMA_DIR / "units.schema.json"

LEAD_RE = r"^(group:)?" + ID_RE.removeprefix("^")
TIME_RE = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$"


class UnitsFile(Strict):
    """单位文件：供多个计划通过 units_file 共用 A units file, shared by plans through `units_file`."""

    groups: list[Group] = Field(default_factory=list, description="单位分组 Groups of units")
    units: list[Unit] = Field(default_factory=list, description="单位 Units")


def plan_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a plan file."""
    schema = Plan.model_json_schema()
    defs = schema["$defs"]

    # `units_file:` is resolved by the loader before validation: accept it instead of `units`.
    properties = schema["properties"]
    properties["units_file"] = {
        "description": "单位文件的相对路径（与 units 二选一），如 ../units/jingzhou.yaml "
        "Path of a units file relative to this plan, instead of units",
        "minLength": 1,
        "title": "Units File",
        "type": "string",
    }
    schema["not"] = {"required": ["units", "units_file"]}

    # `calendar: CN` is shorthand for `calendar: {base: CN}`.
    header = defs["PlanHeader"]["properties"]
    calendar = header["calendar"]
    header["calendar"] = {
        "anyOf": [
            {"enum": list(defs["CalendarSpec"]["properties"]["base"]["enum"]), "type": "string"},
            {"$ref": calendar.pop("$ref")},
        ],
        "default": "CN",
        "description": calendar["description"],
    }
    # Times are written HH:MM; JSON Schema's `time` format would demand seconds and an offset.
    for item in header["delivery_window"]["prefixItems"]:
        item.pop("format", None)
        item["pattern"] = TIME_RE

    # Shape rules of Task's model validator, for the editor.
    task = defs["Task"]
    lead = task["properties"]["lead"]
    lead["anyOf"] = [
        {"pattern": LEAD_RE, "type": "string"},
        {"items": {"maxLength": 80, "pattern": LEAD_RE, "type": "string"}, "minItems": 1, "type": "array"},
    ]
    task["anyOf"] = [
        {  # one-off: `due`, neither `every` nor `due_after`
            "required": ["due"],
            "properties": {"due": {"type": "string"}, "every": {"type": "null"}, "due_after": {"type": "null"}},
        },
        {  # recurring: `every`, no `due`
            "required": ["every"],
            "properties": {"every": {"type": "string"}, "due": {"type": "null"}},
        },
    ]
    _forbid_blanks(schema)
    return _document(schema, "plan-tracker plan")


def units_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a units file (`groups` and `units`)."""
    schema = UnitsFile.model_json_schema()
    _forbid_blanks(schema)
    return _document(schema, "plan-tracker units file")


def _forbid_blanks(node: Any) -> None:
    """A value starting with "TODO" is a blank `plan draft` left to fill: the loader refuses
    it anywhere, and so does the schema, so that an editor marks every one."""
    if isinstance(node, dict):
        if node.get("type") == "string" and "enum" not in node and "const" not in node:
            node["not"] = {"pattern": "^" + BLANK_PREFIX}
        for value in node.values():
            _forbid_blanks(value)
    elif isinstance(node, list):
        for item in node:
            _forbid_blanks(item)


def _document(schema: dict[str, Any], title: str) -> dict[str, Any]:
    body = copy.deepcopy(schema)
    body.pop("title", None)
    return {"$schema": DIALECT, "title": title, **body}


def render(schema: dict[str, Any]) -> str:
    """Stable text of a schema: the exact bytes of the shipped files."""
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """(Re)write plan.schema.json and units.schema.json into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in (("plan.schema.json", plan_schema()), ("units.schema.json", units_schema())):
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m plan_tracker.authoring.schema
    for written_path in write_schemas():
        print(f"wrote {written_path}")
