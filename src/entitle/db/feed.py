"""The change feed read from the database, with PostgreSQL ``LISTEN`` to wake the reader at once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from entitle.db.engine import Database
from entitle.db.repositories import changes
from entitle.domain.changes import Change, Revision


class DatabaseFeedSource:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def latest(self) -> Revision:
        async with self._database.lookup() as connection:
            return await changes.latest(connection)

    async def read_after(self, after: Revision, limit: int) -> list[Change]:
        async with self._database.lookup() as connection:
            return await changes.read_after(connection, after, limit)

    @contextlib.asynccontextmanager
    async def listen(self, wake: Callable[[str | None], None]) -> AsyncIterator[None]:
        """On PostgreSQL, a dedicated connection that calls ``wake`` on every committed write, with the
        revision it announced (its last change)."""
        if self._database.is_sqlite:
            yield
            return
        url = make_url(self._database.url).set(drivername="postgresql")
        connection: Any = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)

        def on_notify(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
            wake(payload)

        def on_lost(*_: Any) -> None:
            wake(None)  # the poll goes on; a reconnect is left to the next start

        try:
            await connection.add_listener(changes.CHANNEL, on_notify)
            connection.add_termination_listener(on_lost)
            yield
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
