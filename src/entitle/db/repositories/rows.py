"""Stored rows by id or key, for the API's loaders and single-object fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa

from entitle.db.engine import Executor
from entitle.db.tables import (
    CHANGES,
    DECISION_LOG,
    ENTITLEMENTS,
    TENANTS,
    USAGE_RECORDS,
    USAGE_RESERVATIONS,
    USERS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
)

Row = Any
"""A SQLAlchemy result row (attribute access by column name)."""

RowKind = Literal[
    "tenants",
    "users",
    "entitlements",
    "changes",
    "webhook_endpoints",
    "webhook_deliveries",
    "usage_reservations",
    "usage_records",
    "decision_log",
]

_TABLES: dict[RowKind, sa.Table] = {
    "tenants": TENANTS,
    "users": USERS,
    "entitlements": ENTITLEMENTS,
    "changes": CHANGES,
    "webhook_endpoints": WEBHOOK_ENDPOINTS,
    "webhook_deliveries": WEBHOOK_DELIVERIES,
    "usage_reservations": USAGE_RESERVATIONS,
    "usage_records": USAGE_RECORDS,
    "decision_log": DECISION_LOG,
}


async def rows_by_id(session: Executor, kind: RowKind, ids: Sequence[int]) -> dict[int, Row]:
    """The rows of ``kind`` with these ids, in one ``IN`` statement; missing ids are absent."""
    table = _TABLES[kind]
    rows = await session.execute(sa.select(table).where(table.c.id.in_(list(ids))))
    return {row.id: row for row in rows}


async def row_by_key(session: Executor, kind: Literal["tenants", "users"], key: str) -> Row | None:
    table = _TABLES[kind]
    return (await session.execute(sa.select(table).where(table.c.key == key))).first()
