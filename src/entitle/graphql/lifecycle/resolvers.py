"""Plan lifecycle fields (contract §11): in the schema, not built yet."""

from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.graphql.catalog.inputs import PlanFeatureInput
from entitle.graphql.catalog.types import Plan
from entitle.graphql.context import Info
from entitle.graphql.lifecycle.types import MigratePayload, PlanChangePayload
from entitle.graphql.permissions import writer
from entitle.graphql.unbuilt import LIFECYCLE, not_built


@strawberry.type
class LifecycleMutation:
    @strawberry.mutation(extensions=writer())
    def publish_plan_version(self, info: Info, key: str, features: list[PlanFeatureInput]) -> Plan:
        not_built("`publishPlanVersion`", LIFECYCLE)

    @strawberry.mutation(extensions=writer())
    def migrate_plan_entitlements(
        self, info: Info, key: str, from_version: int, to_version: int
    ) -> MigratePayload:
        not_built("`migratePlanEntitlements`", LIFECYCLE)

    @strawberry.mutation(extensions=writer())
    def change_plan(
        self,
        info: Info,
        entitlement_id: strawberry.ID,
        to_plan_key: str,
        effective_at: datetime | None = None,
        carry_over_usage: bool | None = True,
    ) -> PlanChangePayload:
        not_built("`changePlan`", LIFECYCLE)
