"""The process-wide state the API runs on: database, caches, authenticator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from entitle.auth import Authenticator, create_api_key
from entitle.db import revisions
from entitle.db.engine import Database
from entitle.db.health import DatabaseHealth, unavailable_reason
from entitle.db.revisions import Scope
from entitle.domain.errors import Conflict
from entitle.services.caches import CatalogCache, RevisionWatcher, SubjectCache
from entitle.settings import Settings


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings)
        self.health = DatabaseHealth()
        self._ping_task: asyncio.Future[None] | None = None
        self.catalog = CatalogCache(self.database)
        self.subjects = SubjectCache(self.database)
        self.auth = Authenticator(settings, self.database)
        self._invalidators = {
            Scope.CATALOG: self.catalog.invalidate,
            Scope.SUBJECTS: self.subjects.invalidate,
        }
        self.watcher = RevisionWatcher(
            self.database,
            settings.entitle_cache_poll_ms / 1000,
            dict(self._invalidators),
            health=self.health,
            max_stale_s=settings.entitle_cache_max_stale_s,
        )

    async def start(self) -> None:
        """Start serving even when the database is down (requests answer SERVICE_UNAVAILABLE until it
        is back): a worker that crashed instead would only be restarted into the same outage."""
        if self.settings.entitle_bootstrap_api_key:
            try:
                await create_api_key(
                    self.database, "bootstrap", secret=self.settings.entitle_bootstrap_api_key
                )
            except Exception as exc:
                reason = unavailable_reason(exc)
                if reason is None:
                    raise
                self.health.failed(reason)  # `entitle serve` created the key before starting workers
        await self.watcher.start()

    async def database_ready(self, timeout_s: float) -> bool:
        """Whether the database answers a ``SELECT 1`` within ``timeout_s`` (reported to ``health``)."""
        try:
            await asyncio.wait_for(asyncio.shield(self._ping()), timeout_s)
        except Exception as exc:
            self.health.failed(unavailable_reason(exc) or f"readiness check failed ({type(exc).__name__})")
            return False
        self.health.succeeded()
        return True

    def _ping(self) -> asyncio.Future[None]:
        """The ping under way, or a new one: a frozen database does not pile up a connection per probe."""
        if self._ping_task is None or self._ping_task.done():
            self._ping_task = asyncio.ensure_future(self.database.ping())
            # Outlives a timed-out probe: its failure is reported by the probe, not as "never retrieved".
            self._ping_task.add_done_callback(lambda task: task.cancelled() or task.exception())
        return self._ping_task

    async def stop(self) -> None:
        await self.watcher.stop()
        if self._ping_task is not None and not self._ping_task.done():
            self._ping_task.cancel()
            with contextlib.suppress(BaseException):
                await self._ping_task
        await self.database.dispose()

    @asynccontextmanager
    async def write(self, *scopes: Scope) -> AsyncIterator[AsyncSession]:
        """A write transaction that marks ``scopes`` changed for every process once it commits."""
        try:
            async with self.database.write() as session:
                yield session
                bumped = {scope: await revisions.bump(session, scope) for scope in scopes}
        except IntegrityError:
            # The checks before the write passed, so a concurrent write took the key (or removed a
            # referenced row) between them and the commit.
            raise Conflict("the change conflicts with a concurrent change; retry it") from None
        for scope, value in bumped.items():
            self._invalidators[scope]()
            self.watcher.saw(scope, value)
