"""Per-request dataloaders (aiodataloader), one per relation, created on first use.

Catalog relations resolve from the in-memory catalog snapshot (no SQL once it is loaded);
tenants, users and entitlements are fetched with one ``IN`` statement per batch, so a page's
statement count does not grow with its size.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import cached_property
from typing import Generic, TypeVar, cast

from aiodataloader import DataLoader

from entitle.domain.model import JsonValue
from entitle.services import lookups
from entitle.services.listings import ChildListing, Page, PageArgs, child_counts, child_pages
from entitle.services.lookups import (
    CatalogSnapshot,
    ChangeRecord,
    DecisionLogRecord,
    FeatureRecord,
    FlagRecord,
    PlanRecord,
    ReservationRecord,
    RouteRecord,
    StoredEntitlement,
    StoredKind,
    TenantRecord,
    UsageRecordEntry,
    UserRecord,
    WebhookDeliveryRecord,
    WebhookEndpointRecord,
    plan_entitlement_counts,
    rows_by_id,
)
from entitle.services.runtime import Runtime

ValueT = TypeVar("ValueT")
RecordT = TypeVar("RecordT")


class _RowsByIdLoader(DataLoader[int, RecordT | None], Generic[RecordT]):
    """Stored records of one kind by id; missing ids load as None."""

    def __init__(self, runtime: Runtime, kind: StoredKind[RecordT]) -> None:
        super().__init__()
        self.runtime = runtime
        self.kind = kind

    async def batch_load_fn(self, ids: Sequence[int]) -> list[RecordT | None]:
        return await rows_by_id(self.runtime, self.kind, ids)


class TenantByIdLoader(_RowsByIdLoader[TenantRecord]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.TENANT_ROWS)


class UserByIdLoader(_RowsByIdLoader[UserRecord]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.USER_ROWS)


class EntitlementByIdLoader(_RowsByIdLoader[StoredEntitlement]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.ENTITLEMENT_ROWS)


class ChangeByIdLoader(_RowsByIdLoader[ChangeRecord]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.CHANGE_ROWS)


class WebhookEndpointByIdLoader(_RowsByIdLoader[WebhookEndpointRecord]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.WEBHOOK_ENDPOINT_ROWS)


class WebhookDeliveryByIdLoader(_RowsByIdLoader[WebhookDeliveryRecord]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.WEBHOOK_DELIVERY_ROWS)


class UsageReservationByIdLoader(_RowsByIdLoader[ReservationRecord]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.USAGE_RESERVATION_ROWS)


class UsageRecordByIdLoader(_RowsByIdLoader[UsageRecordEntry]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.USAGE_RECORD_ROWS)


class DecisionLogEntryByIdLoader(_RowsByIdLoader[DecisionLogRecord]):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, lookups.DECISION_LOG_ROWS)


class _CatalogLoader(DataLoader[int, ValueT], Generic[ValueT]):
    """Picks values out of the process's catalog snapshot (loaded once per batch, usually cached)."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    async def batch_load_fn(self, keys: Sequence[int]) -> list[ValueT]:
        snapshot = await self.runtime.catalog.get()
        return [self.pick(snapshot, key) for key in keys]

    def pick(self, snapshot: CatalogSnapshot, key: int) -> ValueT:
        raise NotImplementedError


class FeatureByIdLoader(_CatalogLoader[FeatureRecord | None]):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> FeatureRecord | None:
        return snapshot.features.get(key)


class PlanByIdLoader(_CatalogLoader[PlanRecord | None]):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> PlanRecord | None:
        return snapshot.plans.get(key)


class PlanFeaturesByPlanIdLoader(_CatalogLoader[list[tuple[FeatureRecord, JsonValue]]]):
    """A plan's (feature record, value) pairs."""

    def pick(self, snapshot: CatalogSnapshot, key: int) -> list[tuple[FeatureRecord, JsonValue]]:
        return [(snapshot.features[pf.feature_id], pf.value) for pf in snapshot.plan_features.get(key, [])]


