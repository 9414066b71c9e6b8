"""Use cases for customers: tenants, users and memberships, in bulk."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from entitle.clock import now
from entitle.db.repositories import Session
from entitle.db.repositories import subjects as subject_rows
from entitle.db.repositories.subjects import TenantRecord
from entitle.domain.errors import BadUserInput, EntitleError, NotFound
from entitle.domain.patch import UNSET
from entitle.domain.subjects import SubjectFields, TenantFields, UserFields
from entitle.domain.text import shown
from entitle.domain.values import NAME_MAX_LENGTH, validate_subject_key, validate_text
from entitle.services.batches import BatchOutcome, ItemError, check_batch_size
from entitle.services.common import found
from entitle.services.plan_lifecycle import assign_to_new_tenants
from entitle.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class UpsertTenants:
    """``upsertTenants``: ``atomic`` writes all or none of the items."""

    items: Sequence[TenantFields]
    atomic: bool = True


@dataclass(frozen=True, slots=True)
class UpsertUsers:
    """``upsertUsers``: ``atomic`` writes all or none of the items (memberships included)."""

    items: Sequence[UserFields]
    atomic: bool = True


S = TypeVar("S", TenantFields, UserFields)


def _check_subject_item(item: SubjectFields, seen: dict[str, int]) -> None:
    validate_subject_key(item.key, "key")
    if item.key in seen:
        raise BadUserInput(f"key {shown(item.key)} already appears at index {seen[item.key]}", field="key")
    metadata = None if item.metadata is UNSET else item.metadata
    if metadata is not None and not isinstance(metadata, dict):
        raise BadUserInput("metadata must be a JSON object", field="metadata")
    validate_text(None if item.name is UNSET else item.name, "name", NAME_MAX_LENGTH)
    email = item.email if isinstance(item, UserFields) and item.email is not UNSET else None
    if email is not None and ("@" not in email or len(email) > 320):
        raise BadUserInput(f"email {shown(email)} is not an e-mail address", field="email")


def _validate_items(
    items: Sequence[S], check: Callable[[S, dict[str, int]], None]
) -> tuple[list[tuple[int, S]], list[ItemError]]:
    good: list[tuple[int, S]] = []
    errors: list[ItemError] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        try:
            check(item, seen)
        except EntitleError as exc:
            errors.append(ItemError.of(index, exc))
            continue
        seen[item.key] = index
        good.append((index, item))
    return good, errors


def _tenant_keys(item: UserFields) -> Sequence[str]:
    if item.tenant_keys is UNSET or item.tenant_keys is None:
        return ()
    return item.tenant_keys


async def upsert_tenants(runtime: Runtime, command: UpsertTenants) -> BatchOutcome:
    items, atomic = command.items, command.atomic
    check_batch_size(items, runtime.settings.entitle_max_batch)
    good, errors = _validate_items(items, _check_subject_item)
    if errors and atomic:
        return BatchOutcome(errors=errors)
    if not good:
        return BatchOutcome(errors=errors)
    async with runtime.write() as session:
        stamp = now()
        upserted = await subject_rows.upsert_tenants(session, [item for _, item in good], stamp)
        await assign_to_new_tenants(session, upserted.created, stamp)
    return BatchOutcome(ids=[upserted.ids[item.key] for _, item in good], errors=errors)


async def upsert_users(runtime: Runtime, command: UpsertUsers) -> BatchOutcome:
    items, atomic = command.items, command.atomic
    check_batch_size(items, runtime.settings.entitle_max_batch)
    good, errors = _validate_items(items, _check_subject_item)
    # Memberships name tenants: resolve them for every valid item first, so an atomic batch reports
    # every bad item (a malformed one and an unknown tenant alike) before anything is written.
    tenant_keys = {k for _, item in good for k in _tenant_keys(item)}
    async with runtime.database.lookup() as connection:
        tenant_ids = await subject_rows.tenant_ids(connection, tenant_keys)
    still_good = []
    for index, item in good:
        missing = [k for k in _tenant_keys(item) if k not in tenant_ids]
        if missing:
            errors.append(
                ItemError(index, "NOT_FOUND", f"no tenant with key {shown(missing[0])}", "tenantKeys")
            )
        else:
            still_good.append((index, item))
    errors.sort(key=lambda e: e.index)
    if not still_good or (errors and atomic):
        return BatchOutcome(errors=errors)
    async with runtime.write() as session:
        stamp = now()
        ids = (await subject_rows.upsert_users(session, [item for _, item in still_good], stamp)).ids
        pairs = {(k, item.key) for _, item in still_good for k in _tenant_keys(item)}
        await subject_rows.add_memberships(session, pairs, tenant_ids, ids, stamp)
    return BatchOutcome(ids=[ids[item.key] for _, item in still_good], errors=errors)


async def _tenant_and_users(
    session: Session, tenant_key: str, user_keys: list[str]
) -> tuple[TenantRecord, dict[str, int]]:
    tenant = await subject_rows.tenant_by_key(session, tenant_key)
    tenant = found(tenant, tenant_key, what="tenant", field="tenantKey")
    ids = await subject_rows.user_ids(session, user_keys)
    for index, key in enumerate(user_keys):
        if key not in ids:
            raise NotFound(f"no user with key {shown(key)}", field=f"userKeys[{index}]")
    return tenant, ids


async def add_members(runtime: Runtime, tenant_key: str, user_keys: list[str]) -> TenantRecord:
    check_batch_size(user_keys, runtime.settings.entitle_max_batch, field="userKeys")
    async with runtime.write() as session:
        tenant, user_ids = await _tenant_and_users(session, tenant_key, user_keys)
        pairs = {(tenant.key, u) for u in user_ids}
        await subject_rows.add_memberships(session, pairs, {tenant.key: tenant.id}, user_ids, now())
    return tenant


async def remove_members(runtime: Runtime, tenant_key: str, user_keys: list[str]) -> TenantRecord:
    check_batch_size(user_keys, runtime.settings.entitle_max_batch, field="userKeys")
    async with runtime.write() as session:
        tenant, user_ids = await _tenant_and_users(session, tenant_key, user_keys)
        await subject_rows.remove_memberships(session, tenant, user_ids)
    return tenant
