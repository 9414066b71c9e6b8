"""Plans and the feature values they bundle."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from entitle.db.engine import Executor
from entitle.db.repositories import ResultRow, Session
from entitle.db.tables import ENTITLEMENTS, PLAN_FEATURES, PLAN_VERSIONS, PLANS
from entitle.domain.model import JsonObject
from entitle.domain.patch import UNSET, Omittable


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A stored plan as the API renders it (attribute names are the column names)."""

    id: int
    key: str
    name: str
    description: str | None
    default_time_limitation_days: int | None
    version: int
    auto_assign: bool
    rank: int | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ResultRow) -> PlanRecord:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class PlanFeatureValue:
    """One feature value of a plan, at its position in the plan's list."""

    feature_id: int
    value: Any
    position: int


@dataclass(frozen=True, slots=True)
class PlanFeatureRecord:
    plan_id: int
    version: int
    feature_id: int
    position: int
    value: Any

    @classmethod
    def of(cls, row: ResultRow) -> PlanFeatureRecord:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class PlanVersionRecord:
    plan_id: int
    version: int
    created_at: datetime

    @classmethod
    def of(cls, row: ResultRow) -> PlanVersionRecord:
        return cls(**row._mapping)


async def key_exists(session: Session, key: str) -> bool:
    statement = sa.select(PLANS.c.id).where(PLANS.c.key == key)
    return (await session.scalar(sa.select(statement.exists()))) is True


async def by_key(session: Session, key: str) -> PlanRecord | None:
    row = (await session.execute(sa.select(PLANS).where(PLANS.c.key == key))).first()
    return None if row is None else PlanRecord.of(row)


_BY_KEYS = sa.select(PLANS).where(PLANS.c.key.in_(sa.bindparam("keys", expanding=True)))
"""Built once: building a statement with ``in_()`` costs more CPU than running it (SQLite writes)."""


async def by_keys(session: Session, keys: Collection[str]) -> dict[str, PlanRecord]:
    if not keys:
        return {}
    rows = await session.execute(_BY_KEYS, {"keys": list(keys)})
    return {row.key: PlanRecord.of(row) for row in rows}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFields:
    """A new plan, validated (it starts at version 1; ``at`` is its creation and update time)."""

    key: str
    name: str
    description: str | None
    default_time_limitation_days: int | None
    auto_assign: bool
    rank: int | None
    metadata: JsonObject
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanChanges:
    """What an update of a plan writes, validated: ``UNSET`` fields keep their stored value."""

    updated_at: datetime
    name: Omittable[str] = UNSET
    description: Omittable[str | None] = UNSET
    default_time_limitation_days: Omittable[int | None] = UNSET
    auto_assign: Omittable[bool] = UNSET
    rank: Omittable[int | None] = UNSET
    metadata: Omittable[JsonObject] = UNSET


async def insert(session: Session, fields: PlanFields) -> PlanRecord:
    statement = sa.insert(PLANS).values(
        key=fields.key,
        name=fields.name,
        description=fields.description,
        default_time_limitation_days=fields.default_time_limitation_days,
        version=1,
        auto_assign=fields.auto_assign,
        rank=fields.rank,
        metadata=fields.metadata,
        created_at=fields.at,
        updated_at=fields.at,
    )
    row = (await session.execute(statement.returning(PLANS))).one()
    return PlanRecord.of(row)


async def update(session: Session, plan_id: int, changes: PlanChanges) -> PlanRecord:
    values: dict[str, object] = {"updated_at": changes.updated_at}
    if changes.name is not UNSET:
        values["name"] = changes.name
    if changes.description is not UNSET:
        values["description"] = changes.description
    if changes.default_time_limitation_days is not UNSET:
        values["default_time_limitation_days"] = changes.default_time_limitation_days
    if changes.rank is not UNSET:
        values["rank"] = changes.rank
    if changes.auto_assign is not UNSET:
        values["auto_assign"] = changes.auto_assign
    if changes.metadata is not UNSET:
        values["metadata"] = changes.metadata
    statement = sa.update(PLANS).where(PLANS.c.id == plan_id).values(values).returning(PLANS)
    return PlanRecord.of((await session.execute(statement)).one())