class EntitlementCountsByPlanIdLoader(DataLoader[int, dict[int, int]]):
    """A plan's entitlements that are not revoked, by version: one statement per batch of plans."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    async def batch_load_fn(self, plan_ids: Sequence[int]) -> list[dict[int, int]]:
        return await plan_entitlement_counts(self.runtime, plan_ids)


class FlagByIdLoader(_CatalogLoader[FlagRecord | None]):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> FlagRecord | None:
        return snapshot.flags.get(key)


class FlagFeaturesByFlagIdLoader(_CatalogLoader[list[FeatureRecord]]):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> list[FeatureRecord]:
        return [snapshot.features[i] for i in snapshot.flag_features.get(key, [])]


class RouteByIdLoader(_CatalogLoader[RouteRecord | None]):
    def pick(self, snapshot: CatalogSnapshot, key: int) -> RouteRecord | None:
        return snapshot.routes.get(key)


class ChildPages(Generic[RecordT]):
    """One page (and the count) of a nested connection for many parents: one query per batch of parents.

    Created per request for one relation and one set of page arguments, so every parent in a list
    asking the same nested connection is answered by the same windowed statement.
    """

    def __init__(self, runtime: Runtime, child: ChildListing[RecordT], args: PageArgs) -> None:
        async def load_pages(parent_ids: Sequence[int]) -> list[Page[RecordT]]:
            return await child_pages(runtime, child, parent_ids, args)

        async def load_counts(parent_ids: Sequence[int]) -> list[int]:
            return await child_counts(runtime, child, parent_ids)

        self.pages: DataLoader[int, Page[RecordT]] = DataLoader(load_pages)
        self.counts: DataLoader[int, int] = DataLoader(load_counts)


class Loaders:
    """The request's loaders; each is created on first use, so unused loaders cost nothing."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._children: dict[Hashable, ChildPages[object]] = {}

    @cached_property
    def tenant_by_id(self) -> TenantByIdLoader:
        return TenantByIdLoader(self._runtime)

    @cached_property
    def user_by_id(self) -> UserByIdLoader:
        return UserByIdLoader(self._runtime)

    @cached_property
    def entitlement_by_id(self) -> EntitlementByIdLoader:
        return EntitlementByIdLoader(self._runtime)

    @cached_property
    def change_by_id(self) -> ChangeByIdLoader:
        return ChangeByIdLoader(self._runtime)

    @cached_property
    def webhook_endpoint_by_id(self) -> WebhookEndpointByIdLoader:
        return WebhookEndpointByIdLoader(self._runtime)

    @cached_property
    def webhook_delivery_by_id(self) -> WebhookDeliveryByIdLoader:
        return WebhookDeliveryByIdLoader(self._runtime)

    @cached_property
    def usage_reservation_by_id(self) -> UsageReservationByIdLoader:
        return UsageReservationByIdLoader(self._runtime)

    @cached_property
    def usage_record_by_id(self) -> UsageRecordByIdLoader:
        return UsageRecordByIdLoader(self._runtime)

    @cached_property
    def decision_log_entry_by_id(self) -> DecisionLogEntryByIdLoader:
        return DecisionLogEntryByIdLoader(self._runtime)

    @cached_property
    def feature_by_id(self) -> FeatureByIdLoader:
        return FeatureByIdLoader(self._runtime)

    @cached_property
    def plan_by_id(self) -> PlanByIdLoader:
        return PlanByIdLoader(self._runtime)

    @cached_property
    def plan_features_by_plan_id(self) -> PlanFeaturesByPlanIdLoader:
        return PlanFeaturesByPlanIdLoader(self._runtime)

    @cached_property
    def entitlement_counts_by_plan_id(self) -> EntitlementCountsByPlanIdLoader:
        return EntitlementCountsByPlanIdLoader(self._runtime)

    @cached_property
    def flag_by_id(self) -> FlagByIdLoader:
        return FlagByIdLoader(self._runtime)

    @cached_property
    def flag_features_by_flag_id(self) -> FlagFeaturesByFlagIdLoader:
        return FlagFeaturesByFlagIdLoader(self._runtime)

    @cached_property
    def route_by_id(self) -> RouteByIdLoader:
        return RouteByIdLoader(self._runtime)

    def children(self, key: Hashable, child: ChildListing[RecordT], args: PageArgs) -> ChildPages[RecordT]:
        """The loader of one nested connection; ``key`` names the relation, its filter and ``args`` (so
        the loader under ``key`` pages ``child``'s records)."""
        loader = self._children.get(key)
        if loader is None:
            created = ChildPages(self._runtime, child, args)
            self._children[key] = cast("ChildPages[object]", created)
            return created
        return cast("ChildPages[RecordT]", loader)
