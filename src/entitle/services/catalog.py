"""Use cases for what is sold: features and plans (typed values validated before any write)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitle.clock import now
from entitle.db.repositories.catalog import feature_to_domain
from entitle.db.revisions import Scope
from entitle.db.tables import (
    ENTITLEMENTS,
    FEATURES,
    FLAG_FEATURES,
    PLAN_FEATURES,
    PLANS,
    ROUTES,
    USAGE_COUNTERS,
    USAGE_EVENTS,
)
from entitle.domain.errors import BadUserInput, Conflict, NotFound
from entitle.domain.model import Feature, FeatureType, OverageHandling, ResetPeriod
from entitle.domain.text import shown
from entitle.domain.values import (
    NAME_MAX_LENGTH,
    UNIT_MAX_LENGTH,
    validate_catalog_key,
    validate_feature_definition,
    validate_text,
    validate_value,
)
from entitle.services.common import exists, row_by_key
from entitle.services.runtime import Runtime

Row = Any
MAX_TRIAL_DAYS = 36_500


# --------------------------------------------------------------------------- features


def _feature_values(data: dict[str, Any]) -> dict[str, Any]:
    """Normalize the writable feature fields present in ``data`` (already validated)."""
    out: dict[str, Any] = {}
    for name in ("name", "description", "unit", "default_value"):
        if name in data:
            out[name] = data[name]
    if "tiers" in data:
        out["tiers"] = list(data["tiers"] or [])
    if "permissions" in data:
        out["permissions"] = list(dict.fromkeys(data["permissions"] or []))
    if "reset_period" in data:
        out["reset_period"] = data["reset_period"].value if data["reset_period"] else None
    if "overage" in data:
        out["overage"] = (data["overage"] or OverageHandling.BLOCK).value
    if "metadata" in data:
        out["metadata"] = _metadata(data["metadata"])
    return out


def _metadata(value: Any, field: str = "metadata") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadUserInput(f"{field} must be a JSON object", field=field)
    return value


def _check_name(data: dict[str, Any]) -> None:
    if "name" in data:
        validate_text(data["name"], "name", NAME_MAX_LENGTH, required=True)
    if "unit" in data:
        validate_text(data["unit"], "unit", UNIT_MAX_LENGTH)


async def create_feature(runtime: Runtime, data: dict[str, Any]) -> Row:
    validate_catalog_key(data["key"], "key")
    _check_name(data)
    ftype = FeatureType(data["type"])
    reset = data.get("reset_period")
    validate_feature_definition(
        ftype, data.get("tiers") or [], data.get("default_value"), reset, data.get("permissions") or []
    )
    values = _feature_values(data)
    stamp = now()
    async with runtime.write(Scope.CATALOG) as session:
        if await exists(session, sa.select(FEATURES.c.id).where(FEATURES.c.key == data["key"])):
            raise Conflict(f"a feature with key '{data['key']}' already exists", field="key")
        values.setdefault("overage", OverageHandling.BLOCK.value)
        values.setdefault("metadata", {})
        values.setdefault("tiers", [])
        values.setdefault("permissions", [])
        row = (
            await session.execute(
                sa.insert(FEATURES)
                .values(key=data["key"], type=ftype.value, created_at=stamp, updated_at=stamp, **values)
                .returning(FEATURES)
            )
        ).one()
    return row


async def update_feature(runtime: Runtime, key: str, changes: dict[str, Any]) -> Row:
    _check_name(changes)
    async with runtime.write(Scope.CATALOG) as session:
        current = await row_by_key(session, FEATURES, key, what="feature")
        merged = {**current._mapping, **_feature_values(changes)}
        ftype = FeatureType(current.type)
        reset = ResetPeriod(merged["reset_period"]) if merged["reset_period"] else None
        validate_feature_definition(
            ftype, merged["tiers"], merged["default_value"], reset, merged["permissions"]
        )
        if "tiers" in changes:
            await _check_values_still_fit(session, current.id, feature_to_domain(SimpleNamespace(**merged)))
        values = _feature_values(changes)
        values["updated_at"] = now()
        row = (
            await session.execute(
                sa.update(FEATURES).where(FEATURES.c.id == current.id).values(**values).returning(FEATURES)
            )
        ).one()
    return row


async def _check_values_still_fit(session: AsyncSession, feature_id: int, feature: Feature) -> None:
    """Changing tiers must not strand a plan value or a grant that names a tier the change removes."""
    plan_values = await session.execute(
        sa.select(PLANS.c.key, PLAN_FEATURES.c.value)
        .join(PLANS, PLANS.c.id == PLAN_FEATURES.c.plan_id)
        .where(PLAN_FEATURES.c.feature_id == feature_id)
    )
    for plan_key, value in plan_values:
        _still_fits(feature, value, f"plan {shown(plan_key)}")
    grant_values = await session.execute(
        sa.select(ENTITLEMENTS.c.id, ENTITLEMENTS.c.value).where(
            ENTITLEMENTS.c.feature_id == feature_id, ENTITLEMENTS.c.value.is_not(None)
        )
    )
    for entitlement_id, value in grant_values:
        _still_fits(feature, value, f"entitlement {entitlement_id}")


def _still_fits(feature: Feature, value: Any, user: str) -> None:
    try:
        validate_value(feature, value, field="tiers")
    except BadUserInput:
        raise BadUserInput(
            f"tiers: {user} uses {shown(value)}, which these tiers no longer allow", field="tiers"
        ) from None


async def delete_feature(runtime: Runtime, key: str) -> int:
    async with runtime.write(Scope.CATALOG) as session:
        row = await row_by_key(session, FEATURES, key, what="feature")
        for table, what in (
            (PLAN_FEATURES, "a plan"),
            (ENTITLEMENTS, "an entitlement"),
            (FLAG_FEATURES, "a feature flag"),
            (ROUTES, "an API route"),
            (USAGE_COUNTERS, "recorded usage"),
            (USAGE_EVENTS, "recorded usage"),
        ):
            if await exists(session, sa.select(table.c.feature_id).where(table.c.feature_id == row.id)):
                raise Conflict(f"feature {shown(key)} is still used by {what}", field="key")
        await session.execute(sa.delete(FEATURES).where(FEATURES.c.id == row.id))
    return int(row.id)


# --------------------------------------------------------------------------- plans


async def _plan_feature_rows(
    session: AsyncSession, items: list[dict[str, Any]], field: str = "features"
) -> list[dict[str, Any]]:
    """Validate ``[{feature_key, value}]`` against the catalog; return rows to insert (sans plan_id)."""
    keys = [item["feature_key"] for item in items]
    found = {r.key: r for r in await session.execute(sa.select(FEATURES).where(FEATURES.c.key.in_(keys)))}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        key = item["feature_key"]
        if key in seen:
            raise BadUserInput(
                f"{where}.featureKey: feature {shown(key)} is listed twice", field=f"{where}.featureKey"
            )
        seen.add(key)
        feature_row = found.get(key)
        if feature_row is None:
            raise NotFound(
                f"{where}.featureKey: no feature with key {shown(key)}", field=f"{where}.featureKey"
            )
        value = validate_value(feature_to_domain(feature_row), item["value"], field=f"{where}.value")
        rows.append({"feature_id": feature_row.id, "value": value, "position": index})
    return rows


def _check_trial_days(data: dict[str, Any]) -> None:
    days = data.get("default_time_limitation_days")
    if days is not None and not 1 <= days <= MAX_TRIAL_DAYS:
        raise BadUserInput(
            f"defaultTimeLimitationDays must be between 1 and {MAX_TRIAL_DAYS}",
            field="defaultTimeLimitationDays",
        )


async def create_plan(runtime: Runtime, data: dict[str, Any]) -> Row:
    validate_catalog_key(data["key"], "key")
    _check_name(data)
    _check_trial_days(data)
    stamp = now()
    async with runtime.write(Scope.CATALOG) as session:
        if await exists(session, sa.select(PLANS.c.id).where(PLANS.c.key == data["key"])):
            raise Conflict(f"a plan with key '{data['key']}' already exists", field="key")
        feature_rows = await _plan_feature_rows(session, data.get("features") or [])
        row = (
            await session.execute(
                sa.insert(PLANS)
                .values(
                    key=data["key"],
                    name=data["name"],
                    description=data.get("description"),
                    default_time_limitation_days=data.get("default_time_limitation_days"),
                    metadata=_metadata(data.get("metadata")),
                    created_at=stamp,
                    updated_at=stamp,
                )
                .returning(PLANS)
            )
        ).one()
        if feature_rows:
            await session.execute(sa.insert(PLAN_FEATURES), [{**r, "plan_id": row.id} for r in feature_rows])
    return row


async def update_plan(runtime: Runtime, key: str, changes: dict[str, Any]) -> Row:
    _check_name(changes)
    _check_trial_days(changes)
    async with runtime.write(Scope.CATALOG) as session:
        current = await row_by_key(session, PLANS, key, what="plan")
        values: dict[str, Any] = {"updated_at": now()}
        for name in ("name", "description", "default_time_limitation_days"):
            if name in changes:
                values[name] = changes[name]
        if "metadata" in changes:
            values["metadata"] = _metadata(changes["metadata"])
        if "features" in changes:
            feature_rows = await _plan_feature_rows(session, changes["features"] or [])
            await session.execute(sa.delete(PLAN_FEATURES).where(PLAN_FEATURES.c.plan_id == current.id))
            if feature_rows:
                await session.execute(
                    sa.insert(PLAN_FEATURES), [{**r, "plan_id": current.id} for r in feature_rows]
                )
        row = (
            await session.execute(
                sa.update(PLANS).where(PLANS.c.id == current.id).values(**values).returning(PLANS)
            )
        ).one()
    return row


async def delete_plan(runtime: Runtime, key: str) -> int:
    async with runtime.write(Scope.CATALOG) as session:
        row = await row_by_key(session, PLANS, key, what="plan")
        if await exists(session, sa.select(ENTITLEMENTS.c.id).where(ENTITLEMENTS.c.plan_id == row.id)):
            raise Conflict(
                f"plan {shown(key)} is referenced by entitlements (revoked ones included)", field="key"
            )
        await session.execute(sa.delete(PLAN_FEATURES).where(PLAN_FEATURES.c.plan_id == row.id))
        await session.execute(sa.delete(PLANS).where(PLANS.c.id == row.id))
    return int(row.id)
