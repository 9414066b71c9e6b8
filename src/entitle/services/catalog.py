"""Use cases for what is sold: features and plans (typed values validated before any write)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from entitle.clock import now
from entitle.db.repositories import Session
from entitle.db.repositories import changes as change_log
from entitle.db.repositories import features as feature_rows
from entitle.db.repositories import plans as plan_rows
from entitle.db.repositories.catalog import feature_to_domain
from entitle.db.repositories.features import FeatureChanges, FeatureFields, FeatureRecord
from entitle.db.repositories.plans import PlanChanges, PlanFeatureValue, PlanFields, PlanRecord
from entitle.domain.changes import ChangeKind, NewChange, payload_of
from entitle.domain.errors import BadUserInput, Conflict, NotFound
from entitle.domain.metering import validate_thresholds
from entitle.domain.model import Feature, FeatureType, JsonObject, JsonValue, OverageHandling, ResetPeriod
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


# --------------------------------------------------------------------------- features


def _metadata(value: JsonValue, field: str = "metadata") -> JsonObject:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadUserInput(f"{field} must be a JSON object", field=field)
    return value


def _checked_name(name: Omittable[str | None]) -> Omittable[str]:
    """A patch's name, checked: given, it must not be empty."""
    if name is UNSET:
        return UNSET
    validate_text(name, "name", NAME_MAX_LENGTH, required=True)
    if name is None:  # refused just above; this tells mypy
        raise BadUserInput("name must not be empty", field="name")
    return name


def _check_unit(unit: Omittable[str | None]) -> None:
    if unit is not UNSET:
        validate_text(unit, "unit", UNIT_MAX_LENGTH)


def _feature_changes(
    command: NewFeature | FeaturePatch, name: Omittable[str], at: datetime
) -> FeatureChanges:
    """The writable feature fields the caller gave, normalized (the definition already validated)."""
    tiers, permissions = command.tiers, command.permissions
    reset, overage = command.reset_period, command.overage
    metadata, thresholds = command.metadata, command.warning_thresholds
    return FeatureChanges(
        updated_at=at,
        name=name,
        description=command.description,
        unit=command.unit,
        default_value=command.default_value,
        tiers=UNSET if tiers is UNSET else list(tiers or []),
        permissions=UNSET if permissions is UNSET else list(dict.fromkeys(permissions or [])),
        reset_period=UNSET if reset is UNSET else reset or None,
        overage=UNSET if overage is UNSET else overage or OverageHandling.BLOCK,
        metadata=UNSET if metadata is UNSET else _metadata(metadata),
        warning_thresholds=UNSET if thresholds is UNSET else validate_thresholds(thresholds or []),
    )


async def create_feature(runtime: Runtime, command: NewFeature) -> FeatureRecord:
    validate_catalog_key(command.key, "key")
    validate_text(command.name, "name", NAME_MAX_LENGTH, required=True)
    _check_unit(command.unit)
    ftype = FeatureType(command.type)
    reset = None if command.reset_period is UNSET else command.reset_period
    tiers = None if command.tiers is UNSET else command.tiers
    default_value = None if command.default_value is UNSET else command.default_value
    permissions = None if command.permissions is UNSET else command.permissions
    validate_feature_definition(ftype, tiers or [], default_value, reset, permissions or [])
    stamp = now()
    given = _feature_changes(command, command.name, stamp)
    thresholds = None if given.warning_thresholds is UNSET else given.warning_thresholds
    _check_thresholds_fit(ftype, thresholds or [])
    async with runtime.write() as session:
        if await feature_rows.key_exists(session, command.key):
            raise Conflict(f"a feature with key {shown(command.key)} already exists", field="key")
        fields = FeatureFields(
            key=command.key,
            name=command.name,
            type=ftype,
            description=None if given.description is UNSET else given.description,
            unit=None if given.unit is UNSET else given.unit,
            tiers=[] if given.tiers is UNSET else given.tiers,
            permissions=[] if given.permissions is UNSET else given.permissions,
            default_value=None if given.default_value is UNSET else given.default_value,
            reset_period=None if given.reset_period is UNSET else given.reset_period,
            overage=OverageHandling.BLOCK if given.overage is UNSET else given.overage,
            metadata={} if given.metadata is UNSET else given.metadata,
            warning_thresholds=thresholds,
            at=stamp,
        )
        record = await feature_rows.insert(session, fields)
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
    name = _checked_name(patch.name)
    _check_unit(patch.unit)
    async with runtime.write() as session:
        current = found(await feature_rows.by_key(session, key), key, what="feature")
        changes = _feature_changes(patch, name, now())
        merged = _merged(feature_to_domain(current), changes)
        validate_feature_definition(
            merged.type, merged.tiers, merged.default_value, merged.reset_period, merged.permissions
        )
        _check_thresholds_fit(merged.type, merged.warning_thresholds)
        if changes.tiers is not UNSET:
            await _check_values_still_fit(session, current.id, merged)
        record = await feature_rows.update(session, current.id, changes)
        change_log.record(session, _feature_change(ChangeKind.FEATURE_UPDATED, record, current))
    return record