async def add_version(
    session: Session, plan_id: int, version: int, values: list[PlanFeatureValue], at: datetime
) -> None:
    """Store version ``version`` of the plan with these feature values."""
    await session.execute(sa.insert(PLAN_VERSIONS).values(plan_id=plan_id, version=version, created_at=at))
    await _add_features(session, plan_id, version, values)


async def _add_features(session: Session, plan_id: int, version: int, values: list[PlanFeatureValue]) -> None:
    if values:
        await session.execute(
            sa.insert(PLAN_FEATURES),
            [
                {
                    "plan_id": plan_id,
                    "version": version,
                    "feature_id": v.feature_id,
                    "value": v.value,
                    "position": v.position,
                }
                for v in values
            ],
        )


async def replace_features(
    session: Session, plan_id: int, version: int, values: list[PlanFeatureValue]
) -> None:
    """Edit version ``version`` in place: its feature values become ``values``."""
    await session.execute(
        sa.delete(PLAN_FEATURES).where(PLAN_FEATURES.c.plan_id == plan_id, PLAN_FEATURES.c.version == version)
    )
    await _add_features(session, plan_id, version, values)


async def version_exists(session: Session, plan_id: int, version: int) -> bool:
    statement = sa.select(PLAN_VERSIONS.c.version).where(
        PLAN_VERSIONS.c.plan_id == plan_id, PLAN_VERSIONS.c.version == version
    )
    return (await session.scalar(sa.select(statement.exists()))) is True


async def entitlement_counts(executor: Executor, plan_ids: Collection[int]) -> dict[int, dict[int, int]]:
    """Entitlements that are not revoked, per plan id and version (one statement)."""
    e = ENTITLEMENTS
    rows = await executor.execute(
        sa.select(e.c.plan_id, e.c.plan_version, sa.func.count())
        .where(e.c.plan_id.in_(list(plan_ids)), e.c.revoked_at.is_(None))
        .group_by(e.c.plan_id, e.c.plan_version)
    )
    counts: dict[int, dict[int, int]] = {}
    for plan_id, version, count in rows:
        counts.setdefault(plan_id, {})[version] = int(count)
    return counts


async def publish(session: Session, plan_id: int, at: datetime) -> PlanRecord:
    """Make version n+1 the plan's current version (its row is locked until the transaction ends, so
    concurrent publications of one plan get successive numbers)."""
    statement = (
        sa.update(PLANS)
        .where(PLANS.c.id == plan_id)
        .values(version=PLANS.c.version + 1, updated_at=at)
        .returning(PLANS)
    )
    return PlanRecord.of((await session.execute(statement)).one())


_AUTO_ASSIGNED = sa.select(PLANS).where(PLANS.c.auto_assign.is_(True)).order_by(PLANS.c.id)


async def auto_assigned(session: Session) -> list[PlanRecord]:
    """The plans every new tenant gets, by id."""
    rows = await session.execute(_AUTO_ASSIGNED)
    return [PlanRecord.of(row) for row in rows]


async def is_granted(session: Session, plan_id: int) -> bool:
    """Whether any entitlement (revoked ones included) refers to the plan."""
    statement = sa.select(ENTITLEMENTS.c.id).where(ENTITLEMENTS.c.plan_id == plan_id)
    return (await session.scalar(sa.select(statement.exists()))) is True


async def delete(session: Session, plan_id: int) -> None:
    await session.execute(sa.delete(PLAN_FEATURES).where(PLAN_FEATURES.c.plan_id == plan_id))
    await session.execute(sa.delete(PLAN_VERSIONS).where(PLAN_VERSIONS.c.plan_id == plan_id))
    await session.execute(sa.delete(PLANS).where(PLANS.c.id == plan_id))
