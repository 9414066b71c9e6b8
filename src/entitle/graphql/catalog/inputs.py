from __future__ import annotations

import strawberry

from entitle.domain.patch import UNSET, Omittable
from entitle.graphql.core.enums import FeatureType, OverageHandling, ResetPeriod
from entitle.graphql.core.inputs import json_field, omittable, omittable_json
from entitle.graphql.core.scalars import JSON
from entitle.services.catalog import FeaturePatch, NewFeature, NewPlan, PlanFeature, PlanPatch


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

    def to_command(self) -> NewFeature:
        return NewFeature(
            key=self.key,
            name=self.name,
            type=self.type,
            description=omittable(self.description),
            unit=omittable(self.unit),
            tiers=omittable(self.tiers),
            permissions=omittable(self.permissions),
            default_value=omittable_json(self.default_value),
            reset_period=omittable(self.reset_period),
            overage=omittable(self.overage),
            metadata=omittable_json(self.metadata),
            warning_thresholds=omittable(self.warning_thresholds),
        )


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

    def to_command(self) -> FeaturePatch:
        return FeaturePatch(
            name=omittable(self.name),
            description=omittable(self.description),
            unit=omittable(self.unit),
            tiers=omittable(self.tiers),
            permissions=omittable(self.permissions),
            default_value=omittable_json(self.default_value),
            reset_period=omittable(self.reset_period),
            overage=omittable(self.overage),
            metadata=omittable_json(self.metadata),
            warning_thresholds=omittable(self.warning_thresholds),
        )


@strawberry.input
class PlanFeatureInput:
    feature_key: str
    value: JSON

    def to_command(self) -> PlanFeature:
        return PlanFeature(self.feature_key, json_field(self.value))


def _plan_features(features: list[PlanFeatureInput] | None) -> Omittable[list[PlanFeature] | None]:
    given = omittable(features)
    return given if given is UNSET or given is None else [f.to_command() for f in given]


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

    def to_command(self) -> NewPlan:
        return NewPlan(
            key=self.key,
            name=self.name,
            features=_plan_features(self.features),
            description=omittable(self.description),
            default_time_limitation_days=omittable(self.default_time_limitation_days),
            metadata=omittable_json(self.metadata),
            auto_assign=omittable(self.auto_assign),
            rank=omittable(self.rank),
        )


@strawberry.input(description="`features`, when given, replace the plan's whole feature list.")
class UpdatePlanInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    default_time_limitation_days: int | None = strawberry.UNSET
    features: list[PlanFeatureInput] | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    auto_assign: bool | None = strawberry.UNSET
    rank: int | None = strawberry.UNSET

    def to_command(self) -> PlanPatch:
        return PlanPatch(
            name=omittable(self.name),
            features=_plan_features(self.features),
            description=omittable(self.description),
            default_time_limitation_days=omittable(self.default_time_limitation_days),
            metadata=omittable_json(self.metadata),
            auto_assign=omittable(self.auto_assign),
            rank=omittable(self.rank),
        )
