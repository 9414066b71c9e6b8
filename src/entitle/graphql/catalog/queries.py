from __future__ import annotations

import sqlalchemy as sa
import strawberry

from entitle.db.pagination import Ordering, PageArgs
from entitle.db.tables import FEATURES, PLANS
from entitle.graphql.catalog.types import Feature, FeatureConnection, Plan, PlanConnection
from entitle.graphql.context import Info
from entitle.graphql.inputs import KeyFilter
from entitle.graphql.pagination import to_connection
from entitle.services.listings import key_filter, list_page


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
        args = PageArgs.parse(first, after, last, before)
        terms = key_filter(FEATURES, filter.keys, filter.search) if filter else []
        page, count = await list_page(
            info.context.runtime, sa.select(FEATURES).where(*terms), Ordering.by_id(FEATURES), args
        )
        return to_connection(FeatureConnection, page, Feature.from_row, count)

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
        args = PageArgs.parse(first, after, last, before)
        terms = key_filter(PLANS, filter.keys, filter.search) if filter else []
        page, count = await list_page(
            info.context.runtime, sa.select(PLANS).where(*terms), Ordering.by_id(PLANS), args
        )
        return to_connection(PlanConnection, page, Plan.from_row, count)
