"""Small shared pieces of the use cases: lookups by key that raise the right error."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitle.domain.errors import NotFound
from entitle.domain.text import shown


async def row_by_key(
    session: AsyncSession, table: sa.Table, key: str, *, what: str, field: str = "key"
) -> Any:
    row = (await session.execute(sa.select(table).where(table.c.key == key))).first()
    if row is None:
        raise NotFound(f"no {what} with key {shown(key)}", field=field)
    return row


async def exists(session: AsyncSession, statement: sa.Select[Any]) -> bool:
    return (await session.scalar(sa.select(statement.exists()))) is True
