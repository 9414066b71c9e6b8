"""Change counters that let every process know when its caches went stale.

A write transaction bumps the scopes it touched (``catalog``: features, plans, flags, routes;
``subjects``: tenants, users, memberships, entitlements). The bump commits or rolls back with the
write, so a process that sees a new value knows the change is visible to its next read.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from entitle.db.tables import REVISIONS as _table


class Scope(StrEnum):
    CATALOG = "catalog"
    SUBJECTS = "subjects"


async def bump(session: AsyncSession, scope: Scope) -> int:
    """Increment ``scope``'s counter in the caller's transaction; returns the new value.

    Concurrent writers queue on the row, so the value a writer gets covers every earlier bump.
    """
    value = await session.scalar(
        sa.update(_table)
        .where(_table.c.scope == scope.value)
        .values(value=_table.c.value + 1)
        .returning(_table.c.value)
    )
    if value is None:
        await session.execute(sa.insert(_table).values(scope=scope.value, value=1))
        return 1
    return int(value)


async def read_all(connection: AsyncConnection | AsyncSession) -> dict[str, int]:
    rows = await connection.execute(sa.select(_table.c.scope, _table.c.value))
    return {scope: int(value) for scope, value in rows}
