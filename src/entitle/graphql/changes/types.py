"""The change feed's types (contract §9). The feed itself is not built yet: see graphql/unbuilt.py."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import strawberry

from entitle.graphql.context import Info
from entitle.graphql.node import Node
from entitle.graphql.pagination import Connection
from entitle.graphql.scalars import JSON

if TYPE_CHECKING:
    from entitle.graphql.decisions.types import EffectiveEntitlements
    from entitle.graphql.entitlements.types import Entitlement


@strawberry.enum
class ChangeKind(StrEnum):
    ENTITLEMENT_GRANTED = "ENTITLEMENT_GRANTED"
    ENTITLEMENT_UPDATED = "ENTITLEMENT_UPDATED"
    ENTITLEMENT_REVOKED = "ENTITLEMENT_REVOKED"
    ENTITLEMENT_STARTED = "ENTITLEMENT_STARTED"
    ENTITLEMENT_EXPIRED = "ENTITLEMENT_EXPIRED"
    TENANT_UPSERTED = "TENANT_UPSERTED"
    USER_UPSERTED = "USER_UPSERTED"
    MEMBERSHIP_ADDED = "MEMBERSHIP_ADDED"
    MEMBERSHIP_REMOVED = "MEMBERSHIP_REMOVED"
    FEATURE_CREATED = "FEATURE_CREATED"
    FEATURE_UPDATED = "FEATURE_UPDATED"
    FEATURE_DELETED = "FEATURE_DELETED"
    PLAN_CREATED = "PLAN_CREATED"
    PLAN_UPDATED = "PLAN_UPDATED"
    PLAN_DELETED = "PLAN_DELETED"
    FLAG_CREATED = "FLAG_CREATED"
    FLAG_UPDATED = "FLAG_UPDATED"
    FLAG_DELETED = "FLAG_DELETED"
    ROUTE_CREATED = "ROUTE_CREATED"
    ROUTE_DELETED = "ROUTE_DELETED"
    USAGE_THRESHOLD_REACHED = "USAGE_THRESHOLD_REACHED"
    USAGE_LIMIT_EXCEEDED = "USAGE_LIMIT_EXCEEDED"
    USAGE_PERIOD_RESET = "USAGE_PERIOD_RESET"


@strawberry.type(description="One committed write, as the change feed records it.")
class Change(Node):
    id: strawberry.ID
    revision: str
    kind: ChangeKind
    at: datetime
    actor: str
    tenant_key: str | None
    user_key: str | None
    feature_key: str | None
    plan_key: str | None
    payload: JSON

    @strawberry.field
    def entitlement(
        self, info: Info
    ) -> Annotated[Entitlement, strawberry.lazy("entitle.graphql.entitlements.types")] | None:
        return None


@strawberry.input
class ChangeFilter:
    kinds: list[ChangeKind] | None = None
    tenant_keys: list[str] | None = None
    user_keys: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_revision: str | None = None


@strawberry.type
class EntitlementsChangedEvent:
    revision: str
    change: Change
    effective: Annotated[EffectiveEntitlements, strawberry.lazy("entitle.graphql.decisions.types")]


@strawberry.type
class ChangeConnection(Connection[Change]):
    pass
