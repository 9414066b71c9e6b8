from __future__ import annotations

import strawberry

from entitle.db.pagination import Ordering
from entitle.db.tables import FEATURES, PLANS
from entitle.graphql.catalog.types import Feature, FeatureConnection, Plan, PlanConnection
from entitle.graphql.context import Info
from entitle.graphql.inputs import KeyFilter, keyed_rows
from entitle.graphql.pagination import paged


@strawberry.type
class CatalogQuery:
    @strawberry.field
    async def feature(self, info: Info, key: str) -> Feature | None:
        info.context.require_management()
        snapshot = await info.context.runtime.catalog.get()
        feature_id = snapshot.feature_ids_by_key.get(key)
        return None if feature_id is None else Feature.from_row(snapshot.features[feature_id])

    @strawberry.field
    async def features(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> FeatureConnection:
        info.context.require_management()
        return await paged(
            info,
            FeatureConnection,
            Feature.from_row,
            keyed_rows(FEATURES, filter),
            Ordering.by_id(FEATURES),
            first,
            after,
            last,
            before,
        )

    @strawberry.field
    async def plan(self, info: Info, key: str) -> Plan | None:
        info.context.require_management()
        snapshot = await info.context.runtime.catalog.get()
        plan_id = snapshot.plan_ids_by_key.get(key)
        return None if plan_id is None else Plan.from_row(snapshot.plans[plan_id])

    @strawberry.field
    async def plans(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> PlanConnection:
        info.context.require_management()
        return await paged(
            info,
            PlanConnection,
            Plan.from_row,
            keyed_rows(PLANS, filter),
            Ordering.by_id(PLANS),
            first,
            after,
            last,
            before,
        )
