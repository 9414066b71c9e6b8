"""Plan lifecycle types (contract §11): plan changes and migrations (``PlanVersion`` is a catalog type)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from entitle.graphql.entitlements.types import Entitlement


@strawberry.type
class PlanChangePayload:
    ended: Annotated[Entitlement, strawberry.lazy("entitle.graphql.entitlements.types")]
    started: Annotated[Entitlement, strawberry.lazy("entitle.graphql.entitlements.types")]


@strawberry.type
class MigratePayload:
    migrated_count: int
