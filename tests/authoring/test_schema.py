"""`plan schema`: the JSON Schema of plans and units files, checked with the `jsonschema` package.

The schemas are generated from the pydantic models; the shipped copies in
src/plan_tracker/schema/ are what YAML language servers read, so a stale copy fails here.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from typer.testing import CliRunner

from plan_tracker.authoring.schema import (
    PLAN_SCHEMA_FILE,
    UNITS_SCHEMA_FILE,
    plan_schema,
    render,
    units_schema,
)
from plan_tracker.cli import app
from plan_tracker.domain.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
FOUNDING_PLAN = ROOT / "src" / "plan_tracker" / "examples" / "plans" / "jingzhou-2018.yaml"
FOUNDING_UNITS = ROOT / "src" / "plan_tracker" / "examples" / "units" / "jingzhou.yaml"
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")

# The example plan of DESIGN.md, inline units and calendar overrides included.
EXAMPLE = """\
version: 1
plan:
  id: jingzhou-2018
  title: 荆州区2018年法治政府建设工作安排
  coordinator: legal-office
  timezone: Asia/Shanghai
  calendar: {base: CN, holidays: [2018-06-01], workdays: [2018-06-02]}
  start: 2018-01-01
  end: 2018-12-31
  warn_days: 3
leading_group: {name: 法治政府建设领导小组办公室, email: lg@example.org}
units:
  - {id: legal-office, name: 区政府法制办, groups: [coordination],
     contact: {name: 张三, email: a@example.org}, head: {name: 李四, email: b@example.org}}
  - {id: gov-office, name: 区政府办, groups: [enforcement]}
  - {id: justice-bureau, name: 区司法局}
escalation:
  - {after: -3, level: remind,     notify: [contact]}
  - {after: 1,  level: urge,       notify: [contact, head]}
  - {after: 5,  level: supervise,  notify: [head, coordinator]}
  - {after: 10, level: accountability, notify: [leading_group], repeat_every: 5}
sections:
  - id: capability
    title: 进一步提高依法行政的能力和水平
    tasks:
      - id: capability.training
        title: 对执法队伍进行轮训
        lead: group:enforcement
        support: [justice-bureau]
        every: quarter
        due_after: 5
        indicators:
          - {id: trained, name: 参训人次, unit: 人次, target: 100, direction: at_least}
      - id: capability.study-plan
        title: 制定年度学法计划
        lead: [gov-office, legal-office]
        due: 2018-03-31
