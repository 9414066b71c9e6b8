"""The change feed read from the database, with PostgreSQL ``LISTEN`` to wake the reader at once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from entitle.db.engine import Database
from entitle.db.repositories import changes
from entitle.domain.changes import Change, Revision


@dataclass
class Listening:
    """Whether change notifications are arriving (False once the listening connection is lost)."""

    active: bool


class DatabaseFeedSource:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def latest(self) -> Revision:
        async with self._database.lookup() as connection:
            return await changes.latest(connection)

    async def read_after(self, after: Revision, limit: int, *, payloads: bool = True) -> list[Change]:
        async with self._database.lookup() as connection:
            return await changes.read_after(connection, after, limit, payloads=payloads)

    @contextlib.asynccontextmanager
    async def listen(self, wake: Callable[[str | None], None]) -> AsyncIterator[Listening]:
        """On PostgreSQL, a dedicated connection that calls ``wake(revision)`` on every committed write
        (``revision``: the newest the write appended). On SQLite nothing listens (``active`` False)."""
        if self._database.is_sqlite:
            yield Listening(active=False)
            return
        url = make_url(self._database.url).set(drivername="postgresql")
        connection: Any = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
        listening = Listening(active=True)

        def on_notify(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
            wake(payload or None)

        def on_lost(*_: Any) -> None:
            listening.active = False  # the poll goes on at its fast pace; a reconnect waits for a restart
            wake(None)

        try:
            await connection.add_listener(changes.CHANNEL, on_notify)
            connection.add_termination_listener(on_lost)
            yield listening
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
