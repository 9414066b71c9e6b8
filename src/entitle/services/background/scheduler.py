"""Scheduled changes (contract §9): ``ENTITLEMENT_STARTED`` / ``ENTITLEMENT_EXPIRED`` appended when a grant
reaches its start or expiration, and ``USAGE_PERIOD_RESET`` when a metered period with usage ends (the end
stored on its counter), within ``interval_s`` (1 s) of the instant, exactly once.

Every process runs one; each run claims the schedule's cursor row in its write transaction, so with
several workers or replicas one run at a time takes what is due (the others skip the turn), also
across a crash (the cursor and the marks move in the run's transaction). What is due is marked on
the rows, not found by a window of instants: a grant's ``start_pending`` / ``expiry_pending`` (set
by the write that puts the instant after its own clock), a usage counter's ``reset_appended`` (0
until its period's end is dealt with). A run takes every marked row whose instant has come and
clears the mark, so a row committed after its instant (its write read the clock before it, then
waited for the lock) still gets its change, at the next run after its commit; a window would have
passed it. The changes go through the feed like any write: other processes evict the subjects they
touch, subscribers and webhooks hear of them. Grants created with a start that is not in the future
started when they were granted (``ENTITLEMENT_GRANTED`` says so) and get no ``ENTITLEMENT_STARTED``;
a grant revoked before its instant gets nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from entitle.clock import now
from entitle.db.repositories import Session, schedule
from entitle.db.repositories import changes as change_log
from entitle.db.repositories import entitlements as entitlement_rows
from entitle.db.repositories.entitlements import grant_change
from entitle.domain.changes import ChangeKind
from entitle.services.background.turns import TurnFailures
from entitle.services.outages import DatabaseHealth

log = logging.getLogger(__name__)

SCHEDULE = "entitlements"


class ChangeScheduler:
    def __init__(
        self,
        write: Callable[[], AbstractAsyncContextManager[Session]],
        interval_s: float = 1.0,
        health: DatabaseHealth | None = None,
    ) -> None:
        self._write = write
        self._health = health or DatabaseHealth()
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None
        self._failures = TurnFailures(
            self._health, log, f"scheduled changes could not run; retrying every {interval_s} s"
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="entitle-change-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """Append the changes that have come due (marked rows whose instant is at or before now);
        returns how many (0 when another process holds the schedule)."""
        async with self._write() as session:
            until = now()
            after = await schedule.claim_cursor(session, SCHEDULE, until)
            if after is None or after >= until:  # another process has it, or the schedule starts now
                return 0
            started, expired = await schedule.due_grants(session, until)
            keys = await entitlement_rows.keys_of(session, {e.id for e in (*started, *expired)})
            resets = await schedule.usage_periods_ended(session, until)
            change_log.record(
                session,
                *(grant_change(ChangeKind.ENTITLEMENT_STARTED, e, keys[e.id]) for e in started),
                *(grant_change(ChangeKind.ENTITLEMENT_EXPIRED, e, keys[e.id]) for e in expired),
                *resets,
            )
            await schedule.advance_cursor(session, SCHEDULE, until)
        return len(started) + len(expired) + len(resets)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as error:
                self._failures.failed(error)
            else:
                self._failures.succeeded()
            await asyncio.sleep(self._interval)