"""


def iso(value: Any) -> Any:
    """YAML data as JSON data: yaml.safe_load gives datetime.date for unquoted dates."""
    if isinstance(value, dict):
        return {k: iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [iso(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def load(path: Path) -> Any:
    return iso(yaml.safe_load(path.read_text(encoding="utf-8")))


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


PLAN_VALIDATOR = validator(plan_schema())


def errors(document: Any) -> list[str]:
    return [e.message for e in PLAN_VALIDATOR.iter_errors(document)]


def example() -> dict[str, Any]:
    data: dict[str, Any] = iso(yaml.safe_load(EXAMPLE))
    return data


def first_task(data: dict[str, Any]) -> dict[str, Any]:
    task: dict[str, Any] = data["sections"][0]["tasks"][0]
    return task


# -- shipped files ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shipped", "build"), [(PLAN_SCHEMA_FILE, plan_schema), (UNITS_SCHEMA_FILE, units_schema)],
    ids=["plan", "units"],
)
def test_shipped_schema_is_not_stale_against_the_models(shipped: Path, build: Any) -> None:
    assert shipped.read_text(encoding="utf-8") == render(build()), (
        f"{shipped.name} is stale: regenerate with `python -m plan_tracker.authoring.schema`"
    )


@pytest.mark.parametrize("build", [plan_schema, units_schema], ids=["plan", "units"])
def test_schema_is_a_valid_draft_2020_12_schema(build: Any) -> None:
    schema = build()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_shipped_schemas_are_package_data() -> None:
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "schema/*" in pyproject["tool"]["setuptools"]["package-data"]["plan_tracker"]
    assert PLAN_SCHEMA_FILE.parent == ROOT / "src" / "plan_tracker" / "schema"


@pytest.mark.parametrize(
    ("document", "shipped"), [(FOUNDING_PLAN, PLAN_SCHEMA_FILE), (FOUNDING_UNITS, UNITS_SCHEMA_FILE)],
    ids=["plan", "units"],
)
def test_founding_files_start_with_a_schema_line_pointing_at_the_shipped_schema(
    document: Path, shipped: Path
) -> None:
    first = document.read_text(encoding="utf-8").splitlines()[0]
    match = SCHEMA_LINE.match(first)
    assert match, first
    assert (document.parent / match.group(1)).resolve() == shipped.resolve()


def test_every_property_has_a_chinese_and_english_description() -> None:
    for schema in (plan_schema(), units_schema()):
        objects = [schema, *(d for d in schema["$defs"].values() if d.get("type") == "object")]
        for obj in objects:
            assert CJK.search(obj["description"]) and LATIN.search(obj["description"]), obj["description"]
            for name, prop in obj["properties"].items():
                text = prop.get("description", "")
                assert CJK.search(text) and LATIN.search(text), f"{obj.get('title')}.{name}: {text!r}"


# -- what the schema accepts -----------------------------------------------------------------
def test_schema_validates_the_founding_plan() -> None:
    assert errors(load(FOUNDING_PLAN)) == []


def test_units_schema_validates_the_founding_units_file() -> None:
    assert [e.message for e in validator(units_schema()).iter_errors(load(FOUNDING_UNITS))] == []


def test_schema_accepts_the_design_example_with_inline_units_and_calendar_overrides() -> None:
    data = example()
    assert errors(data) == []
    Plan.model_validate(data)  # and so do the models


@pytest.mark.parametrize("calendar", ["CN", "weekends", {"base": "weekends"}, {"years": [2030]}])
def test_schema_accepts_calendar_shorthand_and_mapping(calendar: Any) -> None:
    data = example()
    data["plan"]["calendar"] = calendar
    assert errors(data) == []


def test_schema_accepts_units_file_instead_of_units() -> None:
    data = example()
    del data["units"]
    data["units_file"] = "../units/jingzhou.yaml"
    assert errors(data) == []


# -- what it rejects -------------------------------------------------------------------------
def _mutate(path: str, value: Any) -> dict[str, Any]:
    """The example with one value replaced (path like 'sections.0.tasks.0.every'); value
    `...` deletes the key."""
    data = example()
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


MALFORMED = {
    # unknown keys, at the top, in the header and in a task (a typo of `due`)
    "unknown top-level key": ("owner", "legal-office"),
    "unknown header key": ("plan.deadline", "2018-12-31"),
    "unknown task key": ("sections.0.tasks.1.due_date", "2018-03-31"),
    # recurrence
    "bad recurrence": ("sections.0.tasks.0.every", "fortnight"),
    "recurrence in Chinese": ("sections.0.tasks.0.every", "每季度"),
    "negative due_after": ("sections.0.tasks.0.due_after", -1),
    # wrong types
    "version as text": ("version", "1"),
    "warn_days as text": ("plan.warn_days", "three"),
    "sections as a mapping": ("sections", {"capability": []}),
    "lead as a number": ("sections.0.tasks.1.lead", 5),
    "notify as a string": ("escalation.0.notify", "contact"),
    "due not a date": ("sections.0.tasks.1.due", "2018-13-45"),
    "start not a date": ("plan.start", "next year"),
    "target as text": ("sections.0.tasks.0.indicators.0.target", "一百"),
    # values
    "bad plan id": ("plan.id", "Jingzhou 2018"),
    "bad role": ("escalation.0.notify", ["mayor"]),
    "bad direction": ("sections.0.tasks.0.indicators.0.direction", "more"),
    "bad lead": ("sections.0.tasks.1.lead", "Legal Office"),
    "bad group lead": ("sections.0.tasks.0.lead", "group:执法"),
    "unknown calendar": ("plan.calendar", "US"),
    "no sections": ("sections", []),
    "missing header": ("plan", ...),
    "missing title": ("sections.0.tasks.0.title", ...),
    # a task's schedule: one-off `due` or recurring `every`, never both or neither
    "due and every": ("sections.0.tasks.1.every", "year"),
    "neither due nor every": ("sections.0.tasks.1.due", ...),
    "due_after on a one-off": ("sections.0.tasks.1.due_after", 5),
}


@pytest.mark.parametrize(("path", "value"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_schema_rejects_a_malformed_plan_as_the_models_do(path: str, value: Any) -> None:
    data = _mutate(path, value)
    assert errors(data), f"schema accepted {path}={value!r}"
    with pytest.raises(ValidationError):
        Plan.model_validate(data)


def test_schema_names_the_unknown_key() -> None:
    messages = errors(_mutate("sections.0.tasks.1.due_date", "2018-03-31"))
    assert any("due_date" in m for m in messages), messages


def test_schema_rejects_units_and_units_file_together() -> None:
    data = example()
    data["units_file"] = "../units/jingzhou.yaml"
    assert errors(data)


def test_units_schema_rejects_a_plan_key_in_a_units_file() -> None:
    data = load(FOUNDING_UNITS)
    data["sections"] = []
    assert list(validator(units_schema()).iter_errors(data))


def _blanks(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _blanks(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _blanks(v, (*path, i))]
    return [path] if isinstance(node, str) and node.startswith("TODO") else []


def _with_context(found: Any) -> list[Any]:
    """Errors and, for anyOf/oneOf, the errors of each branch (what editors show)."""
    return [x for e in found for x in (e, *_with_context(e.context or []))]


def test_schema_marks_every_blank_a_draft_leaves() -> None:
    from plan_tracker.authoring import draft_plan, read_document

    text = draft_plan(read_document(Path(__file__).parent / "data" / "jingzhou-2017-report.txt"))
    draft = iso(yaml.safe_load(text))
    blanks = _blanks(draft)
    assert len(blanks) == text.count(': "TODO') > 20
    flagged = {tuple(e.absolute_path) for e in _with_context(PLAN_VALIDATOR.iter_errors(draft))}
    assert [b for b in blanks if b not in flagged] == []


# -- the command -----------------------------------------------------------------------------
runner = CliRunner()


def test_plan_schema_prints_the_shipped_plan_schema() -> None:
    result = runner.invoke(app, ["plan", "schema"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == PLAN_SCHEMA_FILE.read_text(encoding="utf-8")
    assert json.loads(result.stdout)["title"] == "plan-tracker plan"


def test_plan_schema_units_writes_the_units_schema_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "units.schema.json"
    result = runner.invoke(app, ["plan", "schema", "--units", "--out", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert target.read_text(encoding="utf-8") == UNITS_SCHEMA_FILE.read_text(encoding="utf-8")


def test_a_schema_written_next_to_a_plan_validates_it(tmp_path: Path) -> None:
    target = tmp_path / "plan.schema.json"
    assert runner.invoke(app, ["plan", "schema", "--out", str(target)]).exit_code == 0
    schema = json.loads(target.read_text(encoding="utf-8"))
    bad = copy.deepcopy(example())
    bad["sections"][0]["tasks"][0]["every"] = "fortnight"
    assert list(validator(schema).iter_errors(example())) == []
    assert list(validator(schema).iter_errors(bad))
