"""Generation 2 is collected at least once a period, whatever the load (issue: memory over a soak)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

import pytest

from entitle.app import GC_THRESHOLDS, collect_old_garbage


class Node:
    def __init__(self) -> None:
        self.peer: Node = self


async def run_for(seconds: float, every_s: float) -> None:
    task = asyncio.create_task(collect_old_garbage(every_s))
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_cycle_that_reached_generation_2_is_collected_within_a_period() -> None:
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        # given: a reference cycle that survived a generation-1 collection, then became garbage
        node = Node()
        gone = weakref.ref(node)
        gc.collect(1)  # survivors of generations 0 and 1 move to generation 2
        del node
        gc.collect(1)  # young collections do not look at generation 2
        assert gone() is not None
        # when
        await run_for(0.3, every_s=0.05)
        # then
        assert gone() is None
    finally:
        gc.set_threshold(*thresholds)


async def test_no_extra_collection_when_one_ran_in_the_period(monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []
    real_collect = gc.collect

    def counting_collect(generation: int = 2) -> int:
        collected.append(generation)
        return real_collect(generation)

    monkeypatch.setattr(gc, "collect", counting_collect)

    async def collect_often() -> None:
        while True:
            real_collect()  # a full collection the load triggered on its own
            await asyncio.sleep(0.01)

    busy = asyncio.create_task(collect_often())
    try:
        await run_for(0.35, every_s=0.1)
    finally:
        busy.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await busy
    assert collected == []
