"""The `plan-tracker` command line: parse, call one service function, render.

Exit codes: 0 ok, 2 bad input (FILE:LINE:COL or a plain sentence on stderr), 1 internal
error. Commands live in `plan_tracker.commands.*`; importing a module registers its commands.
"""

from __future__ import annotations

from plan_tracker.commands import authoring, core, inbox, mail, ops, reports, web  # noqa: F401  (registers commands)
from plan_tracker.commands.common import app
from plan_tracker.process_end import leave_memory_to_the_os


def main() -> None:
    try:
        app()
    finally:  # the command is done, its output written: no collection of cycles at exit
        leave_memory_to_the_os()


if __name__ == "__main__":
    main()
