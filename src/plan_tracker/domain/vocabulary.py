"""The one wording catalogue for the record's words: escalation levels, lights, report
statuses and reminder states, in Chinese (the default) and English.

Every surface (portal pages, report files, XLSX templates, reminder messages, the notice)
takes these words from here and nowhere else; `tests/test_one_vocabulary.py` fails when a
module spells a light, status or level in its own table. Pure data: the domain imports it
(`parse_status` accepts the Chinese status words), so it imports nothing.

Chosen where surfaces used to disagree: the `pending` light is 待开始 (the period has not
begun — distinct from the status 未开始, "the unit has not started"); `red` is 红灯 (the
overdue working days are shown beside it, so 逾期 would say it twice); `done` is 按期完成
(distinct from the status 已完成, which a late item also reports).
"""

from __future__ import annotations

DEFAULT_LOCALE = "zh"
LOCALES = ("zh", "en")

LIGHT_WORDS: dict[str, dict[str, str]] = {
    "zh": {"pending": "待开始", "green": "绿灯", "yellow": "黄灯", "red": "红灯",
           "done": "按期完成", "done_late": "逾期完成"},
    "en": {"pending": "Not yet open", "green": "Green", "yellow": "Yellow", "red": "Red",
           "done": "Done on time", "done_late": "Done late"},
}

STATUS_WORDS: dict[str, dict[str, str]] = {
    "zh": {"not_started": "未开始", "in_progress": "推进中", "done": "已完成", "blocked": "受阻"},
    "en": {"not_started": "Not started", "in_progress": "In progress", "done": "Done", "blocked": "Blocked"},
}

# The four levels of the usual ladder; a plan's own level names use the step's `label`.
LEVEL_WORDS: dict[str, dict[str, str]] = {
    "zh": {"remind": "提醒", "urge": "催办", "supervise": "督办", "accountability": "通报"},
    "en": {"remind": "Reminder", "urge": "Urging", "supervise": "Supervision",
           "accountability": "Accountability notice"},
}

REMINDER_STATE_WORDS: dict[str, dict[str, str]] = {
    "zh": {"pending": "待发送", "sent": "已发送", "failed": "发送失败", "dead": "无法送达",
           "skipped": "已跳过"},
    "en": {"pending": "pending", "sent": "sent", "failed": "failed", "dead": "undeliverable",
           "skipped": "skipped"},
}


def _pick(table: dict[str, dict[str, str]], key: str | None, locale: str, missing: str) -> str:
    if not key:
        return missing
    words = table.get(locale) or table[DEFAULT_LOCALE]
    return words.get(key, key)


def light_word(light: str | None, locale: str = DEFAULT_LOCALE, *, missing: str = "") -> str:
    return _pick(LIGHT_WORDS, light, locale, missing)


def status_word(status: str | None, locale: str = DEFAULT_LOCALE, *, missing: str = "-") -> str:
    return _pick(STATUS_WORDS, status, locale, missing)


def level_word(level: str, locale: str = DEFAULT_LOCALE) -> str:
    return _pick(LEVEL_WORDS, level, locale, level)


def reminder_state_word(state: str, locale: str = DEFAULT_LOCALE) -> str:
    return _pick(REMINDER_STATE_WORDS, state, locale, state)


def lights(locale: str) -> dict[str, str]:
    """Every light's word (a copy: callers may not edit the catalogue)."""
    return dict(LIGHT_WORDS.get(locale) or LIGHT_WORDS[DEFAULT_LOCALE])


def statuses(locale: str) -> dict[str, str]:
    return dict(STATUS_WORDS.get(locale) or STATUS_WORDS[DEFAULT_LOCALE])


def reminder_states(locale: str) -> dict[str, str]:
    return dict(REMINDER_STATE_WORDS.get(locale) or REMINDER_STATE_WORDS[DEFAULT_LOCALE])
