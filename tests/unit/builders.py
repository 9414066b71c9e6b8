"""Small builders of domain objects for the unit tests: fixed instants, no clock, no database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from entitle.domain.catalog import Catalog
from entitle.domain.model import (
    ApiRoute,
    AssignLevel,
    EntitlementRecord,
    Feature,
    FeatureFlag,
    FeatureType,
    JsonValue,
    Plan,
    PlanFeatureValue,
    RoutePolicy,
    Subject,
    SubjectRef,
)

JAN_1 = datetime(2025, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2025, 2, 1, tzinfo=UTC)
MAR_1 = datetime(2025, 3, 1, tzinfo=UTC)
APR_1 = datetime(2025, 4, 1, tzinfo=UTC)
NOW = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)

_ids = itertools.count(1000)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def feature(key: str, type_: FeatureType = FeatureType.BOOLEAN, *, id: int, **overrides: Any) -> Feature:
    overrides.setdefault("name", key.title())
    return Feature(id=id, key=key, type=type_, **overrides)


def plan(key: str, *, id: int, values: dict[Feature, JsonValue] | None = None) -> Plan:
    features = tuple(PlanFeatureValue(f.id, v) for f, v in (values or {}).items())
    return Plan(id=id, key=key, name=key.title(), features=features)


def plan_entitlement(plan_: Plan, **overrides: Any) -> EntitlementRecord:
    fields: dict[str, Any] = {
        "id": next(_ids),
        "assign_level": AssignLevel.TENANT,
        "start_date": JAN_1,
        "created_at": JAN_1,
        "plan_id": plan_.id,
    }
    fields.update(overrides)
    return EntitlementRecord(**fields)


def grant(feature_: Feature, value: JsonValue = None, **overrides: Any) -> EntitlementRecord:
    fields: dict[str, Any] = {
        "id": next(_ids),
        "assign_level": AssignLevel.TENANT,
        "start_date": JAN_1,
        "created_at": JAN_1,
        "feature_id": feature_.id,
        "value": value,
    }
    fields.update(overrides)
    return EntitlementRecord(**fields)


def flag(key: str, *features: Feature, id: int, on: bool = True, **overrides: Any) -> FeatureFlag:
    return FeatureFlag(id=id, key=key, on=on, feature_ids=tuple(f.id for f in features), **overrides)


def route(
    id: int, method: str, pattern: str, policy: RoutePolicy = RoutePolicy.ALLOW, **overrides: Any
) -> ApiRoute:
    return ApiRoute(id=id, method=method, path_pattern=pattern, policy=policy, **overrides)


def tenant_subject(
    *entitlements: EntitlementRecord,
    tenant_key: str = "acme",
    metadata: dict[str, JsonValue] | None = None,
) -> Subject:
    """A known tenant asking without a user (organization context)."""
    return Subject(
        tenant_key=tenant_key,
        user_key=None,
        tenant=SubjectRef(id=1, key=tenant_key, metadata=metadata or {}),
        entitlements=entitlements,
    )


def catalog(
    features: tuple[Feature, ...] = (),
    plans: tuple[Plan, ...] = (),
    flags: tuple[FeatureFlag, ...] = (),
    routes: tuple[ApiRoute, ...] = (),
) -> Catalog:
    return Catalog.build(1, features, plans, flags, routes)
