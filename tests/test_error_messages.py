"""The project's error messages come from one catalogue (`domain/messages.py`), in Chinese
and English with the same fields, and no raise site words its own sentence.

Three holds: every catalogue key renders in both locales with the same named fields; every
error class (each subclass of `WordedError`, and plan-file problems) renders in both
locales without failing; and a scan of the source (AST) finds no raise of a project error
with an English sentence — a literal that is not a catalogue key, or an f-string — so a
new raise site cannot slip back into English. A second scan finds no English sentence
printed by the command line (`print`, `echo`, a table's rows, columns and title) or given
to a doctor `Check`. Each scan is shown to catch a planted case.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import string
from pathlib import Path
from typing import Any

import pytest

import plan_tracker
from plan_tracker.domain.errors import WordedError
from plan_tracker.domain.messages import MESSAGES, msg
from plan_tracker.inbox.messages import MESSAGES as INBOX_MESSAGES
from plan_tracker.wording import LOCALES, Msg, fields_of

SRC = Path(plan_tracker.__file__).resolve().parent
# the inbox's errors (InboxMisconfigured, FileRefused.because) name keys of its own catalogue
KEYS = set(MESSAGES) | set(INBOX_MESSAGES)
# Modules a test process cannot import without side effects outside this test's concern.
SKIPPED_MODULES = ("plan_tracker.migrations",)


def all_modules() -> list[Any]:
    found = []
    for info in pkgutil.walk_packages(plan_tracker.__path__, "plan_tracker."):
        if info.name.startswith(SKIPPED_MODULES):
            continue
        found.append(importlib.import_module(info.name))
    return found


def error_classes() -> set[type[WordedError]]:
    all_modules()  # every error class is defined, so every subclass is known
    seen: set[type[WordedError]] = set()
    todo: list[type[WordedError]] = [WordedError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return seen


# -- the catalogue --------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_key_has_both_languages_with_the_same_fields(key: str) -> None:
    texts = MESSAGES[key]
    assert set(texts) == set(LOCALES), key
    named = fields_of(texts)
    assert named["zh"] == named["en"], (key, named)
    for locale, text in texts.items():
        # the English has no Chinese words of its own (审结 is quoted on purpose)
        literal = "".join(part for part, *_ in string.Formatter().parse(text))
        if locale == "en":
            assert not any("\u4e00" <= ch <= "\u9fff" for ch in literal.replace("审结", "")), (key, text)


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_key_renders_in_both_languages(key: str) -> None:
    fields = {name: f"<{name}>" for name in set().union(*fields_of(MESSAGES[key]).values())}
    message = msg(key, **fields)
    for locale in LOCALES:
        said = message.render(locale)
        assert all(f"<{name}>" in said for name in fields), (key, locale, said)


def test_a_missing_field_fails_where_the_message_is_made() -> None:
    with pytest.raises(KeyError, match="needs the field"):
        msg("report.progress_range")


# -- every error class ---------------------------------------------------------------------------
def sample(cls: type[WordedError]) -> WordedError:
    """An instance of `cls` built the way its raise sites build it."""
    import datetime as dt

    from plan_tracker.inbox.errors import FileRefused, InboxMisconfigured, RowError
    from plan_tracker.inbox.messages import msg as inbox_msg

    day = dt.date(2018, 10, 8)
    special: dict[str, Any] = {
        "CalendarNotCovered": lambda: cls(2031, "CN"),  # type: ignore[call-arg]
        "UnknownPlan": lambda: cls("qingxi2019", ["qingxi-2019"]),  # type: ignore[call-arg]
        "DateNotCovered": lambda: cls(day, "CN", day, day),  # type: ignore[call-arg]
        "UnknownToken": lambda: cls("abc123"),  # type: ignore[call-arg]
        "UnknownUnit": lambda: (cls("p", "u") if cls.__module__.endswith("ics")  # type: ignore[call-arg]
                                else cls("preview.unknown_unit", unit="u", plan="p")),
        "FileRefused": lambda: FileRefused([RowError("csv", 4, "F 状态", inbox_msg("row.progress"), "x")]),
        "InboxMisconfigured": lambda: InboxMisconfigured("folder.not_folder", target="x"),
    }
    if cls.__name__ in special:
        return special[cls.__name__]()  # type: ignore[no-any-return]
    return cls("report.progress_range", progress=150)


def test_the_error_classes_are_all_found() -> None:
    names = {cls.__name__ for cls in error_classes()}
    # a sample of each layer: the scan below is only as good as this list
    assert {"DomainError", "BadInput", "NotFound", "UnknownToken", "BadPeriod", "UnknownPlan", "DateNotCovered",
            "StoreMissing", "WeakSecret", "NotBlocked", "FileRefused", "TemplateError"} <= names


def test_every_error_class_renders_in_both_languages() -> None:
    for cls in sorted(error_classes(), key=lambda c: (c.__module__, c.__name__)):
        error = sample(cls)
        for locale in LOCALES:
            said = error.render(locale)
            assert said and "{" not in said, (cls, locale, said)
        assert str(error) == error.render("en") or cls.__name__ in {"InboxMisconfigured", "FileRefused"}


def called(node: ast.Call) -> str:
    """The name a call calls: `f(...)` and `x.f(...)` both give "f"."""
    return node.func.id if isinstance(node.func, ast.Name) else (
        node.func.attr if isinstance(node.func, ast.Attribute) else "")


# -- no raise site words its own sentence ---------------------------------------------------------
def own_sentences(tree: ast.AST, error_names: set[str]) -> list[tuple[int, str]]:
    """(line, source) of each raise of a project error, or plan-file `Problem`, whose message
    is an f-string, or a string literal that is not a catalogue key."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = called(node)
        if name in error_names:
            args = node.args[:1]
        elif name == "Problem":
            args = node.args[3:4]
        else:
            continue
        for arg in args:
            if isinstance(arg, ast.JoinedStr | ast.BinOp) or (
                    isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in KEYS):
                found.append((node.lineno, ast.unparse(arg)))
    return found


