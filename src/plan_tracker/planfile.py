"""Loading plan files: safe YAML with positions, pydantic validation, located errors.

Every problem becomes a `Problem(file, line, column, message)`; all problems are collected
before anything is reported, so a coordinator fixes a file in one pass. YAML is composed
with PyYAML's SafeLoader into nodes (no tags are ever constructed into objects), converted
to plain data while recording where each value came from, then validated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from plan_tracker.domain.calendar import WorkCalendar
from plan_tracker.domain.errors import PlanIssue
from plan_tracker.domain.messages import msg, os_reason
from plan_tracker.domain.obligations import schedule_issues
from plan_tracker.domain.plan import BLANK_PREFIX, Plan, cross_check
from plan_tracker.wording import DEFAULT_LOCALE, Msg, render

MAX_FILE_BYTES = 16 * 1024 * 1024  # a province-wide units file (tens of thousands of units) fits
MAX_NODES = 1_000_000  # caps alias expansion ("billion laughs"); a 20k-unit file has ~300k
MAX_DEPTH = 50
MAX_ALIASED = 50_000  # values reached again through aliases: a real plan shares a few anchors

_SAFE_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
}


@dataclass(frozen=True)
class Problem:
    """One located problem; `message` a catalogue message (`domain/messages.py`, worded in
    the plan's locale by `render`) or a library's own sentence; `where` the dotted path
    inside the document, when the problem is about a value."""

    file: str
    line: int
    column: int
    message: Msg | str
    where: str = ""

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        said = render(self.message, locale)
        return f"{self.file}:{self.line}:{self.column}: " + (f"{self.where}: {said}" if self.where else said)

    def __str__(self) -> str:
        return self.render("en")


class PlanFileError(Exception):
    """A plan file cannot be used; `problems` holds every located reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (p.file, p.line, p.column, p.where, str(p)))
        super().__init__("\n".join(map(str, self.problems)))

    def render(self, locale: str = DEFAULT_LOCALE) -> list[str]:
        return [p.render(locale) for p in self.problems]


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

    def problem(self, pos: Pos, message: Msg) -> None:
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
            self.problem(pos, msg("plan.yaml_tag", tag=node.tag))
            self.rejected.add(path)
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node)
                if not isinstance(key, str | int) or isinstance(key, bool):
                    self.problem(_pos(key_node), msg("plan.key_not_name"))
                    continue
                key = str(key)
                if key in result:
                    self.problem(_pos(key_node), msg("plan.key_twice", key=key))
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
            self.problem(_pos(node), msg("plan.bad_date", value=node.value, reason=str(exc)))
            return None
        if isinstance(value, dt.datetime):
            self.problem(_pos(node), msg("plan.date_not_datetime"))
            return None
        if isinstance(value, str) and value.startswith(BLANK_PREFIX):
            self.problem(_pos(node), msg("plan.blank", value=value))
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
        raise PlanFileError([Problem(display, 1, 1, msg("file.cannot_read", reason=os_reason(exc)))]) from exc
    if size > MAX_FILE_BYTES:
        raise PlanFileError([Problem(display, 1, 1, msg("file.too_big", size=size, limit=MAX_FILE_BYTES))])
    try:
        raw = path.read_bytes()
    except OSError as exc:  # e.g. a directory: bad input (exit 2), not an internal error
        raise PlanFileError([Problem(display, 1, 1, msg("file.cannot_read", reason=os_reason(exc)))]) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PlanFileError([Problem(display, line, 1, msg("file.not_utf8"))]) from exc


def parse_yaml(text: str, display: str, *, what: str = "plan") -> tuple[Any, _Tree]:
    """Compose one YAML document safely into plain data and its position map."""
    try:
        loader = yaml.SafeLoader(text)  # the reader checks every character at once
    except yaml.reader.ReaderError as exc:  # a control character: bad input, not an internal error
        where = max(exc.position, 0)
        line, col = text.count("\n", 0, where) + 1, where - (text.rfind("\n", 0, where) + 1) + 1
        raise PlanFileError([Problem(display, line, col, msg("file.control_character",
                                                                 character=f"U+{exc.character:04X}"))]) from None
    tree = _Tree(display, loader)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(filter(None, [exc.context, exc.problem]))
        raise PlanFileError([Problem(display, line, col, msg("file.yaml_syntax", reason=reason))]) from exc
    except yaml.YAMLError as exc:
        raise PlanFileError([Problem(display, 1, 1, msg("file.yaml_error", reason=str(exc)))]) from exc
    finally:
        loader.dispose()
    if node is None:
        raise PlanFileError([Problem(display, 1, 1, msg("file.empty", what=msg(f"what.{what}")))])
    try:
        data = tree.convert(node, ())
    except _TooBig as big:
        raise PlanFileError([Problem(display, *_pos(big.node), msg(
            "file.too_large", nodes=MAX_NODES, depth=MAX_DEPTH, aliased=MAX_ALIASED))]) from None
    if not isinstance(data, dict):
        raise PlanFileError([Problem(display, *_pos(node), msg("file.not_mapping", what=msg(f"what.{what}")))])
    return data, tree


