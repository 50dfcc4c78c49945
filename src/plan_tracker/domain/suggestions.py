"""Near-miss suggestions for mistyped ids ("did you mean"), one wording for every surface.

Pure (difflib only): the plan checks use it as much as the command line does. The
suggestions are catalogue messages (`domain/messages.py`), worded in the reader's locale."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from plan_tracker.domain.messages import msg
from plan_tracker.wording import Msg

MAX_LISTED = 12  # a store or plan with hundreds of ids lists the first few, not a wall of text


def close_matches(word: str, known: Iterable[str], *, n: int = 3) -> list[str]:
    """The known ids nearest to `word`, best first (difflib ratio ≥ 0.6)."""
    return difflib.get_close_matches(word, sorted(set(known)), n=n, cutoff=0.6)


def did_you_mean(word: str, known: Iterable[str]) -> Msg:
    """' (did you mean 'x'?)' or nothing — to append to a sentence naming `word`."""
    matches = close_matches(word, known, n=1)
    return msg("suggest.did_you_mean", match=matches[0]) if matches else msg("suggest.nothing")


def known_list(known: Iterable[str]) -> Msg:
    """'known: a, b, c' (the first MAX_LISTED, then a count), or 'none known'."""
    ids = sorted(set(known))
    if not ids:
        return msg("suggest.none_known")
    if len(ids) > MAX_LISTED:
        return msg("suggest.known_more", ids=tuple(ids[:MAX_LISTED]), more=len(ids) - MAX_LISTED)
    return msg("suggest.known", ids=tuple(ids))


def hint(word: str, known: Iterable[str]) -> Msg:
    """"did you mean 'x'? known: a, b" — a second line under a message that names `word`."""
    ids = list(known)
    matches = close_matches(word, ids, n=1)
    return msg("suggest.hint", match=matches[0], known=known_list(ids)) if matches else known_list(ids)


def unknown(what: Msg, word: str, known: Iterable[str]) -> Msg:
    """"no example 'x' (did you mean 'y'?); known: y, z"."""
    ids = list(known)
    return msg("suggest.unknown", what=what, word=word, did_you_mean=did_you_mean(word, ids), known=known_list(ids))
