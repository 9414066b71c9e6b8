"""Grants: inserted in bulk, updated, revoked."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from entitle.db.repositories import ResultRow, Session
from entitle.db.tables import ENTITLEMENTS, FEATURES, PLANS, TENANTS, USERS
from entitle.domain.changes import ChangeKind, NewChange, payload_of
from entitle.domain.model import AssignLevel, JsonObject, JsonValue
from entitle.domain.patch import UNSET, Omittable

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
    start_pending: int = 0
    """The scheduler's marks (``start_mark()``, ``expiry_mark()``), not rendered by the API."""
    expiry_pending: int = 0

    @classmethod
    def of(cls, row: ResultRow) -> StoredEntitlement:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementFields:
    """A new grant, validated: a plan (on ``plan_version``) or one feature with its ``value``, to a
    tenant, a user or both (``assign_level`` says which); ``at`` is its creation and update time."""

    assign_level: AssignLevel
    plan_id: int | None
    plan_version: int | None
    feature_id: int | None
    value: JsonValue
    tenant_id: int | None
    user_id: int | None
    start_date: datetime
    expiration_date: datetime | None
    reason: str | None
    metadata: JsonObject
    at: datetime
    period_anchor: datetime | None = None
    """Where its usage periods are anchored (a plan change carrying usage over); None: at ``start_date``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementChanges:
    """What an update of a grant writes, validated: ``UNSET`` fields keep their stored value."""

    updated_at: datetime
    start_date: Omittable[datetime] = UNSET
    expiration_date: Omittable[datetime | None] = UNSET
    reason: Omittable[str | None] = UNSET
    metadata: Omittable[JsonObject] = UNSET


_INSERT = sa.insert(ENTITLEMENTS).returning(ENTITLEMENTS, sort_by_parameter_order=True)


def _columns(fields: EntitlementFields) -> dict[str, object]:
    return {
        "plan_id": fields.plan_id,
        "plan_version": fields.plan_version,
        "feature_id": fields.feature_id,
        "value": fields.value,
        "period_anchor": fields.period_anchor,
        "assign_level": fields.assign_level.value,
        "tenant_id": fields.tenant_id,
        "user_id": fields.user_id,
        "start_date": fields.start_date,
        "expiration_date": fields.expiration_date,
        "revoked_at": None,
        "reason": fields.reason,
        "metadata": fields.metadata,
        "created_at": fields.at,
        "updated_at": fields.at,
        "start_pending": start_mark(fields.start_date, fields.at),
        "expiry_pending": expiry_mark(fields.expiration_date, fields.at),
    }


def start_mark(start: datetime, at: datetime) -> int:
    """1 when the scheduler is to append ENTITLEMENT_STARTED: ``start`` is after the clock of the write
    that sets it (a grant whose start is not in the future started when it was granted, and its own
    change says so). The scheduler takes the mark, not a window of instants, so a write that commits
    after its start has passed the scheduler's window still gets its change."""
    return int(start > at)


def expiry_mark(expiration: datetime | None, at: datetime) -> int:
    """1 when the scheduler is to append ENTITLEMENT_EXPIRED: ``expiration`` is at or after the clock of
    the write that sets it (a plan change ends the old grant at its own instant)."""
    return int(expiration is not None and expiration >= at)


async def insert_many(session: Session, grants: Sequence[EntitlementFields]) -> list[StoredEntitlement]:
    """Insert ``grants`` with one multi-row statement per chunk; returned in input order."""
    inserted: list[StoredEntitlement] = []
    for offset in range(0, len(grants), _CHUNK):
        rows = [_columns(fields) for fields in grants[offset : offset + _CHUNK]]
        result = await session.execute(_INSERT, rows)
        inserted.extend(StoredEntitlement.of(row) for row in result)
    return inserted


async def by_id(session: Session, entitlement_id: int) -> StoredEntitlement | None:
    row = (await session.execute(sa.select(ENTITLEMENTS).where(ENTITLEMENTS.c.id == entitlement_id))).first()
    return None if row is None else StoredEntitlement.of(row)


async def update(session: Session, entitlement_id: int, changes: EntitlementChanges) -> StoredEntitlement:
    values: dict[str, object] = {"updated_at": changes.updated_at}
    if changes.start_date is not UNSET:
        values["start_date"] = changes.start_date
        values["start_pending"] = start_mark(changes.start_date, changes.updated_at)
    if changes.expiration_date is not UNSET:
        values["expiration_date"] = changes.expiration_date
        values["expiry_pending"] = expiry_mark(changes.expiration_date, changes.updated_at)
    if changes.reason is not UNSET:
        values["reason"] = changes.reason
    if changes.metadata is not UNSET:
        values["metadata"] = changes.metadata
    statement = (
        sa.update(ENTITLEMENTS)
        .where(ENTITLEMENTS.c.id == entitlement_id)
        .values(values)
        .returning(ENTITLEMENTS)
    )
    return StoredEntitlement.of((await session.execute(statement)).one())


async def end_at(
    session: Session, entitlement_id: int, at: datetime, stamp: datetime
) -> StoredEntitlement | None:
    """Set the expiration of a live plan entitlement to ``at`` if it is still live then (started
    before ``at``, not revoked, not expired by then). None when it no longer is: the condition is
    checked again on the locked row, so two concurrent plan changes cannot both end it."""
    e = ENTITLEMENTS
    statement = (
        sa.update(e)
        .where(
            e.c.id == entitlement_id,
            e.c.revoked_at.is_(None),
            e.c.start_date < at,
            sa.or_(e.c.expiration_date.is_(None), e.c.expiration_date > at),
        )
        .values(expiration_date=at, updated_at=stamp, expiry_pending=expiry_mark(at, stamp))
        .returning(e)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else StoredEntitlement.of(row)


_FIELDS = tuple(StoredEntitlement.__dataclass_fields__)


async def on_plan_version(
    session: Session, plan_id: int, version: int
) -> list[tuple[StoredEntitlement, GrantKeys]]:
    """The entitlements of a plan version that are not revoked, with their keys, by id."""
    e = ENTITLEMENTS
    statement = (
        sa.select(
            e,
            PLANS.c.key.label("_plan_key"),
            TENANTS.c.key.label("_tenant_key"),
            USERS.c.key.label("_user_key"),
        )
        .select_from(e)
        .join(PLANS, PLANS.c.id == e.c.plan_id)
        .outerjoin(TENANTS, TENANTS.c.id == e.c.tenant_id)
        .outerjoin(USERS, USERS.c.id == e.c.user_id)
        .where(e.c.plan_id == plan_id, e.c.plan_version == version, e.c.revoked_at.is_(None))
        .order_by(e.c.id)
    )
    found = []
    for row in await session.execute(statement):
        mapping = row._mapping
        record = StoredEntitlement(**{name: mapping[name] for name in _FIELDS})
        found.append((record, GrantKeys(row._plan_key, None, row._tenant_key, row._user_key)))
    return found


async def set_plan_version(session: Session, ids: Sequence[int], version: int, at: datetime) -> set[int]:
    """Put these entitlements (those still not revoked) on ``version``; returns the ids it moved."""
    e = ENTITLEMENTS
    moved: set[int] = set()
    for offset in range(0, len(ids), _CHUNK):
        result = await session.execute(
            sa.update(e)
            .where(e.c.id.in_(ids[offset : offset + _CHUNK]), e.c.revoked_at.is_(None))
            .values(plan_version=version, updated_at=at)
            .returning(e.c.id)
        )
        moved.update(result.scalars())
    return moved


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