def written_locale(path: Path) -> str | None:
    """The `plan.locale` a plan file asks for, read as far as the file can be read (its
    problems are worded in it); None when the file or the key cannot be read."""
    try:
        data, _ = parse_yaml(_read(path, str(path)), str(path))
    except PlanFileError:
        return None
    plan = data.get("plan")
    locale = plan.get("locale") if isinstance(plan, dict) else None
    return locale if isinstance(locale, str) else None


def _plain(err: Any) -> Msg:
    """Pydantic's error in the catalogue's words: the models' own rules raise ValueError
    with a catalogue message; pydantic's generic sentences are quoted."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return msg("plan.unknown_key")
    if kind == "missing":
        return msg("plan.missing_key")
    if kind in {"date_from_datetime_parsing", "date_parsing", "date_type"}:
        return msg("plan.expected_date", value=err.get("input"))
    if kind == "enum":
        return msg("plan.not_one_of", value=err.get("input"), expected=_choices(err["ctx"]["expected"]))
    if kind == "string_pattern_mismatch":
        return msg("plan.bad_id", value=err.get("input"))
    ctx = err.get("ctx") or {}
    if kind in {"less_than_equal", "greater_than_equal"}:
        return msg(f"plan.{kind}", limit=ctx.get("le", ctx.get("ge")))
    if kind == "int_parsing":
        return msg("plan.int_parsing")
    if kind == "literal_error":
        return msg("plan.literal_error", expected=_choices(str(ctx.get("expected"))))
    raised = ctx.get("error")
    if isinstance(raised, ValueError) and raised.args and isinstance(raised.args[0], Msg):
        return raised.args[0]
    text: str = err["msg"]
    return msg("plan.library_says", detail=text.removeprefix("Value error, "))


def _choices(expected: str) -> list[str]:
    """pydantic's "'a', 'b' or 'c'" as its items (a, b, c), for the catalogue to join in the
    reader's language, as the CLI's own choices are (`table、json`): pydantic's English "or"
    stayed in the Chinese sentence."""
    head, _, last = expected.rpartition(" or ")
    return [item.strip("'") for item in ([*head.split(", "), last] if head else [last])]


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
            problems.append(Problem(display, *units_pos, msg("plan.units_and_units_file")))
        elif not isinstance(ref, str):
            problems.append(Problem(display, *units_pos, msg("plan.units_file_path")))
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
    found = [i for i in cross_check(plan) if not _refers_to(i.message, ghosts)]
    if not found:
        found = schedule_issues(plan, WorkCalendar(plan.plan.calendar))
    issues = [PlanIssue(pruned.original(i.path), i.message, i.at_key) for i in found]
    return [p for p in _route(issues, tree, trees) if (p.file, p.line, p.column) not in seen]


_REFERENCES = {"plan.unknown_ref", "plan.empty_group"}


def _refers_to(message: Msg | str, ghosts: set[str]) -> bool:
    """Whether a reference problem ("unknown unit 'x' …", "group 'x' has no units") is
    about one of the `ghosts` (items dropped for a bad value)."""
    return isinstance(message, Msg) and message.id in _REFERENCES and message.value("id") in ghosts


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
        problems.append(Problem(owner.file, *owner.locate(path, at_key=issue.at_key), issue.message, where))
    return problems


def _load_units_file(path: Path, display: str, pos: Pos, ref: str) -> tuple[dict[str, Any] | None, _Tree | None, list[Problem]]:
    if not path.is_file():
        return None, None, [Problem(display, *pos, msg("plan.units_file_missing", ref=ref))]
    try:
        data, tree = parse_yaml(_read(path, str(path)), str(path), what="units_file")
    except PlanFileError as exc:
        return None, None, exc.problems
    problems = list(tree.problems)
    for key in data:
        if key not in {"units", "groups"}:
            problems.append(Problem(tree.file, *tree.locate((key,)), msg("plan.units_file_key"), key))
    return data, tree, problems
