"""Engine and session factory for both backends.

SQLite (the embedded default) runs in WAL mode. Write transactions start with ``BEGIN IMMEDIATE``
so concurrent writers queue instead of failing on lock upgrade: a process's own writers queue on an
asyncio lock in ``Database.write()``, other processes are waited for by the writer connection
(``sqlite_writer``); reads use their own pool of connections with a 30 s busy timeout.
PostgreSQL uses asyncpg with a pool. Nothing connects at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from entitle.db.sqlite_writer import inline_connector
from entitle.settings import Settings

Executor = AsyncConnection | AsyncSession
"""Anything repositories can run statements on."""


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    if immediate:  # the writer: statements run inline, other processes are waited for in asyncio
        engine = create_async_engine(url, async_creator=inline_connector(url, busy_timeout_s=30))
    else:
        engine = create_async_engine(url, connect_args={"timeout": 30})
    busy_timeout_ms = 0 if immediate else 30000

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the documented pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Owns the engines; ``read()`` and ``write()`` yield sessions inside a transaction."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.is_sqlite = settings.is_sqlite
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, immediate=False)
            self.write_engine = _sqlite_engine(self.url, immediate=True)
        else:
            self.engine = create_async_engine(
                self.url,
                pool_size=settings.entitle_db_pool_size,
                max_overflow=settings.entitle_db_pool_size,
                pool_recycle=1800,
            )
            self.write_engine = self.engine
        # Single-statement reads on the hot path: no BEGIN/COMMIT round trips on PostgreSQL.
        self._lookup_engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._read = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False, autoflush=False)
        # SQLite has one writer at a time: queue this process's write transactions here (FIFO, in
        # the event loop) rather than in SQLite's busy handler, whose back-off sleeps leave the
        # lock idle while every waiter sleeps. Other processes still queue on BEGIN IMMEDIATE.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session, session.begin():
            yield session

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[AsyncConnection]:
        """A connection for independent reads (each statement sees the latest committed data)."""
        async with self._lookup_engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits when the block exits normally and rolls back otherwise.

        On SQLite, one at a time per process (not re-entrant: never open a write inside a write).
        """
        if self._write_lock is None:
            async with self._write() as session, session.begin():
                yield session
            return
        async with self._write_lock, self._write() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


def upsert_statement(session: AsyncSession, table: sa.Table) -> Any:
    """``INSERT .. ON CONFLICT`` (``on_conflict_do_nothing`` / ``_do_update``) for the session's dialect."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
