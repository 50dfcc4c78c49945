"""Benchmarks (`make bench`): not part of `make test`."""

import os


def settle_writes() -> None:
    """Let the set-up's writes reach the disk before the clock starts. A set-up (applying a
    plan, copying a store) leaves its dirty pages (about 100 MB for a province) to the kernel,
    which writes them back during whatever is timed next, behind its `fsync`s (the outbox's
    files, SQLite's checkpoints): 0.3 s of a province's night on 2026-12-05, which no night in
    production pays (it does not follow its plan's apply by a second)."""
    os.sync()
