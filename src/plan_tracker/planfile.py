"""Loading plan files: safe YAML with positions, pydantic validation, located errors.

Every problem becomes a `Problem(file, line, column, message)`; all problems are collected
before anything is reported, so a coordinator fixes a file in one pass. YAML is composed
with PyYAML's SafeLoader into nodes (no tags are ever constructed into objects), converted
to plain data while recording where each value came from, then validated.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import PlanIssue
from plan_tracker.domain.obligations import schedule_issues
from plan_tracker.domain.plan import BLANK_PREFIX, Plan, cross_check

MAX_FILE_BYTES = 16 * 1024 * 1024  # a province-wide units file (tens of thousands of units) fits
MAX_NODES = 1_000_000  # caps alias expansion ("billion laughs"); a 20k-unit file has ~300k
MAX_DEPTH = 50
MAX_ALIASED = 50_000  # values reached again through aliases: a real plan shares a few anchors

_SAFE_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
}


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PlanFileError(Exception):
    """A plan file cannot be used; `problems` holds every located reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(map(str, self.problems)))


Pos = tuple[int, int]  # 1-based line and column


class _Tree:
    """Plain data from YAML nodes plus the position of every key and value by path."""

    def __init__(self, file: str, loader: yaml.SafeLoader):
        self.file = file
        self.loader = loader
        self.value_pos: dict[tuple[Any, ...], Pos] = {}
        self.key_pos: dict[tuple[Any, ...], Pos] = {}
        self.problems: list[Problem] = []
        self.rejected: set[tuple[Any, ...]] = set()  # paths whose value the YAML layer refused
        self.nodes = 0
        self.aliased = 0
        self.seen: set[int] = set()

    def problem(self, pos: Pos, message: str) -> None:
        self.problems.append(Problem(self.file, pos[0], pos[1], message))

    def convert(self, node: yaml.Node, path: tuple[Any, ...], depth: int = 0) -> Any:
        self.nodes += 1
        if id(node) in self.seen:  # an alias re-expands a shared node: a bomb grows here
            self.aliased += 1
        self.seen.add(id(node))
        if self.nodes > MAX_NODES or depth > MAX_DEPTH or self.aliased > MAX_ALIASED:
            raise _TooBig(node)
        pos = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.value_pos[path] = pos
        if node.tag not in _SAFE_TAGS:
            self.problem(pos, f"YAML tag {node.tag!r} is not allowed in a plan")
            self.rejected.add(path)
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node)
                if not isinstance(key, str | int) or isinstance(key, bool):
                    self.problem(_pos(key_node), "mapping keys must be plain names")
                    continue
                key = str(key)
                if key in result:
                    self.problem(_pos(key_node), f"key {key!r} appears twice in this mapping")
                self.key_pos[(*path, key)] = _pos(key_node)
                result[key] = self.convert(value_node, (*path, key), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        before = len(self.problems)
        value = self.scalar(node)
        if value is None and len(self.problems) > before:
            self.rejected.add(path)
        return value

    def key(self, node: yaml.Node) -> Any:
        """A mapping key. Keys are names: a plain `on:` (as in `cancelled: {on: DATE}`) or
        `yes:` is the word, not YAML 1.1's boolean."""
        if not isinstance(node, yaml.ScalarNode):
            return None
        if node.tag == "tag:yaml.org,2002:bool" and node.style is None:
            return node.value
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError) as exc:
            self.problem(_pos(node), f"{node.value!r} is not a valid date: {exc}")
            return None
        if isinstance(value, dt.datetime):
            self.problem(_pos(node), "a date is expected here (YYYY-MM-DD), not a date and time")
            return None
        if isinstance(value, str) and value.startswith(BLANK_PREFIX):
            self.problem(_pos(node), f"a blank left to fill in: {value}")
        return value

    def locate(self, path: tuple[Any, ...], *, at_key: bool = False) -> Pos:
        """Best position for a path: the key if the value is missing, else the nearest parent."""
        if at_key and path in self.key_pos:
            return self.key_pos[path]
        for cut in range(len(path), -1, -1):
            sub = path[:cut]
            if sub in self.value_pos and cut == len(path):
                return self.value_pos[sub]
            if sub in self.key_pos:
                return self.key_pos[sub]
            if sub in self.value_pos:
                return self.value_pos[sub]
        return (1, 1)


