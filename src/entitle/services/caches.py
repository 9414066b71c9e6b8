"""Per-process caches for the hot path, kept correct across processes.

- The catalog snapshot is loaded once per ``catalog`` revision.
- A subject's context (rows, membership, entitlements) is cached per ``(tenant_key, user_key)``
  and dropped whenever the ``subjects`` revision moves.

A write in this process invalidates at once (the very next request sees it); other processes
notice within one poll interval (``ENTITLE_CACHE_POLL_MS``, 50 ms by default) by reading the
``revisions`` row. A load that raced an invalidation is not stored (generation check).

While the database is unreachable the revision cannot be read, so nothing in the caches is known
fresh any more. They keep being served for ``ENTITLE_CACHE_MAX_STALE_S`` (30 s) after the last
successful check, so a short outage or failover does not fail the checks this process can answer
from memory; past that bound they are dropped, and what needs the database answers
``SERVICE_UNAVAILABLE`` until it is back. The first successful check afterwards drops whatever
changed meanwhile, as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from entitle.db import revisions
from entitle.db.engine import Database
from entitle.db.health import DatabaseHealth, unavailable_reason
from entitle.db.repositories.catalog import CatalogSnapshot, load_snapshot
from entitle.db.repositories.subject_context import load_subject
from entitle.domain.model import Subject

log = logging.getLogger(__name__)

SubjectKey = tuple[str | None, str | None]


class CatalogCache:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._snapshot: CatalogSnapshot | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1
        self._snapshot = None

    def peek(self) -> CatalogSnapshot | None:
        """The current snapshot when it is loaded (the steady state), without awaiting."""
        return self._snapshot

    async def get(self) -> CatalogSnapshot:
        snapshot = self._snapshot
        if snapshot is not None:
            return snapshot
        async with self._lock:
            if self._snapshot is not None:
                return self._snapshot
            generation = self._generation
            async with self._database.read() as session:
                snapshot = await load_snapshot(session, revision=generation)
            if generation == self._generation:
                self._snapshot = snapshot
            return snapshot


class SubjectCache:
    MAX_ENTRIES = 100_000

    def __init__(self, database: Database) -> None:
        self._database = database
        self._entries: dict[SubjectKey, Subject] = {}
        self._generation = 0

    def invalidate(self) -> None:
        self._generation += 1
        self._entries = {}

    def peek(self, tenant_key: str | None, user_key: str | None) -> Subject | None:
        return self._entries.get((tenant_key, user_key))

    async def get(self, tenant_key: str | None, user_key: str | None) -> Subject:
        key = (tenant_key, user_key)
        subject = self._entries.get(key)
        if subject is not None:
            return subject
        generation = self._generation
        async with self._database.lookup() as connection:
            subject = await load_subject(connection, tenant_key, user_key)
        if generation == self._generation:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries = {}
            self._entries[key] = subject
        return subject


class RevisionWatcher:
    """Polls the ``revisions`` row and calls the scope's invalidator when it moves.

    The poll is also the process's heartbeat: each one tells ``health`` whether the database answered.
    """

    def __init__(
        self,
        database: Database,
        interval_s: float,
        invalidators: dict[revisions.Scope, Callable[[], None]],
        *,
        health: DatabaseHealth | None = None,
        max_stale_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._interval = interval_s
        self._invalidators = invalidators
        self._health = health or DatabaseHealth()
        self._max_stale = max_stale_s
        self._clock = clock
        self._seen: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._fresh_at = clock()
        """When the caches were last known fresh (the last successful check)."""
        self._logged_unexpected = False
        self.checks = 0
        """Completed checks, so tests can wait for "the next poll" instead of guessing at time."""

    async def start(self) -> None:
        """Check once (a database that is down now does not stop the process), then poll."""
        await self.poll()
        self._task = asyncio.create_task(self._run(), name="entitle-revision-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def saw(self, scope: revisions.Scope, value: int) -> None:
        """This process wrote ``value`` (and invalidated itself): the poll need not drop caches again."""
        if value > self._seen.get(scope.value, 0):
            self._seen[scope.value] = value

    async def check(self) -> None:
        async with self._database.lookup() as connection:
            current = await revisions.read_all(connection)
        for scope, invalidate in self._invalidators.items():
            value = current.get(scope.value, 0)
            if self._seen.get(scope.value) != value:
                self._seen[scope.value] = value
                invalidate()
        self._fresh_at = self._clock()
        self.checks += 1

    async def poll(self) -> bool:
        """One check; a failure is reported to ``health`` (never raised), and past ``max_stale_s``
        without a successful check the caches are dropped."""
        try:
            await self.check()
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                reason = f"revision check failed ({type(exc).__name__})"
                if not self._logged_unexpected:  # a bug, not an outage: one traceback, not one per poll
                    log.exception("revision check failed")
                    self._logged_unexpected = True
            self._health.failed(reason)
            if self._clock() - self._fresh_at >= self._max_stale:
                for invalidate in self._invalidators.values():
                    invalidate()
            return False
        self._logged_unexpected = False
        self._health.succeeded()
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.poll()
