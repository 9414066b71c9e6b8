"""Listing pages for every connection: one keyset helper, one lazy count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

from entitle.db.pagination import Ordering, Page, PageArgs, count, paginate
from entitle.services.runtime import Runtime


async def list_page(
    runtime: Runtime, statement: sa.Select[Any], ordering: Ordering, args: PageArgs
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    """One page of ``statement`` plus a function that counts all matching rows when asked."""
    async with runtime.database.lookup() as connection:
        page = await paginate(connection, statement, ordering, args)

    async def count_rows() -> int:
        async with runtime.database.lookup() as connection:
            return await count(connection, statement)

    return page, count_rows


def key_filter(table: sa.Table, keys: list[str] | None, search: str | None) -> list[Any]:
    """WHERE terms for ``KeyFilter``: exact keys, and/or a case-insensitive substring of key or name."""
    terms: list[Any] = []
    if keys is not None:
        terms.append(table.c.key.in_(keys))
    if search:
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        terms.append(
            sa.or_(
                sa.func.lower(table.c.key).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(table.c.name, "")).like(pattern, escape="\\"),
            )
        )
    return terms
