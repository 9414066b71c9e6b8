from __future__ import annotations

from typing import Any

import strawberry

from entitle.graphql.core.enums import FeatureType, OverageHandling, ResetPeriod
from entitle.graphql.core.scalars import JSON


@strawberry.input
class CreateFeatureInput:
    key: str
    name: str
    type: FeatureType
    description: str | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    tiers: list[str] | None = strawberry.UNSET
    permissions: list[str] | None = strawberry.UNSET
    default_value: JSON | None = strawberry.UNSET
    reset_period: ResetPeriod | None = strawberry.UNSET
    overage: OverageHandling | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    warning_thresholds: list[int] | None = strawberry.UNSET


@strawberry.input
class UpdateFeatureInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    tiers: list[str] | None = strawberry.UNSET
    permissions: list[str] | None = strawberry.UNSET
    default_value: JSON | None = strawberry.UNSET
    reset_period: ResetPeriod | None = strawberry.UNSET
    overage: OverageHandling | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    warning_thresholds: list[int] | None = strawberry.UNSET


@strawberry.input
class PlanFeatureInput:
    feature_key: str
    value: JSON


@strawberry.input
class CreatePlanInput:
    key: str
    name: str
    description: str | None = strawberry.UNSET
    default_time_limitation_days: int | None = strawberry.UNSET
    features: list[PlanFeatureInput] | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    auto_assign: bool | None = strawberry.UNSET
    rank: int | None = strawberry.UNSET


@strawberry.input(description="`features`, when given, replace the plan's whole feature list.")
class UpdatePlanInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    default_time_limitation_days: int | None = strawberry.UNSET
    features: list[PlanFeatureInput] | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    auto_assign: bool | None = strawberry.UNSET
    rank: int | None = strawberry.UNSET


def catalog_changes(value: object) -> dict[str, Any]:
    """The given fields of a feature or plan input."""
    from entitle.graphql.core.inputs import given_fields

    return given_fields(value)


def plan_changes(value: CreatePlanInput | UpdatePlanInput) -> dict[str, object]:
    changes = catalog_changes(value)
    if changes.get("features") is not None:
        changes["features"] = [{"feature_key": f.feature_key, "value": f.value} for f in changes["features"]]
    return changes
