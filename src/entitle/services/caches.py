"""Per-process caches for the hot path, kept correct across processes.

- The catalog snapshot is loaded once per ``catalog`` revision.
- A subject's context (rows, membership, entitlements) is cached per ``(tenant_key, user_key)``
  and dropped whenever the ``subjects`` revision moves.

A write in this process invalidates at once (the very next request sees it); other processes
notice within one poll interval (``ENTITLE_CACHE_POLL_MS``, 50 ms by default) by reading the
``revisions`` row. A load that raced an invalidation is not stored (generation check).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from entitle.db import revisions
from entitle.db.engine import Database
from entitle.db.repositories.catalog import CatalogSnapshot, load_snapshot
from entitle.db.repositories.subject_context import load_subject
from entitle.domain.model import Subject
from entitle.metrics import record_cache

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
        record_cache("catalog", snapshot is not None)
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
        record_cache("subjects", subject is not None)
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
    """Polls the ``revisions`` row and calls the scope's invalidator when it moves."""

    def __init__(
        self,
        database: Database,
        interval_s: float,
        invalidators: dict[revisions.Scope, Callable[[], None]],
    ) -> None:
        self._database = database
        self._interval = interval_s
        self._invalidators = invalidators
        self._seen: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.checks = 0
        """Completed checks, so tests can wait for "the next poll" instead of guessing at time."""

    async def start(self) -> None:
        await self.check()
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
        self.checks += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception:  # the database may be briefly unreachable; keep polling
                log.warning("revision check failed; caches are dropped until it succeeds", exc_info=True)
                for invalidate in self._invalidators.values():
                    invalidate()
