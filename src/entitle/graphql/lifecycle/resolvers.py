"""Plan lifecycle and metering-depth fields (contract §11): in the schema, not built yet."""

from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.graphql.catalog.inputs import PlanFeatureInput
from entitle.graphql.catalog.types import Plan
from entitle.graphql.context import Info
from entitle.graphql.lifecycle.types import (
    MigratePayload,
    PlanChangePayload,
    ReserveUsageInput,
    UsagePeriod,
    UsageRecordConnection,
    UsageRecordFilter,
    UsageReservation,
)
from entitle.graphql.permissions import authenticated, management, writer
from entitle.graphql.unbuilt import LIFECYCLE, not_built


@strawberry.type
class LifecycleQuery:
    @strawberry.field(
        extensions=authenticated(),
        description="The subject's current usage period and the `periods - 1` before it, newest first.",
    )
    def usage(
        self,
        info: Info,
        feature_key: str,
        tenant_key: str | None = None,
        user_key: str | None = None,
        periods: int | None = 1,
        at: datetime | None = None,
    ) -> list[UsagePeriod]:
        not_built("`usage`", LIFECYCLE)

    @strawberry.field(
        extensions=management(), description="Every reportUsage/commit applied or refused, newest first."
    )
    def usage_records(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: UsageRecordFilter | None = None,
    ) -> UsageRecordConnection:
        not_built("`usageRecords`", LIFECYCLE)


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

    @strawberry.mutation(extensions=writer())
    def reserve_usage(self, info: Info, input: ReserveUsageInput) -> UsageReservation:
        not_built("`reserveUsage`", LIFECYCLE)

    @strawberry.mutation(extensions=writer())
    def commit_usage(
        self, info: Info, reservation_id: strawberry.ID, amount: int | None = None
    ) -> UsageReservation:
        not_built("`commitUsage`", LIFECYCLE)

    @strawberry.mutation(extensions=writer())
    def release_usage(self, info: Info, reservation_id: strawberry.ID) -> UsageReservation:
        not_built("`releaseUsage`", LIFECYCLE)
