"""GraphQL types of customers: Tenant, User."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
import strawberry

from entitle.db.pagination import Ordering
from entitle.db.tables import MEMBERSHIPS, TENANTS, USERS
from entitle.graphql.context import Info
from entitle.graphql.node import Node, to_global_id
from entitle.graphql.pagination import Connection, paged_children
from entitle.graphql.scalars import JSON

if TYPE_CHECKING:
    from entitle.graphql.entitlements.types import EntitlementConnection, EntitlementFilter, EntitlementOrder

_LAZY = "entitle.graphql.entitlements.types"


@strawberry.type
class Tenant(Node):
    id: strawberry.ID
    key: str
    name: str | None
    metadata: JSON
    created_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Tenant:
        return cls(
            id=to_global_id("Tenant", row.id),
            pk=row.id,
            key=row.key,
            name=row.name,
            metadata=JSON(row.metadata or {}),
            created_at=row.created_at,
        )

    @strawberry.field
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> UserConnection:
        info.context.require_management()
        statement = sa.select(USERS).join(MEMBERSHIPS, MEMBERSHIPS.c.user_id == USERS.c.id)
        return await paged_children(
            info,
            "members",
            UserConnection,
            User.from_row,
            statement,
            MEMBERSHIPS.c.tenant_id,
            self.pk,
            Ordering.by_id(USERS),
            first,
            after,
            last,
            before,
        )

    @strawberry.field
    async def entitlements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: Annotated[EntitlementFilter, strawberry.lazy(_LAZY)] | None = None,
        order_by: Annotated[EntitlementOrder, strawberry.lazy(_LAZY)] | None = None,
    ) -> Annotated[EntitlementConnection, strawberry.lazy(_LAZY)]:
        from entitle.graphql.entitlements.queries import list_entitlements

        info.context.require_management()
        return await list_entitlements(info, first, after, last, before, filter, order_by, tenant_id=self.pk)


@strawberry.type
class User(Node):
    id: strawberry.ID
    key: str
    name: str | None
    email: str | None
    metadata: JSON
    created_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(
            id=to_global_id("User", row.id),
            pk=row.id,
            key=row.key,
            name=row.name,
            email=row.email,
            metadata=JSON(row.metadata or {}),
            created_at=row.created_at,
        )

    @strawberry.field
    async def tenants(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> TenantConnection:
        info.context.require_management()
        statement = sa.select(TENANTS).join(MEMBERSHIPS, MEMBERSHIPS.c.tenant_id == TENANTS.c.id)
        return await paged_children(
            info,
            "tenants",
            TenantConnection,
            Tenant.from_row,
            statement,
            MEMBERSHIPS.c.user_id,
            self.pk,
            Ordering.by_id(TENANTS),
            first,
            after,
            last,
            before,
        )


@strawberry.type
class TenantConnection(Connection[Tenant]):
    pass


@strawberry.type
class UserConnection(Connection[User]):
    pass