def error_names() -> set[str]:
    # ValueError carries the plan models' rules to pydantic (`planfile._plain` reads them back)
    return {cls.__name__ for cls in error_classes()} | {"ValueError"}


def scanned() -> dict[str, list[tuple[int, str]]]:
    names = error_names()
    result = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = str(path.relative_to(SRC))
        # elsewhere a ValueError is an internal error (a bug), not a message to a person
        wanted = names if relative == "domain/plan.py" else names - {"ValueError"}
        found = own_sentences(ast.parse(path.read_text(encoding="utf-8")), wanted)
        if found:
            result[relative] = found
    return result


def test_no_raise_site_words_its_own_sentence() -> None:
    assert scanned() == {}


def test_the_scan_catches_a_planted_english_sentence() -> None:
    planted = ast.parse(
        "def check(x):\n"
        "    if x:\n"
        "        raise BadPeriod(f'period {x!r} is not valid')\n"
        "    raise NotFound('no such obligation')\n"
        "    raise Conflict('workflow.already_done')\n"  # a key: fine
        "    problems.append(Problem(f, 1, 1, 'the file is empty'))\n")
    found = own_sentences(planted, error_names())
    assert sorted(line for line, _ in found) == [3, 4, 6]


def test_every_literal_key_passed_to_msg_exists() -> None:
    """`msg("...")` in the domain catalogue's users names keys that exist (a typo would only
    fail when that error is raised)."""
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        if "inbox" in path.parts or path.name == "messages.py":
            continue  # the inbox and preview catalogues have their own keys (tests/inbox/test_locale.py)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "msg"
                    and node.args and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value not in MESSAGES):
                missing.append((str(path.relative_to(SRC)), node.lineno, node.args[0].value))
    assert missing == []


