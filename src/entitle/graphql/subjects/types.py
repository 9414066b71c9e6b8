"""GraphQL types of customers: Tenant, User."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import strawberry

from entitle.graphql.core.context import Info
from entitle.graphql.core.entitlement_listing import (
    ENTITLEMENT_CONNECTION,
    EntitlementFilter,
    EntitlementOrder,
    list_entitlements,
)
from entitle.graphql.core.permissions import management
from entitle.graphql.core.relay import Connection, Node, load_nodes, to_global_id
from entitle.graphql.core.scalars import JSON
from entitle.services import listings
from entitle.services.lookups import TenantRecord, UserRecord


@strawberry.type
class Tenant(Node):
    id: strawberry.ID
    key: str
    name: str | None
    metadata: JSON
    created_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[Tenant | None]:
        return await load_nodes(info.context.loaders.tenant_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: TenantRecord) -> Tenant:
        return cls(
            id=to_global_id("Tenant", record.id),
            pk=record.id,
            key=record.key,
            name=record.name,
            metadata=JSON(record.metadata or {}),
            created_at=record.created_at,
        )

    @strawberry.field(extensions=management())
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> UserConnection:
        return await UserConnection.resolve_children(
            listings.members_of_tenants(),
            info=info,
            relation="members",
            parent_id=self.pk,
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @strawberry.field(extensions=management(), graphql_type=ENTITLEMENT_CONNECTION)
    async def entitlements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: EntitlementFilter | None = None,
        order_by: EntitlementOrder | None = None,
    ) -> Connection[Any]:
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
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[User | None]:
        return await load_nodes(info.context.loaders.user_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: UserRecord) -> User:
        return cls(
            id=to_global_id("User", record.id),
            pk=record.id,
            key=record.key,
            name=record.name,
            email=record.email,
            metadata=JSON(record.metadata or {}),
            created_at=record.created_at,
        )

    @strawberry.field(extensions=management())
    async def tenants(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> TenantConnection:
        return await TenantConnection.resolve_children(
            listings.tenants_of_users(),
            info=info,
            relation="tenants",
            parent_id=self.pk,
            first=first,
            after=after,
            last=last,
            before=before,
        )


@strawberry.type
class TenantConnection(Connection[Tenant]):
    pass


@strawberry.type
class UserConnection(Connection[User]):
    pass
