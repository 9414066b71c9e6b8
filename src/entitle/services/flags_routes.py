"""Use cases for feature flags and API routes (both part of the cached catalog)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitle.clock import now
from entitle.db.revisions import Scope
from entitle.db.tables import FEATURES, FLAG_FEATURES, FLAGS, ROUTES
from entitle.domain.errors import BadUserInput, Conflict, NotFound
from entitle.domain.model import FlagAttribute, FlagOperator, RoutePolicy
from entitle.domain.routes import validate_route
from entitle.domain.text import shown
from entitle.domain.values import (
    NAME_MAX_LENGTH,
    validate_catalog_key,
    validate_permission_key,
    validate_subject_key,
    validate_text,
)
from entitle.services.common import exists, row_by_key
from entitle.services.runtime import Runtime

Row = Any
_METADATA = {FlagAttribute.TENANT_METADATA, FlagAttribute.USER_METADATA}
_SINGLE_VALUE = {FlagOperator.GREATER_THAN, FlagOperator.LESS_THAN}


async def _feature_ids(session: AsyncSession, keys: list[str], field: str) -> list[int]:
    found = dict(
        (
            await session.execute(sa.select(FEATURES.c.key, FEATURES.c.id).where(FEATURES.c.key.in_(keys)))
        ).all()
    )
    for index, key in enumerate(keys):
        if key not in found:
            raise NotFound(f"no feature with key {shown(key)}", field=f"{field}[{index}]")
    return [found[k] for k in dict.fromkeys(keys)]


def _flag_values(data: dict[str, Any]) -> dict[str, Any]:
    validate_catalog_key(data["key"], "key")
    validate_text(data.get("name"), "name", NAME_MAX_LENGTH, required=True)
    percentage = data.get("percentage")
    if percentage is not None and not 0 <= percentage <= 100:
        raise BadUserInput("percentage must be between 0 and 100", field="percentage")
    for name, field in (("tenant_keys", "tenantKeys"), ("user_keys", "userKeys")):
        for key in data.get(name) or []:
            validate_subject_key(key, field)
    rules = []
    for index, rule in enumerate(data.get("rules") or []):
        where = f"rules[{index}]"
        attribute, operator = FlagAttribute(rule["attribute"]), FlagOperator(rule["operator"])
        path = rule.get("path")
        if attribute in _METADATA and not path:
            raise BadUserInput(
                f"{where}.path: a metadata rule needs a path such as 'plan.tier'", field=f"{where}.path"
            )
        if attribute not in _METADATA and path:
            raise BadUserInput(f"{where}.path: only metadata rules take a path", field=f"{where}.path")
        values = list(rule["values"])
        if not values or (operator in _SINGLE_VALUE and len(values) != 1):
            expected = "exactly one value" if operator in _SINGLE_VALUE else "at least one value"
            raise BadUserInput(f"{where}.values: {operator.value} takes {expected}", field=f"{where}.values")
        rules.append(
            {
                "attribute": attribute.value,
                "operator": operator.value,
                "values": values,
                "path": path,
                "negate": bool(rule.get("negate") or False),
            }
        )
    return {
        "key": data["key"],
        "name": data["name"],
        "description": data.get("description"),
        "on": bool(data["on"]),
        "tenant_keys": list(dict.fromkeys(data.get("tenant_keys") or [])),
        "user_keys": list(dict.fromkeys(data.get("user_keys") or [])),
        "rules": rules,
        "percentage": percentage,
    }


async def _set_flag_features(session: AsyncSession, flag_id: int, feature_ids: list[int]) -> None:
    await session.execute(sa.delete(FLAG_FEATURES).where(FLAG_FEATURES.c.flag_id == flag_id))
    if feature_ids:
        await session.execute(
            sa.insert(FLAG_FEATURES),
            [{"flag_id": flag_id, "feature_id": f, "position": i} for i, f in enumerate(feature_ids)],
        )


async def create_flag(runtime: Runtime, data: dict[str, Any]) -> Row:
    values = _flag_values(data)
    stamp = now()
    async with runtime.write(Scope.CATALOG) as session:
        if await exists(session, sa.select(FLAGS.c.id).where(FLAGS.c.key == values["key"])):
            raise Conflict(f"a feature flag with key '{values['key']}' already exists", field="key")
        feature_ids = await _feature_ids(session, data.get("feature_keys") or [], "featureKeys")
        row = (
            await session.execute(
                sa.insert(FLAGS).values(**values, created_at=stamp, updated_at=stamp).returning(FLAGS)
            )
        ).one()
        await _set_flag_features(session, row.id, feature_ids)
    return row


async def update_flag(runtime: Runtime, key: str, data: dict[str, Any]) -> Row:
    values = _flag_values(data)
    async with runtime.write(Scope.CATALOG) as session:
        current = await row_by_key(session, FLAGS, key, what="feature flag")
        if values["key"] != key and await exists(
            session, sa.select(FLAGS.c.id).where(FLAGS.c.key == values["key"])
        ):
            raise Conflict(f"a feature flag with key '{values['key']}' already exists", field="key")
        feature_ids = await _feature_ids(session, data.get("feature_keys") or [], "featureKeys")
        row = (
            await session.execute(
                sa.update(FLAGS)
                .where(FLAGS.c.id == current.id)
                .values(**values, updated_at=now())
                .returning(FLAGS)
            )
        ).one()
        await _set_flag_features(session, row.id, feature_ids)
    return row


async def delete_flag(runtime: Runtime, key: str) -> int:
    async with runtime.write(Scope.CATALOG) as session:
        row = await row_by_key(session, FLAGS, key, what="feature flag")
        await session.execute(sa.delete(FLAG_FEATURES).where(FLAG_FEATURES.c.flag_id == row.id))
        await session.execute(sa.delete(FLAGS).where(FLAGS.c.id == row.id))
    return int(row.id)


async def create_route(runtime: Runtime, data: dict[str, Any]) -> Row:
    method = str(data["method"]).strip().upper()
    pattern = str(data["path_pattern"]).strip()
    validate_route(method, pattern)
    policy = RoutePolicy(data["policy"])
    feature_key, permission_key = data.get("feature_key"), data.get("permission_key")
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
    async with runtime.write(Scope.CATALOG) as session:
        feature_id = None
        if feature_key:
            feature_id = (
                await row_by_key(session, FEATURES, feature_key, what="feature", field="featureKey")
            ).id
        row = (
            await session.execute(
                sa.insert(ROUTES)
                .values(
                    method=method,
                    path_pattern=pattern,
                    policy=policy.value,
                    feature_id=feature_id,
                    permission_key=permission_key,
                    priority=data.get("priority") or 0,
                    created_at=now(),
                )
                .returning(ROUTES)
            )
        ).one()
    return row


async def delete_route(runtime: Runtime, route_id: int | None) -> int:
    async with runtime.write(Scope.CATALOG) as session:
        deleted = None
        if route_id is not None:
            deleted = await session.scalar(
                sa.delete(ROUTES).where(ROUTES.c.id == route_id).returning(ROUTES.c.id)
            )
        if deleted is None:
            raise NotFound("no API route with this id", field="id")
    return int(deleted)
