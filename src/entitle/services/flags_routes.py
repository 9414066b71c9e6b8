"""Use cases for feature flags and API routes (both part of the cached catalog)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from entitle.clock import now
from entitle.db.repositories import Session
from entitle.db.repositories import changes as change_log
from entitle.db.repositories import features as feature_rows
from entitle.db.repositories import flags as flag_rows
from entitle.db.repositories import routes as route_rows
from entitle.db.repositories.flags import FlagFields, FlagRecord
from entitle.db.repositories.routes import RouteFields, RouteRecord
from entitle.domain.changes import ChangeKind, NewChange, payload_of
from entitle.domain.errors import BadUserInput, Conflict, NotFound
from entitle.domain.model import FlagAttribute, FlagOperator, FlagRule, JsonValue, RoutePolicy
from entitle.domain.routes import validate_route
from entitle.domain.text import shown
from entitle.domain.values import (
    NAME_MAX_LENGTH,
    validate_catalog_key,
    validate_permission_key,
    validate_subject_key,
    validate_text,
)
from entitle.services.common import found
from entitle.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class FlagRuleDefinition:
    attribute: FlagAttribute
    operator: FlagOperator
    values: Sequence[str]
    path: str | None = None
    negate: bool | None = None


@dataclass(frozen=True, slots=True)
class FlagDefinition:
    """``createFeatureFlag`` / ``updateFeatureFlag``: a flag's whole definition (an update replaces it)."""

    key: str
    name: str
    on: bool
    feature_keys: Sequence[str]
    description: str | None = None
    tenant_keys: Sequence[str] | None = None
    user_keys: Sequence[str] | None = None
    rules: Sequence[FlagRuleDefinition] = ()
    percentage: int | None = None


@dataclass(frozen=True, slots=True)
class NewRoute:
    """``createApiRoute``: ``feature_key`` for REQUIRE_FEATURE, ``permission_key`` for REQUIRE_PERMISSION."""

    method: str
    path_pattern: str
    policy: RoutePolicy
    feature_key: str | None = None
    permission_key: str | None = None
    priority: int | None = None


_METADATA = {FlagAttribute.TENANT_METADATA, FlagAttribute.USER_METADATA}
_SINGLE_VALUE = {FlagOperator.GREATER_THAN, FlagOperator.LESS_THAN}


async def _feature_ids(session: Session, keys: list[str], field: str) -> list[int]:
    ids = await feature_rows.ids_by_keys(session, keys)
    for index, key in enumerate(keys):
        if key not in ids:
            raise NotFound(f"no feature with key {shown(key)}", field=f"{field}[{index}]")
    return [ids[k] for k in dict.fromkeys(keys)]


def _checked_rules(data: FlagDefinition) -> list[FlagRule]:
    """Validate the definition; its rules as the domain reads them."""
    validate_catalog_key(data.key, "key")
    validate_text(data.name, "name", NAME_MAX_LENGTH, required=True)
    percentage = data.percentage
    if percentage is not None and not 0 <= percentage <= 100:
        raise BadUserInput("percentage must be between 0 and 100", field="percentage")
    for keys, where in ((data.tenant_keys, "tenantKeys"), (data.user_keys, "userKeys")):
        for key in keys or []:
            validate_subject_key(key, where)
    rules = []
    for index, rule in enumerate(data.rules):
        where = f"rules[{index}]"
        attribute, operator = FlagAttribute(rule.attribute), FlagOperator(rule.operator)
        path = rule.path
        if attribute in _METADATA and not path:
            raise BadUserInput(
                f"{where}.path: a metadata rule needs a path such as 'plan.tier'", field=f"{where}.path"
            )
        if attribute not in _METADATA and path:
            raise BadUserInput(f"{where}.path: only metadata rules take a path", field=f"{where}.path")
        values = tuple(rule.values)
        if not values or (operator in _SINGLE_VALUE and len(values) != 1):
            expected = "exactly one value" if operator in _SINGLE_VALUE else "at least one value"
            raise BadUserInput(f"{where}.values: {operator.value} takes {expected}", field=f"{where}.values")
        rules.append(FlagRule(attribute, operator, values, path, bool(rule.negate or False)))
    return rules


def _flag_fields(data: FlagDefinition, rules: list[FlagRule], at: datetime) -> FlagFields:
    return FlagFields(
        key=data.key,
        name=data.name,
        description=data.description,
        on=bool(data.on),
        tenant_keys=list(dict.fromkeys(data.tenant_keys or [])),
        user_keys=list(dict.fromkeys(data.user_keys or [])),
        rules=rules,
        percentage=data.percentage,
        at=at,
    )


