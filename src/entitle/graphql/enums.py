"""The domain enums, exposed to GraphQL under their contract names."""

from __future__ import annotations

import strawberry

from entitle.domain import model as m

FeatureType = strawberry.enum(m.FeatureType)
ResetPeriod = strawberry.enum(m.ResetPeriod)
OverageHandling = strawberry.enum(m.OverageHandling)
AssignLevel = strawberry.enum(m.AssignLevel)
EntitlementStatus = strawberry.enum(m.EntitlementStatus)
SubscriptionContext = strawberry.enum(m.SubscriptionContext)
SourceKind = strawberry.enum(m.SourceKind)
Justification = strawberry.enum(m.Justification)
RoutePolicy = strawberry.enum(m.RoutePolicy)
FlagAttribute = strawberry.enum(m.FlagAttribute)
FlagOperator = strawberry.enum(m.FlagOperator)


@strawberry.enum
class OrderDirection:
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum
class EntitlementOrderField:
    CREATED_AT = "CREATED_AT"
    EXPIRATION_DATE = "EXPIRATION_DATE"
