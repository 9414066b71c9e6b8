"""The change feed's storage: appended in the writer's transaction, read in revision order, never skipped.

The classic outbox pitfall: a transaction that took its sequence number early but commits late. A
reader that tails by sequence number alone would move past it and never see it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from entitle.db.repositories import changes
from entitle.domain.changes import START, ChangeKind, NewChange, Revision

AT = datetime(2030, 1, 1, tzinfo=UTC)


def granted(tenant: str) -> NewChange:
    return NewChange(ChangeKind.ENTITLEMENT_GRANTED, tenant_key=tenant, payload={"tenantKey": tenant})


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


async def read_all(engine: AsyncEngine, after: Revision = START) -> list[str]:
    async with engine.connect() as connection:
        return [c.tenant_key or "" for c in await changes.read_after(connection, after)]


async def test_changes_are_read_back_in_the_order_they_were_appended(engine: AsyncEngine) -> None:
    # given
    sessions = async_sessionmaker(engine)
    revisions = []
    for batch in (["a", "b"], ["c"], ["d", "e", "f"]):
        async with sessions() as session, session.begin():
            revisions.append(await changes.append(session, [granted(t) for t in batch], AT))
    # when
    async with engine.connect() as connection:
        feed = await changes.read_after(connection, START)
        newest = await changes.latest(connection)
        after_first = await changes.read_after(connection, feed[1].revision)
    # then
    assert [c.tenant_key for c in feed] == ["a", "b", "c", "d", "e", "f"]
    assert [str(c.revision) for c in feed] == sorted(str(c.revision) for c in feed)
    assert revisions == [feed[1].revision, feed[2].revision, feed[5].revision]
    assert newest == feed[5].revision
    assert [c.tenant_key for c in after_first] == ["c", "d", "e", "f"]
    assert feed[0].kind is ChangeKind.ENTITLEMENT_GRANTED
    assert feed[0].payload == {"tenantKey": "a"}
    assert Revision.parse(str(newest)) == newest


async def test_a_rolled_back_write_leaves_no_change(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine)
    async with sessions() as session:
        await session.begin()
        await changes.append(session, [granted("ghost")], AT)
        await session.rollback()
    assert await read_all(engine) == []


async def test_a_late_commit_with_an_earlier_number_is_never_skipped(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: a transaction cannot commit behind another")
    sessions = async_sessionmaker(engine)
    async with sessions() as early, sessions() as late:
        # given: `late` takes its transaction id first but appends last; `early` appends first
        await late.begin()
        await late.execute(sa.text("SELECT pg_current_xact_id()"))
        await early.begin()
        await early.execute(sa.text("SELECT pg_current_xact_id()"))
        await early.execute(sa.text("SELECT 1"))
        await changes.append(early, [granted("early")], AT)  # the lower id
        await changes.append(late, [granted("late")], AT)  # the higher id, the older transaction
        # when: the older transaction commits first; a reader tails
        await late.commit()
        first_read = await read_all(engine)
        # then it sees nothing yet would be unsafe only if `early` could sort before what it saw
        await early.commit()
    async with engine.connect() as connection:
        seen = await changes.read_after(connection, START)
    assert first_read == ["late"]
    assert [c.tenant_key for c in seen] == ["late", "early"]
    # and a reader positioned after what it first saw still gets the late commit
    assert await read_all(engine, seen[0].revision) == ["early"]


async def test_a_running_transaction_holds_back_newer_changes_until_it_ends(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers")
    sessions = async_sessionmaker(engine)
    async with sessions() as slow, sessions() as quick:
        # given: a transaction that has started writing but not yet appended
        await slow.begin()
        await slow.execute(sa.text("SELECT pg_current_xact_id()"))
        # when: a newer transaction appends and commits
        async with quick.begin():
            await changes.append(quick, [granted("quick")], AT)
        # then: its change waits until every older transaction has ended (the slow one might append)
        assert await read_all(engine) == []
        await changes.append(slow, [granted("slow")], AT)
        await slow.commit()
    assert await read_all(engine) == ["slow", "quick"]


async def test_a_long_transaction_in_another_database_does_not_hold_the_feed_back(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    from tests.conftest import PG_BASE

    other = create_async_engine(f"{PG_BASE}/postgres")
    try:
        async with other.connect() as elsewhere:
            # given: a transaction with an id, running in another database of the cluster
            await elsewhere.execute(sa.text("SELECT pg_current_xact_id()"))
            # when: a write here commits
            async with async_sessionmaker(engine)() as session, session.begin():
                await changes.append(session, [granted("here")], AT)
            # then: it is readable at once
            assert await read_all(engine) == ["here"]
            await elsewhere.rollback()
    finally:
        await other.dispose()


async def test_reading_after_a_position_seeks_it_in_the_index(engine: AsyncEngine) -> None:
    """SQLite's planner seeks a row value ``(txid, id) > (?, ?)`` on its first column only, and
    ``txid`` is 0 in every SQLite row: the read scanned the whole feed before its position (18 ms
    a read at 200,000 changes). The statement the feed really runs must seek on both columns."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL seeks row values in a btree index")
    # given
    sessions = async_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await changes.append(session, [granted(t) for t in "abcd"], AT)
    seen: list[tuple[str, object]] = []

    def keep(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        async with engine.connect() as connection:
            # when
            read = await changes.read_after(connection, Revision(0, 2), payloads=False)
            statement, parameters = next((s, p) for s, p in seen if "FROM changes" in s)
            plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", keep)
    # then
    assert [c.tenant_key for c in read] == ["c", "d"]
    assert "ix_changes_position (txid=? AND id>?)" in " ".join(str(row[-1]) for row in plan), plan