async def create_flag(runtime: Runtime, data: FlagDefinition) -> FlagRecord:
    rules = _checked_rules(data)
    stamp = now()
    async with runtime.write() as session:
        if await flag_rows.key_exists(session, data.key):
            raise Conflict(f"a feature flag with key {shown(data.key)} already exists", field="key")
        feature_ids = await _feature_ids(session, list(data.feature_keys or []), "featureKeys")
        record = await flag_rows.insert(session, _flag_fields(data, rules, stamp))
        await flag_rows.set_features(session, record.id, feature_ids)
        change_log.record(session, _flag_change(ChangeKind.FLAG_CREATED, record, data))
    return record


def _flag_change(
    kind: ChangeKind, record: FlagRecord, data: FlagDefinition | None = None, before: FlagRecord | None = None
) -> NewChange:
    extra: dict[str, JsonValue] = {} if data is None else {"featureKeys": list(data.feature_keys or [])}
    return NewChange(kind, payload=payload_of(record, before=before, **extra))


async def update_flag(runtime: Runtime, key: str, data: FlagDefinition) -> FlagRecord:
    rules = _checked_rules(data)
    async with runtime.write() as session:
        current = found(await flag_rows.by_key(session, key), key, what="feature flag")
        if data.key != key and await flag_rows.key_exists(session, data.key):
            raise Conflict(f"a feature flag with key {shown(data.key)} already exists", field="key")
        feature_ids = await _feature_ids(session, list(data.feature_keys or []), "featureKeys")
        record = await flag_rows.update(session, current.id, _flag_fields(data, rules, now()))
        await flag_rows.set_features(session, record.id, feature_ids)
        change_log.record(session, _flag_change(ChangeKind.FLAG_UPDATED, record, data, current))
    return record


async def delete_flag(runtime: Runtime, key: str) -> int:
    async with runtime.write() as session:
        record = found(await flag_rows.by_key(session, key), key, what="feature flag")
        await flag_rows.delete(session, record.id)
        change_log.record(session, _flag_change(ChangeKind.FLAG_DELETED, record))
    return record.id


async def create_route(runtime: Runtime, data: NewRoute) -> RouteRecord:
    method = str(data.method).strip().upper()
    pattern = str(data.path_pattern).strip()
    validate_route(method, pattern)
    policy = RoutePolicy(data.policy)
    feature_key, permission_key = data.feature_key, data.permission_key
    if policy is RoutePolicy.REQUIRE_FEATURE and not feature_key:
        raise BadUserInput("a REQUIRE_FEATURE route needs featureKey", field="featureKey")
    if policy is RoutePolicy.REQUIRE_PERMISSION and not permission_key:
        raise BadUserInput("a REQUIRE_PERMISSION route needs permissionKey", field="permissionKey")
    if feature_key and policy is not RoutePolicy.REQUIRE_FEATURE:
        raise BadUserInput(
            f"featureKey is only for REQUIRE_FEATURE routes, not {policy.value}", field="featureKey"
        )
    if permission_key and policy is not RoutePolicy.REQUIRE_PERMISSION:
        raise BadUserInput(
            f"permissionKey is only for REQUIRE_PERMISSION routes, not {policy.value}", field="permissionKey"
        )
    if permission_key:
        validate_permission_key(permission_key, "permissionKey")
    async with runtime.write() as session:
        feature_id = None
        if feature_key:
            feature = await feature_rows.by_key(session, feature_key)
            feature_id = found(feature, feature_key, what="feature", field="featureKey").id
        fields = RouteFields(
            method=method,
            path_pattern=pattern,
            policy=policy,
            feature_id=feature_id,
            permission_key=permission_key,
            priority=data.priority or 0,
            created_at=now(),
        )
        record = await route_rows.insert(session, fields)
        change_log.record(session, _route_change(ChangeKind.ROUTE_CREATED, record, feature_key))
    return record


def _route_change(kind: ChangeKind, record: RouteRecord, feature_key: str | None) -> NewChange:
    return NewChange(kind, feature_key=feature_key, payload=payload_of(record, featureKey=feature_key))


async def delete_route(runtime: Runtime, route_id: int | None) -> int:
    async with runtime.write() as session:
        deleted = None if route_id is None else await route_rows.delete(session, route_id)
        if deleted is None:
            raise NotFound("no API route with this id", field="id")
        change_log.record(session, _route_change(ChangeKind.ROUTE_DELETED, deleted, None))
    return deleted.id
