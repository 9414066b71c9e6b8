"""Engine and session factory for both backends.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and write transactions
start with ``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing on lock upgrade.
PostgreSQL uses asyncpg with a pool. Nothing connects at import time.
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

from entitle.domain.errors import Conflict
from entitle.settings import Settings

Executor = AsyncConnection | AsyncSession
"""Anything repositories can run statements on."""


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the documented pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
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
                hide_parameters=True,  # a database error's message (and so the log) never quotes input
            )
            self.write_engine = self.engine
        # Single-statement reads on the hot path: no BEGIN/COMMIT round trips on PostgreSQL.
        self._lookup_engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._read = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False, autoflush=False)

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

        A unique or foreign-key violation becomes the domain ``Conflict``: the use case checked
        before writing, so a concurrent write took the key (or removed a referenced row) in between.
        """
        try:
            async with self._write() as session, session.begin():
                yield session
        except IntegrityError:
            raise Conflict("the change conflicts with a concurrent change; retry it") from None

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


def upsert_statement(session: AsyncSession, table: sa.Table) -> Any:
    """``INSERT .. ON CONFLICT`` (``on_conflict_do_nothing`` / ``_do_update``) for the session's dialect."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
