"""The process-wide state the API runs on: database, caches, authenticator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from entitle.auth import Authenticator, create_api_key
from entitle.db import revisions
from entitle.db.engine import Database
from entitle.db.repositories import Session
from entitle.db.revisions import Scope
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

    async def start(self) -> None:
        if self.settings.entitle_bootstrap_api_key:
            await create_api_key(self.database, "bootstrap", secret=self.settings.entitle_bootstrap_api_key)
        await self.watcher.start()

    async def stop(self) -> None:
        await self.watcher.stop()
        await self.database.dispose()

    @asynccontextmanager
    async def write(self, *scopes: Scope) -> AsyncIterator[Session]:
        """A write transaction that marks ``scopes`` changed for every process once it commits.

        A concurrent write that wins a unique key raises ``Conflict`` (see ``Database.write``).
        """
        async with self.database.write() as session:
            yield session
            bumped = {scope: await revisions.bump(session, scope) for scope in scopes}
        for scope, value in bumped.items():
            self._invalidators[scope]()
            self.watcher.saw(scope, value)
