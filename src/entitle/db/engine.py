"""Engine and session factory for both backends.

SQLite (the embedded default) runs in WAL mode. Write transactions start with ``BEGIN IMMEDIATE``
so concurrent writers queue instead of failing on lock upgrade: a process's own writers queue on an
asyncio lock in ``Database.write()``, other processes are waited for by the writer connection
(``sqlite_writer``). Reads run inline as well, on connections of their own: in WAL mode a reader
never waits for the writer; another process's lock on the file (rare for a reader) is waited for
in asyncio, up to the busy timeout.
PostgreSQL uses asyncpg with a pool. Nothing connects at import time.

Nothing waits unbounded on the database: connecting, a statement, a pool checkout and SQLite's
busy wait each have a timeout from the settings (``ENTITLE_DB_*_TIMEOUT_S``); the error that ends
the wait is classified as "unavailable" by :mod:`entitle.db.health`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from entitle.db.sqlite_writer import GroupCommitWriter, inline_connector
from entitle.domain.errors import Conflict
from entitle.settings import Settings

Executor = AsyncConnection | AsyncSession
"""Anything repositories can run statements on."""


def _sqlite_engine(settings: Settings, *, immediate: bool) -> AsyncEngine:
    """Statements run inline (``sqlite_writer.InlineConnection``); another process's lock is waited
    for in asyncio (busy timeout 0 in SQLite), up to ``ENTITLE_SQLITE_BUSY_TIMEOUT_S``."""
    url = settings.database_url
    connector = inline_connector(
        url, busy_timeout_s=settings.entitle_sqlite_busy_timeout_s, reads_only=not immediate
    )
    engine = create_async_engine(
        url,
        async_creator=connector,
        pool_timeout=settings.entitle_db_pool_timeout_s,
        hide_parameters=True,  # a database error's message (and so the log) never quotes input
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the documented pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


IDLE_INLINE_LOOKUPS = 4
"""SQLite: inline read connections kept open between ``lookup()`` uses (an inline lookup does not
yield to the event loop, so more than one is in use only when its caller awaits something else)."""

STATEMENT_TIMEOUT_SLACK_S = 1.0
"""The client stops waiting this long after the server's ``statement_timeout``: the server cancels
a slow statement first (the connection stays usable); only a server that does not answer at all
(frozen host, lost network) is cut off by the client."""


def _postgres_engine(settings: Settings) -> AsyncEngine:
    statement_timeout_s = settings.entitle_db_statement_timeout_s
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.entitle_db_pool_size,
        max_overflow=settings.entitle_db_pool_size,
        pool_recycle=1800,
        pool_timeout=settings.entitle_db_pool_timeout_s,
        hide_parameters=True,
        connect_args={
            "timeout": settings.entitle_db_connect_timeout_s,
            "command_timeout": statement_timeout_s + STATEMENT_TIMEOUT_SLACK_S,
            "server_settings": {"statement_timeout": str(int(statement_timeout_s * 1000))},
        },
    )
    event.listen(engine.sync_engine, "handle_error", _drop_connections_on_timeout)
    return engine


def _drop_connections_on_timeout(context: sa.engine.ExceptionContext) -> None:
    """A client-side timeout or lost connection leaves the connection unusable: treat it as a
    disconnect, so the pool discards it (and its siblings, opened before the outage) instead of
    waiting on a rollback that the server will not answer either. It is closed at once: SQLAlchemy's
    graceful close would wait another 2 s for a server that does not answer."""
    if not isinstance(context.original_exception, TimeoutError | OSError):
        return
    context.is_disconnect = True
    connection = context.connection
    if connection is not None and not connection.invalidated:
        driver_connection = connection.connection.driver_connection
        if driver_connection is not None:
            driver_connection.terminate()


class Database:
    """Owns the engines; ``read()`` and ``write()`` yield sessions inside a transaction."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.is_sqlite = settings.is_sqlite
        if self.is_sqlite:
            # Reads run inline too (``inline_connector``): in WAL mode a reader never waits for the
            # writer, and a small read takes microseconds of SQLite time, while each hand-off to a
            # connection's thread (3-4 per statement) waits for a turn of the event loop and for the
            # GIL: under a write burst a read of the change feed took 300-800 ms of wall time, and
            # the catalog's reload after a change (every reportUsage waits for it) up to 20 s.
            self.engine = _sqlite_engine(settings, immediate=False)
            self.write_engine = _sqlite_engine(settings, immediate=True)
        else:
            self.engine = _postgres_engine(settings)
            self.write_engine = self.engine
        # Single-statement reads on the hot path: no BEGIN/COMMIT round trips on PostgreSQL.
        self._lookup_engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._idle_lookups: list[AsyncConnection] = []
        self._read = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False, autoflush=False)
        # SQLite has one writer at a time: queue this process's write transactions here (FIFO, in
        # the event loop) rather than in SQLite's busy handler, whose back-off sleeps leave the
        # lock idle while every waiter sleeps, and commit them in groups while others are queued.
        # Other processes still queue on BEGIN IMMEDIATE.
        self._writer = (
            GroupCommitWriter(self.write_engine, settings.entitle_sqlite_busy_timeout_s)
            if self.is_sqlite
            else None
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        if self.is_sqlite:
            # On one of ``lookup()``'s kept-open inline connections: a pool checkout that opens a
            # connection hands off to a thread, and under a write burst each hand-off waits a whole
            # turn of a saturated event loop (the catalog's reload took 0.7-2.5 s there).
            async with self.lookup() as connection, self._read(bind=connection) as session, session.begin():
                yield session
            return
        async with self._read() as session, session.begin():
            yield session

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[AsyncConnection]:
        """A connection for independent reads (each statement sees the latest committed data).

        On SQLite its statements run inline (in the event loop's thread): one of a few connections
        kept open, its read transaction ended after each use (so the next use sees newer commits)."""
        if not self.is_sqlite:
            async with self._lookup_engine.connect() as connection:
                yield connection
            return
        idle = self._idle_lookups
        connection = idle.pop() if idle else await self.engine.connect()
        try:
            yield connection
        except BaseException:
            await connection.close()
            raise
        if connection.in_transaction():
            await connection.rollback()
        if len(idle) < IDLE_INLINE_LOOKUPS and not connection.closed:
            idle.append(connection)
        else:
            await connection.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits when the block exits normally and rolls back otherwise.

        A unique or foreign-key violation becomes the domain ``Conflict``: the use case checked
        before writing, so a concurrent write took the key (or removed a referenced row) in between.
        On SQLite, one at a time per process (not re-entrant: never open a write inside a write),
        committed with the writes queued behind it (``sqlite_writer.GroupCommitWriter``); either way
        the block returns once its transaction has committed.
        """
        try:
            if self._writer is None:
                async with self._write() as session, session.begin():
                    yield session
                return
            async with self._writer.transaction() as session:
                yield session
        except IntegrityError:
            raise Conflict("the change conflicts with a concurrent change; retry it") from None

    async def ping(self) -> None:
        """One round trip (``SELECT 1``); raises what a real statement would when the database is down."""
        async with self.lookup() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        while self._idle_lookups:
            await self._idle_lookups.pop().close()
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


def upsert_statement(session: AsyncSession, table: sa.Table) -> Any:
    """``INSERT .. ON CONFLICT`` (``on_conflict_do_nothing`` / ``_do_update``) for the session's dialect."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
