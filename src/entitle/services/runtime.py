"""The process-wide state the API runs on: database, caches, authenticator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from entitle.auth import Authenticator, create_api_key
from entitle.db import revisions
from entitle.db.engine import Database
from entitle.db.revisions import Scope
from entitle.domain.errors import Conflict
from entitle.services.background.webhooks import WebhookWorker
from entitle.services.caches import CatalogCache, RevisionWatcher, SubjectCache
from entitle.settings import Settings


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings)
        self.catalog = CatalogCache(self.database)
        self.subjects = SubjectCache(self.database)
        self.auth = Authenticator(settings, self.database)
        self._invalidators = {
            Scope.CATALOG: self.catalog.invalidate,
            Scope.SUBJECTS: self.subjects.invalidate,
        }
        self.watcher = RevisionWatcher(
            self.database, settings.entitle_cache_poll_ms / 1000, dict(self._invalidators)
        )
        self.webhooks = WebhookWorker(self.database, settings) if settings.entitle_webhooks else None

    async def start(self) -> None:
        if self.settings.entitle_bootstrap_api_key:
            await create_api_key(self.database, "bootstrap", secret=self.settings.entitle_bootstrap_api_key)
        await self.watcher.start()
        if self.webhooks is not None:
            await self.webhooks.start()

    async def stop(self) -> None:
        if self.webhooks is not None:
            await self.webhooks.stop()
        await self.watcher.stop()
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
