"""The entitlements listing that the root ``entitlements`` field and ``Plan.entitlements`` /
``Tenant.entitlements`` share: its filter and order inputs, and ``list_entitlements``.

Here, below every domain, so that the catalog and subjects domains do not import the entitlements
domain (which imports theirs: an Entitlement returns its Plan, Feature, Tenant and User). They name
the connection type by ``ENTITLEMENT_CONNECTION``, a strawberry lazy reference (a module path, no
import), and ``list_entitlements`` builds it from the class that reference resolves to.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Literal

import strawberry
from strawberry.types.lazy_type import LazyType
from strawberry.utils.str_converters import to_camel_case

from entitle.domain.errors import Forbidden
from entitle.domain.model import EntitlementStatus as DomainStatus
from entitle.graphql.core.context import Info
from entitle.graphql.core.enums import AssignLevel, EntitlementOrderField, EntitlementStatus, OrderDirection
from entitle.graphql.core.inputs import check_filter_size
from entitle.graphql.core.relay import Connection
from entitle.services import listings
from entitle.services.listings import EntitlementQuery, PageArgs

ENTITLEMENT_CONNECTION: LazyType[Any, Any] = LazyType(
    "EntitlementConnection", "entitle.graphql.entitlements.types"
)
"""The ``EntitlementConnection`` type, for a field's ``graphql_type`` (resolved when the schema is built)."""


@functools.cache
def _connection() -> type[Connection[Any]]:
    """The class ``ENTITLEMENT_CONNECTION`` names (resolved once, by the first listing)."""
    connection: type[Connection[Any]] = ENTITLEMENT_CONNECTION.resolve_type()
    return connection


@strawberry.input
class EntitlementFilter:
    plan_keys: list[str] | None = None
    feature_keys: list[str] | None = strawberry.field(
        default=None,
        description="Single-feature grants of these features, and grants of plans that include them.",
    )
    tenant_keys: list[str] | None = strawberry.field(
        default=None, description="TENANT- and USER-level entitlements in these tenants."
    )
    user_keys: list[str] | None = strawberry.field(
        default=None, description="USER- and INDIVIDUAL-level entitlements of these users."
    )
    assign_level: AssignLevel | None = None
    status: list[EntitlementStatus] | None = strawberry.field(default=None, description="Status as of now.")
    expires_before: datetime | None = strawberry.field(default=None, description="expirationDate < this.")
    expires_after: datetime | None = strawberry.field(default=None, description="expirationDate >= this.")


@strawberry.input
class EntitlementOrder:
    field: EntitlementOrderField
    direction: OrderDirection


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
) -> Connection[Any]:
    """The entitlements a caller may list (a user token: its own), as the root field lists them, or
    nested under a plan (``plan_id``) or a tenant (``tenant_id``)."""
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
        info.context.runtime.clock(),
        own_subject=own_subject,
        order_field=order_by.field.value if order_by else None,
        descending=bool(order_by and order_by.direction.value == "DESC"),
    )
    if plan_id is None and tenant_id is None:
        return await _connection().resolve_connection(
            listing, info=info, first=first, after=after, last=last, before=before
        )
    # Nested under a plan or a tenant: every parent of the page shares one windowed statement.
    parent: Literal["plan", "tenant"] = "plan" if plan_id is not None else "tenant"
    parent_id = plan_id if plan_id is not None else tenant_id
    assert parent_id is not None
    relation = ("entitlements", parent, repr(filter), repr(order_by))
    return await _connection().resolve_children(
        listings.entitlements_of(parent, listing),
        info=info,
        relation=relation,
        parent_id=parent_id,
        first=first,
        after=after,
        last=last,
        before=before,
    )
