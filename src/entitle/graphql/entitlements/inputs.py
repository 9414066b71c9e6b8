from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.graphql.core.inputs import json_field, omittable, omittable_json
from entitle.graphql.core.scalars import JSON
from entitle.services.entitlements import EntitlementPatch, NewEntitlement


@strawberry.input(
    description="Exactly one of planKey / featureKey; tenantKey and/or userKey decide the assign level."
)
class CreateEntitlementInput:
    plan_key: str | None = None
    feature_key: str | None = None
    value: JSON | None = None
    tenant_key: str | None = None
    user_key: str | None = None
    start_date: datetime | None = None
    expiration_date: datetime | None = None
    reason: str | None = None
    metadata: JSON | None = None

    def to_command(self) -> NewEntitlement:
        return NewEntitlement(
            plan_key=self.plan_key,
            feature_key=self.feature_key,
            value=json_field(self.value),
            tenant_key=self.tenant_key,
            user_key=self.user_key,
            start_date=self.start_date,
            expiration_date=self.expiration_date,
            reason=self.reason,
            metadata=json_field(self.metadata),
        )


@strawberry.input
class UpdateEntitlementInput:
    start_date: datetime | None = strawberry.UNSET
    expiration_date: datetime | None = strawberry.UNSET
    reason: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET

    def to_command(self) -> EntitlementPatch:
        return EntitlementPatch(
            start_date=omittable(self.start_date),
            expiration_date=omittable(self.expiration_date),
            reason=omittable(self.reason),
            metadata=omittable_json(self.metadata),
        )