def test_a_msg_is_a_value_with_its_key_and_fields() -> None:
    said = msg("plan.no_unit", plan="p", unit="u")
    assert isinstance(said, Msg) and said.id == "plan.no_unit" and said.value("unit") == "u"
    assert inspect.isfunction(msg)


@pytest.mark.parametrize("value", [{"contact": None}, [{"a": 1}, [2, {3}]], {1, 2}, ["a", "b"]])
def test_a_field_of_any_shape_keeps_a_msg_hashable_and_worded(value: Any) -> None:
    # a plan file can hold a mapping or a list of them where a word belongs; its problems go
    # into a set (a mapping made `plan validate` end in a traceback, found by the fuzzer)
    said = msg("plan.not_one_of", value=value, expected="'contact' or 'head'")
    assert len({said, said}) == 1
    for locale in LOCALES:
        assert "'contact' or 'head'" in said.render(locale)
    assert msg("plan.not_one_of", value=["a", "b"], expected="x").value("value") == ("a", "b")  # lists: tuples


def test_a_sentence_that_is_no_key_stays_bad_input_not_a_key_error() -> None:
    """A raise site merged from a branch that still words its own sentence shows it as it is
    (the scan above fails on it); the user still gets bad input, not an internal error."""
    from plan_tracker.domain.errors import DomainError

    error = DomainError("the file is odd")
    assert (error.key, error.render("zh"), str(error)) == ("", "the file is odd", "the file is odd")
    assert own_sentences(ast.parse("raise DomainError('the file is odd')"), error_names())


# -- no printed sentence bypasses the catalogue ------------------------------------------------------
PRINTERS = {"print", "echo", "secho", "print_json", "add_row", "add_column"}
# two English words: a key (`out.col_task`), a code or a style ("bold red" is a keyword) is not one
ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,}[ ,:;]+[A-Za-z]{2,}")
# `make demo`'s walk through the founding plan, for developers; no command of the CLI prints it
NOT_THE_CLI = ("demo.py",)


def printed_sentences(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, source) of each printed text (positional arguments of a print or a table row or
    column, a table's title) or doctor check message or fix holding an English sentence."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = called(node)
        if name in PRINTERS:
            args: list[ast.expr] = list(node.args)
        elif name == "Table":
            args = [kw.value for kw in node.keywords if kw.arg == "title"]
        elif name == "Check":
            args = node.args[2:3] + [kw.value for kw in node.keywords if kw.arg in ("message", "fix")]
        else:
            continue
        for arg in args:
            texts = [n.value for n in ast.walk(arg) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if any(ENGLISH_WORDS.search(text) for text in texts):
                found.append((node.lineno, ast.unparse(arg)))
    return found


def test_no_command_prints_its_own_english_sentence() -> None:
    found = {str(path.relative_to(SRC)): printed_sentences(ast.parse(path.read_text(encoding="utf-8")))
             for path in sorted(SRC.rglob("*.py")) if path.name not in NOT_THE_CLI and "migrations" not in path.parts}
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_the_print_scan_catches_planted_english_sentences() -> None:
    planted = ast.parse(
        "def show(out, err, summary, table, word, locale):\n"
        "    out.print('mail fetch: ' + summary)\n"
        "    err.print(f'internal error: {summary}', markup=False)\n"
        "    typer.echo('warning: cookies are not Secure')\n"
        "    table.add_column('last night')\n"
        "    Check('nightly', Level.fail, 'no nightly run has ever completed', fix=f'run {summary} now')\n"
        "    out.print(word('out.mail_fetched', locale), style='bold red')\n"  # a key, a style: fine
        "    table.add_row(summary.name, f'[{summary.style}]{summary.level}[/]')\n")
    assert sorted(line for line, _ in printed_sentences(planted)) == [2, 3, 4, 5, 6]
