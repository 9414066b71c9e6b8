from __future__ import annotations

from typing import Literal

import strawberry
from strawberry.utils.str_converters import to_camel_case

from entitle.clock import now
from entitle.domain.errors import Forbidden
from entitle.domain.model import EntitlementStatus as DomainStatus
from entitle.graphql.core.consistency import reach
from entitle.graphql.core.context import Info
from entitle.graphql.core.inputs import check_filter_size
from entitle.graphql.entitlements.types import (
    EntitlementConnection,
    EntitlementFilter,
    EntitlementOrder,
)
from entitle.services import listings
from entitle.services.listings import EntitlementQuery, PageArgs


def _to_query(
    filter: EntitlementFilter | None, plan_id: int | None, tenant_id: int | None
) -> EntitlementQuery:
    if filter is None:
        return EntitlementQuery(plan_id=plan_id, tenant_id=tenant_id)
    for name in ("plan_keys", "feature_keys", "tenant_keys", "user_keys"):
        check_filter_size(getattr(filter, name), "filter." + to_camel_case(name))
    return EntitlementQuery(
        plan_keys=filter.plan_keys,
        feature_keys=filter.feature_keys,
        tenant_keys=filter.tenant_keys,
        user_keys=filter.user_keys,
        assign_level=filter.assign_level.value if filter.assign_level else None,
        statuses=[DomainStatus(s.value) for s in filter.status] if filter.status is not None else None,
        expires_before=filter.expires_before,
        expires_after=filter.expires_after,
        plan_id=plan_id,
        tenant_id=tenant_id,
    )


async def list_entitlements(
    info: Info,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: EntitlementFilter | None,
    order_by: EntitlementOrder | None,
    *,
    plan_id: int | None = None,
    tenant_id: int | None = None,
) -> EntitlementConnection:
    principal = info.context.require_principal()
    PageArgs.parse(first, after, last, before)  # refuse bad page arguments before building the query
    query = _to_query(filter, None, None)
    own_subject: tuple[str | None, str] | None = None
    if not principal.is_management:
        assert principal.user_key is not None
        if filter is not None:
            if any(k != principal.tenant_key for k in filter.tenant_keys or []):
                raise Forbidden("a user token may only list its own tenant's entitlements")
            if any(k != principal.user_key for k in filter.user_keys or []):
                raise Forbidden("a user token may only list its own entitlements")
        own_subject = (principal.tenant_key, principal.user_key)
    listing = listings.entitlements(
        query,
        now(),
        own_subject=own_subject,
        order_field=order_by.field.value if order_by else None,
        descending=bool(order_by and order_by.direction.value == "DESC"),
    )
    if plan_id is None and tenant_id is None:
        return await EntitlementConnection.resolve_connection(
            listing, info=info, first=first, after=after, last=last, before=before
        )
    # Nested under a plan or a tenant: every parent of the page shares one windowed statement.
    parent: Literal["plan", "tenant"] = "plan" if plan_id is not None else "tenant"
    parent_id = plan_id if plan_id is not None else tenant_id
    assert parent_id is not None
    relation = ("entitlements", parent, repr(filter), repr(order_by))
    return await EntitlementConnection.resolve_children(
        listings.entitlements_of(parent, listing),
        info=info,
        relation=relation,
        parent_id=parent_id,
        first=first,
        after=after,
        last=last,
        before=before,
    )


@strawberry.type
class EntitlementsQuery:
    @strawberry.field(
        description="Management keys see all; a user token sees what applies to its own subject."
    )
    async def entitlements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: EntitlementFilter | None = None,
        order_by: EntitlementOrder | None = None,
        min_revision: str | None = None,
    ) -> EntitlementConnection:
        await reach(info, min_revision)
        return await list_entitlements(info, first, after, last, before, filter, order_by)
