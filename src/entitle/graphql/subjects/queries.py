from __future__ import annotations

import strawberry

from entitle.graphql.core.context import Info
from entitle.graphql.core.inputs import KeyFilter, keyed_rows
from entitle.graphql.core.permissions import management
from entitle.graphql.subjects.types import Tenant, TenantConnection, User, UserConnection
from entitle.services.lookups import TENANT_ROWS, USER_ROWS, row_by_key


@strawberry.type
class SubjectsQuery:
    @strawberry.field(extensions=management())
    async def tenant(self, info: Info, key: str) -> Tenant | None:
        row = await row_by_key(info.context.runtime, TENANT_ROWS, key)
        return None if row is None else Tenant.from_record(row)

    @strawberry.field(extensions=management())
    async def tenants(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> TenantConnection:
        return await TenantConnection.resolve_connection(
            keyed_rows(TENANT_ROWS, filter), info=info, first=first, after=after, last=last, before=before
        )

    @strawberry.field(extensions=management())
    async def user(self, info: Info, key: str) -> User | None:
        row = await row_by_key(info.context.runtime, USER_ROWS, key)
        return None if row is None else User.from_record(row)

    @strawberry.field(extensions=management())
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> UserConnection:
        return await UserConnection.resolve_connection(
            keyed_rows(USER_ROWS, filter), info=info, first=first, after=after, last=last, before=before
        )
