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

    def __init__(self, database: Database, max_entries: int = MAX_ENTRIES) -> None:
        self._database = database
        self._max = max_entries
        self._entries: OrderedDict[SubjectKey, Subject] = OrderedDict()
        self._by_tenant: dict[str, set[SubjectKey]] = {}
        self._by_user: dict[str, set[SubjectKey]] = {}
        self._evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self) -> None:
        """Drop everything (a catalog-wide reason, or the feed could not be read)."""
        self._evictions += 1
        self._entries.clear()
        self._by_tenant.clear()
        self._by_user.clear()

    def evict(self, touched: Iterable[SubjectKey]) -> None:
        """Evict what the changes touched: ``(t, None)`` the tenant and its members, ``(None, u)`` the
        user in every context, ``(t, u)`` that membership."""
        self._evictions += 1
        for tenant_key, user_key in touched:
            if user_key is None:
                keys = set(self._by_tenant.get(tenant_key or "", ()))
            elif tenant_key is None:
                keys = set(self._by_user.get(user_key, ()))
            else:
                keys = {(tenant_key, user_key)}
            for key in keys:
                self._drop(key)

    def peek(self, tenant_key: str | None, user_key: str | None) -> Subject | None:
        key = (tenant_key, user_key)
        subject = self._entries.get(key)
        record_cache("subjects", subject is not None)
        if subject is not None:
            self._entries.move_to_end(key)
        return subject

    async def get(self, tenant_key: str | None, user_key: str | None) -> Subject:
        """The subject's context, loaded on a miss. Counts no cache lookup: its caller (the request's
        ``Loaders.subject``) asked ``peek`` first, which counted it, so a miss is one miss, not two."""
        subject = self._entries.get((tenant_key, user_key))
        if subject is not None:  # stored by a concurrent request since that peek
            return subject
        evictions = self._evictions
        async with self._database.lookup() as connection:
            subject = await load_subject(connection, tenant_key, user_key)
        if evictions == self._evictions:
            self._store((tenant_key, user_key), subject)
        return subject

    def _store(self, key: SubjectKey, subject: Subject) -> None:
        self._entries[key] = subject
        tenant_key, user_key = key
        if tenant_key is not None:
            self._by_tenant.setdefault(tenant_key, set()).add(key)
        if user_key is not None:
            self._by_user.setdefault(user_key, set()).add(key)
        while len(self._entries) > self._max:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: SubjectKey) -> None:
        if self._entries.pop(key, None) is None:
            return
        tenant_key, user_key = key
        for index, part in ((self._by_tenant, tenant_key), (self._by_user, user_key)):
            if part is not None:
                keys = index.get(part)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[part]