class _TooBig(Exception):
    def __init__(self, node: yaml.Node):
        self.node = node


def _pos(node: yaml.Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _read(path: Path, display: str) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PlanFileError([Problem(display, 1, 1, f"cannot read the file: {exc.strerror}")]) from exc
    if size > MAX_FILE_BYTES:
        raise PlanFileError([Problem(display, 1, 1, f"file is {size} bytes; plans are limited to {MAX_FILE_BYTES}")])
    try:
        raw = path.read_bytes()
    except OSError as exc:  # e.g. a directory: bad input (exit 2), not an internal error
        raise PlanFileError([Problem(display, 1, 1, f"cannot read the file: {exc.strerror}")]) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PlanFileError([Problem(display, line, 1, "the file is not UTF-8 text (save it as UTF-8)")]) from exc


def parse_yaml(text: str, display: str, *, what: str = "plan") -> tuple[Any, _Tree]:
    """Compose one YAML document safely into plain data and its position map."""
    try:
        loader = yaml.SafeLoader(text)  # the reader checks every character at once
    except yaml.reader.ReaderError as exc:  # a control character: bad input, not an internal error
        where = max(exc.position, 0)
        line, col = text.count("\n", 0, where) + 1, where - (text.rfind("\n", 0, where) + 1) + 1
        raise PlanFileError([Problem(display, line, col, f"the file contains the control character U+{exc.character:04X}, "
                                                         "which YAML does not allow; remove it")]) from None
    tree = _Tree(display, loader)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(filter(None, [exc.context, exc.problem]))
        raise PlanFileError([Problem(display, line, col, f"YAML syntax error: {reason}")]) from exc
    except yaml.YAMLError as exc:
        raise PlanFileError([Problem(display, 1, 1, f"YAML error: {exc}")]) from exc
    finally:
        loader.dispose()
    if node is None:
        raise PlanFileError([Problem(display, 1, 1, f"the file is empty; a {what} document is expected")])
    try:
        data = tree.convert(node, ())
    except _TooBig as big:
        raise PlanFileError([Problem(display, *_pos(big.node),
                                     f"document too large or too deeply nested (limits: {MAX_NODES} values, depth {MAX_DEPTH}, "
                                     f"{MAX_ALIASED} values repeated through aliases)")]) from None
    if not isinstance(data, dict):
        raise PlanFileError([Problem(display, *_pos(node), f"the document must be a mapping (key: value) describing a {what}")])
    return data, tree


def _plain(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `plan-tracker plan schema`)"
    if kind == "missing":
        return "required key is missing"
    if kind in {"date_from_datetime_parsing", "date_parsing", "date_type"}:
        return f"expected a date YYYY-MM-DD, got {err.get('input')!r}"
    if kind == "enum":
        return f"{err.get('input')!r} is not one of {err['ctx']['expected']}"
    if kind == "string_pattern_mismatch":
        return f"{err.get('input')!r} is not a valid id (lowercase letters, digits and '-')"
    msg: str = err["msg"]
    return msg.removeprefix("Value error, ")


def load_plan(path: Path, *, display: str | None = None) -> Plan:
    """Load and fully validate a plan file. Raises PlanFileError with every problem found."""
    display = display or str(path)
    data, tree = parse_yaml(_read(path, display), display)
    problems = list(tree.problems)
    trees: dict[tuple[Any, ...], _Tree] = {}
    if "units_file" in data:
        units_pos = tree.locate(("units_file",))
        ref = data.pop("units_file")
        if "units" in data:
            problems.append(Problem(display, *units_pos, "use either `units` or `units_file`, not both"))
        elif not isinstance(ref, str):
            problems.append(Problem(display, *units_pos, "units_file must be a relative path"))
        else:
            units_data, units_tree, more = _load_units_file(path.parent / ref, display, units_pos, ref)
            if units_data is None:
                # Without its units every reference in the plan would look unknown: report
                # the units file alone rather than a cascade of false "unknown unit" lines.
                raise PlanFileError(problems + more)
            problems += more
            if units_data is not None and units_tree is not None:
                data["units"] = units_data.get("units", [])
                if "groups" in units_data:
                    data.setdefault("groups", units_data["groups"])
                    trees[("groups",)] = units_tree
                trees[("units",)] = units_tree
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        # Values the YAML layer already rejected show up again here as None: keep the
        # clearer YAML-level message for that position, and every other problem.
        seen = {(p.file, p.line, p.column) for p in problems}
        # Nor report a rule on a parent whose value the YAML layer refused (a bad `due` date
        # would otherwise also read "a task needs either `due` or `every`").
        rejected = tree.rejected.union(*(t.rejected for t in trees.values()))
        issues = [i for i in _issues_from_validation(exc)
                  if not any(len(r) > len(i.path) and r[:len(i.path)] == i.path for r in rejected)]
        more = _route(issues, tree, trees)
        problems += [p for p in more if (p.file, p.line, p.column) not in seen]
        problems += _whole_document_issues(data, exc, tree, trees, {(p.file, p.line, p.column) for p in problems})
        raise PlanFileError(problems) from None
    problems += _route(cross_check(plan), tree, trees)
    if not problems:
        problems += _route(schedule_issues(plan, WorkCalendar(plan.plan.calendar)), tree, trees)
    if problems:
        raise PlanFileError(problems)
    return plan


def _whole_document_issues(data: dict[str, Any], exc: ValidationError, tree: _Tree,
                           trees: dict[tuple[Any, ...], _Tree], seen: set[tuple[str, int, int]]) -> list[Problem]:
    """References, duplicates and calendar coverage of what remains once the values the
    models rejected are taken out (`partial_plan`): every problem in one pass."""
    from plan_tracker.partial_plan import salvage

    plan, ghosts, pruned = salvage(data, exc)
    if plan is None:
        return []
    # A reference to an item dropped for a bad value is not "unknown": the item is there.
    found = [i for i in cross_check(plan) if _referenced(i.message) not in ghosts]
    if not found:
        found = schedule_issues(plan, WorkCalendar(plan.plan.calendar))
    issues = [PlanIssue(pruned.original(i.path), i.message, i.at_key) for i in found]
    return [p for p in _route(issues, tree, trees) if (p.file, p.line, p.column) not in seen]


_REFERENCE = re.compile(r"^(?:unknown (?:unit|group|task)|group) '([^']*)'")


def _referenced(message: str) -> str | None:
    """The id a reference problem is about ("unknown unit 'x' …", "group 'x' has no units")."""
    match = _REFERENCE.match(message)
    return match.group(1) if match else None


def _issues_from_validation(exc: ValidationError) -> list[PlanIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        issues.append(PlanIssue(loc, _plain(err), at_key=err["type"] == "extra_forbidden"))
    return issues


def _route(issues: list[PlanIssue], tree: _Tree, trees: dict[tuple[Any, ...], _Tree]) -> list[Problem]:
    """Place each issue in the file it came from (the plan or its units file)."""
    problems = []
    for issue in issues:
        owner = trees.get(issue.path[:1], tree)
        # A units file has the same `units:` / `groups:` root keys, so paths carry over.
        path = issue.path
        where = ".".join(map(str, issue.path))
        problems.append(Problem(owner.file, *owner.locate(path, at_key=issue.at_key), f"{where}: {issue.message}" if where else issue.message))
    return problems


def _load_units_file(path: Path, display: str, pos: Pos, ref: str) -> tuple[dict[str, Any] | None, _Tree | None, list[Problem]]:
    if not path.is_file():
        return None, None, [Problem(display, *pos, f"units_file {ref!r} not found")]
    try:
        data, tree = parse_yaml(_read(path, str(path)), str(path), what="units file")
    except PlanFileError as exc:
        return None, None, exc.problems
    problems = list(tree.problems)
    for key in data:
        if key not in {"units", "groups"}:
            problems.append(Problem(tree.file, *tree.locate((key,)), f"{key}: unknown key in a units file (expected units, groups)"))
    return data, tree, problems