def _merged(feature: Feature, changes: FeatureChanges) -> Feature:
    """The feature as it will be once ``changes`` are written."""
    tiers, permissions, thresholds = changes.tiers, changes.permissions, changes.warning_thresholds
    return dataclasses.replace(
        feature,
        name=feature.name if changes.name is UNSET else changes.name,
        description=feature.description if changes.description is UNSET else changes.description,
        unit=feature.unit if changes.unit is UNSET else changes.unit,
        tiers=feature.tiers if tiers is UNSET else tuple(tiers),
        permissions=feature.permissions if permissions is UNSET else tuple(permissions),
        default_value=feature.default_value if changes.default_value is UNSET else changes.default_value,
        reset_period=feature.reset_period if changes.reset_period is UNSET else changes.reset_period,
        overage=feature.overage if changes.overage is UNSET else changes.overage,
        warning_thresholds=feature.warning_thresholds if thresholds is UNSET else tuple(thresholds),
    )


def _check_thresholds_fit(ftype: FeatureType, thresholds: Sequence[int]) -> None:
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


def _still_fits(feature: Feature, value: JsonValue, user: str) -> None:
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


def _check_trial_days(days: Omittable[int | None]) -> None:
    if days is not UNSET and days is not None and not 1 <= days <= MAX_TRIAL_DAYS:
        raise BadUserInput(
            f"defaultTimeLimitationDays must be between 1 and {MAX_TRIAL_DAYS}",
            field="defaultTimeLimitationDays",
        )


async def create_plan(runtime: Runtime, command: NewPlan) -> PlanRecord:
    validate_catalog_key(command.key, "key")
    validate_text(command.name, "name", NAME_MAX_LENGTH, required=True)
    _check_trial_days(command.default_time_limitation_days)
    features = None if command.features is UNSET else command.features
    stamp = now()
    async with runtime.write() as session:
        if await plan_rows.key_exists(session, command.key):
            raise Conflict(f"a plan with key {shown(command.key)} already exists", field="key")
        values = await plan_feature_values(session, features or [])
        fields = PlanFields(
            key=command.key,
            name=command.name,
            description=None if command.description is UNSET else command.description,
            default_time_limitation_days=(
                None
                if command.default_time_limitation_days is UNSET
                else command.default_time_limitation_days
            ),
            auto_assign=bool(command.auto_assign),
            rank=None if command.rank is UNSET else command.rank,
            metadata=_metadata(None if command.metadata is UNSET else command.metadata),
            at=stamp,
        )
        record = await plan_rows.insert(session, fields)
        await plan_rows.add_version(session, record.id, record.version, values, stamp)
        change_log.record(
            session, plan_change(ChangeKind.PLAN_CREATED, record, features=features_shown(features))
        )
    return record


def features_shown(features: Sequence[PlanFeature] | None) -> JsonValue:
    """A plan's features as a change shows them."""
    return [{"featureKey": f.feature_key, "value": f.value} for f in features or []]


async def update_plan(runtime: Runtime, key: str, patch: PlanPatch) -> PlanRecord:
    name = _checked_name(patch.name)
    _check_trial_days(patch.default_time_limitation_days)
    async with runtime.write() as session:
        current = found(await plan_rows.by_key(session, key), key, what="plan")
        auto_assign, metadata = patch.auto_assign, patch.metadata
        changes = PlanChanges(
            updated_at=now(),
            name=name,
            description=patch.description,
            default_time_limitation_days=patch.default_time_limitation_days,
            rank=patch.rank,
            auto_assign=UNSET if auto_assign is UNSET else bool(auto_assign),
            metadata=UNSET if metadata is UNSET else _metadata(metadata),
        )
        extra: dict[str, JsonValue] = {}
        if patch.features is not UNSET:
            # The current version is edited in place: every entitlement on it sees the change.
            feature_values = await plan_feature_values(session, patch.features or [])
            await plan_rows.replace_features(session, current.id, current.version, feature_values)
            extra["features"] = features_shown(patch.features)
        record = await plan_rows.update(session, current.id, changes)
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
