"""GraphQL types of the catalog: Feature, Plan, PlanFeature."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from weakref import WeakKeyDictionary

import strawberry

from entitle.graphql.context import Info
from entitle.graphql.enums import FeatureType, OverageHandling, ResetPeriod
from entitle.graphql.node import Node, to_global_id
from entitle.graphql.pagination import Connection
from entitle.graphql.permissions import management
from entitle.graphql.scalars import JSON
from entitle.graphql.unbuilt import LIFECYCLE, not_built
from entitle.services.lookups import CatalogSnapshot

if TYPE_CHECKING:
    from entitle.graphql.entitlements.types import EntitlementConnection, EntitlementFilter, EntitlementOrder
    from entitle.graphql.lifecycle.types import PlanVersion


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
    def from_row(cls, row: Any) -> Feature:
        return cls(
            id=to_global_id("Feature", row.id),
            pk=row.id,
            key=row.key,
            name=row.name,
            description=row.description,
            type=FeatureType(row.type),
            unit=row.unit,
            tiers=list(row.tiers),
            permissions=list(row.permissions),
            default_value=row.default_value,
            reset_period=ResetPeriod(row.reset_period) if row.reset_period else None,
            overage=OverageHandling(row.overage),
            metadata=JSON(row.metadata or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
            warning_thresholds=list(getattr(row, "warning_thresholds", None) or []),
        )


@strawberry.type
class PlanFeature:
    feature: Feature
    value: JSON


@strawberry.type
class Plan(Node):
    id: strawberry.ID
    key: str
    name: str
    description: str | None
    default_time_limitation_days: int | None
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Plan:
        return cls(
            id=to_global_id("Plan", row.id),
            pk=row.id,
            key=row.key,
            name=row.name,
            description=row.description,
            default_time_limitation_days=row.default_time_limitation_days,
            metadata=JSON(row.metadata or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    def features(self, info: Info) -> list[PlanFeature]:
        snapshot = info.context.runtime.catalog.peek()
        if snapshot is not None:
            return rendered(snapshot).plan_features(self.pk)
        return self._features_later(info)  # type: ignore[return-value]  # graphql-core awaits it

    @strawberry.field(description="The current version (plans have one version until §11 is built).")
    def version(self) -> int:
        return 1

    @strawberry.field
    def versions(self) -> list[Annotated[PlanVersion, strawberry.lazy("entitle.graphql.lifecycle.types")]]:
        not_built("`Plan.versions`", LIFECYCLE)

    @strawberry.field(description="New tenants get this plan (not settable until §11 is built).")
    def auto_assign(self) -> bool:
        return False

    @strawberry.field(description="Order of upgrade options (not settable until §11 is built).")
    def rank(self) -> int | None:
        return None

    async def _features_later(self, info: Info) -> list[PlanFeature]:
        pairs = await info.context.loaders.plan_features_by_plan_id.load(self.pk)
        return [PlanFeature(feature=Feature.from_row(f), value=v) for f, v in pairs]

    @strawberry.field(extensions=management())
    async def entitlements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: Annotated[EntitlementFilter, strawberry.lazy("entitle.graphql.entitlements.types")]
        | None = None,
        order_by: Annotated[EntitlementOrder, strawberry.lazy("entitle.graphql.entitlements.types")]
        | None = None,
    ) -> Annotated[EntitlementConnection, strawberry.lazy("entitle.graphql.entitlements.types")]:
        from entitle.graphql.entitlements.queries import list_entitlements

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

    def feature(self, feature_id: int) -> Feature | None:
        if feature_id not in self._features:
            row = self._snapshot.features.get(feature_id)
            self._features[feature_id] = None if row is None else Feature.from_row(row)
        return self._features[feature_id]

    def plan(self, plan_id: int) -> Plan | None:
        if plan_id not in self._plans:
            row = self._snapshot.plans.get(plan_id)
            self._plans[plan_id] = None if row is None else Plan.from_row(row)
        return self._plans[plan_id]

    def plan_features(self, plan_id: int) -> list[PlanFeature]:
        if plan_id not in self._plan_features:
            self._plan_features[plan_id] = [
                PlanFeature(feature=feature, value=pf.value)
                for pf in self._snapshot.plan_features.get(plan_id, [])
                if (feature := self.feature(pf.feature_id)) is not None
            ]
        return self._plan_features[plan_id]


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
