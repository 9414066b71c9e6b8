"""Use cases for customers: tenants, users and memberships, in bulk."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitle.clock import now
from entitle.db.engine import upsert_statement
from entitle.db.revisions import Scope
from entitle.db.tables import MEMBERSHIPS, TENANTS, USERS
from entitle.domain.errors import BadUserInput, EntitleError, NotFound
from entitle.domain.text import shown
from entitle.domain.values import NAME_MAX_LENGTH, validate_subject_key, validate_text
from entitle.services.batches import BatchOutcome, ItemError, check_batch_size
from entitle.services.common import row_by_key
from entitle.services.runtime import Runtime

Row = Any


def _check_subject_item(item: dict[str, Any], seen: dict[str, int]) -> None:
    validate_subject_key(item["key"], "key")
    if item["key"] in seen:
        raise BadUserInput(f"key '{item['key']}' already appears at index {seen[item['key']]}", field="key")
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadUserInput("metadata must be a JSON object", field="metadata")
    validate_text(item.get("name"), "name", NAME_MAX_LENGTH)
    email = item.get("email")
    if email is not None and ("@" not in email or len(email) > 320):
        raise BadUserInput(f"email {shown(email)} is not an e-mail address", field="email")


async def _upsert(
    session: AsyncSession, table: sa.Table, items: list[dict[str, Any]], fields: tuple[str, ...]
) -> dict[str, int]:
    """Insert or update ``items`` by key in one statement; fields an item omits keep their stored value."""
    keys = [item["key"] for item in items]
    existing = {r.key: r for r in await session.execute(sa.select(table).where(table.c.key.in_(keys)))}
    stamp = now()
    rows = []
    for item in items:
        current = existing.get(item["key"])
        row: dict[str, Any] = {"key": item["key"], "updated_at": stamp}
        row["created_at"] = current.created_at if current is not None else stamp
        for name in fields:
            if name in item:
                row[name] = item[name] if name != "metadata" else (item[name] or {})
            else:
                row[name] = (
                    getattr(current, name) if current is not None else ({} if name == "metadata" else None)
                )
        rows.append(row)
    statement = upsert_statement(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={name: statement.excluded[name] for name in (*fields, "updated_at")},
    ).returning(table.c.key, table.c.id)
    ids: dict[str, int] = {}
    for offset in range(0, len(rows), 2000):  # stay far below bind-parameter limits
        for key, row_id in await session.execute(statement, rows[offset : offset + 2000]):
            ids[key] = row_id
    return ids


def _validate_items(
    items: list[dict[str, Any]], check: Any
) -> tuple[list[tuple[int, dict[str, Any]]], list[ItemError]]:
    good: list[tuple[int, dict[str, Any]]] = []
    errors: list[ItemError] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        try:
            check(item, seen)
        except EntitleError as exc:
            errors.append(ItemError.of(index, exc))
            continue
        seen[item["key"]] = index
        good.append((index, item))
    return good, errors


async def upsert_tenants(runtime: Runtime, items: list[dict[str, Any]], *, atomic: bool) -> BatchOutcome:
    check_batch_size(items, runtime.settings.entitle_max_batch)
    good, errors = _validate_items(items, _check_subject_item)
    if errors and atomic:
        return BatchOutcome(errors=errors)
    if not good:
        return BatchOutcome(errors=errors)
    async with runtime.write(Scope.SUBJECTS) as session:
        ids = await _upsert(session, TENANTS, [item for _, item in good], ("name", "metadata"))
    return BatchOutcome(ids=[ids[item["key"]] for _, item in good], errors=errors)


async def upsert_users(runtime: Runtime, items: list[dict[str, Any]], *, atomic: bool) -> BatchOutcome:
    check_batch_size(items, runtime.settings.entitle_max_batch)
    good, errors = _validate_items(items, _check_subject_item)
    # Memberships name tenants: resolve them for every valid item first, so an atomic batch reports
    # every bad item (a malformed one and an unknown tenant alike) before anything is written.
    tenant_keys = {k for _, item in good for k in item.get("tenant_keys") or []}
    async with runtime.database.lookup() as connection:
        rows = await connection.execute(
            sa.select(TENANTS.c.key, TENANTS.c.id).where(TENANTS.c.key.in_(tenant_keys))
        )
        tenant_ids = {key: tenant_id for key, tenant_id in rows}
    still_good = []
    for index, item in good:
        missing = [k for k in item.get("tenant_keys") or [] if k not in tenant_ids]
        if missing:
            errors.append(ItemError(index, "NOT_FOUND", f"no tenant with key '{missing[0]}'", "tenantKeys"))
        else:
            still_good.append((index, item))
    errors.sort(key=lambda e: e.index)
    if not still_good or (errors and atomic):
        return BatchOutcome(errors=errors)
    async with runtime.write(Scope.SUBJECTS) as session:
        ids = await _upsert(session, USERS, [item for _, item in still_good], ("name", "email", "metadata"))
        pairs = {
            (tenant_ids[k], ids[item["key"]]) for _, item in still_good for k in item.get("tenant_keys") or []
        }
        await _add_memberships(session, pairs)
    return BatchOutcome(ids=[ids[item["key"]] for _, item in still_good], errors=errors)


async def _add_memberships(session: AsyncSession, pairs: set[tuple[int, int]]) -> None:
    if not pairs:
        return
    stamp = now()
    statement = upsert_statement(session, MEMBERSHIPS).on_conflict_do_nothing()
    await session.execute(statement, [{"tenant_id": t, "user_id": u, "created_at": stamp} for t, u in pairs])


async def _tenant_and_users(
    session: AsyncSession, tenant_key: str, user_keys: list[str]
) -> tuple[Row, list[int]]:
    tenant = await row_by_key(session, TENANTS, tenant_key, what="tenant", field="tenantKey")
    found = {
        k: i
        for k, i in await session.execute(
            sa.select(USERS.c.key, USERS.c.id).where(USERS.c.key.in_(user_keys))
        )
    }
    for index, key in enumerate(user_keys):
        if key not in found:
            raise NotFound(f"no user with key {shown(key)}", field=f"userKeys[{index}]")
    return tenant, [found[k] for k in user_keys]


async def add_members(runtime: Runtime, tenant_key: str, user_keys: list[str]) -> Row:
    check_batch_size(user_keys, runtime.settings.entitle_max_batch, field="userKeys")
    async with runtime.write(Scope.SUBJECTS) as session:
        tenant, user_ids = await _tenant_and_users(session, tenant_key, user_keys)
        await _add_memberships(session, {(tenant.id, u) for u in user_ids})
    return tenant


async def remove_members(runtime: Runtime, tenant_key: str, user_keys: list[str]) -> Row:
    check_batch_size(user_keys, runtime.settings.entitle_max_batch, field="userKeys")
    async with runtime.write(Scope.SUBJECTS) as session:
        tenant, user_ids = await _tenant_and_users(session, tenant_key, user_keys)
        await session.execute(
            sa.delete(MEMBERSHIPS).where(
                MEMBERSHIPS.c.tenant_id == tenant.id, MEMBERSHIPS.c.user_id.in_(user_ids)
            )
        )
    return tenant
