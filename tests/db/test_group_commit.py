"""SQLite group commit: the write transactions one process has queued share one SQLite transaction,
each in its own savepoint. Each stays all-or-nothing, none returns before the COMMIT that holds it,
and a burst needs fewer COMMITs than writes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from entitle.db.engine import Database
from entitle.db.tables import TENANTS
from entitle.domain.errors import Conflict
from tests.conftest import make_settings

AT = datetime(2030, 1, 1, tzinfo=UTC)
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(make_settings(database_url))
    yield database
    await database.dispose()


def insert(key: str) -> sa.Insert:
    return sa.insert(TENANTS).values(key=key, metadata={}, created_at=AT, updated_at=AT)


def committed_keys(database_url: str) -> set[str]:
    """What another connection sees (committed rows only)."""
    with sqlite3.connect(database_url.removeprefix("sqlite+aiosqlite:///")) as connection:
        return {key for (key,) in connection.execute("SELECT key FROM tenants WHERE key LIKE 'g%'")}


async def test_queued_writes_commit_together_each_all_or_nothing_and_none_returns_before_its_commit(
    database: Database, database_url: str
) -> None:
    # given
    commits: list[int] = []
    sa.event.listen(database.write_engine.sync_engine, "commit", lambda _conn: commits.append(1))
    outcomes: dict[int, str] = {}

    async def writer(n: int) -> None:
        try:
            async with database.write() as session:
                await session.execute(insert(f"g{n}"))
                await asyncio.sleep(0)  # let the others queue up behind this one
                if n == 7:
                    raise RuntimeError("this write fails after its insert")
                if n == 11:
                    await session.execute(insert("g3"))  # a key another write of the group took
            # then: once a write returns, its row is committed (another connection sees it)
            assert f"g{n}" in committed_keys(database_url)
            outcomes[n] = "ok"
        except RuntimeError:
            outcomes[n] = "failed"
        except Conflict:
            outcomes[n] = "conflict"

    # when
    await asyncio.gather(*(writer(n) for n in range(20)))

    # then
    assert outcomes == {n: "failed" if n == 7 else "conflict" if n == 11 else "ok" for n in range(20)}
    assert committed_keys(database_url) == {f"g{n}" for n in range(20) if n not in (7, 11)}
    assert 1 <= len(commits) < 20


async def test_the_writer_keeps_one_connection_from_one_group_to_the_next(database: Database) -> None:
    # given: a pool checkout (and its check-in with a reset) costs more than a small write's statements
    checkouts: list[int] = []
    sa.event.listen(database.write_engine.sync_engine, "checkout", lambda *_: checkouts.append(1))
    # when: writes one after another, each its own group
    for n in range(5):
        async with database.write() as session:
            await session.execute(insert(f"g{n}"))
    # then
    assert len(checkouts) == 1


async def test_a_write_that_found_the_lock_held_too_long_fails_and_the_next_write_works(
    database_url: str,
) -> None:
    # given: another connection (as another process would) holds the write lock
    database = Database(make_settings(database_url, entitle_sqlite_busy_timeout_s=0.2))
    other = sqlite3.connect(database_url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None)
    try:
        async with database.write() as session:  # the writer's connection is open
            await session.execute(insert("g0"))
        other.execute("BEGIN IMMEDIATE")
        # when
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            async with database.write() as session:
                await session.execute(insert("g1"))
        other.execute("COMMIT")
        async with database.write() as session:
            await session.execute(insert("g2"))
        # then
        assert committed_keys(database_url) == {"g0", "g2"}
    finally:
        other.close()
        await database.dispose()
