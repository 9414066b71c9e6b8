"""The process-wide state the API runs on: database, caches, the change feed's tail, authenticator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager

from entitle.auth import Authenticator, create_api_key
from entitle.clock import now
from entitle.db.engine import Database
from entitle.db.feed import DatabaseFeedSource
from entitle.db.health import DatabaseHealth, unavailable_reason
from entitle.db.repositories import Session, changes
from entitle.db.repositories.usage import UsageReader
from entitle.domain.changes import Change, NewChange, touched
from entitle.services.access import AccessService, Clock
from entitle.services.background.decision_log import DecisionLog
from entitle.services.background.feed import ChangeFeed
from entitle.services.background.scheduler import ChangeScheduler
from entitle.services.background.webhooks import WebhookWorker
from entitle.services.caches import CatalogCache, SubjectCache
from entitle.services.reservations import ReservationService
from entitle.services.usage import Metering, UsageService
from entitle.services.usage_history import UsageHistoryService
from entitle.services.writes import current_scope
from entitle.settings import Settings


def _decision_log(settings: Settings, database: Database, health: DatabaseHealth) -> DecisionLog | None:
    if settings.entitle_decision_log == "off":
        return None
    return DecisionLog(
        database,
        settings.entitle_decision_log,
        days=settings.entitle_decision_log_days,
        capacity=settings.entitle_decision_log_queue,
        flush_s=settings.entitle_decision_log_flush_ms / 1000,
        health=health,
    )


class Runtime:
    def __init__(self, settings: Settings, clock: Clock = now) -> None:
        """``clock`` is "now" for the decisions and the metering (a decision or a usage report asked
        without ``at``, a hold's expiry, a period boundary); tests inject a fixed one."""
        self.settings = settings
        self.clock = clock
        """The same clock, for what the API shows "as of now" (an entitlement's status, the status filter)."""
        self.database = Database(settings)
        self.health = DatabaseHealth()
        self._ping_task: asyncio.Future[None] | None = None
        self.catalog = CatalogCache(self.database)
        self.subjects = SubjectCache(
            self.database,
            max_entries=settings.entitle_subject_cache_size,
            max_bytes=settings.entitle_subject_cache_mb * 1024 * 1024,
        )
        self.access = AccessService(self.catalog, self.subjects, UsageReader(self.database), clock)
        """isEntitledTo and effectiveEntitlements."""
        self.auth = Authenticator(settings, self.database)
        self.feed = ChangeFeed(
            DatabaseFeedSource(self.database),
            settings.entitle_cache_poll_ms / 1000,
            [self.evict],
            health=self.health,
            max_stale_s=settings.entitle_cache_max_stale_s,
            on_stale=self.drop_caches,
            idle_poll_s=settings.entitle_cache_idle_poll_ms / 1000,
        )
        metering = Metering(self.database, self.catalog, self.subjects, self.feed, self.write, clock)
        self.usage = UsageService(metering)
        """reportUsage."""
        self.reservations = ReservationService(metering)
        """reserveUsage, commitUsage, releaseUsage."""
        self.usage_history = UsageHistoryService(metering)
        """usage (a subject's periods)."""
        self.webhooks = (
            WebhookWorker(self.database, settings, self.health) if settings.entitle_webhooks else None
        )
        self.scheduler = (
            ChangeScheduler(self.write, health=self.health) if settings.entitle_scheduler else None
        )
        self.decision_log = _decision_log(settings, self.database, self.health)
        """None when ``ENTITLE_DECISION_LOG=off``: the resolver then records nothing."""

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
        await self.feed.start()
        if self.webhooks is not None:
            await self.webhooks.start()
        if self.scheduler is not None:
            await self.scheduler.start()
        if self.decision_log is not None:
            await self.decision_log.start()

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
        if self.decision_log is not None:  # writes what is still queued
            await self.decision_log.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()
        await self.feed.stop()
        if self._ping_task is not None and not self._ping_task.done():
            self._ping_task.cancel()
            with contextlib.suppress(BaseException):
                await self._ping_task
        await self.database.dispose()

    def drop_caches(self) -> None:
        """Forget everything cached (nothing can be known fresh while the feed cannot be read)."""
        self.catalog.invalidate()
        self.subjects.invalidate()

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
