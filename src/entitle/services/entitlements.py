"""Use cases for grants: create one or many (validated fully first), update, revoke.

A batch is checked with a handful of ``IN`` lookups whatever its size, then written with one
multi-row ``INSERT .. RETURNING`` per chunk. ``atomic`` batches write all or nothing; an
``idempotencyKey`` is claimed inside the same transaction, so a retry (even a concurrent one)
writes nothing new and gets the first answer; the same key with a different batch is CONFLICT.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from entitle.clock import now
from entitle.db.repositories import Session
from entitle.db.repositories import changes as change_log
from entitle.db.repositories import entitlements as entitlement_rows
from entitle.db.repositories import features as feature_rows
from entitle.db.repositories import plans as plan_rows
from entitle.db.repositories import subjects as subject_rows
from entitle.db.repositories.catalog import feature_to_domain
from entitle.db.repositories.entitlements import (
    EntitlementChanges,
    EntitlementFields,
    GrantKeys,
    StoredEntitlement,
    grant_change,
)
from entitle.db.repositories.features import FeatureRecord
from entitle.db.repositories.idempotency import BATCHES
from entitle.db.repositories.plans import PlanRecord
from entitle.domain.changes import ChangeKind, NewChange
from entitle.domain.errors import BadUserInput, Conflict, EntitleError, NotFound
from entitle.domain.model import AssignLevel, JsonObject, JsonValue
from entitle.domain.patch import UNSET, Omittable
from entitle.domain.text import shown
from entitle.domain.values import validate_value
from entitle.services.batches import BatchOutcome, ItemError, check_batch_size
from entitle.services.runtime import Runtime

_BATCH_OPERATION = "batchCreateEntitlements"


@dataclass(frozen=True, slots=True)
class NewEntitlement:
    """One grant to create: exactly one of ``plan_key``/``feature_key``; the subject keys decide its level.

    Fields are what the caller sent, not yet validated (``metadata`` must still be a JSON object).
    """

    plan_key: str | None = None
    feature_key: str | None = None
    value: JsonValue = None
    tenant_key: str | None = None
    user_key: str | None = None
    start_date: datetime | None = None
    expiration_date: datetime | None = None
    reason: str | None = None
    metadata: JsonValue = None


@dataclass(frozen=True, slots=True)
class CreateEntitlements:
    """``batchCreateEntitlements``: ``atomic`` writes all or none; a retry under ``idempotency_key``
    gets the first answer."""

    items: Sequence[NewEntitlement]
    atomic: bool = True
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class EntitlementPatch:
    """``updateEntitlement``: ``UNSET`` fields keep their stored value; ``None`` clears a nullable one."""

    start_date: Omittable[datetime | None] = UNSET
    expiration_date: Omittable[datetime | None] = UNSET
    reason: Omittable[str | None] = UNSET
    metadata: Omittable[JsonValue] = UNSET


@dataclass(frozen=True)
class _Lookups:
    plans: dict[str, PlanRecord]
    features: dict[str, FeatureRecord]
    tenants: dict[str, int]
    users: dict[str, int]
    memberships: set[tuple[int, int]]


async def _lookups(session: Session, items: Sequence[NewEntitlement]) -> _Lookups:
    plans = await plan_rows.by_keys(session, {i.plan_key for i in items if i.plan_key is not None})
    features = await feature_rows.by_keys(
        session, {i.feature_key for i in items if i.feature_key is not None}
    )
    tenants = await subject_rows.tenant_ids(
        session, {i.tenant_key for i in items if i.tenant_key is not None}
    )
    users = await subject_rows.user_ids(session, {i.user_key for i in items if i.user_key is not None})
    memberships: set[tuple[int, int]] = set()
    if tenants and users:
        memberships = await subject_rows.memberships_among(session, tenants.values(), users.values())
    return _Lookups(plans, features, tenants, users, memberships)


def _new_grant(item: NewEntitlement, found: _Lookups, stamp: datetime) -> EntitlementFields:
    """The grant to insert for one input item, or an EntitleError naming the offending field."""
    plan_key, feature_key = item.plan_key, item.feature_key
    if (plan_key is None) == (feature_key is None):
        raise BadUserInput("give exactly one of planKey and featureKey", field="planKey")
    tenant_key, user_key = item.tenant_key, item.user_key
    if tenant_key is None and user_key is None:
        raise BadUserInput("give tenantKey, userKey or both: they decide the assign level", field="tenantKey")

    plan_id = plan_version = feature_id = None
    value: JsonValue = None
    trial_days = None
    if plan_key is not None:
        if item.value is not None:
            raise BadUserInput("value is only for single-feature grants (featureKey)", field="value")
        plan = found.plans.get(plan_key)
        if plan is None:
            raise NotFound(f"no plan with key {shown(plan_key)}", field="planKey")
        plan_id = plan.id
        plan_version = plan.version  # new entitlements get the current version
        trial_days = plan.default_time_limitation_days
    else:
        assert feature_key is not None
        feature = found.features.get(feature_key)
        if feature is None:
            raise NotFound(f"no feature with key {shown(feature_key)}", field="featureKey")
        feature_id = feature.id
        if item.value is not None:
            value = validate_value(feature_to_domain(feature), item.value, field="value")

    tenant_id = found.tenants.get(tenant_key) if tenant_key is not None else None
    user_id = found.users.get(user_key) if user_key is not None else None
    if tenant_key is not None and tenant_id is None:
        raise NotFound(f"no tenant with key {shown(tenant_key)}", field="tenantKey")
    if user_key is not None and user_id is None:
        raise NotFound(f"no user with key {shown(user_key)}", field="userKey")
    if tenant_id is not None and user_id is not None and (tenant_id, user_id) not in found.memberships:
        raise Conflict(
            f"user {shown(user_key)} is not a member of tenant {shown(tenant_key)}", field="userKey"
        )
    level = (
        AssignLevel.TENANT
        if user_id is None
        else AssignLevel.INDIVIDUAL
        if tenant_id is None
        else AssignLevel.USER
    )

    start = item.start_date or stamp
    expiration = item.expiration_date
    if expiration is None and trial_days:
        expiration = start + timedelta(days=trial_days)
    if expiration is not None and expiration <= start:
        raise BadUserInput("expirationDate must be after startDate", field="expirationDate")
    return EntitlementFields(
        assign_level=level,
        plan_id=plan_id,
        plan_version=plan_version,
        feature_id=feature_id,
        value=value,
        tenant_id=tenant_id,
        user_id=user_id,
        start_date=start,
        expiration_date=expiration,
        reason=item.reason,
        metadata=_metadata(item.metadata),
        at=stamp,
    )


def _metadata(value: JsonValue) -> JsonObject:
    if value is not None and not isinstance(value, dict):
        raise BadUserInput("metadata must be a JSON object", field="metadata")
    return value or {}


async def create_entitlement(runtime: Runtime, item: NewEntitlement) -> StoredEntitlement:
    async with runtime.write() as session:
        grant = _new_grant(item, await _lookups(session, [item]), now())
        (inserted,) = await entitlement_rows.insert_many(session, [grant])
        change_log.record(session, _granted(inserted, item))
    return inserted


def _keys(item: NewEntitlement) -> GrantKeys:
    return GrantKeys(item.plan_key, item.feature_key, item.tenant_key, item.user_key)


def _granted(record: StoredEntitlement, item: NewEntitlement) -> NewChange:
    return grant_change(ChangeKind.ENTITLEMENT_GRANTED, record, _keys(item))


@dataclass(frozen=True, slots=True)
class BatchCreated:
    """The grants written (in input order) and the errors of the items that were not; a replay
    carries the ids written by the first call instead of rows."""

    rows: list[StoredEntitlement]
    errors: list[ItemError]
    replayed_ids: list[int] | None = None


async def batch_create(runtime: Runtime, command: CreateEntitlements) -> BatchCreated:
    items, atomic, idempotency_key = command.items, command.atomic, command.idempotency_key
    check_batch_size(items, runtime.settings.entitle_max_batch)
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
        raise BadUserInput("idempotencyKey must be 1 to 200 characters", field="idempotencyKey")
    stamp = now()
    outcome = BatchOutcome()
    async with runtime.write() as session:
        key = None if idempotency_key is None else (_BATCH_OPERATION, idempotency_key)
        if key is not None and not await BATCHES.claim(session, key, stamp):
            replay = await _recorded(session, key, _fingerprint(items, atomic))
            return BatchCreated(rows=[], errors=replay[1], replayed_ids=replay[0])
        found = await _lookups(session, items)
        grants: list[EntitlementFields] = []
        granted: list[NewEntitlement] = []
        for index, item in enumerate(items):
            try:
                grants.append(_new_grant(item, found, stamp))
                granted.append(item)
            except EntitleError as exc:
                outcome.errors.append(ItemError.of(index, exc))
        inserted = [] if (outcome.errors and atomic) else await entitlement_rows.insert_many(session, grants)
        change_log.record(session, *(_granted(r, i) for r, i in zip(inserted, granted, strict=False)))
        if key is not None:
            response: JsonObject = {
                "request": _fingerprint(items, atomic),
                "ids": [r.id for r in inserted],
                "errors": [e.as_dict() for e in outcome.errors],
            }
            await BATCHES.record(session, key, response)
    return BatchCreated(rows=inserted, errors=outcome.errors)


_ITEM_FIELDS = tuple(NewEntitlement.__dataclass_fields__)


def _fingerprint(items: Sequence[NewEntitlement], atomic: bool) -> str:
    """A digest of the request, so a key reused for a different batch is told apart from a retry.

    Every item is hashed as the object of all its fields (the digests stored by earlier versions,
    which hashed the same objects, still match)."""
    shown_items = [{name: getattr(item, name) for name in _ITEM_FIELDS} for item in items]
    body = orjson.dumps({"atomic": atomic, "items": shown_items}, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(body).hexdigest()


async def _recorded(
    session: Session, key: tuple[str, str], fingerprint: str
) -> tuple[list[int], list[ItemError]]:
    """The first answer given under ``key``; CONFLICT when the key was used for a different batch."""
    response = await BATCHES.recorded(session, key) or {}
    if response.get("request", fingerprint) != fingerprint:
        raise Conflict(
            "this idempotencyKey was used for a different batch; use a new key", field="idempotencyKey"
        )
    ids = response.get("ids", [])
    errors = response.get("errors", [])
    return (
        [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else [],
        [ItemError.from_json(e) for e in errors if isinstance(e, dict)] if isinstance(errors, list) else [],
    )


async def update_entitlement(
    runtime: Runtime, entitlement_id: int | None, patch: EntitlementPatch
) -> StoredEntitlement:
    async with runtime.write() as session:
        current = None
        if entitlement_id is not None:
            current = await entitlement_rows.by_id(session, entitlement_id)
        if current is None:
            raise NotFound("no entitlement with this id", field="id")
        if current.revoked_at is not None and (
            patch.start_date is not UNSET or patch.expiration_date is not UNSET
        ):
            raise Conflict(
                "a revoked entitlement keeps its dates (its reason and metadata may change)", field="id"
            )
        start_date, metadata = patch.start_date, patch.metadata
        if start_date is None:
            raise BadUserInput("startDate cannot be null", field="startDate")
        changes = EntitlementChanges(
            updated_at=now(),
            start_date=start_date,
            expiration_date=patch.expiration_date,
            reason=patch.reason,
            metadata=UNSET if metadata is UNSET else _metadata(metadata),
        )
        start = current.start_date if changes.start_date is UNSET else changes.start_date
        expiration = current.expiration_date if changes.expiration_date is UNSET else changes.expiration_date
        if expiration is not None and expiration <= start:
            raise BadUserInput("expirationDate must be after startDate", field="expirationDate")
        record = await entitlement_rows.update(session, current.id, changes)
        keys = (await entitlement_rows.keys_of(session, [record.id]))[record.id]
        change_log.record(session, grant_change(ChangeKind.ENTITLEMENT_UPDATED, record, keys, current))
    return record


async def revoke(runtime: Runtime, ids: list[int | None]) -> tuple[int, list[ItemError]]:
    """Revoke every known id (already revoked ones stay as they were); report unknown ones."""
    check_batch_size(ids, runtime.settings.entitle_max_batch)
    wanted = [i for i in ids if i is not None]
    async with runtime.write() as session:
        known = await entitlement_rows.existing_ids(session, wanted)
        errors = [
            ItemError(index, "NOT_FOUND", "no entitlement with this id", "ids")
            for index, i in enumerate(ids)
            if i is None or i not in known
        ]
        revoked = await entitlement_rows.revoke(session, known, now())
        keys = await entitlement_rows.keys_of(session, [r.id for r in revoked])
        change_log.record(
            session, *(grant_change(ChangeKind.ENTITLEMENT_REVOKED, r, keys[r.id]) for r in revoked)
        )
    return len(revoked), errors
