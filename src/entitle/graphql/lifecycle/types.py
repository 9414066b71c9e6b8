"""Plan lifecycle and metering-depth types (contract §11): in the schema, not built yet."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import strawberry

from entitle.graphql.node import Node
from entitle.graphql.pagination import Connection

if TYPE_CHECKING:
    from entitle.graphql.decisions.types import EntitlementDecision
    from entitle.graphql.entitlements.types import Entitlement


@strawberry.enum
class ReservationStatus(StrEnum):
    HELD = "HELD"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    REFUSED = "REFUSED"


@strawberry.type
class UsageReservation(Node):
    id: strawberry.ID
    status: ReservationStatus
    amount: int
    committed: int | None
    expires_at: datetime
    decision: Annotated[EntitlementDecision, strawberry.lazy("entitle.graphql.decisions.types")]


@strawberry.input
class ReserveUsageInput:
    feature_key: str
    amount: int
    idempotency_key: str
    tenant_key: str | None = None
    user_key: str | None = None
    expires_in_seconds: int | None = None


@strawberry.type
class UsagePeriod:
    start: datetime
    end: datetime
    used: int
    limit: int | None
    overage: int


@strawberry.type
class UsageRecord(Node):
    id: strawberry.ID
    tenant_key: str | None
    user_key: str | None
    feature_key: str
    amount: int
    idempotency_key: str
    at: datetime
    accepted: bool


@strawberry.type
class UsageRecordConnection(Connection[UsageRecord]):
    pass


@strawberry.input
class UsageRecordFilter:
    tenant_keys: list[str] | None = None
    user_keys: list[str] | None = None
    feature_keys: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.type
class PlanChangePayload:
    ended: Annotated[Entitlement, strawberry.lazy("entitle.graphql.entitlements.types")]
    started: Annotated[Entitlement, strawberry.lazy("entitle.graphql.entitlements.types")]


@strawberry.type
class MigratePayload:
    migrated_count: int
