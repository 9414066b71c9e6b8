"""API routes: which policy guards a method and path pattern."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from entitle.db.repositories import ResultRow, Session
from entitle.db.tables import ROUTES
from entitle.domain.model import RoutePolicy


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


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteFields:
    """A new route, validated: the feature (REQUIRE_FEATURE) by id, the permission (REQUIRE_PERMISSION)."""

    method: str
    path_pattern: str
    policy: RoutePolicy
    feature_id: int | None
    permission_key: str | None
    priority: int
    created_at: datetime


async def insert(session: Session, fields: RouteFields) -> RouteRecord:
    statement = sa.insert(ROUTES).values(
        method=fields.method,
        path_pattern=fields.path_pattern,
        policy=fields.policy.value,
        feature_id=fields.feature_id,
        permission_key=fields.permission_key,
        priority=fields.priority,
        created_at=fields.created_at,
    )
    row = (await session.execute(statement.returning(ROUTES))).one()
    return RouteRecord.of(row)


async def delete(session: Session, route_id: int) -> RouteRecord | None:
    """Delete the route; the deleted route, or None when there was none with this id."""
    row = (await session.execute(sa.delete(ROUTES).where(ROUTES.c.id == route_id).returning(ROUTES))).first()
    return None if row is None else RouteRecord.of(row)
