"""The catalog cache alone: one load however many callers miss, all resumed in one turn of the loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from entitle.services import caches
from entitle.services.caches import CatalogCache


class FakeDatabase:
    def __init__(self) -> None:
        self.loads = 0
        self.gate = asyncio.Event()
        self.fail = False

    @asynccontextmanager
    async def read(self) -> AsyncIterator[FakeDatabase]:
        yield self


async def fake_load(database: FakeDatabase, revision: int) -> Any:
    database.loads += 1
    await database.gate.wait()
    if database.fail:
        raise OSError("the database went away")
    return ("snapshot", revision, database.loads)


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> FakeDatabase:
    monkeypatch.setattr(caches, "load_snapshot", fake_load)
    return FakeDatabase()


def cache(database: FakeDatabase) -> CatalogCache:
    return CatalogCache(database)  # type: ignore[arg-type]


async def test_concurrent_misses_load_once_and_all_resume_in_one_turn(database: FakeDatabase) -> None:
    # given: 50 callers waiting on a cold catalog
    catalog = cache(database)
    callers = [asyncio.ensure_future(catalog.get()) for _ in range(50)]
    await asyncio.sleep(0)
    # when: the load completes, and the loop turns a few times (a lock resumed one waiter per turn)
    database.gate.set()
    for _ in range(3):
        await asyncio.sleep(0)
    # then
    assert all(c.done() for c in callers)
    assert database.loads == 1
    assert {c.result() for c in callers} == {("snapshot", 0, 1)}
    assert catalog.peek() == ("snapshot", 0, 1)


async def test_a_load_that_raced_an_invalidation_is_not_stored_nor_joined(database: FakeDatabase) -> None:
    # given: a load under way
    catalog = cache(database)
    first = asyncio.ensure_future(catalog.get())
    await asyncio.sleep(0)
    # when: the catalog changes meanwhile, and another caller asks
    catalog.invalidate()
    second = asyncio.ensure_future(catalog.get())
    await asyncio.sleep(0)
    database.gate.set()
    await asyncio.gather(first, second)
    # then: the later caller loaded afresh, and only its snapshot is kept
    assert database.loads == 2
    assert catalog.peek() == second.result() == ("snapshot", 1, 2)


async def test_a_failed_load_fails_its_callers_and_the_next_call_loads_again(database: FakeDatabase) -> None:
    # given
    catalog = cache(database)
    database.fail = True
    database.gate.set()
    callers = [asyncio.ensure_future(catalog.get()) for _ in range(3)]
    # when
    results = await asyncio.gather(*callers, return_exceptions=True)
    # then
    assert all(isinstance(r, OSError) for r in results)
    database.fail = False
    assert await catalog.get() == ("snapshot", 0, 2)


async def test_a_caller_that_gives_up_does_not_cancel_the_others_load(database: FakeDatabase) -> None:
    # given
    catalog = cache(database)
    quitter = asyncio.ensure_future(catalog.get())
    stayer = asyncio.ensure_future(catalog.get())
    await asyncio.sleep(0)
    # when
    quitter.cancel()
    await asyncio.sleep(0)
    database.gate.set()
    # then
    assert await stayer == ("snapshot", 0, 1)
