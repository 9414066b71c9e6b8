"""Features: the stored rows behind the catalog's feature definitions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from entitle.db.repositories import ColumnValues, ResultRow, Session
from entitle.db.tables import (
    ENTITLEMENTS,
    FEATURES,
    FLAG_FEATURES,
    PLAN_FEATURES,
    PLANS,
    ROUTES,
    USAGE_COUNTERS,
    USAGE_EVENTS,
    USAGE_RESERVATIONS,
)
from entitle.domain.model import JsonValue


@dataclass(frozen=True, slots=True)
class FeatureRecord:
    """A stored feature as the API renders it (attribute names are the column names)."""

    id: int
    key: str
    name: str
    description: str | None
    type: str
    unit: str | None
    tiers: list[str]
    permissions: list[str]
    default_value: Any
    reset_period: str | None
    overage: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    warning_thresholds: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, row: ResultRow) -> FeatureRecord:
        values = dict(row._mapping)
        values["warning_thresholds"] = list(values.get("warning_thresholds") or [])
        return cls(**values)


async def key_exists(session: Session, key: str) -> bool:
    statement = sa.select(FEATURES.c.id).where(FEATURES.c.key == key)
    return (await session.scalar(sa.select(statement.exists()))) is True


async def by_key(session: Session, key: str) -> FeatureRecord | None:
    row = (await session.execute(sa.select(FEATURES).where(FEATURES.c.key == key))).first()
    return None if row is None else FeatureRecord.of(row)


# Built once: building a statement with ``in_()`` costs more CPU than running it (SQLite writes).
_BY_KEYS = sa.select(FEATURES).where(FEATURES.c.key.in_(sa.bindparam("keys", expanding=True)))
_IDS_BY_KEYS = sa.select(FEATURES.c.key, FEATURES.c.id).where(
    FEATURES.c.key.in_(sa.bindparam("keys", expanding=True))
)


async def by_keys(session: Session, keys: Collection[str]) -> dict[str, FeatureRecord]:
    if not keys:
        return {}
    rows = await session.execute(_BY_KEYS, {"keys": list(keys)})
    return {row.key: FeatureRecord.of(row) for row in rows}


async def ids_by_keys(session: Session, keys: Collection[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = await session.execute(_IDS_BY_KEYS, {"keys": list(keys)})
    return {key: feature_id for key, feature_id in rows}


async def insert(session: Session, values: ColumnValues) -> FeatureRecord:
    """Insert one feature; ``values`` are column values (``metadata`` included)."""
    row = (await session.execute(sa.insert(FEATURES).values(**values).returning(FEATURES))).one()
    return FeatureRecord.of(row)


async def update(session: Session, feature_id: int, values: ColumnValues) -> FeatureRecord:
    statement = sa.update(FEATURES).where(FEATURES.c.id == feature_id).values(**values).returning(FEATURES)
    return FeatureRecord.of((await session.execute(statement)).one())


async def delete(session: Session, feature_id: int) -> None:
    await session.execute(sa.delete(FEATURES).where(FEATURES.c.id == feature_id))


async def plan_values(session: Session, feature_id: int) -> list[tuple[str, JsonValue]]:
    """``(plan key, value)`` for every plan that sets this feature."""
    rows = await session.execute(
        sa.select(PLANS.c.key, PLAN_FEATURES.c.value)
        .join(PLANS, PLANS.c.id == PLAN_FEATURES.c.plan_id)
        .where(PLAN_FEATURES.c.feature_id == feature_id)
    )
    return [(key, value) for key, value in rows]


async def grant_values(session: Session, feature_id: int) -> list[tuple[int, JsonValue]]:
    """``(entitlement id, value)`` for every single-feature grant of this feature with a value."""
    rows = await session.execute(
        sa.select(ENTITLEMENTS.c.id, ENTITLEMENTS.c.value).where(
            ENTITLEMENTS.c.feature_id == feature_id, ENTITLEMENTS.c.value.is_not(None)
        )
    )
    return [(entitlement_id, value) for entitlement_id, value in rows]


_USERS = (
    (PLAN_FEATURES, "a plan"),
    (ENTITLEMENTS, "an entitlement"),
    (FLAG_FEATURES, "a feature flag"),
    (ROUTES, "an API route"),
    (USAGE_COUNTERS, "recorded usage"),
    (USAGE_EVENTS, "recorded usage"),
    (USAGE_RESERVATIONS, "recorded usage"),
)


async def first_user(session: Session, feature_id: int) -> str | None:
    """The first thing still referring to the feature ("a plan", ...), in this order; None if nothing."""
    for table, what in _USERS:
        used = sa.select(table.c.feature_id).where(table.c.feature_id == feature_id)
        if (await session.scalar(sa.select(used.exists()))) is True:
            return what
    return None
