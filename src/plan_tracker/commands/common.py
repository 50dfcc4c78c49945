"""Shared pieces of the `plan-tracker` command line: the Typer apps, consoles, error translation.

Exit codes: 0 ok, 2 bad input (with FILE:LINE:COL or a plain sentence on stderr), 1 internal
error. Library errors are translated here; users never see a traceback. The project's own
errors carry a catalogue key (`domain/messages.py`) and are worded here, once, in the plan's
locale: the plan the command names (`--plan`, or the plan file it reads), else
PLAN_TRACKER_LOCALE, else Chinese.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from plan_tracker.domain.errors import WordedError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="plan-tracker: 督查督办 follow-up engine.")
plan_app = typer.Typer(no_args_is_help=True, help="Plans as code: validate, apply, draft, preview.")
app.add_typer(plan_app, name="plan")

# Piped output (files, CI logs) gets a wide console so tables are not wrapped at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class BadInput(WordedError):
    """Raised by CLI parsing helpers for user mistakes (exit 2); `hint` is printed below."""


def handles_errors(func: F) -> F:
    """Translate library errors into clean messages and exit codes."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from plan_tracker.domain.messages import word
        from plan_tracker.planfile import PlanFileError

        try:
            return func(*args, **kwargs)
        except PlanFileError as exc:
            locale = reader_locale(kwargs)
            for line in exc.render(locale):
                err.print(line, markup=False, highlight=False)
            err.print(word("cli.problems_found", locale, count=len(exc.problems)), style="red")
            raise typer.Exit(2) from None
        except WordedError as exc:  # the project's own input errors only (a bare KeyError is a bug)
            locale = reader_locale(kwargs)
            err.print(word("cli.error", locale, message=exc.render(locale)), markup=False, highlight=False)
            hint = exc.render_hint(locale)
            if hint:
                err.print(f"  {hint}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        except typer.Exit:
            raise
        except Exception as exc:  # a bug or the environment: exit 1, the traceback to the log
            if os.environ.get("PLAN_TRACKER_DEBUG"):
                raise
            log = _log_traceback(exc)
            first_line = (str(exc).splitlines() or [""])[0]
            locale = reader_locale(kwargs)  # never raises: a broken store or setting gives the default
            where = word("cli.traceback_in", locale, path=log) if log else ""
            err.print(word("cli.internal_error", locale, error=f"{type(exc).__name__}: {first_line}", log=where),
                      markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def reader_locale(options: dict[str, Any]) -> str:
    """The locale to word an error in: the plan's — named by `--plan`, or the plan file the
    command reads — else PLAN_TRACKER_LOCALE, else Chinese. Read once, when an error is
    shown; nothing is created (a missing store is often the very error being shown)."""
    from plan_tracker.wording import LOCALES

    plan, file = options.get("plan"), options.get("file")
    found: str | None = None
    try:
        if isinstance(plan, str) and plan:
            from plan_tracker.services.plans import stored_plan

            with _engine().connect() as conn:
                found = stored_plan(conn, plan).plan.locale
        elif isinstance(file, Path):
            from plan_tracker.planfile import written_locale

            found = written_locale(file)
    except Exception:  # no plan to ask (unknown id, no store, unreadable file): the default
        found = None
    return found if found in LOCALES else default_locale()


def plan_locale(engine: Any, plan_id: str) -> str:
    """The stored plan's locale: its tables and summaries speak it."""
    from plan_tracker.services.plans import plan_locale as stored_locale

    return stored_locale(engine, plan_id)


def store_locale(engine: Any, plan_id: str | None = None) -> str:
    """The locale of output about the store rather than one plan (`plans list`, `doctor`,
    `channels`, `tokens list`): the plan named, else the plans' common locale when they all
    agree (a store of English plans reads English), else PLAN_TRACKER_LOCALE, else Chinese."""
    from plan_tracker.services.nightly import plan_ids
    from plan_tracker.services.plans import agreed_locale, stored_plan

    try:
        ids = [plan_id] if plan_id else plan_ids(engine)
        with engine.connect() as conn:
            found = [stored_plan(conn, pid).plan.locale for pid in ids]
    except Exception:  # no plan to ask (unknown id, empty store): the default; the command says why
        return default_locale()
    return agreed_locale(found, default_locale())


def default_locale() -> str:
    """PLAN_TRACKER_LOCALE, or Chinese (also when the settings themselves are broken)."""
    from plan_tracker.settings import get_settings
    from plan_tracker.wording import DEFAULT_LOCALE

    try:
        return get_settings().locale
    except Exception:  # a broken setting may be the very error being shown
        return DEFAULT_LOCALE


def _log_traceback(exc: BaseException) -> Path | None:
    """Append the traceback of an internal error to `plan-tracker.log` in the data folder
    (the system's temporary folder when there is none yet); None if nothing can be written."""
    import tempfile
    import traceback

    from plan_tracker.clock import now_utc
    from plan_tracker.settings import get_settings

    try:
        folder = get_settings().data_dir
    except Exception:  # broken settings are the error being reported; still log it somewhere
        folder = Path(tempfile.gettempdir())
    if not folder.is_dir():
        folder = Path(tempfile.gettempdir())
    log = folder / "plan-tracker.log"
    text = "".join(traceback.format_exception(exc))
    try:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {now_utc().isoformat()} plan-tracker {' '.join(sys.argv[1:])}\n{text}")
    except OSError:
        return None
    return log


def _engine(*, create: bool = False) -> Any:
    """The store's engine; only `plan apply` and `init` pass `create` (a mistyped path
    must not quietly start an empty store)."""
    from plan_tracker.settings import get_settings
    from plan_tracker.store.db import open_store

    return open_store(get_settings().resolved_database_url(), create=create)


def _date(value: str | None, what: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadInput("cli.not_a_date", what=what, value=value) from None


def _as_of(engine: Any, plan_id: str, value: str | None, *, now: dt.datetime | None = None) -> dt.date:
    """The as-of date: given, or today in the plan's own time zone (read once, here; or
    from `now` when the caller already read the clock)."""
    from plan_tracker.services.calendar_cover import extend_calendar

    given = _date(value, "--as-of")
    extend_calendar(engine, plan_id)  # also raises UnknownPlan before anything is written
    if given is not None:
        return given
    from plan_tracker.clock import today_in
    from plan_tracker.services.plans import stored_plan

    with engine.connect() as conn:
        zone = stored_plan(conn, plan_id).plan.timezone
    if now is not None:
        import zoneinfo

        return now.astimezone(zoneinfo.ZoneInfo(zone)).date()
    return today_in(zone)


def _now(value: str | None) -> dt.datetime:
    """The clock reading: the wall clock, or a hidden `--now` (tests travel in time with it;
    a time without a zone is UTC)."""
    if value is None:
        from plan_tracker.clock import now_utc

        return now_utc()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadInput("cli.not_a_moment", value=value) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BadInput("cli.bad_format", allowed=allowed, value=value)
    return value


LIGHT_STYLE = {"red": "bold red", "yellow": "yellow", "green": "green", "done": "cyan",
               "done_late": "magenta", "pending": "dim"}
