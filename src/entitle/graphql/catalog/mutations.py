from __future__ import annotations

import strawberry

from entitle.graphql.catalog.inputs import (
    CreateFeatureInput,
    CreatePlanInput,
    UpdateFeatureInput,
    UpdatePlanInput,
)
from entitle.graphql.catalog.types import Feature, Plan
from entitle.graphql.core.context import Info
from entitle.graphql.core.payloads import DeletePayload
from entitle.graphql.core.permissions import writer
from entitle.graphql.core.relay import to_global_id
from entitle.services import catalog


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(extensions=writer())
    async def create_feature(self, info: Info, input: CreateFeatureInput) -> Feature:
        return Feature.from_record(await catalog.create_feature(info.context.runtime, input.to_command()))

    @strawberry.mutation(extensions=writer())
    async def update_feature(self, info: Info, key: str, input: UpdateFeatureInput) -> Feature:
        return Feature.from_record(
            await catalog.update_feature(info.context.runtime, key, input.to_command())
        )

    @strawberry.mutation(
        extensions=writer(), description="CONFLICT while a plan, entitlement, flag or route uses it."
    )
    async def delete_feature(self, info: Info, key: str) -> DeletePayload:
        return DeletePayload(
            deleted_id=to_global_id("Feature", await catalog.delete_feature(info.context.runtime, key))
        )

    @strawberry.mutation(extensions=writer())
    async def create_plan(self, info: Info, input: CreatePlanInput) -> Plan:
        return Plan.from_record(await catalog.create_plan(info.context.runtime, input.to_command()))

    @strawberry.mutation(extensions=writer())
    async def update_plan(self, info: Info, key: str, input: UpdatePlanInput) -> Plan:
        return Plan.from_record(await catalog.update_plan(info.context.runtime, key, input.to_command()))

    @strawberry.mutation(extensions=writer(), description="CONFLICT while entitlements reference it.")
    async def delete_plan(self, info: Info, key: str) -> DeletePayload:
        return DeletePayload(
            deleted_id=to_global_id("Plan", await catalog.delete_plan(info.context.runtime, key))
        )
