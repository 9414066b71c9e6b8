from __future__ import annotations

import strawberry

from entitle.graphql.catalog.types import Feature, FeatureConnection, Plan, PlanConnection
from entitle.graphql.core.context import Info
from entitle.graphql.core.inputs import KeyFilter, keyed_rows
from entitle.graphql.core.permissions import management
from entitle.services.lookups import FEATURE_ROWS, PLAN_ROWS


@strawberry.type
class CatalogQuery:
    @strawberry.field(extensions=management())
    async def feature(self, info: Info, key: str) -> Feature | None:
        snapshot = await info.context.runtime.catalog.get()
        feature_id = snapshot.feature_ids_by_key.get(key)
        return None if feature_id is None else Feature.from_record(snapshot.features[feature_id])

    @strawberry.field(extensions=management())
    async def features(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> FeatureConnection:
        return await FeatureConnection.resolve_connection(
            keyed_rows(FEATURE_ROWS, filter), info=info, first=first, after=after, last=last, before=before
        )

    @strawberry.field(extensions=management())
    async def plan(self, info: Info, key: str) -> Plan | None:
        snapshot = await info.context.runtime.catalog.get()
        plan_id = snapshot.plan_ids_by_key.get(key)
        return None if plan_id is None else Plan.from_record(snapshot.plans[plan_id])

    @strawberry.field(extensions=management())
    async def plans(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> PlanConnection:
        return await PlanConnection.resolve_connection(
            keyed_rows(PLAN_ROWS, filter), info=info, first=first, after=after, last=last, before=before
        )
