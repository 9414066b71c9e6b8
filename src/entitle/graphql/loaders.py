"""Per-request dataloaders (aiodataloader), one per relation, created on first use.

Catalog relations resolve from the in-memory catalog snapshot (no SQL once it is loaded);
tenants, users and entitlements are fetched with one ``IN`` statement per batch, so a page's
statement count does not grow with its size.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from aiodataloader import DataLoader

from entitle.db.pagination import Ordering, Page, PageArgs, count_many, paginate_many
from entitle.db.repositories.catalog import CatalogSnapshot
from entitle.db.tables import CHANGES, ENTITLEMENTS, TENANTS, USERS, WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS
from entitle.domain.model import Subject
from entitle.services.runtime import Runtime


class _RowsByIdLoader(DataLoader[Any, Any]):
    """Rows of ``table`` by primary key; missing ids load as None."""

    table: sa.Table

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    async def batch_load_fn(self, ids: Sequence[int]) -> list[Any]:
        async with self.runtime.database.lookup() as connection:
            rows = await connection.execute(sa.select(self.table).where(self.table.c.id.in_(list(ids))))
            by_id = {row.id: row for row in rows}
        return [by_id.get(i) for i in ids]


class TenantByIdLoader(_RowsByIdLoader):
    table = TENANTS


class UserByIdLoader(_RowsByIdLoader):
    table = USERS


class EntitlementByIdLoader(_RowsByIdLoader):
    table = ENTITLEMENTS


class WebhookEndpointByIdLoader(_RowsByIdLoader):
    table = WEBHOOK_ENDPOINTS


class WebhookDeliveryByIdLoader(_RowsByIdLoader):
    table = WEBHOOK_DELIVERIES


class ChangeByIdLoader(_RowsByIdLoader):
    table = CHANGES


class _CatalogLoader(DataLoader[Any, Any]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    async def batch_load_fn(self, keys: Sequence[Any]) -> list[Any]:
        snapshot = await self.runtime.catalog.get()
        return [self.pick(snapshot, key) for key in keys]

    def pick(self, snapshot: CatalogSnapshot, key: Any) -> Any:
        raise NotImplementedError


class FeatureByIdLoader(_CatalogLoader):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> Any:
        return snapshot.features.get(key)


class PlanByIdLoader(_CatalogLoader):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> Any:
        return snapshot.plans.get(key)


class PlanFeaturesByPlanIdLoader(_CatalogLoader):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> list[tuple[Any, Any]]:
        return [(snapshot.features[pf.feature_id], pf.value) for pf in snapshot.plan_features.get(key, [])]


class FlagByIdLoader(_CatalogLoader):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> Any:
        return snapshot.flags.get(key)


class FlagFeaturesByFlagIdLoader(_CatalogLoader):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> list[Any]:
        return [snapshot.features[i] for i in snapshot.flag_features.get(key, [])]


class RouteByIdLoader(_CatalogLoader):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> Any:
        return snapshot.routes.get(key)


class SubjectByKeysLoader(DataLoader[Any, Any]):
    """A subject's decision context by ``(tenant_key, user_key)``, loaded once per request."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    async def batch_load_fn(self, keys: Iterable[tuple[str | None, str | None]]) -> list[Subject]:
        return [await self.runtime.subjects.get(t, u) for t, u in keys]


class ChildPages:
    """One page (and the count) of a nested connection for many parents: one query per batch of parents.

    Created per request for one relation and one set of page arguments, so every parent in a list
    asking the same nested connection is answered by the same windowed statement.
    """

    def __init__(
        self, runtime: Runtime, statement: sa.Select[Any], parent: Any, ordering: Ordering, args: PageArgs
    ) -> None:
        async def load_pages(parent_ids: Sequence[int]) -> list[Page]:
            async with runtime.database.lookup() as connection:
                pages = await paginate_many(connection, statement, parent, parent_ids, ordering, args)
            return [pages[i] for i in parent_ids]

        async def load_counts(parent_ids: Sequence[int]) -> list[int]:
            async with runtime.database.lookup() as connection:
                counts = await count_many(connection, statement, parent, parent_ids)
            return [counts[i] for i in parent_ids]

        self.pages: DataLoader[int, Page] = DataLoader(load_pages)
        self.counts: DataLoader[int, int] = DataLoader(load_counts)


class Loaders:
    """Attribute access creates the loader on first use, so unused loaders cost nothing."""

    _kinds: dict[str, Any] = {
        "tenant_by_id": TenantByIdLoader,
        "user_by_id": UserByIdLoader,
        "entitlement_by_id": EntitlementByIdLoader,
        "feature_by_id": FeatureByIdLoader,
        "plan_by_id": PlanByIdLoader,
        "plan_features_by_plan_id": PlanFeaturesByPlanIdLoader,
        "flag_by_id": FlagByIdLoader,
        "flag_features_by_flag_id": FlagFeaturesByFlagIdLoader,
        "route_by_id": RouteByIdLoader,
        "subject_by_keys": SubjectByKeysLoader,
        "webhook_endpoint_by_id": WebhookEndpointByIdLoader,
        "webhook_delivery_by_id": WebhookDeliveryByIdLoader,
        "change_by_id": ChangeByIdLoader,
    }

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._children: dict[Hashable, ChildPages] = {}

    def children(
        self, key: Hashable, statement: sa.Select[Any], parent: Any, ordering: Ordering, args: PageArgs
    ) -> ChildPages:
        """The loader of one nested connection; ``key`` names the relation, its filter and ``args``."""
        loader = self._children.get(key)
        if loader is None:
            loader = self._children[key] = ChildPages(self._runtime, statement, parent, ordering, args)
        return loader

    async def subject(self, tenant_key: str | None, user_key: str | None) -> Subject:
        """A subject's context: straight from the process cache when it is there (no extra
        event-loop turn), else through the per-request loader (concurrent asks load it once)."""
        cached = self._runtime.subjects.peek(tenant_key, user_key)
        if cached is not None:
            return cached
        subject: Subject = await self.subject_by_keys.load((tenant_key, user_key))
        return subject

    def __getattr__(self, name: str) -> DataLoader[Any, Any]:
        kind = self._kinds.get(name)
        if kind is None:
            raise AttributeError(name)
        loader: DataLoader[Any, Any] = kind(self._runtime)
        setattr(self, name, loader)
        return loader
