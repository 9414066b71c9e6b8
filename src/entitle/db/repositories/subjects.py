"""Tenants, users and memberships: upserts by key in bulk, and lookups by key."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from entitle.db.engine import Executor, upsert_statement
from entitle.db.repositories import ResultRow, Session, changes
from entitle.db.tables import MEMBERSHIPS, TENANTS, USERS
from entitle.domain.changes import ChangeKind, NewChange, shown
from entitle.domain.patch import UNSET
from entitle.domain.subjects import SubjectFields, TenantFields, UserFields

_CHUNK = 2000  # rows per statement: far below bind-parameter limits


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A stored tenant as the API renders it (attribute names are the column names)."""

    id: int
    key: str
    name: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ResultRow) -> TenantRecord:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A stored user as the API renders it (attribute names are the column names)."""

    id: int
    key: str
    name: str | None
    email: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ResultRow) -> UserRecord:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class Upserted:
    """Ids by key of the rows an upsert wrote, and the keys of those it created (not updated)."""

    ids: dict[str, int]
    created: dict[str, int]


async def _upsert(
    session: Session,
    table: sa.Table,
    items: Sequence[SubjectFields],
    fields: tuple[str, ...],
    at: datetime,
    kind: ChangeKind,
) -> Upserted:
    """Insert or update ``items`` by key; fields an item omits keep their stored value.

    Which rows were created is told by the database (PostgreSQL: the row version's ``xmax`` is 0
    for an insert), so two concurrent upserts of one new key do not both count it as created. SQLite's
    writers are serialized: the rows found before the upsert are exactly those it updates.
    """
    keys = [item.key for item in items]
    existing = {r.key: r for r in await session.execute(_existing(table), {"keys": keys})}
    rows = []
    for item in items:
        current = existing.get(item.key)
        row: dict[str, Any] = {"key": item.key, "updated_at": at}
        row["created_at"] = current.created_at if current is not None else at
        for name in fields:
            given = getattr(item, name)
            if given is not UNSET:
                row[name] = given if name != "metadata" else (given or {})
            else:
                row[name] = (
                    getattr(current, name) if current is not None else ({} if name == "metadata" else None)
                )
        rows.append(row)
    postgresql = session.get_bind().dialect.name == "postgresql"
    statement = _upsert_statement(table, fields, postgresql=postgresql)
    ids: dict[str, int] = {}
    created: dict[str, int] = {}
    for offset in range(0, len(rows), _CHUNK):
        for key, row_id, was_inserted in await session.execute(statement, rows[offset : offset + _CHUNK]):
            ids[key] = row_id
            if was_inserted if postgresql else key not in existing:
                created[key] = row_id
    changes.record(session, *(_upserted(kind, table, row, existing.get(row["key"])) for row in rows))
    return Upserted(ids, created)


@functools.cache
def _existing(table: sa.Table) -> sa.Select[Any]:
    return sa.select(table).where(table.c.key.in_(sa.bindparam("keys", expanding=True)))


@functools.cache
def _upsert_statement(table: sa.Table, fields: tuple[str, ...], *, postgresql: bool) -> Any:
    """Built once per table and dialect (building it costs more CPU than a small SQLite write)."""
    statement = (postgresql_dialect.insert if postgresql else sqlite_dialect.insert)(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={name: statement.excluded[name] for name in (*fields, "updated_at")},
    )
    inserted = sa.literal_column("xmax = 0") if postgresql else sa.literal(None)
    return statement.returning(table.c.key, table.c.id, inserted)


def _upserted(kind: ChangeKind, table: sa.Table, row: dict[str, Any], before: Any) -> NewChange:
    """The change of one upserted tenant or user: its fields after the write, and before it."""
    subject_key = row["key"]
    after = {name: row[name] for name in ("key", *_SHOWN[table.name]) if name in row}
    payload = shown(after)
    if before is not None:
        payload["before"] = shown({name: getattr(before, name) for name in after})
    tenant, user = (subject_key, None) if table is TENANTS else (None, subject_key)
    return NewChange(kind, tenant_key=tenant, user_key=user, payload=payload)


_SHOWN = {"tenants": ("name", "metadata", "created_at"), "users": ("name", "email", "metadata", "created_at")}


async def upsert_tenants(session: Session, items: Sequence[TenantFields], at: datetime) -> Upserted:
    return await _upsert(session, TENANTS, items, ("name", "metadata"), at, ChangeKind.TENANT_UPSERTED)


async def upsert_users(session: Session, items: Sequence[UserFields], at: datetime) -> Upserted:
    """Memberships (``tenant_keys``) are not written here: see ``add_memberships``."""
    return await _upsert(session, USERS, items, ("name", "email", "metadata"), at, ChangeKind.USER_UPSERTED)


async def tenant_by_key(session: Session, key: str) -> TenantRecord | None:
    row = (await session.execute(sa.select(TENANTS).where(TENANTS.c.key == key))).first()
    return None if row is None else TenantRecord.of(row)


_KEYS: Any = sa.bindparam("keys", expanding=True)
_TENANT_IDS = sa.select(TENANTS.c.key, TENANTS.c.id).where(TENANTS.c.key.in_(_KEYS))
_USER_IDS = sa.select(USERS.c.key, USERS.c.id).where(USERS.c.key.in_(_KEYS))


async def tenant_ids(executor: Executor, keys: Collection[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = await executor.execute(_TENANT_IDS, {"keys": list(keys)})
    return {key: tenant_id for key, tenant_id in rows}


async def user_ids(executor: Executor, keys: Collection[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = await executor.execute(_USER_IDS, {"keys": list(keys)})
    return {key: user_id for key, user_id in rows}


async def memberships_among(
    session: Session, tenant_ids: Collection[int], user_ids: Collection[int]
) -> set[tuple[int, int]]:
    """The ``(tenant id, user id)`` memberships between these tenants and users."""
    rows = await session.execute(
        sa.select(MEMBERSHIPS.c.tenant_id, MEMBERSHIPS.c.user_id).where(
            MEMBERSHIPS.c.tenant_id.in_(list(tenant_ids)), MEMBERSHIPS.c.user_id.in_(list(user_ids))
        )
    )
    return {(tenant_id, user_id) for tenant_id, user_id in rows}


async def add_memberships(
    session: Session,
    pairs: Collection[tuple[str, str]],
    ids: Mapping[str, int],
    user_ids: Mapping[str, int],
    at: datetime,
) -> None:
    """Add ``(tenant key, user key)`` memberships (``ids``/``user_ids``: tenant and user ids by key);
    existing ones stay as they are, and only new ones are changes."""
    if not pairs:
        return
    keys = {(ids[t], user_ids[u]): (t, u) for t, u in pairs}
    statement = (
        upsert_statement(session, MEMBERSHIPS)
        .on_conflict_do_nothing()
        .returning(MEMBERSHIPS.c.tenant_id, MEMBERSHIPS.c.user_id)
    )
    rows = [{"tenant_id": t, "user_id": u, "created_at": at} for t, u in keys]
    added: list[tuple[int, int]] = []
    for offset in range(0, len(rows), _CHUNK):
        result = await session.execute(statement.values(rows[offset : offset + _CHUNK]))
        added.extend((t, u) for t, u in result)
    changes.record(
        session, *(_membership(ChangeKind.MEMBERSHIP_ADDED, *keys[pair]) for pair in sorted(added))
    )


async def remove_memberships(session: Session, tenant: TenantRecord, user_ids: Mapping[str, int]) -> None:
    """Remove the tenant's memberships of these users (by key); only existing ones are changes."""
    keys = {user_id: key for key, user_id in user_ids.items()}
    removed = await session.execute(
        sa.delete(MEMBERSHIPS)
        .where(MEMBERSHIPS.c.tenant_id == tenant.id, MEMBERSHIPS.c.user_id.in_(list(keys)))
        .returning(MEMBERSHIPS.c.user_id)
    )
    changes.record(
        session,
        *(_membership(ChangeKind.MEMBERSHIP_REMOVED, tenant.key, keys[u]) for u in sorted(removed.scalars())),
    )


def _membership(kind: ChangeKind, tenant_key: str, user_key: str) -> NewChange:
    return NewChange(
        kind, tenant_key=tenant_key, user_key=user_key, payload={"tenantKey": tenant_key, "userKey": user_key}
    )
