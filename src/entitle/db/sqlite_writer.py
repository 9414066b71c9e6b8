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
SQLITE_BUSY at once, and the wait happens here, in ``asyncio.sleep``, until the write's deadline
(``busy_timeout_s`` after it started waiting, its turn in this process's queue included; the event
loop keeps serving meanwhile). A COMMIT that meets SQLITE_BUSY is retried the same way (SQLite
documents COMMIT as safe to retry); any other statement that meets it fails as before.

Group commit (``GroupCommitWriter``): while other write transactions of this process are queued,
the SQLite transaction is not committed after each one but handed to the next, each write
transaction inside its own ``SAVEPOINT`` (so each stays all-or-nothing: a failing one is rolled back
to its savepoint, the others keep theirs); the last of the group (nobody queued any more, or
``max_group`` writes, or ``max_group_s`` since the group began) commits them all at once, and only
then does any of them return: no write is acknowledged before its COMMIT. That saves a transaction's
fixed cost (``BEGIN IMMEDIATE``, COMMIT) per write under a burst. If the group's transaction is lost
(COMMIT fails, or SQLite rolled the whole transaction back after an I/O or disk-full error), every
write of the group fails with that error; none was acknowledged. The writer keeps its connection
open between groups (no pool checkout, check-in and reset per group); a connection whose
transaction failed is closed, and the next group opens a new one.

Durability: WAL with ``synchronous=NORMAL``. A committed (acknowledged) write survives the process
being killed (``kill -9``): it is in the WAL file, in the operating system's cache. A power loss or
OS crash may lose the last transactions committed before it (never corrupting the database);
``synchronous=FULL`` would fsync every COMMIT to prevent that, at a cost per commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

_PAUSE_S = 0.001
"""How often a statement that met another process's lock tries again. Not a growing back-off:
that lock is held for one write transaction or group (a few ms, at most ``max_group_s`` of
statements), and SQLite's lock is not fair: a waiter that sleeps longer than the holder's gaps
between transactions finds it taken again and again. With a back-off to 20 ms, ``serve --workers
2`` did 279 writes/s at 103 % of one core (the lock idle while both processes slept), p99 763 ms;
polling every 1 ms, 481 writes/s, p99 311 ms. A failed ``BEGIN IMMEDIATE`` costs microseconds."""


def _busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run in the calling (event loop) thread.

    aiosqlite funnels every operation through ``_execute``; only that is replaced. The worker
    thread still opens and closes the sqlite3 connection (hence ``check_same_thread=False``).
    """

    busy_timeout_s: float = 30.0
    reads_only: bool = False
    """A connection that only reads (``Database.engine``): any statement that meets SQLITE_BUSY (in
    WAL mode only while another connection recovers or resets the WAL) is retried, as SQLite's own
    busy handler would; a writer retries only what is safe to retry (below)."""
    deadline: float | None = None
    """When set, waiting for another process's lock ends then (instead of ``busy_timeout_s`` after
    the first SQLITE_BUSY): ``GroupCommitWriter`` sets it so a write's wait counts from its arrival."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        connection = self._connection
        deadline: float | None = self.deadline
        while True:
            began = connection.in_transaction
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                # Retry only what SQLite says is safe to retry: a statement that failed to start the
                # transaction (BEGIN IMMEDIATE), or the COMMIT of one.
                retryable = self.reads_only or not began or fn == connection.commit
                if not _busy(error) or not retryable:
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.busy_timeout_s
                if now >= deadline:
                    raise
            await asyncio.sleep(_PAUSE_S)


def inline_connector(
    url: str, busy_timeout_s: float, *, reads_only: bool = False
) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for ``create_async_engine``: opens an ``InlineConnection`` on ``url``'s file."""
    database = make_url(url).database or ""

    def connect() -> sqlite3.Connection:
        # timeout=0: SQLITE_BUSY comes back at once and InlineConnection waits without blocking.
        return sqlite3.connect(database, timeout=0, check_same_thread=False, isolation_level=None)

    async def create() -> InlineConnection:
        connection = InlineConnection(connect, iter_chunk_size=64)
        connection.busy_timeout_s = busy_timeout_s
        connection.reads_only = reads_only
        connection._thread.daemon = True
        await connection
        return connection

    return create


_SAVEPOINT = "entitle_write"


class WriteQueueTimeout(sqlite3.OperationalError):
    """A write waited its whole busy timeout in this process's queue (the lock held elsewhere, or
    a queue that did not move): "database is locked", like SQLite's own answer."""


