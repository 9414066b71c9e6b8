"""Reads of the catalog (features, plans, flags, routes) as one consistent snapshot."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from entitle.db.repositories import Session
from entitle.db.repositories.features import FeatureRecord
from entitle.db.repositories.flags import FlagRecord
from entitle.db.repositories.plans import PlanFeatureRecord, PlanRecord, PlanVersionRecord
from entitle.db.repositories.routes import RouteRecord
from entitle.db.tables import FEATURES, FLAG_FEATURES, FLAGS, PLAN_FEATURES, PLAN_VERSIONS, PLANS, ROUTES
from entitle.domain import model as m
from entitle.domain.catalog import Catalog


@dataclass(frozen=True, eq=False)
class CatalogSnapshot:
    """The domain catalog plus the stored records the API renders (names, metadata, timestamps)."""

    catalog: Catalog
    features: dict[int, FeatureRecord] = field(default_factory=dict)
    plans: dict[int, PlanRecord] = field(default_factory=dict)
    plan_features: dict[int, list[PlanFeatureRecord]] = field(default_factory=dict)
    """The current version's feature values of each plan."""
    plan_versions: dict[int, list[PlanVersionRecord]] = field(default_factory=dict)
    """Every version of each plan, oldest first."""
    version_features: dict[tuple[int, int], list[PlanFeatureRecord]] = field(default_factory=dict)
    """The feature values of every version, by ``(plan id, version)``."""
    flags: dict[int, FlagRecord] = field(default_factory=dict)
    flag_features: dict[int, list[int]] = field(default_factory=dict)
    routes: dict[int, RouteRecord] = field(default_factory=dict)
    feature_ids_by_key: dict[str, int] = field(default_factory=dict)
    plan_ids_by_key: dict[str, int] = field(default_factory=dict)
    flag_ids_by_key: dict[str, int] = field(default_factory=dict)


def feature_to_domain(row: FeatureRecord) -> m.Feature:
    return m.Feature(
        id=row.id,
        key=row.key,
        name=row.name,
        type=m.FeatureType(row.type),
        tiers=tuple(row.tiers),
        permissions=tuple(row.permissions),
        default_value=row.default_value,
        reset_period=m.ResetPeriod(row.reset_period) if row.reset_period else None,
        overage=m.OverageHandling(row.overage),
        unit=row.unit,
        description=row.description,
        warning_thresholds=tuple(row.warning_thresholds),
    )


def plan_to_domain(
    row: PlanRecord,
    versions: list[PlanVersionRecord],
    version_features: Mapping[tuple[int, int], list[PlanFeatureRecord]],
) -> m.Plan:
    def values(version: int) -> tuple[m.PlanFeatureValue, ...]:
        return tuple(
            m.PlanFeatureValue(pf.feature_id, pf.value) for pf in version_features.get((row.id, version), [])
        )

    return m.Plan(
        id=row.id,
        key=row.key,
        name=row.name,
        features=values(row.version),
        default_time_limitation_days=row.default_time_limitation_days,
        version=row.version,
        rank=row.rank,
        auto_assign=row.auto_assign,
        earlier_versions=tuple((v.version, values(v.version)) for v in versions if v.version != row.version),
    )


def flag_to_domain(row: FlagRecord, feature_ids: list[int]) -> m.FeatureFlag:
    return m.FeatureFlag(
        id=row.id,
        key=row.key,
        on=row.on,
        feature_ids=tuple(feature_ids),
        tenant_keys=frozenset(row.tenant_keys),
        user_keys=frozenset(row.user_keys),
        rules=tuple(
            m.FlagRule(
                attribute=m.FlagAttribute(rule["attribute"]),
                operator=m.FlagOperator(rule["operator"]),
                values=tuple(rule["values"]),
                path=rule.get("path"),
                negate=bool(rule.get("negate", False)),
            )
            for rule in row.rules
        ),
        percentage=row.percentage,
    )


def route_to_domain(row: RouteRecord) -> m.ApiRoute:
    return m.ApiRoute(
        id=row.id,
        method=row.method,
        path_pattern=row.path_pattern,
        policy=m.RoutePolicy(row.policy),
        feature_id=row.feature_id,
        permission_key=row.permission_key,
        priority=row.priority,
    )


async def load_snapshot(session: Session, revision: int) -> CatalogSnapshot:
    """Seven statements, whatever the catalog's size (once per catalog revision, not per decision).

    Every version of every plan is held (plans have few), so grandfathered entitlements are decided
    from memory like any other.
    """
    features = {
        r.id: FeatureRecord.of(r) for r in await session.execute(sa.select(FEATURES).order_by(FEATURES.c.id))
    }
    plans = {r.id: PlanRecord.of(r) for r in await session.execute(sa.select(PLANS).order_by(PLANS.c.id))}
    plan_versions: dict[int, list[PlanVersionRecord]] = defaultdict(list)
    for pv in await session.execute(
        sa.select(PLAN_VERSIONS).order_by(PLAN_VERSIONS.c.plan_id, PLAN_VERSIONS.c.version)
    ):
        plan_versions[pv.plan_id].append(PlanVersionRecord.of(pv))
    version_features: dict[tuple[int, int], list[PlanFeatureRecord]] = defaultdict(list)
    for pf in await session.execute(
        sa.select(PLAN_FEATURES).order_by(
            PLAN_FEATURES.c.plan_id, PLAN_FEATURES.c.version, PLAN_FEATURES.c.position
        )
    ):
        version_features[pf.plan_id, pf.version].append(PlanFeatureRecord.of(pf))
    plan_features = {
        plan_id: version_features.get((plan_id, row.version), []) for plan_id, row in plans.items()
    }
    flags = {r.id: FlagRecord.of(r) for r in await session.execute(sa.select(FLAGS).order_by(FLAGS.c.id))}
    flag_features: dict[int, list[int]] = defaultdict(list)
    for flag_id, feature_id in await session.execute(
        sa.select(FLAG_FEATURES.c.flag_id, FLAG_FEATURES.c.feature_id).order_by(
            FLAG_FEATURES.c.flag_id, FLAG_FEATURES.c.position
        )
    ):
        flag_features[flag_id].append(feature_id)
    routes = {r.id: RouteRecord.of(r) for r in await session.execute(sa.select(ROUTES).order_by(ROUTES.c.id))}

    catalog = Catalog.build(
        revision=revision,
        features=[feature_to_domain(r) for r in features.values()],
        plans=[
            plan_to_domain(row, plan_versions.get(plan_id, []), version_features)
            for plan_id, row in plans.items()
        ],
        flags=[flag_to_domain(r, flag_features.get(r.id, [])) for r in flags.values()],
        routes=[route_to_domain(r) for r in routes.values()],
    )
    return CatalogSnapshot(
        catalog=catalog,
        features=features,
        plans=plans,
        plan_features=plan_features,
        plan_versions=dict(plan_versions),
        version_features=dict(version_features),
        flags=flags,
        flag_features=dict(flag_features),
        routes=routes,
        feature_ids_by_key={r.key: i for i, r in features.items()},
        plan_ids_by_key={r.key: i for i, r in plans.items()},
        flag_ids_by_key={r.key: i for i, r in flags.items()},
    )
