from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.domain.decision import AccessRequest
from entitle.graphql.core.consistency import reach
from entitle.graphql.core.context import Context, Info
from entitle.graphql.core.enums import SubscriptionContext
from entitle.graphql.core.subjects import own_subject
from entitle.graphql.decisions.log import record_decision
from entitle.graphql.decisions.types import (
    EffectiveEntitlements,
    EffectiveFeature,
    EntitlementDecision,
    Viewer,
)
from entitle.graphql.subjects.types import Tenant, User


@strawberry.input
class RouteInput:
    method: str
    path: str


@strawberry.type
class DecisionsQuery:
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        p = info.context.require_principal()
        return Viewer(
            kind=p.kind, name=p.name, tenant_key=p.tenant_key, user_key=p.user_key, read_only=p.read_only
        )

    @strawberry.field(
        description="May this subject use this feature / permission / route now, and how much is left? "
        "Give tenantKey and/or userKey and exactly one of featureKey, permissionKey, route."
    )
    async def is_entitled_to(
        self,
        info: Info,
        tenant_key: str | None = None,
        user_key: str | None = None,
        feature_key: str | None = None,
        permission_key: str | None = None,
        route: RouteInput | None = None,
        usage: int | None = None,
        at: datetime | None = None,
        min_revision: str | None = None,
    ) -> EntitlementDecision:
        await reach(info, min_revision)
        tenant_key, user_key = own_subject(info.context, tenant_key, user_key)
        request = AccessRequest(
            feature_key=feature_key,
            permission_key=permission_key,
            route_method=route.method if route else None,
            route_path=route.path if route else None,
            usage=usage,
        )
        decision = await info.context.runtime.access.check(tenant_key, user_key, request, at)
        record_decision(info.context, tenant_key, user_key, request, decision)
        return EntitlementDecision.from_domain(decision, request)

    @strawberry.field(description="Every feature and permission the subject has at `at` (default now).")
    async def effective_entitlements(
        self,
        info: Info,
        tenant_key: str | None = None,
        user_key: str | None = None,
        at: datetime | None = None,
        min_revision: str | None = None,
    ) -> EffectiveEntitlements:
        await reach(info, min_revision)
        tenant_key, user_key = own_subject(info.context, tenant_key, user_key)
        return await render_effective(info.context, tenant_key, user_key, at)


async def render_effective(
    context: Context, tenant_key: str | None, user_key: str | None, at: datetime | None
) -> EffectiveEntitlements:
    """The subject's effective entitlements as the API shows them (also sent by subscriptions); at
    ``at``, or now by the access service's clock."""
    view = await context.runtime.access.effective(tenant_key, user_key, at)
    subject = view.subject
    tenant = user = None
    if subject.tenant is not None:
        tenant = await context.loaders.tenant_by_id.load(subject.tenant.id)
    if subject.user is not None:
        user = await context.loaders.user_by_id.load(subject.user.id)
    snapshot = view.snapshot
    return EffectiveEntitlements(
        context=SubscriptionContext(subject.context),
        tenant=Tenant.from_record(tenant) if tenant is not None else None,
        user=User.from_record(user) if user is not None else None,
        features=[
            EffectiveFeature.from_view(f, snapshot.features[f.grant.feature.id]) for f in view.features
        ],
        permissions=view.permissions,
    )
