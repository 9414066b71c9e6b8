"""Plan lifecycle fields (contract §11): versions, migrations, plan changes."""

from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.domain.errors import BadUserInput
from entitle.domain.text import shown
from entitle.graphql.catalog.inputs import PlanFeatureInput
from entitle.graphql.catalog.types import Plan
from entitle.graphql.core.context import Info
from entitle.graphql.core.permissions import writer
from entitle.graphql.core.relay import from_global_id
from entitle.graphql.entitlements.types import Entitlement
from entitle.graphql.lifecycle.types import MigratePayload, PlanChangePayload
from entitle.services import plan_lifecycle


@strawberry.type
class LifecycleMutation:
    @strawberry.mutation(
        extensions=writer(),
        description="Version n+1 of the plan with these features: entitlements created from now on get it; "
        "existing ones keep theirs (grandfathered).",
    )
    async def publish_plan_version(self, info: Info, key: str, features: list[PlanFeatureInput]) -> Plan:
        record = await plan_lifecycle.publish_plan_version(
            info.context.runtime, key, [f.to_command() for f in features]
        )
        return Plan.from_record(record)

    @strawberry.mutation(
        extensions=writer(),
        description="Moves the plan's entitlements on fromVersion that are not revoked to toVersion.",
    )
    async def migrate_plan_entitlements(
        self, info: Info, key: str, from_version: int, to_version: int
    ) -> MigratePayload:
        count = await plan_lifecycle.migrate_plan_entitlements(
            info.context.runtime, key, from_version, to_version
        )
        return MigratePayload(migrated_count=count)

    @strawberry.mutation(
        extensions=writer(),
        description="Ends the entitlement at effectiveAt (default now) and starts one to toPlanKey for the "
        "same subject then; carryOverUsage keeps counting this period's usage against the new limits.",
    )
    async def change_plan(
        self,
        info: Info,
        entitlement_id: strawberry.ID,
        to_plan_key: str,
        effective_at: datetime | None = None,
        carry_over_usage: bool | None = True,
    ) -> PlanChangePayload:
        type_name, pk = from_global_id(entitlement_id, field="entitlementId")
        if type_name != "Entitlement":
            raise BadUserInput(
                f"entitlementId: a {shown(type_name)} id is not an entitlement id", field="entitlementId"
            )
        change = await plan_lifecycle.change_plan(
            info.context.runtime,
            pk,
            to_plan_key,
            effective_at,
            carry_over_usage=carry_over_usage is not False,
        )
        return PlanChangePayload(
            ended=Entitlement.from_record(change.ended), started=Entitlement.from_record(change.started)
        )
