"""The domain enums, exposed to GraphQL under their contract names."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from entitle.domain.changes import ChangeKind
from entitle.domain.metering import ReservationStatus
from entitle.domain.model import (
    AssignLevel,
    EntitlementStatus,
    FeatureType,
    FlagAttribute,
    FlagOperator,
    Justification,
    OverageHandling,
    ResetPeriod,
    RoutePolicy,
    SourceKind,
    SubscriptionContext,
)

__all__ = [
    "AssignLevel",
    "ChangeKind",
    "EntitlementOrderField",
    "EntitlementStatus",
    "FeatureType",
    "FlagAttribute",
    "FlagOperator",
    "Justification",
    "OrderDirection",
    "OverageHandling",
    "ReservationStatus",
    "ResetPeriod",
    "RoutePolicy",
    "SourceKind",
    "SubscriptionContext",
]

for _domain_enum in (
    ChangeKind,
    FeatureType,
    ResetPeriod,
    OverageHandling,
    AssignLevel,
    EntitlementStatus,
    SubscriptionContext,
    SourceKind,
    Justification,
    RoutePolicy,
    FlagAttribute,
    FlagOperator,
    ReservationStatus,
):
    strawberry.enum(_domain_enum)  # registers the class itself under its contract name


@strawberry.enum
class OrderDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum
class EntitlementOrderField(StrEnum):
    CREATED_AT = "CREATED_AT"
    EXPIRATION_DATE = "EXPIRATION_DATE"
