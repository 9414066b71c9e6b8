"""Features: the stored rows behind the catalog's feature definitions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from entitle.db.repositories import ResultRow, Session
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
from entitle.domain.model import FeatureType, JsonObject, JsonValue, OverageHandling, ResetPeriod
from entitle.domain.patch import UNSET, Omittable


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


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureFields:
    """A new feature, validated: every field has its value (``at`` is its creation and update time)."""

    key: str
    name: str
    type: FeatureType
    description: str | None
    unit: str | None
    tiers: Sequence[str]
    permissions: Sequence[str]
    default_value: JsonValue
    reset_period: ResetPeriod | None
    overage: OverageHandling
    metadata: JsonObject
    warning_thresholds: Sequence[int] | None
    """None: never set (stored as NULL, read as no thresholds)."""
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureChanges:
    """What an update of a feature writes, validated: ``UNSET`` fields keep their stored value."""

    updated_at: datetime
    name: Omittable[str] = UNSET
    description: Omittable[str | None] = UNSET
    unit: Omittable[str | None] = UNSET
    tiers: Omittable[Sequence[str]] = UNSET
    permissions: Omittable[Sequence[str]] = UNSET
    default_value: Omittable[JsonValue] = UNSET
    reset_period: Omittable[ResetPeriod | None] = UNSET
    overage: Omittable[OverageHandling] = UNSET
    metadata: Omittable[JsonObject] = UNSET
    warning_thresholds: Omittable[Sequence[int]] = UNSET


async def insert(session: Session, fields: FeatureFields) -> FeatureRecord:
    statement = sa.insert(FEATURES).values(
        key=fields.key,
        name=fields.name,
        type=fields.type.value,
        description=fields.description,
        unit=fields.unit,
        tiers=list(fields.tiers),
        permissions=list(fields.permissions),
        default_value=fields.default_value,
        reset_period=None if fields.reset_period is None else fields.reset_period.value,
        overage=fields.overage.value,
        metadata=fields.metadata,
        warning_thresholds=None if fields.warning_thresholds is None else list(fields.warning_thresholds),
        created_at=fields.at,
        updated_at=fields.at,
    )
    row = (await session.execute(statement.returning(FEATURES))).one()
    return FeatureRecord.of(row)


async def update(session: Session, feature_id: int, changes: FeatureChanges) -> FeatureRecord:
    values: dict[str, object] = {"updated_at": changes.updated_at}
    if changes.name is not UNSET:
        values["name"] = changes.name
    if changes.description is not UNSET:
        values["description"] = changes.description
    if changes.unit is not UNSET:
        values["unit"] = changes.unit
    if changes.tiers is not UNSET:
        values["tiers"] = list(changes.tiers)
    if changes.permissions is not UNSET:
        values["permissions"] = list(changes.permissions)
    if changes.default_value is not UNSET:
        values["default_value"] = changes.default_value
    if changes.reset_period is not UNSET:
        values["reset_period"] = None if changes.reset_period is None else changes.reset_period.value
    if changes.overage is not UNSET:
        values["overage"] = changes.overage.value
    if changes.metadata is not UNSET:
        values["metadata"] = changes.metadata
    if changes.warning_thresholds is not UNSET:
        values["warning_thresholds"] = list(changes.warning_thresholds)
    statement = sa.update(FEATURES).where(FEATURES.c.id == feature_id).values(values).returning(FEATURES)
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
