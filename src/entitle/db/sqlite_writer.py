"""The SQLite write connection: statements run in the event loop's thread, not in a worker thread.

Why: SQLite has one writer at a time, so a write transaction's duration is the write throughput.
Through aiosqlite every statement is 3-4 hand-offs to the connection's thread and back to the event
loop (cursor, execute, fetch, close), and under load each hand-off waits for the event loop to come
round again (behind every other request) and for the GIL: a 7-statement write held SQLite's lock
for 10-30 ms. Small writes in WAL mode with ``synchronous=NORMAL`` take microseconds of SQLite time,
so running them inline is cheaper than any hand-off, and a write transaction then runs from
``BEGIN IMMEDIATE`` to ``COMMIT`` without yielding to other requests. ``Database.write()``
serializes this process's write transactions (an asyncio lock), so the connection is never shared.

The one statement that may wait is ``BEGIN IMMEDIATE``, when another process (``--workers N``,
or another tool) holds the write lock. The connection's busy timeout is 0, so SQLite answers
SQLITE_BUSY at once, and the wait happens here, in ``asyncio.sleep``, for up to ``busy_timeout_s``
(the event loop keeps serving meanwhile). A COMMIT that meets SQLITE_BUSY is retried the same way
(SQLite documents COMMIT as safe to retry); any other statement that meets it fails as before.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
from sqlalchemy.engine import make_url

_FIRST_PAUSE_S = 0.001
_LONGEST_PAUSE_S = 0.020


def _busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run in the calling (event loop) thread.

    aiosqlite funnels every operation through ``_execute``; only that is replaced. The worker
    thread still opens and closes the sqlite3 connection (hence ``check_same_thread=False``).
    """

    busy_timeout_s: float = 30.0

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        connection = self._connection
        deadline: float | None = None
        pause = _FIRST_PAUSE_S
        while True:
            began = connection.in_transaction
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                # Retry only what SQLite says is safe to retry: a statement that failed to start the
                # transaction (BEGIN IMMEDIATE), or the COMMIT of one.
                retryable = not began or fn == connection.commit
                if not _busy(error) or not retryable:
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.busy_timeout_s
                if now >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_S)


def inline_connector(url: str, busy_timeout_s: float) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for ``create_async_engine``: opens an ``InlineConnection`` on ``url``'s file."""
    database = make_url(url).database or ""

    def connect() -> sqlite3.Connection:
        # timeout=0: SQLITE_BUSY comes back at once and InlineConnection waits without blocking.
        return sqlite3.connect(database, timeout=0, check_same_thread=False, isolation_level=None)

    async def create() -> InlineConnection:
        connection = InlineConnection(connect, iter_chunk_size=64)
        connection.busy_timeout_s = busy_timeout_s
        connection._thread.daemon = True
        await connection
        return connection

    return create
