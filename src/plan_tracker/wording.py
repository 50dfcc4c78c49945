"""Choosing the words for the plan's locale: Chinese by default, English available.

The inbox, `plan preview` and the project's error messages keep catalogues keyed by message
id and locale (`{"id": {"zh": "...", "en": "..."}}`, `str.format` templates with named
fields); this is the one place that picks an entry, falls back to the default for a locale
a catalogue does not have, and fills the fields. A `Msg` is a message id with its fields —
what went wrong, worded later, once the reader's locale is known.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

DEFAULT_LOCALE = "zh"
LOCALES = ("zh", "en")
LIST_SEPARATOR = {"zh": "、", "en": ", "}

T = TypeVar("T")


def for_locale(by_locale: Mapping[str, T], locale: str) -> T:
    """The entry for `locale`; an unknown (or empty) one gets the default locale's."""
    return by_locale.get(locale) or by_locale[DEFAULT_LOCALE]


def fields_of(locale_templates: Mapping[str, str]) -> dict[str, set[str]]:
    """The field names each locale's template uses."""
    return {locale: {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}
            for locale, text in locale_templates.items()}


class Catalogue:
    """One area's messages: `word` fills a template in a locale, `msg` keeps id and fields
    for later. A field that is a `Msg` is worded in the same locale; a tuple or list is
    joined with the locale's list separator (`、` or `, `)."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]]):
        self.messages = messages

    def word(self, id: str, /, locale: str = DEFAULT_LOCALE, **fields: Any) -> str:
        """The message `id` in `locale` (unknown locales get the default), its fields filled in."""
        return for_locale(self.messages[id], locale).format_map(
            {name: _field(value, locale) for name, value in fields.items()})

    def msg(self, id: str, /, **fields: Any) -> Msg:
        """A catalogue message; every field either language names must be given (a slip
        here fails where the message is made, not later where it is worded)."""
        missing = self.needed(id) - set(fields)
        if missing:
            raise KeyError(f"message {id!r} needs the field(s) {', '.join(sorted(missing))}")
        # a Msg is frozen, and problems holding one go into sets: every field hashable
        return Msg(id, tuple((k, _hashable(v)) for k, v in fields.items()), self)

    @functools.cache  # noqa: B019 - catalogues live as long as the process
    def needed(self, id: str) -> frozenset[str]:
        return frozenset(set().union(*fields_of(self.messages[id]).values()))


@dataclass(frozen=True)
class Msg:
    """A message id with its named fields: what was wrong, worded later in the reader's locale."""

    id: str
    fields: tuple[tuple[str, Any], ...] = ()
    catalogue: Catalogue | None = field(default=None, compare=False, repr=False)

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        assert self.catalogue is not None, "a Msg is made by its catalogue's msg()"
        return self.catalogue.word(self.id, locale, **dict(self.fields))

    def value(self, name: str) -> Any:
        return dict(self.fields).get(name)

    def __str__(self) -> str:
        return self.render()


def _hashable(value: Any) -> Any:
    """A field value a Msg can hold: lists become tuples, item by item; anything else that
    cannot be hashed (a mapping a plan file had where a word belongs, say) becomes the text
    it would be worded as."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(item) for item in value)
    try:
        hash(value)
    except TypeError:
        return str(value)
    return value


def _field(value: Any, locale: str) -> Any:
    if isinstance(value, Msg):
        return value.render(locale)
    if isinstance(value, list | tuple):
        return for_locale(LIST_SEPARATOR, locale).join(str(_field(item, locale)) for item in value)
    return value


def render(text: Msg | str, locale: str = DEFAULT_LOCALE) -> str:
    """A message in `locale`; a plain string (from outside the project: a library's own
    sentence, a file name) as it is."""
    return text.render(locale) if isinstance(text, Msg) else text
