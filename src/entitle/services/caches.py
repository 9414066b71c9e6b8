"""Per-process caches for the hot path, kept fresh from the change feed.

- The catalog snapshot is loaded once and dropped on any catalog change.
- A subject's context (rows, membership, entitlements) is cached per ``(tenant_key, user_key)``,
  bounded (least recently used entries go first), and evicted only for the subjects a change
  touches: a tenant-level change evicts that tenant with its members, a user change that user in
  every context, a membership change that pair (contract §9, freshness).

A write in this process evicts at once (the very next request sees it); other processes evict when
their change feed applies it (at once on PostgreSQL's NOTIFY, else within one poll). A load that
raced an eviction is not stored.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable

from entitle.db.engine import Database
from entitle.db.repositories.catalog import CatalogSnapshot, load_snapshot
from entitle.db.repositories.subject_context import load_subject
from entitle.domain.model import Subject
from entitle.metrics import record_cache

SubjectKey = tuple[str | None, str | None]


class CatalogCache:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._snapshot: CatalogSnapshot | None = None
        self._generation = 0
        self._loading: asyncio.Task[CatalogSnapshot] | None = None
        """The load under way for the current generation, awaited by every caller that misses."""

    def invalidate(self) -> None:
        self._generation += 1
        self._snapshot = None
        self._loading = None  # a load under way began before: later callers load afresh

    def peek(self) -> CatalogSnapshot | None:
        """The current snapshot when it is loaded (the steady state), without awaiting."""
        return self._snapshot

    async def get(self) -> CatalogSnapshot:
        """The snapshot, loaded once however many callers miss at the same time. They all await one
        task, so they all resume in one turn of the event loop; behind a lock they resumed one turn
        each, and under a write burst a cold catalog held ``reportUsage`` for seconds."""
        snapshot = self._snapshot
        record_cache("catalog", snapshot is not None)
        if snapshot is not None:
            return snapshot
        loading = self._loading
        if loading is None:
            loading = self._loading = asyncio.ensure_future(self._load(self._generation))
            loading.add_done_callback(self._loaded)
        return await asyncio.shield(loading)  # a caller that gives up does not cancel the others' load

    def _loaded(self, done: asyncio.Task[CatalogSnapshot]) -> None:
        if self._loading is done:
            self._loading = None
        if not done.cancelled():
            done.exception()  # retrieved: its callers raise it (or gave up waiting)

    async def _load(self, generation: int) -> CatalogSnapshot:
        async with self._database.read() as session:
            snapshot = await load_snapshot(session, revision=generation)
        if generation == self._generation:  # not invalidated meanwhile
            self._snapshot = snapshot
        return snapshot


class SubjectCache:
    """Subjects' contexts by ``(tenant_key, user_key)``, least recently used first out.

    Bounded by a count (``ENTITLE_SUBJECT_CACHE_SIZE``) and by an estimate of the bytes the cached
    contexts hold (``ENTITLE_SUBJECT_CACHE_MB``, :func:`estimated_bytes`), whichever binds first.

    Evicting a tenant (with its members) or a user (in every context) does not walk an index: it
    stamps that key with the eviction's number, and an entry loaded before a later stamp of its
    tenant or user is stale (a miss, dropped when met). Only the keys changes touched are stamped;
    the stamps are forgotten once they outnumber the entries (after dropping what they made stale).
    """

    MAX_ENTRIES = 100_000
    MAX_BYTES = 256 * 1024 * 1024

    def __init__(
        self, database: Database, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES
    ) -> None:
        self._database = database
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[SubjectKey, tuple[Subject, int]] = OrderedDict()
        """subject, the eviction number it was loaded after"""
        self._tenant_stamps: dict[str, int] = {}
        self._user_stamps: dict[str, int] = {}
        self._evictions = 0
        self._loading: dict[SubjectKey, asyncio.Task[Subject]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def estimated_bytes(self) -> int:
        return self._bytes

    def invalidate(self) -> None:
        """Drop everything (a catalog-wide reason, or the feed could not be read)."""
        self._evictions += 1
        self._loading.clear()  # a load under way began before: later callers load afresh
        self._entries.clear()
        self._tenant_stamps.clear()
        self._user_stamps.clear()
        self._bytes = 0

    def evict(self, touched: Iterable[SubjectKey]) -> None:
        """Evict what the changes touched: ``(t, None)`` the tenant and its members, ``(None, u)`` the
        user in every context, ``(t, u)`` that membership."""
        self._evictions += 1
        self._loading.clear()  # a load under way began before: later callers load afresh
        stamp = self._evictions
        for tenant_key, user_key in touched:
            if user_key is None:
                self._tenant_stamps[tenant_key or ""] = stamp
            elif tenant_key is None:
                self._user_stamps[user_key] = stamp
            else:
                self._drop((tenant_key, user_key))
        if len(self._tenant_stamps) + len(self._user_stamps) > max(len(self._entries), 1_000):
            self._forget_stamps()

    def peek(self, tenant_key: str | None, user_key: str | None) -> Subject | None:
        key = (tenant_key, user_key)
        entry = self._entries.get(key)
        if entry is not None and self._stale(tenant_key, user_key, entry[1]):
            self._drop(key)
            entry = None
        record_cache("subjects", entry is not None)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def get(self, tenant_key: str | None, user_key: str | None) -> Subject:
        """The subject's context, loaded on a miss, once however many callers ask at the same time.
        Counts no cache lookup: its caller asked ``peek`` first, which counted it, so a miss is one
        miss, not two."""
        key = (tenant_key, user_key)
        entry = self._entries.get(key)
        if entry is not None and not self._stale(tenant_key, user_key, entry[1]):
            return entry[0]  # stored by a concurrent request since that peek
        if self._database.is_sqlite:
            # SQLite reads run inline: the load never suspends, so there is nothing to share and a
            # task would only cost the caller turns of a busy loop (the write-burst tail).
            return await self._load(tenant_key, user_key)
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(tenant_key, user_key))
            loading.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(loading)  # a caller that gives up does not cancel the others' load

    def _loaded(self, key: SubjectKey, done: asyncio.Task[Subject]) -> None:
        if self._loading.get(key) is done:
            del self._loading[key]
        if not done.cancelled():
            done.exception()  # retrieved: its callers raise it (or gave up waiting)

    async def _load(self, tenant_key: str | None, user_key: str | None) -> Subject:
        evictions = self._evictions
        async with self._database.lookup() as connection:
            subject = await load_subject(connection, tenant_key, user_key)
        if evictions == self._evictions:  # a load that raced an eviction is not stored
            self._store((tenant_key, user_key), subject, evictions)
        return subject

    def _stale(self, tenant_key: str | None, user_key: str | None, loaded_after: int) -> bool:
        if tenant_key is not None and self._tenant_stamps.get(tenant_key, 0) > loaded_after:
            return True
        return user_key is not None and self._user_stamps.get(user_key, 0) > loaded_after

    def _store(self, key: SubjectKey, subject: Subject, loaded_after: int) -> None:
        self._drop(key)
        self._entries[key] = (subject, loaded_after)
        self._bytes += estimated_bytes(subject)
        while len(self._entries) > self._max or (self._bytes > self._max_bytes and len(self._entries) > 1):
            self._drop(next(iter(self._entries)))

    def _drop(self, key: SubjectKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= estimated_bytes(entry[0])

    def _forget_stamps(self) -> None:
        for key, (_, loaded_after) in list(self._entries.items()):
            if self._stale(key[0], key[1], loaded_after):
                self._drop(key)
        self._tenant_stamps.clear()
        self._user_stamps.clear()


SUBJECT_BYTES = 400
"""A cached context without entitlements: its entry, key, subject and the tenant's and user's refs
(measured with tracemalloc by ``bench/subject_cache.py``)."""
RECORD_BYTES = 260
"""One entitlement record in it, with its datetimes and value."""


def estimated_bytes(subject: Subject) -> int:
    """What caching ``subject`` costs, roughly (metadata counted by its keys)."""
    size = SUBJECT_BYTES + RECORD_BYTES * len(subject.entitlements)
    for ref in (subject.tenant, subject.user):
        if ref is not None and ref.metadata:
            size += 120 * len(ref.metadata)
    return size
