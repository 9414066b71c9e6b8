"""Bulk-seed an Entitle server through its GraphQL API (no direct database access).

Shape (defaults): 10,000 tenants, 30,000 users (three members per tenant), 12,000 entitlements:
one TENANT-level plan entitlement per tenant (5 % of them expired, a few trials), 1,500 USER-level
add-ons (single features with a value), 500 more that are expired or not started yet. The catalog
has BOOLEAN, LIMIT (one metered) and TIER features and five plans, so decisions vary: entitled, not
entitled (MISSING_FEATURE, PLAN_EXPIRED, NOT_STARTED, UNKNOWN_SUBJECT), limits, tiers.

``python bench/seed.py --url http://127.0.0.1:8000 --token KEY`` seeds a running server and prints
the counts; ``bench/run.py`` imports ``seed()`` and ``access_triples()``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

BATCH = 10_000

FEATURES: list[dict[str, Any]] = [
    {"key": "sso", "name": "Single sign-on", "type": "BOOLEAN", "permissions": ["sso.configure"]},
    {"key": "reports", "name": "Reports", "type": "BOOLEAN", "permissions": ["reports.view"]},
    {"key": "audit-log", "name": "Audit log", "type": "BOOLEAN"},
    {"key": "exports", "name": "Exports", "type": "BOOLEAN"},
    {"key": "seats", "name": "Seats", "type": "LIMIT", "unit": "seat"},
    {"key": "projects", "name": "Projects", "type": "LIMIT"},
    {"key": "storage-gb", "name": "Storage (GB)", "type": "LIMIT", "unit": "GB"},
    {
        "key": "api-calls",
        "name": "API calls",
        "type": "LIMIT",
        "unit": "call",
        "resetPeriod": "MONTH",
    },
    {"key": "support", "name": "Support", "type": "TIER", "tiers": ["community", "standard", "priority"]},
    {"key": "analytics", "name": "Analytics", "type": "TIER", "tiers": ["basic", "advanced", "custom"]},
]

PLANS: list[dict[str, Any]] = [
    {
        "key": "free",
        "name": "Free",
        "features": {"seats": 3, "projects": 1, "storage-gb": 1, "support": "community", "api-calls": 1000},
    },
    {
        "key": "starter",
        "name": "Starter",
        "features": {
            "seats": 10,
            "projects": 5,
            "storage-gb": 20,
            "support": "standard",
            "api-calls": 10_000,
        },
    },
    {
        "key": "pro",
        "name": "Pro",
        "features": {
            "seats": 50,
            "projects": 50,
            "storage-gb": 200,
            "reports": True,
            "audit-log": True,
            "support": "standard",
            "analytics": "advanced",
            "api-calls": 100_000,
        },
    },
    {
        "key": "enterprise",
        "name": "Enterprise",
        "features": {
            "seats": "unlimited",
            "projects": "unlimited",
            "storage-gb": 5000,
            "sso": True,
            "reports": True,
            "audit-log": True,
            "exports": True,
            "support": "priority",
            "analytics": "custom",
            "api-calls": "unlimited",
        },
    },
    {
        "key": "pro-trial",
        "name": "Pro trial",
        "defaultTimeLimitationDays": 14,
        "features": {"seats": 5, "projects": 5, "reports": True, "analytics": "basic", "api-calls": 1000},
    },
]
PLAN_WEIGHTS = {"free": 35, "starter": 30, "pro": 22, "enterprise": 8, "pro-trial": 5}
ADD_ONS: list[tuple[str, Any]] = [("exports", True), ("seats", 5), ("sso", True), ("support", "priority")]

CREATE_FEATURE = "mutation($input: CreateFeatureInput!) { createFeature(input: $input) { key } }"
CREATE_PLAN = "mutation($input: CreatePlanInput!) { createPlan(input: $input) { key } }"
UPSERT_TENANTS = (
    "mutation($input: [TenantInput!]!) { upsertTenants(input: $input) { errors { index code message } } }"
)
UPSERT_USERS = (
    "mutation($input: [UserInput!]!) { upsertUsers(input: $input) { errors { index code message } } }"
)
BATCH_ENTITLEMENTS = """
mutation($input: [CreateEntitlementInput!]!) {
  batchCreateEntitlements(input: $input) { entitlements { id } errors { index code message } }
}
"""


@dataclass(frozen=True)
class Population:
    tenants: int = 10_000
    users_per_tenant: int = 3
    user_add_ons: int = 1_500
    lapsed: int = 500
    """Extra entitlements that are expired or not started yet (decisions say PLAN_EXPIRED / NOT_STARTED)."""

    @property
    def users(self) -> int:
        return self.tenants * self.users_per_tenant

    @property
    def entitlements(self) -> int:
        return self.tenants + self.user_add_ons + self.lapsed


def tenant_key(i: int) -> str:
    return f"org-{i:05d}"


def user_key(tenant: int, member: int) -> str:
    return f"user-{tenant:05d}-{member}@example.com"


class GraphQLClient:
    """A management-key client that fails loudly on any GraphQL error."""

    def __init__(self, base_url: str, token: str, timeout: float = 120.0) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def __enter__(self) -> GraphQLClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors'][:3]}")
        data: dict[str, Any] = body["data"]
        return data


def chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batch(client: GraphQLClient, query: str, field: str, items: Sequence[Any]) -> None:
    for chunk in chunks(items):
        errors = client.data(query, {"input": list(chunk)})[field]["errors"]
        if errors:
            raise RuntimeError(f"{field}: {len(errors)} item errors, first {errors[:3]}")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def entitlement_items(population: Population, rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    plans = list(PLAN_WEIGHTS)
    weights = list(PLAN_WEIGHTS.values())
    year_ago = now - timedelta(days=365)
    items: list[dict[str, Any]] = []
    for t in range(population.tenants):
        item: dict[str, Any] = {"planKey": rng.choices(plans, weights)[0], "tenantKey": tenant_key(t)}
        start = year_ago + timedelta(days=rng.randrange(300))
        item["startDate"] = _iso(start)
        if t % 20 == 7:  # 5 % lapsed subscriptions
            item["expirationDate"] = _iso(now - timedelta(days=1 + rng.randrange(30)))
        elif item["planKey"] == "pro-trial":
            item["startDate"] = _iso(now - timedelta(days=rng.randrange(10)))
        items.append(item)
    for _ in range(population.user_add_ons):
        t = rng.randrange(population.tenants)
        feature, value = rng.choice(ADD_ONS)
        items.append(
            {
                "featureKey": feature,
                "value": value,
                "tenantKey": tenant_key(t),
                "userKey": user_key(t, rng.randrange(population.users_per_tenant)),
                "reason": "add-on",
            }
        )
    for i in range(population.lapsed):
        t = rng.randrange(population.tenants)
        if i % 2:
            start, end = now - timedelta(days=90), now - timedelta(days=30)
        else:
            start, end = now + timedelta(days=30), now + timedelta(days=395)
        items.append(
            {
                "planKey": "enterprise",
                "tenantKey": tenant_key(t),
                "startDate": _iso(start),
                "expirationDate": _iso(end),
                "reason": "lapsed" if i % 2 else "scheduled upgrade",
            }
        )
    return items


def seed(client: GraphQLClient, population: Population, rng: random.Random) -> dict[str, float]:
    """Create the catalog, subjects and entitlements; returns seconds per step."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for feature in FEATURES:
        client.data(CREATE_FEATURE, {"input": feature})
    for plan in PLANS:
        features = [{"featureKey": k, "value": v} for k, v in plan["features"].items()]
        client.data(CREATE_PLAN, {"input": {**plan, "features": features}})
    timings["catalog"] = time.perf_counter() - started

    started = time.perf_counter()
    tenants = [{"key": tenant_key(t), "name": f"Org {t}"} for t in range(population.tenants)]
    _batch(client, UPSERT_TENANTS, "upsertTenants", tenants)
    timings["tenants"] = time.perf_counter() - started

    started = time.perf_counter()
    users = [
        {"key": user_key(t, m), "name": f"User {t}-{m}", "tenantKeys": [tenant_key(t)]}
        for t in range(population.tenants)
        for m in range(population.users_per_tenant)
    ]
    _batch(client, UPSERT_USERS, "upsertUsers", users)
    timings["users"] = time.perf_counter() - started

    started = time.perf_counter()
    items = entitlement_items(population, rng, datetime.now(UTC))
    _batch(client, BATCH_ENTITLEMENTS, "batchCreateEntitlements", items)
    timings["entitlements"] = time.perf_counter() - started
    return timings


def access_triples(population: Population, rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """(tenantKey, userKey, featureKey) to ask about: mostly real members, a few unknown keys."""
    features = [f["key"] for f in FEATURES]
    triples = []
    for i in range(count):
        t = rng.randrange(population.tenants)
        tenant, user = tenant_key(t), user_key(t, rng.randrange(population.users_per_tenant))
        if i % 100 == 99:
            tenant = f"org-unknown-{i}"
        triples.append((tenant, user, rng.choice(features)))
    return triples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a management API key")
    parser.add_argument("--tenants", type=int, default=Population.tenants)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    population = Population(tenants=args.tenants)
    with GraphQLClient(args.url, args.token) as client:
        timings = seed(client, population, random.Random(args.seed))
    print(
        f"seeded {population.tenants} tenants, {population.users} users, "
        f"{population.entitlements} entitlements: "
        + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
    )


if __name__ == "__main__":
    main()
