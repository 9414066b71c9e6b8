"""``entitle seed-demo``: a small, realistic catalog to explore in GraphiQL (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from entitle.clock import now
from entitle.db.repositories import entitlements as entitlement_rows
from entitle.db.repositories import features as feature_rows
from entitle.domain.model import (
    FeatureType,
    FlagAttribute,
    FlagOperator,
    OverageHandling,
    ResetPeriod,
    RoutePolicy,
)
from entitle.domain.subjects import TenantFields, UserFields
from entitle.services import catalog, entitlements, flags_routes, subjects
from entitle.services.catalog import NewFeature, NewPlan, PlanFeature
from entitle.services.entitlements import CreateEntitlements, NewEntitlement
from entitle.services.flags_routes import FlagDefinition, FlagRuleDefinition, NewRoute
from entitle.services.runtime import Runtime
from entitle.settings import Settings

FEATURES_DEMO: list[NewFeature] = [
    NewFeature(key="sso", name="Single sign-on", type=FeatureType.BOOLEAN, permissions=["sso.configure"]),
    NewFeature(
        key="reports",
        name="Reports",
        type=FeatureType.BOOLEAN,
        permissions=["reports.view", "reports.export"],
    ),
    NewFeature(key="seats", name="Seats", type=FeatureType.LIMIT, unit="seat"),
    NewFeature(
        key="api-calls",
        name="API calls",
        type=FeatureType.LIMIT,
        unit="call",
        reset_period=ResetPeriod.MONTH,
        overage=OverageHandling.BLOCK,
    ),
    NewFeature(
        key="support", name="Support tier", type=FeatureType.TIER, tiers=["community", "standard", "priority"]
    ),
    NewFeature(key="export-formats", name="Export formats", type=FeatureType.LIST),
    NewFeature(key="ai-assistant", name="AI assistant (beta)", type=FeatureType.BOOLEAN),
]

PLANS_DEMO: list[NewPlan] = [
    NewPlan(
        key="free",
        name="Free",
        features=[
            PlanFeature("seats", 3),
            PlanFeature("api-calls", 1000),
            PlanFeature("support", "community"),
            PlanFeature("export-formats", ["csv"]),
        ],
    ),
    NewPlan(
        key="pro",
        name="Pro",
        default_time_limitation_days=None,
        features=[
            PlanFeature("seats", 25),
            PlanFeature("api-calls", 100000),
            PlanFeature("reports", True),
            PlanFeature("support", "standard"),
            PlanFeature("export-formats", ["csv", "xlsx"]),
        ],
    ),
    NewPlan(
        key="enterprise",
        name="Enterprise",
        features=[
            PlanFeature("seats", "unlimited"),
            PlanFeature("api-calls", "unlimited"),
            PlanFeature("reports", True),
            PlanFeature("sso", True),
            PlanFeature("support", "priority"),
            PlanFeature("export-formats", ["csv", "xlsx", "pdf"]),
        ],
    ),
    NewPlan(
        key="pro-trial",
        name="Pro trial (14 days)",
        default_time_limitation_days=14,
        features=[PlanFeature("seats", 25), PlanFeature("reports", True)],
    ),
]


async def seed_demo(settings: Settings) -> str:
    runtime = Runtime(settings)
    try:
        async with runtime.database.read() as session:
            if await feature_rows.key_exists(session, "sso"):
                return "demo data is already loaded"
        for feature in FEATURES_DEMO:
            await catalog.create_feature(runtime, feature)
        for plan in PLANS_DEMO:
            await catalog.create_plan(runtime, plan)
        await subjects.upsert_tenants(
            runtime,
            subjects.UpsertTenants(
                [
                    TenantFields("acme", name="Acme Corp", metadata={"region": "eu", "employees": 120}),
                    TenantFields("globex", name="Globex", metadata={"region": "us", "employees": 8000}),
                    TenantFields("initech", name="Initech", metadata={"region": "us", "employees": 40}),
                ]
            ),
        )
        await subjects.upsert_users(
            runtime,
            subjects.UpsertUsers(
                [
                    UserFields(
                        "alice@acme.test", name="Alice", email="alice@acme.test", tenant_keys=["acme"]
                    ),
                    UserFields("bob@acme.test", name="Bob", email="bob@acme.test", tenant_keys=["acme"]),
                    UserFields(
                        "carol@globex.test", name="Carol", email="carol@globex.test", tenant_keys=["globex"]
                    ),
                    UserFields("dave@example.test", name="Dave (freelancer)", email="dave@example.test"),
                ]
            ),
        )
        start = now() - timedelta(days=30)
        await entitlements.batch_create(
            runtime,
            CreateEntitlements(
                [
                    NewEntitlement(
                        plan_key="pro", tenant_key="acme", start_date=start, reason="annual contract"
                    ),
                    NewEntitlement(plan_key="enterprise", tenant_key="globex", start_date=start),
                    NewEntitlement(plan_key="free", tenant_key="initech", start_date=start),
                    NewEntitlement(plan_key="pro-trial", tenant_key="initech"),
                    NewEntitlement(
                        feature_key="sso",
                        tenant_key="acme",
                        user_key="alice@acme.test",
                        value=True,
                        reason="admin add-on",
                    ),
                    NewEntitlement(
                        plan_key="pro",
                        user_key="dave@example.test",
                        start_date=start,
                        expiration_date=now() - timedelta(days=1),
                        reason="lapsed personal plan",
                    ),
                    NewEntitlement(
                        feature_key="seats",
                        tenant_key="acme",
                        value=40,
                        reason="seat add-on",
                        expiration_date=now() + timedelta(days=90),
                    ),
                ],
                atomic=True,
            ),
        )
        await flags_routes.create_flag(
            runtime,
            FlagDefinition(
                key="ai-beta",
                name="AI assistant beta",
                on=True,
                feature_keys=["ai-assistant"],
                tenant_keys=["acme"],
                rules=[
                    FlagRuleDefinition(
                        FlagAttribute.TENANT_METADATA, FlagOperator.GREATER_THAN, ["5000"], path="employees"
                    )
                ],
                percentage=10,
            ),
        )
        for route in (
            NewRoute(
                "GET", "/api/v1/reports/**", RoutePolicy.REQUIRE_PERMISSION, permission_key="reports.view"
            ),
            NewRoute("*", "/api/v1/admin/sso", RoutePolicy.REQUIRE_FEATURE, feature_key="sso"),
            NewRoute("GET", "/api/v1/health", RoutePolicy.ALLOW),
            NewRoute("*", "/api/v1/internal/**", RoutePolicy.DENY, priority=10),
        ):
            await flags_routes.create_route(runtime, route)
        async with runtime.database.read() as session:
            count = await entitlement_rows.count(session)
        return (
            f"demo data loaded: {len(FEATURES_DEMO)} features, {len(PLANS_DEMO)} plans, "
            f"3 tenants, 4 users, {count} entitlements, 1 flag, 4 routes"
        )
    finally:
        await runtime.database.dispose()
