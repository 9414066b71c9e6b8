"""API routes: which policy guards a method and path pattern."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from entitle.db.repositories import ColumnValues, ResultRow, Session
from entitle.db.tables import ROUTES


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """A stored API route as the API renders it (attribute names are the column names)."""

    id: int
    method: str
    path_pattern: str
    policy: str
    feature_id: int | None
    permission_key: str | None
    priority: int
    created_at: datetime

    @classmethod
    def of(cls, row: ResultRow) -> RouteRecord:
        return cls(**row._mapping)


async def insert(session: Session, values: ColumnValues) -> RouteRecord:
    """Insert one route; ``values`` are column values."""
    row = (await session.execute(sa.insert(ROUTES).values(**values).returning(ROUTES))).one()
    return RouteRecord.of(row)


async def delete(session: Session, route_id: int) -> RouteRecord | None:
    """Delete the route; the deleted route, or None when there was none with this id."""
    row = (await session.execute(sa.delete(ROUTES).where(ROUTES.c.id == route_id).returning(ROUTES))).first()
    return None if row is None else RouteRecord.of(row)
