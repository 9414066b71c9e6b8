"""Use cases for what is sold: features and plans (typed values validated before any write)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from entitle.clock import now
from entitle.db.repositories import Session
from entitle.db.repositories import changes as change_log
from entitle.db.repositories import features as feature_rows
from entitle.db.repositories import plans as plan_rows
from entitle.db.repositories.catalog import feature_to_domain
from entitle.db.repositories.features import FeatureRecord
from entitle.db.repositories.plans import PlanFeatureValue, PlanRecord
from entitle.domain.changes import ChangeKind, NewChange, payload_of
from entitle.domain.errors import BadUserInput, Conflict, NotFound
from entitle.domain.metering import validate_thresholds
from entitle.domain.model import Feature, FeatureType, JsonValue, OverageHandling, ResetPeriod
from entitle.domain.patch import UNSET, Omittable
from entitle.domain.text import shown
from entitle.domain.values import (
    NAME_MAX_LENGTH,
    UNIT_MAX_LENGTH,
    validate_catalog_key,
    validate_feature_definition,
    validate_text,
    validate_value,
)
from entitle.services.common import found
from entitle.services.runtime import Runtime

MAX_TRIAL_DAYS = 36_500


@dataclass(frozen=True, slots=True, kw_only=True)
class NewFeature:
    """``createFeature``; ``UNSET`` optional fields take their defaults. Not validated yet."""

    key: str
    name: str
    type: FeatureType
    description: Omittable[str | None] = UNSET
    unit: Omittable[str | None] = UNSET
    tiers: Omittable[Sequence[str] | None] = UNSET
    permissions: Omittable[Sequence[str] | None] = UNSET
    default_value: Omittable[JsonValue] = UNSET
    reset_period: Omittable[ResetPeriod | None] = UNSET
    overage: Omittable[OverageHandling | None] = UNSET
    metadata: Omittable[JsonValue] = UNSET
    warning_thresholds: Omittable[Sequence[int] | None] = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class FeaturePatch:
    """``updateFeature``: ``UNSET`` fields keep their stored value."""

    name: Omittable[str | None] = UNSET
    description: Omittable[str | None] = UNSET
    unit: Omittable[str | None] = UNSET
    tiers: Omittable[Sequence[str] | None] = UNSET
    permissions: Omittable[Sequence[str] | None] = UNSET
    default_value: Omittable[JsonValue] = UNSET
    reset_period: Omittable[ResetPeriod | None] = UNSET
    overage: Omittable[OverageHandling | None] = UNSET
    metadata: Omittable[JsonValue] = UNSET
    warning_thresholds: Omittable[Sequence[int] | None] = UNSET


@dataclass(frozen=True, slots=True)
class PlanFeature:
    """One feature of a plan (version) and its value, not validated yet."""

    feature_key: str
    value: JsonValue


@dataclass(frozen=True, slots=True, kw_only=True)
class NewPlan:
    """``createPlan``; ``UNSET`` optional fields take their defaults. Not validated yet."""

    key: str
    name: str
    description: Omittable[str | None] = UNSET
    default_time_limitation_days: Omittable[int | None] = UNSET
    features: Omittable[Sequence[PlanFeature] | None] = UNSET
    metadata: Omittable[JsonValue] = UNSET
    auto_assign: Omittable[bool | None] = UNSET
    rank: Omittable[int | None] = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanPatch:
    """``updatePlan``: ``UNSET`` fields keep their stored value; ``features``, when given, replace the
    current version's whole feature list."""

    name: Omittable[str | None] = UNSET
    description: Omittable[str | None] = UNSET
    default_time_limitation_days: Omittable[int | None] = UNSET
    features: Omittable[Sequence[PlanFeature] | None] = UNSET
    metadata: Omittable[JsonValue] = UNSET
    auto_assign: Omittable[bool | None] = UNSET
    rank: Omittable[int | None] = UNSET


def _given(command: NewFeature | FeaturePatch | NewPlan | PlanPatch) -> dict[str, Any]:
    """The fields the caller gave (``UNSET`` ones left out), by name: what the checks below read."""
    return {
        name: value for name in command.__dataclass_fields__ if (value := getattr(command, name)) is not UNSET
    }


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
    if "warning_thresholds" in data:
        out["warning_thresholds"] = list(validate_thresholds(data["warning_thresholds"] or []))
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


