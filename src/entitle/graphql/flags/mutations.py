from __future__ import annotations

import strawberry

from entitle.graphql.core.context import Info
from entitle.graphql.core.payloads import DeletePayload
from entitle.graphql.core.permissions import writer
from entitle.graphql.core.relay import to_global_id
from entitle.graphql.flags.inputs import FeatureFlagInput
from entitle.graphql.flags.types import FeatureFlag
from entitle.services import flags_routes


@strawberry.type
class FlagsMutation:
    @strawberry.mutation(extensions=writer())
    async def create_feature_flag(self, info: Info, input: FeatureFlagInput) -> FeatureFlag:
        return FeatureFlag.from_record(
            await flags_routes.create_flag(info.context.runtime, input.to_command())
        )

    @strawberry.mutation(extensions=writer(), description="Replaces the flag's whole definition.")
    async def update_feature_flag(self, info: Info, key: str, input: FeatureFlagInput) -> FeatureFlag:
        return FeatureFlag.from_record(
            await flags_routes.update_flag(info.context.runtime, key, input.to_command())
        )

    @strawberry.mutation(extensions=writer())
    async def delete_feature_flag(self, info: Info, key: str) -> DeletePayload:
        flag_id = await flags_routes.delete_flag(info.context.runtime, key)
        return DeletePayload(deleted_id=to_global_id("FeatureFlag", flag_id))
