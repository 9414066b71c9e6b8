"""Two worker processes on one SQLite file: concurrent writes through both are all answered and kept.

Each process queues its own writes; the two processes meet on SQLite's write lock (BEGIN IMMEDIATE),
which the writer waits for in asyncio. Nothing may be lost and no client may see an error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory, admin_headers

pytestmark = pytest.mark.e2e

WRITERS = 40
ROUNDS = 5

UPSERT_TENANT = "mutation($k: String!) { upsertTenants(input: [{key: $k}]) { errors { code message } } }"
REPORT_USAGE = """
mutation($k: String!) {
  reportUsage(input: {featureKey: "calls", amount: 1, tenantKey: "hub", idempotencyKey: $k}) { used }
}
"""
SEED = [
    'mutation { createFeature(input: {key: "calls", name: "Calls", type: LIMIT, resetPeriod: MONTH, '
    "overage: ALLOW}) { key } }",
    'mutation { createPlan(input: {key: "pro", name: "Pro", features: [{featureKey: "calls", value: 100000}]}) '
    "{ key } }",
    'mutation { upsertTenants(input: [{key: "hub"}]) { errors { message } } }',
    'mutation { createEntitlement(input: {planKey: "pro", tenantKey: "hub"}) { status } }',
]


async def burst(graphql_url: str) -> tuple[list[dict[str, Any]], set[str]]:
    bodies: list[dict[str, Any]] = []
    workers: set[str] = set()

    async def writer(w: int) -> None:
        # A connection per writer, so the kernel spreads them over both workers' accept().
        async with httpx.AsyncClient(headers=admin_headers(ADMIN_KEY), timeout=60) as client:
            for n in range(ROUNDS):
                query = UPSERT_TENANT if (w + n) % 2 else REPORT_USAGE
                response = await client.post(
                    graphql_url, json={"query": query, "variables": {"k": f"w{w}-{n}"}}
                )
                assert response.status_code == 200, response.text
                bodies.append(response.json())
                workers.add(response.headers["x-entitle-worker"])

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    return bodies, workers


def test_two_workers_on_one_sqlite_file_keep_every_concurrent_write(
    serve: ServeFactory, sqlite_url: str
) -> None:
    # given
    server = serve({"DATABASE_URL": sqlite_url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY}, workers=2)
    with httpx.Client(headers=admin_headers(), timeout=30) as client:
        for query in SEED:
            body = client.post(server.graphql_url, json={"query": query}).json()
            assert "errors" not in body, body

    # when
    bodies, workers = asyncio.run(burst(server.graphql_url))

    # then: both processes wrote, nobody saw an error, nothing is missing
    assert len(workers) == 2, workers
    assert [b for b in bodies if "errors" in b] == []
    assert [b for b in bodies if b["data"].get("upsertTenants", {}).get("errors")] == []
    reports = sum("reportUsage" in b["data"] for b in bodies)
    tenant_keys = [f"w{w}-{n}" for w in range(WRITERS) for n in range(ROUNDS) if (w + n) % 2]
    with httpx.Client(headers=admin_headers(), timeout=30) as client:
        count = client.post(
            server.graphql_url,
            json={
                "query": "query($k: [String!]) { tenants(first: 500, filter: {keys: $k}) { totalCount } }",
                "variables": {"k": tenant_keys},
            },
        ).json()
        used = client.post(
            server.graphql_url,
            json={"query": 'query { isEntitledTo(tenantKey: "hub", featureKey: "calls") { used } }'},
        ).json()
    assert count["data"]["tenants"]["totalCount"] == len(tenant_keys) == WRITERS * ROUNDS - reports
    assert used["data"]["isEntitledTo"]["used"] == reports
    assert "database is locked" not in server.stderr()