async def create_feature(runtime: Runtime, command: NewFeature) -> FeatureRecord:
    data = _given(command)
    validate_catalog_key(data["key"], "key")
    _check_name(data)
    ftype = FeatureType(data["type"])
    reset = data.get("reset_period")
    validate_feature_definition(
        ftype, data.get("tiers") or [], data.get("default_value"), reset, data.get("permissions") or []
    )
    values = _feature_values(data)
    _check_thresholds_fit(ftype, values.get("warning_thresholds") or [])
    stamp = now()
    async with runtime.write() as session:
        if await feature_rows.key_exists(session, data["key"]):
            raise Conflict(f"a feature with key {shown(data['key'])} already exists", field="key")
        values.setdefault("overage", OverageHandling.BLOCK.value)
        values.setdefault("metadata", {})
        values.setdefault("tiers", [])
        values.setdefault("permissions", [])
        record = await feature_rows.insert(
            session,
            {"key": data["key"], "type": ftype.value, "created_at": stamp, "updated_at": stamp, **values},
        )
        change_log.record(session, _feature_change(ChangeKind.FEATURE_CREATED, record))
    return record


def _feature_change(
    kind: ChangeKind, record: FeatureRecord, before: FeatureRecord | None = None
) -> NewChange:
    return NewChange(kind, feature_key=record.key, payload=payload_of(record, before=before))


def plan_change(
    kind: ChangeKind, record: PlanRecord, before: PlanRecord | None = None, **extra: JsonValue
) -> NewChange:
    return NewChange(kind, plan_key=record.key, payload=payload_of(record, before=before, **extra))


async def update_feature(runtime: Runtime, key: str, patch: FeaturePatch) -> FeatureRecord:
    changes = _given(patch)
    _check_name(changes)
    async with runtime.write() as session:
        current = found(await feature_rows.by_key(session, key), key, what="feature")
        merged = dataclasses.replace(current, **_feature_values(changes))
        ftype = FeatureType(current.type)
        reset = ResetPeriod(merged.reset_period) if merged.reset_period else None
        validate_feature_definition(ftype, merged.tiers, merged.default_value, reset, merged.permissions)
        _check_thresholds_fit(ftype, merged.warning_thresholds)
        if "tiers" in changes:
            await _check_values_still_fit(session, current.id, feature_to_domain(merged))
        values = _feature_values(changes)
        values["updated_at"] = now()
        record = await feature_rows.update(session, current.id, values)
        change_log.record(session, _feature_change(ChangeKind.FEATURE_UPDATED, record, current))
    return record


def _check_thresholds_fit(ftype: FeatureType, thresholds: list[int]) -> None:
    if thresholds and ftype is not FeatureType.LIMIT:
        raise BadUserInput(
            f"warningThresholds: only LIMIT features have warning thresholds, not {ftype.value}",
            field="warningThresholds",
        )


async def _check_values_still_fit(session: Session, feature_id: int, feature: Feature) -> None:
    """Changing tiers must not strand a plan value or a grant that names a tier the change removes."""
    for plan_key, value in await feature_rows.plan_values(session, feature_id):
        _still_fits(feature, value, f"plan {shown(plan_key)}")
    for entitlement_id, value in await feature_rows.grant_values(session, feature_id):
        _still_fits(feature, value, f"entitlement {entitlement_id}")


def _still_fits(feature: Feature, value: Any, user: str) -> None:
    try:
        validate_value(feature, value, field="tiers")
    except BadUserInput:
        raise BadUserInput(
            f"tiers: {user} uses {shown(value)}, which these tiers no longer allow", field="tiers"
        ) from None


async def delete_feature(runtime: Runtime, key: str) -> int:
    async with runtime.write() as session:
        record = found(await feature_rows.by_key(session, key), key, what="feature")
        what = await feature_rows.first_user(session, record.id)
        if what is not None:
            raise Conflict(f"feature {shown(key)} is still used by {what}", field="key")
        await feature_rows.delete(session, record.id)
        change_log.record(session, _feature_change(ChangeKind.FEATURE_DELETED, record))
    return record.id


