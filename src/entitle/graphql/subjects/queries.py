from __future__ import annotations

import sqlalchemy as sa
import strawberry

from entitle.db.pagination import Ordering, PageArgs
from entitle.db.tables import TENANTS, USERS
from entitle.graphql.context import Info
from entitle.graphql.inputs import KeyFilter
from entitle.graphql.pagination import to_connection
from entitle.graphql.subjects.types import Tenant, TenantConnection, User, UserConnection
from entitle.services.listings import key_filter, list_page


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
        terms = key_filter(TENANTS, filter.keys, filter.search) if filter else []
        page, count = await list_page(
            info.context.runtime,
            sa.select(TENANTS).where(*terms),
            Ordering.by_id(TENANTS),
            PageArgs.parse(first, after, last, before),
        )
        return to_connection(TenantConnection, page, Tenant.from_row, count)

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
        terms = key_filter(USERS, filter.keys, filter.search) if filter else []
        page, count = await list_page(
            info.context.runtime,
            sa.select(USERS).where(*terms),
            Ordering.by_id(USERS),
            PageArgs.parse(first, after, last, before),
        )
        return to_connection(UserConnection, page, User.from_row, count)
