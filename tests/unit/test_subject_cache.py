"""The subject cache alone: bounds, evictions by tenant / user / membership, one load per key at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from entitle.domain.model import AssignLevel, EntitlementRecord, Subject, SubjectRef
from entitle.services import caches
from entitle.services.caches import SubjectCache, estimated_bytes

JAN_1 = datetime(2025, 1, 1, tzinfo=UTC)


class FakeDatabase:
    def __init__(self) -> None:
        self.loads: list[tuple[str | None, str | None]] = []
        self.gate: asyncio.Event | None = None
        self.entitlements = 1
        self.is_sqlite = False
        """SQLite's reads run inline: the cache then loads in the caller's task."""
        self.loading_tasks: list[asyncio.Task[Any] | None] = []

    @asynccontextmanager
    async def lookup(self) -> AsyncIterator[FakeDatabase]:
        yield self


async def fake_load(database: FakeDatabase, tenant_key: str | None, user_key: str | None) -> Subject:
    database.loads.append((tenant_key, user_key))
    database.loading_tasks.append(asyncio.current_task())
    if database.gate is not None:
        await database.gate.wait()
    records = tuple(
        EntitlementRecord(id=i, assign_level=AssignLevel.TENANT, start_date=JAN_1, created_at=JAN_1)
        for i in range(database.entitlements)
    )
    return Subject(
        tenant_key,
        user_key,
        tenant=None if tenant_key is None else SubjectRef(1, tenant_key),
        user=None if user_key is None else SubjectRef(2, user_key),
        is_member=True,
        entitlements=records,
    )


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> FakeDatabase:
    monkeypatch.setattr(caches, "load_subject", fake_load)
    return FakeDatabase()


def cache(database: FakeDatabase, **bounds: Any) -> SubjectCache:
    return SubjectCache(database, **bounds)  # type: ignore[arg-type]


async def test_a_cached_subject_is_not_loaded_again(database: FakeDatabase) -> None:
    subjects = cache(database)
    first = await subjects.get("acme", "alice")
    assert subjects.peek("acme", "alice") is first
    assert database.loads == [("acme", "alice")]


async def test_the_least_recently_used_subject_goes_first_past_the_count(database: FakeDatabase) -> None:
    subjects = cache(database, max_entries=2)
    await subjects.get("a", None)
    await subjects.get("b", None)
    assert subjects.peek("a", None) is not None  # a is now the most recently used
    await subjects.get("c", None)
    assert subjects.peek("b", None) is None
    assert subjects.peek("a", None) is not None
    assert len(subjects) == 2


async def test_the_estimated_bytes_bound_the_cache_too(database: FakeDatabase) -> None:
    database.entitlements = 3
    one = estimated_bytes(await fake_load(database, "x", None))
    subjects = cache(database, max_bytes=one * 2 + one // 2)
    for key in ("a", "b", "c", "d"):
        await subjects.get(key, None)
    assert len(subjects) == 2
    assert subjects.estimated_bytes == one * 2
    assert [subjects.peek(k, None) is not None for k in ("a", "b", "c", "d")] == [False, False, True, True]


async def test_a_tenant_eviction_drops_the_tenant_and_its_members_only(database: FakeDatabase) -> None:
    subjects = cache(database)
    for key in (("acme", None), ("acme", "alice"), ("globex", "alice"), (None, "alice"), ("globex", None)):
        await subjects.get(*key)
    subjects.evict([("acme", None)])
    assert subjects.peek("acme", None) is None
    assert subjects.peek("acme", "alice") is None
    assert subjects.peek("globex", "alice") is not None
    assert subjects.peek(None, "alice") is not None
    assert subjects.peek("globex", None) is not None
    await subjects.get("acme", "alice")  # reloaded after the eviction: fresh again
    assert subjects.peek("acme", "alice") is not None


async def test_a_user_eviction_drops_the_user_in_every_context(database: FakeDatabase) -> None:
    subjects = cache(database)
    for key in (("acme", "alice"), ("globex", "alice"), (None, "alice"), ("acme", "bob"), ("acme", None)):
        await subjects.get(*key)
    subjects.evict([(None, "alice")])
    assert [subjects.peek(*k) is None for k in (("acme", "alice"), ("globex", "alice"), (None, "alice"))] == [
        True,
        True,
        True,
    ]
    assert subjects.peek("acme", "bob") is not None
    assert subjects.peek("acme", None) is not None


async def test_a_membership_eviction_drops_that_pair_only(database: FakeDatabase) -> None:
    subjects = cache(database)
    for key in (("acme", "alice"), ("acme", None), (None, "alice")):
        await subjects.get(*key)
    subjects.evict([("acme", "alice")])
    assert subjects.peek("acme", "alice") is None
    assert subjects.peek("acme", None) is not None
    assert subjects.peek(None, "alice") is not None


async def test_stamps_are_forgotten_once_they_outnumber_the_entries(database: FakeDatabase) -> None:
    subjects = cache(database)
    await subjects.get("acme", "alice")
    await subjects.get("keep", None)
    subjects.evict([("acme", None)])
    subjects.evict([(f"t{n}", None) for n in range(1_001)])
    assert subjects.peek("acme", "alice") is None
    assert subjects.peek("keep", None) is not None
    assert subjects._tenant_stamps == {}


async def test_concurrent_asks_for_one_subject_load_it_once(database: FakeDatabase) -> None:
    subjects = cache(database)
    database.gate = asyncio.Event()
    asks = [asyncio.ensure_future(subjects.get("acme", "alice")) for _ in range(5)]
    await asyncio.sleep(0)
    database.gate.set()
    loaded = await asyncio.gather(*asks)
    assert database.loads == [("acme", "alice")]
    assert all(subject is loaded[0] for subject in loaded)


async def test_a_load_that_raced_an_eviction_is_not_stored_nor_joined(database: FakeDatabase) -> None:
    subjects = cache(database)
    database.gate = asyncio.Event()
    before = asyncio.ensure_future(subjects.get("acme", "alice"))
    await asyncio.sleep(0)
    subjects.evict([("acme", None)])
    after = asyncio.ensure_future(subjects.get("acme", "alice"))  # asked after the write: loads afresh
    await asyncio.sleep(0)
    database.gate.set()
    await asyncio.gather(before, after)
    assert database.loads == [("acme", "alice"), ("acme", "alice")]
    assert subjects.peek("acme", "alice") is not None  # the load begun after the eviction was stored


async def test_on_sqlite_a_miss_loads_in_the_callers_task(database: FakeDatabase) -> None:
    # given: inline reads (SQLite), where a load never suspends and a task would only cost loop turns
    database.is_sqlite = True
    subjects = cache(database)
    # when
    first = await subjects.get("acme", "alice")
    # then: loaded by this task, and stored like any other load
    assert database.loading_tasks == [asyncio.current_task()]
    assert subjects.peek("acme", "alice") is first


async def test_elsewhere_a_miss_loads_in_a_shared_task(database: FakeDatabase) -> None:
    # given / when
    await cache(database).get("acme", "alice")
    # then
    assert database.loading_tasks != [asyncio.current_task()]