# --------------------------------------------------------------------------- plans


async def plan_feature_values(
    session: Session, items: Sequence[PlanFeature], field: str = "features"
) -> list[PlanFeatureValue]:
    """Validate a plan's features against the catalog; return the values to store."""
    known = await feature_rows.by_keys(session, [item.feature_key for item in items])
    rows: list[PlanFeatureValue] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        key = item.feature_key
        if key in seen:
            raise BadUserInput(
                f"{where}.featureKey: feature {shown(key)} is listed twice", field=f"{where}.featureKey"
            )
        seen.add(key)
        feature = known.get(key)
        if feature is None:
            raise NotFound(
                f"{where}.featureKey: no feature with key {shown(key)}", field=f"{where}.featureKey"
            )
        value = validate_value(feature_to_domain(feature), item.value, field=f"{where}.value")
        rows.append(PlanFeatureValue(feature_id=feature.id, value=value, position=index))
    return rows


def _check_trial_days(data: dict[str, Any]) -> None:
    days = data.get("default_time_limitation_days")
    if days is not None and not 1 <= days <= MAX_TRIAL_DAYS:
        raise BadUserInput(
            f"defaultTimeLimitationDays must be between 1 and {MAX_TRIAL_DAYS}",
            field="defaultTimeLimitationDays",
        )


async def create_plan(runtime: Runtime, command: NewPlan) -> PlanRecord:
    data = _given(command)
    validate_catalog_key(data["key"], "key")
    _check_name(data)
    _check_trial_days(data)
    stamp = now()
    async with runtime.write() as session:
        if await plan_rows.key_exists(session, data["key"]):
            raise Conflict(f"a plan with key {shown(data['key'])} already exists", field="key")
        values = await plan_feature_values(session, data.get("features") or [])
        record = await plan_rows.insert(
            session,
            {
                "key": data["key"],
                "name": data["name"],
                "description": data.get("description"),
                "default_time_limitation_days": data.get("default_time_limitation_days"),
                "version": 1,
                "auto_assign": bool(data.get("auto_assign")),
                "rank": data.get("rank"),
                "metadata": _metadata(data.get("metadata")),
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        await plan_rows.add_version(session, record.id, 1, values, stamp)
        change_log.record(
            session,
            plan_change(ChangeKind.PLAN_CREATED, record, features=features_shown(data.get("features"))),
        )
    return record


def features_shown(features: Sequence[PlanFeature] | None) -> JsonValue:
    """A plan's features as a change shows them."""
    return [{"featureKey": f.feature_key, "value": f.value} for f in features or []]


async def update_plan(runtime: Runtime, key: str, patch: PlanPatch) -> PlanRecord:
    changes = _given(patch)
    _check_name(changes)
    _check_trial_days(changes)
    async with runtime.write() as session:
        current = found(await plan_rows.by_key(session, key), key, what="plan")
        values: dict[str, Any] = {"updated_at": now()}
        for name in ("name", "description", "default_time_limitation_days", "rank"):
            if name in changes:
                values[name] = changes[name]
        if "auto_assign" in changes:
            values["auto_assign"] = bool(changes["auto_assign"])
        if "metadata" in changes:
            values["metadata"] = _metadata(changes["metadata"])
        extra: dict[str, JsonValue] = {}
        if "features" in changes:
            # The current version is edited in place: every entitlement on it sees the change.
            feature_values = await plan_feature_values(session, changes["features"] or [])
            await plan_rows.replace_features(session, current.id, current.version, feature_values)
            extra["features"] = features_shown(changes["features"])
        record = await plan_rows.update(session, current.id, values)
        change_log.record(session, plan_change(ChangeKind.PLAN_UPDATED, record, current, **extra))
    return record


async def delete_plan(runtime: Runtime, key: str) -> int:
    async with runtime.write() as session:
        record = found(await plan_rows.by_key(session, key), key, what="plan")
        if await plan_rows.is_granted(session, record.id):
            raise Conflict(
                f"plan {shown(key)} is referenced by entitlements (revoked ones included)", field="key"
            )
        await plan_rows.delete(session, record.id)
        change_log.record(session, plan_change(ChangeKind.PLAN_DELETED, record))
    return record.id
