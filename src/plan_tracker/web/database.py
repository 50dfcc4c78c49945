"""Where a request's database work runs, off the event loop.

On SQLite the server's engine has one connection (`make_engine(serial=True)`): SQLite admits
one writer at a time, so request threads would only queue for it. Work sent through
`RequestDatabase.run` goes instead to one dedicated thread that owns that connection and
takes requests in arrival order (FIFO, so no request waits behind a lucky late-comer). Two
threads want the GIL instead of dozens, and no thread wakes only to find the connection
taken. On PostgreSQL, which admits concurrent writers, work goes to the ordinary thread pool.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class RequestDatabase:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._thread: ThreadPoolExecutor | None = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
            if engine.dialect.name == "sqlite" else None)

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the database thread (SQLite) or the thread pool."""
        if self._thread is None:
            return await run_in_threadpool(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
