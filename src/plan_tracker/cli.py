"""The `plan-tracker` command line: parse, call one service function, render.

Exit codes: 0 ok, 2 bad input (FILE:LINE:COL or a plain sentence on stderr), 1 internal
error. Commands live in `plan_tracker.commands.*`; importing a module registers its commands.
"""

from __future__ import annotations

from plan_tracker.commands import authoring, core, inbox, mail, ops, reports, web  # noqa: F401  (registers commands)
from plan_tracker.commands.common import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()
