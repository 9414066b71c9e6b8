from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.graphql.core.scalars import JSON


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


@strawberry.input
class UpdateEntitlementInput:
    start_date: datetime | None = strawberry.UNSET
    expiration_date: datetime | None = strawberry.UNSET
    reason: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
