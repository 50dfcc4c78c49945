"""Near-miss suggestions for mistyped ids ("did you mean"), one wording for every surface.

Pure (difflib only): the plan checks use it as much as the command line does."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_LISTED = 12  # a store or plan with hundreds of ids lists the first few, not a wall of text


def close_matches(word: str, known: Iterable[str], *, n: int = 3) -> list[str]:
    """The known ids nearest to `word`, best first (difflib ratio ≥ 0.6)."""
    return difflib.get_close_matches(word, sorted(set(known)), n=n, cutoff=0.6)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or '' — to append to a sentence naming `word`."""
    matches = close_matches(word, known, n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def known_list(known: Iterable[str]) -> str:
    """'known: a, b, c' (the first MAX_LISTED, then a count), or 'none known'."""
    ids = sorted(set(known))
    if not ids:
        return "none known"
    shown = ", ".join(ids[:MAX_LISTED])
    more = f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else ""
    return f"known: {shown}{more}"


def hint(word: str, known: Iterable[str]) -> str:
    """"did you mean 'x'? known: a, b" — a second line under a message that names `word`."""
    ids = list(known)
    matches = close_matches(word, ids, n=1)
    return (f"did you mean {matches[0]!r}? " if matches else "") + known_list(ids)


def unknown(what: str, word: str, known: Iterable[str]) -> str:
    """"no plan 'qingxi2019'; known: qingxi-2019 (did you mean 'qingxi-2019'?)"."""
    ids = list(known)
    return f"no {what} {word!r}{did_you_mean(word, ids)}; {known_list(ids)}"
