"""Feature flags and the features each one turns on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from entitle.db.repositories import ResultRow, Session
from entitle.db.tables import FLAG_FEATURES, FLAGS
from entitle.domain.model import FlagRule


@dataclass(frozen=True, slots=True)
class FlagRecord:
    """A stored feature flag as the API renders it (attribute names are the column names)."""

    id: int
    key: str
    name: str
    description: str | None
    on: bool
    tenant_keys: list[str]
    user_keys: list[str]
    rules: list[dict[str, Any]]
    percentage: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ResultRow) -> FlagRecord:
        return cls(**row._mapping)


async def key_exists(session: Session, key: str) -> bool:
    statement = sa.select(FLAGS.c.id).where(FLAGS.c.key == key)
    return (await session.scalar(sa.select(statement.exists()))) is True


async def by_key(session: Session, key: str) -> FlagRecord | None:
    row = (await session.execute(sa.select(FLAGS).where(FLAGS.c.key == key))).first()
    return None if row is None else FlagRecord.of(row)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagFields:
    """A flag's whole definition, validated (an update replaces every field; ``at`` is when)."""

    key: str
    name: str
    description: str | None
    on: bool
    tenant_keys: Sequence[str]
    user_keys: Sequence[str]
    rules: Sequence[FlagRule]
    percentage: int | None
    at: datetime


def _columns(fields: FlagFields) -> dict[str, object]:
    return {
        "key": fields.key,
        "name": fields.name,
        "description": fields.description,
        "on": fields.on,
        "tenant_keys": list(fields.tenant_keys),
        "user_keys": list(fields.user_keys),
        "rules": [
            {
                "attribute": rule.attribute.value,
                "operator": rule.operator.value,
                "values": list(rule.values),
                "path": rule.path,
                "negate": rule.negate,
            }
            for rule in fields.rules
        ],
        "percentage": fields.percentage,
        "updated_at": fields.at,
    }


async def insert(session: Session, fields: FlagFields) -> FlagRecord:
    statement = sa.insert(FLAGS).values({**_columns(fields), "created_at": fields.at}).returning(FLAGS)
    return FlagRecord.of((await session.execute(statement)).one())


async def update(session: Session, flag_id: int, fields: FlagFields) -> FlagRecord:
    statement = sa.update(FLAGS).where(FLAGS.c.id == flag_id).values(_columns(fields)).returning(FLAGS)
    return FlagRecord.of((await session.execute(statement)).one())


async def set_features(session: Session, flag_id: int, feature_ids: list[int]) -> None:
    """Replace the flag's features by ``feature_ids``, in this order."""
    await session.execute(sa.delete(FLAG_FEATURES).where(FLAG_FEATURES.c.flag_id == flag_id))
    if feature_ids:
        await session.execute(
            sa.insert(FLAG_FEATURES),
            [{"flag_id": flag_id, "feature_id": f, "position": i} for i, f in enumerate(feature_ids)],
        )


async def delete(session: Session, flag_id: int) -> None:
    await session.execute(sa.delete(FLAG_FEATURES).where(FLAG_FEATURES.c.flag_id == flag_id))
    await session.execute(sa.delete(FLAGS).where(FLAGS.c.id == flag_id))
