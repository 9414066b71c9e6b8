from __future__ import annotations

import sqlalchemy as sa
import strawberry

from entitle.db.pagination import Ordering
from entitle.db.tables import TENANTS, USERS
from entitle.graphql.context import Info
from entitle.graphql.inputs import KeyFilter, keyed_rows
from entitle.graphql.pagination import paged
from entitle.graphql.subjects.types import Tenant, TenantConnection, User, UserConnection


async def _by_key(info: Info, table: sa.Table, key: str) -> object | None:
    async with info.context.runtime.database.read() as session:
        return (await session.execute(sa.select(table).where(table.c.key == key))).first()


@strawberry.type
class SubjectsQuery:
    @strawberry.field
    async def tenant(self, info: Info, key: str) -> Tenant | None:
        info.context.require_management()
        row = await _by_key(info, TENANTS, key)
        return None if row is None else Tenant.from_row(row)

    @strawberry.field
    async def tenants(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> TenantConnection:
        info.context.require_management()
        return await paged(
            info,
            TenantConnection,
            Tenant.from_row,
            keyed_rows(TENANTS, filter),
            Ordering.by_id(TENANTS),
            first,
            after,
            last,
            before,
        )

    @strawberry.field
    async def user(self, info: Info, key: str) -> User | None:
        info.context.require_management()
        row = await _by_key(info, USERS, key)
        return None if row is None else User.from_row(row)

    @strawberry.field
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> UserConnection:
        info.context.require_management()
        return await paged(
            info,
            UserConnection,
            User.from_row,
            keyed_rows(USERS, filter),
            Ordering.by_id(USERS),
            first,
            after,
            last,
            before,
        )
