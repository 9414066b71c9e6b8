"""Plan lifecycle types (contract §11): in the schema, not built yet."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from entitle.graphql.catalog.types import PlanFeature
    from entitle.graphql.entitlements.types import Entitlement


@strawberry.type
class PlanVersion:
    version: int
    features: list[Annotated[PlanFeature, strawberry.lazy("entitle.graphql.catalog.types")]]
    created_at: datetime
    entitlement_count: int = strawberry.field(
        description="Entitlements on this version that are not revoked."
    )


@strawberry.type
class PlanChangePayload:
    ended: Annotated[Entitlement, strawberry.lazy("entitle.graphql.entitlements.types")]
    started: Annotated[Entitlement, strawberry.lazy("entitle.graphql.entitlements.types")]


@strawberry.type
class MigratePayload:
    migrated_count: int
