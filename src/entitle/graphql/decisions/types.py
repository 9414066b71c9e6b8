"""GraphQL types of decisions: EntitlementDecision, EntitlementSource, EffectiveEntitlements, Viewer."""

from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.domain.decision import AccessRequest, Decision
from entitle.domain.denials import denial_message, target_of, upgrade_options
from entitle.domain.grants import DecisionSource
from entitle.graphql.catalog.types import Feature, Plan, rendered
from entitle.graphql.core.context import Info
from entitle.graphql.core.enums import Justification, SourceKind, SubscriptionContext
from entitle.graphql.core.scalars import JSON
from entitle.graphql.entitlements.types import Entitlement
from entitle.graphql.flags.types import FeatureFlag
from entitle.graphql.subjects.types import Tenant, User
from entitle.services.access import EffectiveFeatureView
from entitle.services.lookups import FeatureRecord


@strawberry.type(
    description="Why a feature is granted: a plan or single-feature entitlement, a flag, or a route."
)
class EntitlementSource:
    kind: SourceKind
    expires_at: datetime | None
    entitlement_id: strawberry.Private[int | None]
    plan_id: strawberry.Private[int | None]
    flag_id: strawberry.Private[int | None]

    @classmethod
    def from_domain(cls, source: DecisionSource) -> EntitlementSource:
        return cls(
            kind=SourceKind(source.kind),
            expires_at=source.expires_at,
            entitlement_id=source.entitlement_id,
            plan_id=source.plan_id,
            flag_id=source.flag_id,
        )

    @strawberry.field
    async def entitlement(self, info: Info) -> Entitlement | None:
        if self.entitlement_id is None:
            return None
        row = await info.context.loaders.entitlement_by_id.load(self.entitlement_id)
        return None if row is None else Entitlement.from_record(row)

    @strawberry.field
    async def plan(self, info: Info) -> Plan | None:
        if self.plan_id is None:
            return None
        row = await info.context.loaders.plan_by_id.load(self.plan_id)
        return None if row is None else Plan.from_record(row)

    @strawberry.field
    async def flag(self, info: Info) -> FeatureFlag | None:
        if self.flag_id is None:
            return None
        row = await info.context.loaders.flag_by_id.load(self.flag_id)
        return None if row is None else FeatureFlag.from_record(row)


@strawberry.type
class EntitlementDecision:
    is_entitled: bool
    justification: Justification | None
    context: SubscriptionContext
    value: JSON | None
    limit: int | None
    unlimited: bool
    used: int | None
    remaining: int | None
    resets_at: datetime | None
    overage: int | None
    warning: str | None
    expires_at: datetime | None
    sources: list[EntitlementSource]
    held: int | None = strawberry.field(
        description="Units reserved (reserveUsage) and not yet settled in the current period; they count "
        "as used for every check (`remaining` is limit - used - held). Null when not metered."
    )
    decision: strawberry.Private[Decision]
    request: strawberry.Private[AccessRequest]

    @classmethod
    def from_domain(cls, decision: Decision, request: AccessRequest) -> EntitlementDecision:
        return cls(
            decision=decision,
            request=request,
            is_entitled=decision.is_entitled,
            justification=Justification(decision.justification) if decision.justification else None,
            context=SubscriptionContext(decision.context),
            value=JSON(decision.value),
            limit=decision.limit,
            unlimited=decision.unlimited,
            used=decision.used,
            remaining=decision.remaining,
            resets_at=decision.resets_at,
            overage=decision.overage,
            warning=decision.warning,
            expires_at=decision.expires_at,
            sources=[EntitlementSource.from_domain(s) for s in decision.sources],
            held=decision.held,
        )

    @strawberry.field(
        description="A sentence a product can show its end user as is (no ids); null when entitled."
    )
    async def message(self, info: Info) -> str | None:
        if self.decision.is_entitled:
            return None
        catalog = (await info.context.runtime.catalog.get()).catalog
        return denial_message(self.decision, target_of(catalog, self.request))

    @strawberry.field(
        description="Plans that would entitle this request (with enough limit for `usage`), by rank then "
        "key; empty when entitled or when no plan would."
    )
    async def upgrade_options(self, info: Info) -> list[Plan]:
        if self.decision.is_entitled:
            return []
        snapshot = await info.context.runtime.catalog.get()
        catalog = snapshot.catalog
        plans = upgrade_options(catalog, self.decision, self.request, target_of(catalog, self.request))
        view = rendered(snapshot)
        return [shown for plan in plans if (shown := view.plan(plan.id)) is not None]


@strawberry.type
class EffectiveFeature:
    feature: Feature
    value: JSON
    limit: int | None
    unlimited: bool
    used: int | None
    remaining: int | None
    expires_at: datetime | None
    sources: list[EntitlementSource]

    @classmethod
    def from_view(cls, view: EffectiveFeatureView, feature: FeatureRecord) -> EffectiveFeature:
        grant = view.grant
        return cls(
            feature=Feature.from_record(feature),
            value=JSON(grant.value),
            limit=grant.limit,
            unlimited=grant.unlimited,
            used=view.used,
            remaining=view.remaining,
            expires_at=grant.expires_at,
            sources=[EntitlementSource.from_domain(s) for s in grant.sources],
        )


@strawberry.type
class EffectiveEntitlements:
    context: SubscriptionContext
    tenant: Tenant | None
    user: User | None
    features: list[EffectiveFeature]
    permissions: list[str]


@strawberry.type
class Viewer:
    kind: str = strawberry.field(description="MANAGEMENT or USER.")
    name: str | None
    tenant_key: str | None
    user_key: str | None
    read_only: bool
