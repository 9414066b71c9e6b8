"""Each process tails the change feed: another process's write reaches it (NOTIFY on PostgreSQL, a poll
on SQLite), in order, once; consistency tokens wait for a revision; subscribers get every change."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from entitle.db.engine import Database
from entitle.db.feed import DatabaseFeedSource
from entitle.db.repositories import changes
from entitle.domain.changes import Change, ChangeKind, NewChange, Revision
from entitle.services.background.feed import ChangeFeed
from tests.conftest import make_settings

AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(make_settings(database_url))
    yield database
    await database.dispose()


async def write(database: Database, *tenants: str) -> Revision:
    async with database.write() as session:
        revision = await changes.append(
            session, [NewChange(ChangeKind.TENANT_UPSERTED, tenant_key=t) for t in tenants], AT
        )
    assert revision is not None
    return revision


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.arrived = asyncio.Event()

    def __call__(self, batch: Sequence[Change]) -> None:
        self.seen += [c.tenant_key or "" for c in batch]
        self.arrived.set()


def poll_interval(database: Database) -> float:
    # On PostgreSQL a poll far slower than the bound proves that LISTEN/NOTIFY woke the reader.
    return 0.02 if database.is_sqlite else 30.0


async def test_a_write_reaches_another_process_tail_promptly_and_once(database: Database) -> None:
    # given: a process tailing the feed, started after an earlier write
    await write(database, "before")
    recorder = Recorder()
    feed = ChangeFeed(DatabaseFeedSource(database), poll_interval(database), [recorder])
    await feed.start()
    try:
        # when: another process writes twice
        await write(database, "a", "b")
        await asyncio.wait_for(recorder.arrived.wait(), 1.0)
        last = await write(database, "c")
        # then: the tail applies them in order, once, and knows the revision it reached
        assert await feed.wait_for(last, 1.0)
        assert recorder.seen == ["a", "b", "c"]
        assert feed.position == last
    finally:
        await feed.stop()


async def test_a_consistency_token_waits_for_its_revision(database: Database) -> None:
    feed = ChangeFeed(DatabaseFeedSource(database), 30.0)
    await feed.start()
    try:
        revision = await write(database, "x")
        # a request carrying the writer's token reads the feed at once rather than waiting for a poll
        assert await feed.wait_for(revision, 0.5)
        assert not await feed.wait_for(Revision(revision.txid, revision.seq + 1_000), 0.05)
    finally:
        await feed.stop()


async def test_subscribers_receive_every_change_after_they_subscribe(database: Database) -> None:
    feed = ChangeFeed(DatabaseFeedSource(database), poll_interval(database))
    await feed.start()
    try:
        async with feed.subscribe() as queue:
            await write(database, "one")
            await write(database, "two", "three")
            received = [await asyncio.wait_for(queue.get(), 1.0) for _ in range(3)]
        assert [c.tenant_key for c in received if c is not None] == ["one", "two", "three"]
    finally:
        await feed.stop()


async def test_with_notifications_an_idle_tail_reads_rarely_and_one_held_back_change_fast(
    database: Database,
) -> None:
    """PostgreSQL: while notifications arrive and nothing is left to read, the tail waits for them (its
    poll slows to the idle pace); a change it was told of but cannot read yet (an older transaction is
    still open: the horizon holds it back) makes it poll at the fast pace until it can."""
    if database.is_sqlite:
        pytest.skip("SQLite has no notifications: its tail always polls")
    recorder = Recorder()
    feed = ChangeFeed(DatabaseFeedSource(database), 0.02, [recorder], idle_poll_s=30.0)
    await feed.start()
    try:
        # idle: no read in 0.3 s but the one under way
        await asyncio.sleep(0.05)
        checks = feed.checks
        await asyncio.sleep(0.3)
        assert feed.checks - checks <= 1
        # an open transaction holds a transaction id and will append nothing (so it notifies nothing)
        async with database.write() as blocker:
            await blocker.execute(sa.text("SELECT pg_current_xact_id()"))
            await write(database, "held")  # commits and notifies; the horizon hides it for now
            await asyncio.sleep(0.1)
            assert recorder.seen == []
        # when the blocker ends (no notification), the fast poll reads the change within moments
        await asyncio.wait_for(recorder.arrived.wait(), 1.0)
        assert recorder.seen == ["held"]
    finally:
        await feed.stop()


async def test_a_token_held_back_by_an_older_transaction_is_applied_once_that_transaction_ends(
    database: Database,
) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite serializes writers: no older transaction can be running")
    # given: a tail that polls only every 30 s (NOTIFY is what wakes it), and an older transaction that
    # holds a transaction id but will append nothing (so it will notify nobody when it ends)
    feed = ChangeFeed(DatabaseFeedSource(database), 30.0)
    await feed.start()
    try:
        async with database.engine.connect() as older:
            await older.execute(sa.text("SELECT pg_current_xact_id()"))
            revision = await write(database, "x")  # committed, but behind the older transaction's horizon
            waiting = asyncio.create_task(feed.wait_for(revision, 3.0))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            # when: the older transaction ends without a change
            await older.rollback()
            ended = time.monotonic()
            # then: the token is applied promptly, not at the next poll nor after the request's timeout
            assert await waiting
            assert time.monotonic() - ended < 0.5
    finally:
        await feed.stop()
