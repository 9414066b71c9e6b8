"""GraphQL types of the catalog: Feature, Plan, PlanFeature."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

import strawberry

from entitle.graphql.core.context import Info
from entitle.graphql.core.entitlement_listing import (
    ENTITLEMENT_CONNECTION,
    EntitlementFilter,
    EntitlementOrder,
    list_entitlements,
)
from entitle.graphql.core.enums import FeatureType, OverageHandling, ResetPeriod
from entitle.graphql.core.permissions import management
from entitle.graphql.core.relay import Connection, Node, load_nodes, to_global_id
from entitle.graphql.core.scalars import JSON
from entitle.services.lookups import CatalogSnapshot, FeatureRecord, PlanFeatureRecord, PlanRecord


@strawberry.type
class Feature(Node):
    id: strawberry.ID
    key: str
    name: str
    description: str | None
    type: FeatureType
    unit: str | None
    tiers: list[str]
    permissions: list[str]
    default_value: JSON | None
    reset_period: ResetPeriod | None
    overage: OverageHandling
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    warning_thresholds: list[int] = strawberry.field(
        description="Percents of the limit at which a consumption warns and a USAGE_THRESHOLD_REACHED "
        "change is appended (once per threshold and period); ascending."
    )
    pk: strawberry.Private[int]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[Feature | None]:
        return await load_nodes(info.context.loaders.feature_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: FeatureRecord) -> Feature:
        return cls(
            id=to_global_id("Feature", record.id),
            pk=record.id,
            key=record.key,
            name=record.name,
            description=record.description,
            type=FeatureType(record.type),
            unit=record.unit,
            tiers=list(record.tiers),
            permissions=list(record.permissions),
            default_value=record.default_value,
            reset_period=ResetPeriod(record.reset_period) if record.reset_period else None,
            overage=OverageHandling(record.overage),
            metadata=JSON(record.metadata or {}),
            created_at=record.created_at,
            updated_at=record.updated_at,
            warning_thresholds=list(record.warning_thresholds),
        )


@strawberry.type
class PlanFeature:
    feature: Feature
    value: JSON


@strawberry.type
class PlanVersion:
    version: int
    features: list[PlanFeature]
    created_at: datetime
    plan_id: strawberry.Private[int]

    @strawberry.field(description="Entitlements on this version that are not revoked.")
    async def entitlement_count(self, info: Info) -> int:
        counts = await info.context.loaders.entitlement_counts_by_plan_id.load(self.plan_id)
        return counts.get(self.version, 0)


@strawberry.type
class Plan(Node):
    id: strawberry.ID
    key: str
    name: str
    description: str | None
    default_time_limitation_days: int | None
    version: int = strawberry.field(
        description="The current version: what new entitlements get and what `features` shows."
    )
    auto_assign: bool = strawberry.field(
        description="Every tenant created while this is set gets a TENANT-level entitlement to the plan."
    )
    rank: int | None = strawberry.field(description="Orders upgrade options (lowest first; null last).")
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[Plan | None]:
        return await load_nodes(info.context.loaders.plan_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: PlanRecord) -> Plan:
        return cls(
            id=to_global_id("Plan", record.id),
            pk=record.id,
            key=record.key,
            name=record.name,
            description=record.description,
            default_time_limitation_days=record.default_time_limitation_days,
            version=record.version,
            auto_assign=bool(record.auto_assign),
            rank=record.rank,
            metadata=JSON(record.metadata or {}),
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @strawberry.field(description="The current version's feature values.")
    def features(self, info: Info) -> list[PlanFeature]:
        snapshot = info.context.runtime.catalog.peek()
        if snapshot is not None:
            return rendered(snapshot).plan_features(self.pk)
        return self._features_later(info)  # type: ignore[return-value]  # graphql-core awaits it

    @strawberry.field(description="Every version of the plan, oldest first.")
    def versions(self, info: Info) -> list[PlanVersion]:
        snapshot = info.context.runtime.catalog.peek()
        if snapshot is not None:
            return rendered(snapshot).plan_versions(self.pk)
        return self._versions_later(info)  # type: ignore[return-value]  # graphql-core awaits it

    async def _features_later(self, info: Info) -> list[PlanFeature]:
        pairs = await info.context.loaders.plan_features_by_plan_id.load(self.pk)
        return [PlanFeature(feature=Feature.from_record(f), value=JSON(v)) for f, v in pairs]

    async def _versions_later(self, info: Info) -> list[PlanVersion]:
        return rendered(await info.context.runtime.catalog.get()).plan_versions(self.pk)

    @strawberry.field(extensions=management(), graphql_type=ENTITLEMENT_CONNECTION)
    async def entitlements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: EntitlementFilter | None = None,
        order_by: EntitlementOrder | None = None,
    ) -> Connection[Any]:
        return await list_entitlements(info, first, after, last, before, filter, order_by, plan_id=self.pk)


class RenderedCatalog:
    """The GraphQL objects of one catalog snapshot, built once and shared by every request.

    Catalog relations (an entitlement's plan and feature, a plan's features) resolve synchronously
    from here: no dataloader future per row and no object rebuilt per row. The objects are never
    mutated after they are built.
    """

    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self._snapshot = snapshot
        self._features: dict[int, Feature | None] = {}
        self._plans: dict[int, Plan | None] = {}
        self._plan_features: dict[int, list[PlanFeature]] = {}
        self._plan_versions: dict[int, list[PlanVersion]] = {}

    def feature(self, feature_id: int) -> Feature | None:
        if feature_id not in self._features:
            record = self._snapshot.features.get(feature_id)
            self._features[feature_id] = None if record is None else Feature.from_record(record)
        return self._features[feature_id]

    def plan(self, plan_id: int) -> Plan | None:
        if plan_id not in self._plans:
            record = self._snapshot.plans.get(plan_id)
            self._plans[plan_id] = None if record is None else Plan.from_record(record)
        return self._plans[plan_id]

    def plan_features(self, plan_id: int) -> list[PlanFeature]:
        if plan_id not in self._plan_features:
            self._plan_features[plan_id] = self._features_of(self._snapshot.plan_features.get(plan_id, []))
        return self._plan_features[plan_id]

    def plan_versions(self, plan_id: int) -> list[PlanVersion]:
        if plan_id not in self._plan_versions:
            self._plan_versions[plan_id] = [
                PlanVersion(
                    version=v.version,
                    features=self._features_of(self._snapshot.version_features.get((plan_id, v.version), [])),
                    created_at=v.created_at,
                    plan_id=plan_id,
                )
                for v in self._snapshot.plan_versions.get(plan_id, [])
            ]
        return self._plan_versions[plan_id]

    def _features_of(self, plan_features: list[PlanFeatureRecord]) -> list[PlanFeature]:
        return [
            PlanFeature(feature=feature, value=pf.value)
            for pf in plan_features
            if (feature := self.feature(pf.feature_id)) is not None
        ]


_RENDERED: WeakKeyDictionary[CatalogSnapshot, RenderedCatalog] = WeakKeyDictionary()


def rendered(snapshot: CatalogSnapshot) -> RenderedCatalog:
    view = _RENDERED.get(snapshot)
    if view is None:
        view = _RENDERED[snapshot] = RenderedCatalog(snapshot)
    return view


@strawberry.type
class FeatureConnection(Connection[Feature]):
    pass


@strawberry.type
class PlanConnection(Connection[Plan]):
    pass
