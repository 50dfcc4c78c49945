"""One wording catalogue (`domain.vocabulary`) for levels, lights and statuses: every surface
says each one the same way, and no module keeps a table of its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from plan_tracker.domain import vocabulary as v
from plan_tracker.domain.plan import LEVEL_LABELS_ZH
from plan_tracker.domain.reports import STATUS_LABELS_ZH, parse_status
from plan_tracker.inbox.columns import LIGHT_LABELS_ZH, STATUS_CHOICES
from plan_tracker.reports.labels import labels
from plan_tracker.web.i18n import Translator

SRC = Path(__file__).resolve().parents[2] / "src" / "plan_tracker"
TEMPLATE_DIRS = [SRC / "templates", SRC / "web" / "templates"]
CATALOGUE = SRC / "domain" / "vocabulary.py"
KEY_SETS = {
    "lights": set(v.LIGHT_WORDS["zh"]),
    "statuses": set(v.STATUS_WORDS["zh"]),
    "levels": set(v.LEVEL_WORDS["zh"]),
}


@pytest.mark.parametrize("locale", v.LOCALES)
def test_every_surface_says_each_light_and_status_as_the_catalogue_does(locale: str) -> None:
    t, words = Translator(locale), labels(locale)
    for light, word in v.LIGHT_WORDS[locale].items():
        assert t.light(light) == word  # portal
        assert words["lights"][light] == word  # report files, charts, ics
    for status, word in v.STATUS_WORDS[locale].items():
        assert t.status(status) == word
        assert words["status"][status] == word


def test_the_chinese_only_surfaces_use_the_catalogue_too() -> None:
    assert v.LIGHT_WORDS["zh"] == LIGHT_LABELS_ZH  # XLSX templates
    assert tuple(v.STATUS_WORDS["zh"].values()) == STATUS_CHOICES  # the template's drop-down
    assert {s.value: w for s, w in STATUS_LABELS_ZH.items()} == v.STATUS_WORDS["zh"]
    assert v.LEVEL_WORDS["zh"] == LEVEL_LABELS_ZH


@pytest.mark.parametrize("status", list(v.STATUS_WORDS["zh"]))
def test_a_unit_may_write_the_chinese_status_word(status: str) -> None:
    assert parse_status(v.STATUS_WORDS["zh"][status]).value == status


def test_the_pending_light_and_the_not_started_status_are_different_words() -> None:
    # Surfaces used to say 未开始 for both; a reader could not tell "not yet open" from
    # "the unit has not started".
    assert v.light_word("pending") != v.status_word("not_started")
    assert v.light_word("done") != v.status_word("done")


ENGLISH_WORDS = {w.lower() for table in (v.LIGHT_WORDS, v.STATUS_WORDS, v.LEVEL_WORDS)
                 for w in table["en"].values()} | {"overdue", "due soon", "on track", "not started"}
CJK = re.compile("[\u4e00-\u9fff]")


def _is_wording(key: str, value: object) -> bool:
    """A word for readers (Chinese, or an English label other than the key itself); colour
    and style tables keyed by light (`"red": "#d9363e"`, `"green": "green"`) are not."""
    if not isinstance(value, str):
        return False
    return bool(CJK.search(value)) or (value.lower() in ENGLISH_WORDS and value.lower() != key)


def _word_tables(path: Path) -> list[tuple[int, str]]:
    """Dict literals giving words to at least three light, status or level keys."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Dict):
            continue
        pairs = {k.value: val for k, val in zip(node.keys, node.values, strict=True)
                 if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        for name, key_set in KEY_SETS.items():
            worded = [key for key in key_set & pairs.keys()
                      if isinstance(pairs[key], ast.Constant) and _is_wording(key, pairs[key].value)]
            if len(worded) >= 3:
                found.append((node.lineno, name))
    return found


def test_no_module_keeps_its_own_table_of_lights_statuses_or_levels() -> None:
    offenders = [f"{path.relative_to(SRC)}:{line} ({name})"
                 for path in sorted(SRC.rglob("*.py")) if path != CATALOGUE
                 for line, name in _word_tables(path)]
    assert offenders == []


def test_the_scan_finds_a_table_when_there_is_one(tmp_path: Path) -> None:
    # The scan above must be able to fail: a hand-written light table is caught.
    rogue = tmp_path / "rogue.py"
    rogue.write_text('WORDS = {"red": "逾期", "yellow": "临期", "green": "正常"}\n', encoding="utf-8")
    assert _word_tables(rogue) == [(1, "lights")]


def test_no_template_spells_a_light_or_status_itself() -> None:
    # Templates receive the words from the catalogue; a literal one would drift.
    words = {w for table in (v.LIGHT_WORDS["zh"], v.STATUS_WORDS["zh"]) for w in table.values()}
    pattern = re.compile("|".join(sorted(map(re.escape, words), key=len, reverse=True)))
    offenders = []
    for folder in TEMPLATE_DIRS:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in {".j2", ".html", ".txt"}:
                for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    if (found := pattern.search(line)) and not line.lstrip().startswith("{#"):
                        offenders.append(f"{path.name}:{n}: {found.group()}")
    assert offenders == []
