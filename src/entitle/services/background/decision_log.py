"""The decision log (contract §12, ``ENTITLE_DECISION_LOG=off|denied|all``): decisions are queued in
memory and written in batches by a background task, so recording one never waits on the database.

``record`` appends a tuple to a bounded deque (no I/O, no await); a full queue drops the entry and
counts it (``entitle_decision_log_dropped_total``) instead of growing. The writer wakes every
``flush_s`` (or as soon as a batch is full) and inserts what is queued, ``BATCH`` rows per statement.
On ``stop`` (SIGTERM: after uvicorn has let the in-flight requests finish) it writes what is still
queued. While the database is down, a failed batch goes back to the front of the queue (what does
not fit is dropped and counted) and the outage is reported once, through ``DatabaseHealth``.

Retention: every ``RETENTION_EVERY`` one process (the one that claims the schedule cursor
``decision_log_retention``) deletes entries older than ``ENTITLE_DECISION_LOG_DAYS``, in chunks of
``DELETE_CHUNK`` rows, each its own transaction (a SQLite writer is never held for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime, timedelta
from typing import Literal

from entitle.clock import now
from entitle.db.engine import Database
from entitle.db.repositories import decision_log as repo
from entitle.db.repositories import schedule
from entitle.domain.decision import AccessRequest, Decision
from entitle.metrics import record_decision_log_drop
from entitle.services.background.turns import TurnFailures
from entitle.services.outages import DatabaseHealth

log = logging.getLogger(__name__)

Mode = Literal["off", "denied", "all"]
RETENTION_SCHEDULE = "decision_log_retention"


def _cut(text: str | None, length: int) -> str | None:
    return text if text is None or len(text) <= length else text[:length]


class DecisionLog:
    BATCH = 1_000
    RETENTION_EVERY = timedelta(minutes=1)
    DELETE_CHUNK = 5_000
    STOP_TIMEOUT_S = 5.0

    def __init__(
        self,
        database: Database,
        mode: Mode,
        *,
        days: int = 30,
        capacity: int = 10_000,
        flush_s: float = 1.0,
        health: DatabaseHealth | None = None,
    ) -> None:
        self._database = database
        self._denied_only = mode == "denied"
        self._keep = timedelta(days=days)
        self._capacity = capacity
        self._flush_s = flush_s
        self._health = health or DatabaseHealth()
        self._queue: deque[repo.NewEntry] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = TurnFailures(
            self._health, log, f"decision log: writing failed; retrying every {flush_s} s"
        )
        self._next_retention: datetime | None = None
        self.dropped = 0
        self.written = 0

    def record(
        self,
        tenant_key: str | None,
        user_key: str | None,
        request: AccessRequest,
        decision: Decision,
        actor: str,
    ) -> None:
        """Queue one decision (never blocks; drops and counts it when the queue is full)."""
        if self._denied_only and decision.is_entitled:
            return
        if len(self._queue) >= self._capacity:
            self.dropped += 1
            record_decision_log_drop()
            return
        self._queue.append(
            (
                now(),
                _cut(tenant_key, 128),
                _cut(user_key, 128),
                _cut(request.feature_key, 128),
                _cut(request.permission_key, 128),
                _cut(request.route_method, 16),
                _cut(request.route_path, 1000),
                decision.is_entitled,
                decision.justification,
                request.usage,
                _cut(actor, 200),
            )
        )
        if len(self._queue) >= self.BATCH:
            self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="entitle-decision-log")

    async def stop(self) -> None:
        """Stop the writer, then write what is still queued (bounded by ``STOP_TIMEOUT_S``)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(self.STOP_TIMEOUT_S):
                await self.flush()
        except Exception as error:
            left = len(self._queue)
            log.warning("decision log: %s entries not written at shutdown (%s)", left, type(error).__name__)

    async def flush(self) -> int:
        """Write everything queued now; returns how many entries were written."""
        written = 0
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self.BATCH, len(self._queue)))]
            try:
                async with self._database.write() as session:
                    await repo.insert(session, batch)
            except BaseException:
                self._requeue(batch)
                raise
            written += len(batch)
        self.written += written
        return written

    def _requeue(self, batch: list[repo.NewEntry]) -> None:
        room = max(0, self._capacity - len(self._queue))
        kept = batch[:room]
        self._queue.extendleft(reversed(kept))
        for _ in range(len(batch) - len(kept)):
            self.dropped += 1
            record_decision_log_drop()

    async def delete_expired(self) -> int:
        """Delete entries older than the retention, if this process claims the window; returns how many."""
        until = now()
        async with self._database.write() as session:
            after = await schedule.claim_cursor(session, RETENTION_SCHEDULE, until)
            if after is None or (after < until and until - after < self.RETENTION_EVERY):
                return 0  # another process has it, or it ran less than RETENTION_EVERY ago
            await schedule.advance_cursor(session, RETENTION_SCHEDULE, until)
        deleted = 0
        while True:
            async with self._database.write() as session:
                chunk = await repo.delete_before(session, until - self._keep, self.DELETE_CHUNK)
            deleted += chunk
            if chunk < self.DELETE_CHUNK:
                return deleted

    async def _turn(self) -> None:
        await self.flush()
        at = now()
        if self._next_retention is None or at >= self._next_retention:
            self._next_retention = at + self.RETENTION_EVERY
            await self.delete_expired()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._turn()
            except Exception as error:
                self._failures.failed(error)
            else:
                self._failures.succeeded()
