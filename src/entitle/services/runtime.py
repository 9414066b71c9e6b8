"""The process-wide state the API runs on: database, caches, the change feed's tail, authenticator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager

from entitle.auth import Authenticator, create_api_key
from entitle.clock import now
from entitle.db.engine import Database
from entitle.db.feed import DatabaseFeedSource
from entitle.db.repositories import Session, changes
from entitle.domain.changes import Change, NewChange, touched
from entitle.services.background.feed import ChangeFeed
from entitle.services.caches import CatalogCache, SubjectCache
from entitle.services.writes import current_scope
from entitle.settings import Settings


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings)
        self.catalog = CatalogCache(self.database)
        self.subjects = SubjectCache(self.database)
        self.auth = Authenticator(settings, self.database)
        self.feed = ChangeFeed(
            DatabaseFeedSource(self.database), settings.entitle_cache_poll_ms / 1000, [self.evict]
        )

    async def start(self) -> None:
        if self.settings.entitle_bootstrap_api_key:
            await create_api_key(self.database, "bootstrap", secret=self.settings.entitle_bootstrap_api_key)
        await self.feed.start()

    async def stop(self) -> None:
        await self.feed.stop()
        await self.database.dispose()

    def evict(self, applied: Sequence[Change] | Iterable[NewChange]) -> None:
        """Drop what the changes made stale: the catalog, or just the subjects they touch."""
        subjects: set[tuple[str | None, str | None]] = set()
        for change in applied:
            stale = touched(change)
            if stale.catalog:
                self.catalog.invalidate()
            subjects |= stale.subjects
        if subjects:
            self.subjects.evict(subjects)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Session]:
        """A write transaction; the changes its repositories record are appended to the feed in it.

        Once it commits, this process's caches drop what it touched (the next request sees the
        write) and the request's scope keeps the revision. A concurrent write that wins a unique key
        raises ``Conflict`` (see ``Database.write``).
        """
        scope = current_scope()
        async with self.database.write() as session:
            yield session
            written = changes.take(session)
            revision = await changes.append(session, written, now(), scope.actor)
            appended = session.info.pop(changes.APPENDED, [])
        self.evict(written)
        self.feed.applied_here(appended)
        if revision is not None:
            scope.revision = revision
