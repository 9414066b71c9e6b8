"""Grants: inserted in bulk, updated, revoked."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from entitle.db.repositories import Session
from entitle.db.tables import ENTITLEMENTS, FEATURES, PLANS, TENANTS, USERS
from entitle.domain.changes import ChangeKind, NewChange, payload_of

_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class StoredEntitlement:
    """A stored grant as the API renders it (attribute names are the column names).

    Not the domain's ``EntitlementRecord`` (what a decision reads): this one carries everything stored.
    """

    id: int
    assign_level: str
    plan_id: int | None
    plan_version: int | None
    feature_id: int | None
    value: Any
    period_anchor: datetime | None
    tenant_id: int | None
    user_id: int | None
    start_date: datetime
    expiration_date: datetime | None
    revoked_at: datetime | None
    reason: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> StoredEntitlement:
        return cls(**row._mapping)


async def insert_many(session: Session, rows: list[dict[str, Any]]) -> list[StoredEntitlement]:
    """Insert ``rows`` (column values) with one multi-row statement per chunk; returned in input order."""
    inserted: list[StoredEntitlement] = []
    statement = sa.insert(ENTITLEMENTS).returning(ENTITLEMENTS, sort_by_parameter_order=True)
    for offset in range(0, len(rows), _CHUNK):
        result = await session.execute(statement, rows[offset : offset + _CHUNK])
        inserted.extend(StoredEntitlement.of(row) for row in result)
    return inserted


async def by_id(session: Session, entitlement_id: int) -> StoredEntitlement | None:
    row = (await session.execute(sa.select(ENTITLEMENTS).where(ENTITLEMENTS.c.id == entitlement_id))).first()
    return None if row is None else StoredEntitlement.of(row)


async def update(session: Session, entitlement_id: int, values: dict[str, Any]) -> StoredEntitlement:
    statement = (
        sa.update(ENTITLEMENTS)
        .where(ENTITLEMENTS.c.id == entitlement_id)
        .values(**values)
        .returning(ENTITLEMENTS)
    )
    return StoredEntitlement.of((await session.execute(statement)).one())


async def existing_ids(session: Session, ids: Collection[int]) -> set[int]:
    """Which of ``ids`` are stored grants."""
    rows = await session.execute(sa.select(ENTITLEMENTS.c.id).where(ENTITLEMENTS.c.id.in_(ids)))
    return set(rows.scalars())


async def revoke(session: Session, ids: Collection[int], at: datetime) -> list[StoredEntitlement]:
    """Revoke the grants among ``ids`` not revoked yet; returns those that changed."""
    result = await session.execute(
        sa.update(ENTITLEMENTS)
        .where(ENTITLEMENTS.c.id.in_(ids), ENTITLEMENTS.c.revoked_at.is_(None))
        .values(revoked_at=at, updated_at=at)
        .returning(ENTITLEMENTS)
    )
    return [StoredEntitlement.of(row) for row in result]


@dataclass(frozen=True, slots=True)
class GrantKeys:
    """The keys a grant's ids stand for (what a change names and caches are evicted by)."""

    plan_key: str | None
    feature_key: str | None
    tenant_key: str | None
    user_key: str | None


async def keys_of(session: Session, ids: Collection[int]) -> dict[int, GrantKeys]:
    """The plan, feature, tenant and user keys of these grants, by id (one statement)."""
    e = ENTITLEMENTS
    statement = (
        sa.select(e.c.id, PLANS.c.key, FEATURES.c.key, TENANTS.c.key, USERS.c.key)
        .select_from(e)
        .outerjoin(PLANS, PLANS.c.id == e.c.plan_id)
        .outerjoin(FEATURES, FEATURES.c.id == e.c.feature_id)
        .outerjoin(TENANTS, TENANTS.c.id == e.c.tenant_id)
        .outerjoin(USERS, USERS.c.id == e.c.user_id)
        .where(e.c.id.in_(list(ids)))
    )
    return {row[0]: GrantKeys(*row[1:]) for row in await session.execute(statement)}


async def count(session: Session) -> int:
    return int(await session.scalar(sa.select(sa.func.count()).select_from(ENTITLEMENTS)) or 0)


def grant_change(
    kind: ChangeKind, record: StoredEntitlement, keys: GrantKeys, before: StoredEntitlement | None = None
) -> NewChange:
    return NewChange(
        kind,
        tenant_key=keys.tenant_key,
        user_key=keys.user_key,
        feature_key=keys.feature_key,
        plan_key=keys.plan_key,
        entitlement_id=record.id,
        payload=payload_of(
            record,
            before=before,
            planKey=keys.plan_key,
            featureKey=keys.feature_key,
            tenantKey=keys.tenant_key,
            userKey=keys.user_key,
        ),
    )
