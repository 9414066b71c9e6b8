"""The catalog snapshot the decision reads: features, plans, flags and routes, indexed once.

A ``Catalog`` is immutable and built once per catalog revision (kept in memory per process), so
that a decision only does dictionary lookups: plans' granting values per feature, flags per
feature, features per permission and compiled routes are all precomputed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from entitle.domain.model import ApiRoute, Feature, FeatureFlag, JsonValue, Plan, PlanFeatureValue
from entitle.domain.routes import CompiledRoutes
from entitle.domain.values import grants_something, natural_flag_value


@dataclass(frozen=True, eq=False)
class Catalog:
    """An indexed catalog at ``revision``. Build it with ``Catalog.build``.

    ``plan_values[plan_id][feature_id]`` holds only values that grant something and whose feature
    exists, for the plan's current version; ``version_values[plan_id, version]`` the same for every
    version (grandfathered entitlements are decided by theirs); ``flags_by_feature_id`` lists flags
    (on or off) in id order; ``natural_values[feature_id]`` is what a flag, or a single-feature
    grant without a value, gives the feature.
    """

    revision: int
    features_by_id: Mapping[int, Feature]
    features_by_key: Mapping[str, Feature]
    plans_by_id: Mapping[int, Plan]
    plans_by_key: Mapping[str, Plan]
    flags: tuple[FeatureFlag, ...]
    flags_by_id: Mapping[int, FeatureFlag]
    routes: tuple[ApiRoute, ...]
    compiled_routes: CompiledRoutes
    features_by_permission: Mapping[str, tuple[Feature, ...]]
    plan_values: Mapping[int, Mapping[int, JsonValue]] = field(default_factory=dict)
    version_values: Mapping[tuple[int, int], Mapping[int, JsonValue]] = field(default_factory=dict)
    flags_by_feature_id: Mapping[int, tuple[FeatureFlag, ...]] = field(default_factory=dict)
    natural_values: Mapping[int, JsonValue] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        revision: int,
        features: Iterable[Feature],
        plans: Iterable[Plan],
        flags: Iterable[FeatureFlag],
        routes: Iterable[ApiRoute],
    ) -> Catalog:
        features_by_id = {feature.id: feature for feature in sorted(features, key=lambda f: f.id)}
        plans_by_id = {plan.id: plan for plan in sorted(plans, key=lambda p: p.id)}
        ordered_flags = tuple(sorted(flags, key=lambda f: f.id))
        ordered_routes = tuple(sorted(routes, key=lambda r: r.id))

        by_permission: dict[str, list[Feature]] = {}
        for feature in features_by_id.values():
            for permission in dict.fromkeys(feature.permissions):
                by_permission.setdefault(permission, []).append(feature)

        def granting(plan_features: Iterable[PlanFeatureValue]) -> Mapping[int, JsonValue]:
            values: dict[int, JsonValue] = {}
            for plan_feature in plan_features:
                planned = features_by_id.get(plan_feature.feature_id)
                if planned is not None and grants_something(planned, plan_feature.value):
                    values[planned.id] = plan_feature.value
            return MappingProxyType(values)

        plan_values: dict[int, Mapping[int, JsonValue]] = {}
        version_values: dict[tuple[int, int], Mapping[int, JsonValue]] = {}
        for plan in plans_by_id.values():
            plan_values[plan.id] = version_values[plan.id, plan.version] = granting(plan.features)
            for version, plan_features in plan.earlier_versions:
                version_values[plan.id, version] = granting(plan_features)

        flags_by_feature: dict[int, list[FeatureFlag]] = {}
        for flag in ordered_flags:
            for feature_id in dict.fromkeys(flag.feature_ids):
                if feature_id in features_by_id:
                    flags_by_feature.setdefault(feature_id, []).append(flag)

        return cls(
            revision=revision,
            features_by_id=MappingProxyType(features_by_id),
            features_by_key=MappingProxyType({f.key: f for f in features_by_id.values()}),
            plans_by_id=MappingProxyType(plans_by_id),
            plans_by_key=MappingProxyType({p.key: p for p in plans_by_id.values()}),
            flags=ordered_flags,
            flags_by_id=MappingProxyType({flag.id: flag for flag in ordered_flags}),
            routes=ordered_routes,
            compiled_routes=CompiledRoutes(ordered_routes),
            features_by_permission=MappingProxyType({k: tuple(v) for k, v in by_permission.items()}),
            plan_values=MappingProxyType(plan_values),
            version_values=MappingProxyType(version_values),
            flags_by_feature_id=MappingProxyType({k: tuple(v) for k, v in flags_by_feature.items()}),
            natural_values=MappingProxyType(
                {feature.id: natural_flag_value(feature) for feature in features_by_id.values()}
            ),
        )

    def values_of_plan(self, plan_id: int, version: int | None) -> Mapping[int, JsonValue] | None:
        """What a plan entitlement on ``version`` grants (None: the current version), by feature id;
        None when the plan (or that version) is not in the catalog."""
        if version is None:
            return self.plan_values.get(plan_id)
        return self.version_values.get((plan_id, version))

    @classmethod
    def empty(cls) -> Catalog:
        return cls.build(0, (), (), (), ())