@dataclass(eq=False)
class _Group:
    connection: AsyncConnection
    raw: sqlite3.Connection
    began: float
    writes: int = 0
    committed: asyncio.Future[BaseException | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    """Resolves when the group's transaction ends: None once committed, else the error that ended it."""


class GroupCommitWriter:
    """This process's SQLite write transactions: one at a time (FIFO), committed in groups (see above)."""

    def __init__(
        self,
        engine: AsyncEngine,
        busy_timeout_s: float,
        *,
        max_group: int = 64,
        max_group_s: float = 0.025,
    ) -> None:
        self._engine = engine
        self._busy_timeout_s = busy_timeout_s
        self._max_group = max_group
        self._max_group_s = max_group_s
        self._lock = asyncio.Lock()
        self._queued = 0
        self._group: _Group | None = None
        self._open: AsyncConnection | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose statements run in this write's savepoint; returns once committed."""
        deadline = time.monotonic() + self._busy_timeout_s
        self._queued += 1
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                await self._lock.acquire()
        except TimeoutError:
            raise WriteQueueTimeout(
                "database is locked (no turn to write within ENTITLE_SQLITE_BUSY_TIMEOUT_S)"
            ) from None
        finally:
            self._queued -= 1
        group: _Group | None = None
        commit_here = False
        body_failed = False
        try:
            group = self._group if self._group is not None else await self._begin(deadline)
            self._group = group
            group.raw.execute(f"SAVEPOINT {_SAVEPOINT}")
            session = AsyncSession(
                bind=group.connection,
                join_transaction_mode="rollback_only",  # commits and rollbacks are the group's
                expire_on_commit=False,
                autoflush=False,
            )
            try:
                yield session
            except BaseException as error:
                body_failed = True
                await session.close()
                if not self._undo(group):  # its statements could not be taken back: nothing commits
                    await self._fail(group, error)
                raise
            await session.close()
            group.raw.execute(f"RELEASE {_SAVEPOINT}")
            group.writes += 1
        except BaseException as error:
            # SAVEPOINT or RELEASE failed, or SQLite ended the whole transaction: the group is lost
            # (none of its writes was acknowledged), rather than commit a write reported as failed.
            lost = not body_failed or not group.raw.in_transaction if group is not None else False
            if group is not None and group is self._group and lost:
                await self._fail(group, error)
            raise
        finally:
            try:
                if group is not None and group is self._group and self._group_is_done(group):
                    commit_here = True
                    await self._commit(group)
            finally:
                self._lock.release()
        if not commit_here:
            failure = await asyncio.shield(group.committed)
            if failure is not None:
                raise GroupCommitFailed(str(failure) or type(failure).__name__) from failure

    def _group_is_done(self, group: _Group) -> bool:
        return (
            self._queued == 0
            or group.writes >= self._max_group
            or time.monotonic() - group.began >= self._max_group_s
        )

    async def _begin(self, deadline: float) -> _Group:
        connection = await self._connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, InlineConnection)
        assert driver._connection is not None
        driver.deadline = deadline
        try:
            await connection.begin()  # BEGIN IMMEDIATE (the engine's "begin" listener), waits here
        except BaseException:
            await self._discard(connection)
            raise
        finally:
            driver.deadline = None
        return _Group(connection, driver._connection, time.monotonic())

    async def _connection(self) -> AsyncConnection:
        """The writer's connection, kept open from one group to the next (a pool checkout and
        check-in with its reset cost more than a small write's statements)."""
        connection = self._open
        if connection is None or connection.closed or connection.invalidated:
            connection = self._open = await self._engine.connect()
        return connection

    async def _discard(self, connection: AsyncConnection) -> None:
        """Close a connection whose transaction failed (the next group opens a fresh one)."""
        if self._open is connection:
            self._open = None
        await connection.close()

    async def close(self) -> None:
        """Close the kept connection (``Database.dispose``; no write may be under way)."""
        if self._open is not None:
            await self._discard(self._open)

    def _undo(self, group: _Group) -> bool:
        """Roll this write back to its savepoint (the group's earlier writes stay); False when that
        failed or SQLite had already ended the whole transaction (the group is lost)."""
        if not group.raw.in_transaction:
            return False
        try:
            group.raw.execute(f"ROLLBACK TO {_SAVEPOINT}")
            group.raw.execute(f"RELEASE {_SAVEPOINT}")
        except sqlite3.Error:
            return False
        return True

    async def _commit(self, group: _Group) -> None:
        self._group = None
        try:
            if group.writes:
                await group.connection.commit()
            else:
                await group.connection.rollback()
        except BaseException as error:
            await self._fail(group, error)
            raise
        else:
            if not group.committed.done():
                group.committed.set_result(None)

    async def _fail(self, group: _Group, error: BaseException) -> None:
        if self._group is group:
            self._group = None
        if group.committed.done():
            return
        group.committed.set_result(error)
        try:
            await group.connection.rollback()
        finally:
            await self._discard(group.connection)


class GroupCommitFailed(sqlite3.OperationalError):
    """The transaction this write was committed in failed (its COMMIT, or SQLite rolled it back)."""


def _loop_time(monotonic_deadline: float) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())
