"""CPU per nested ``entitlements(first: 100)`` page, in-process, straight through the ASGI app.

    .venv/bin/python bench/listing_cpu.py [--requests 300] [--rounds 5] [--pg URL] [--calls 20]

Seeds a small population through the GraphQL API (``bench/seed.py``'s catalog, 300 tenants, 900 users,
~420 entitlements) into a fresh PostgreSQL database, then, in rounds, requests ``bench/run.py``'s
``ENTITLEMENTS_PAGE`` (first: 100 at rotating cursors, nested plan/features/tenant/user) and reports
process CPU and wall time per request; the median of the rounds is the figure. No network and no HTTP
parser: what changes with the GraphQL layer (resolvers, connections, ids) shows, the machine's load much less.
``--calls N`` also counts Python function calls per page over N pages (cProfile): a figure the
machine's load does not move, to compare two versions of the code.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asgi_cpu import fresh_pg, lifespan
from run import ENTITLEMENTS_PAGE
from seed import (
    BATCH_ENTITLEMENTS,
    CREATE_FEATURE,
    CREATE_PLAN,
    FEATURES,
    PLANS,
    UPSERT_TENANTS,
    UPSERT_USERS,
    Population,
    entitlement_items,
    tenant_key,
    user_key,
)

from entitle.app import create_app
from entitle.db.migrations import upgrade_to_head
from entitle.settings import Settings

KEY = "bench-admin-key-0123456789"
POPULATION = Population(tenants=300, users_per_tenant=3, user_add_ons=100, lapsed=20)


async def data(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise SystemExit(f"GraphQL errors: {body['errors'][:3]}")
    result: dict[str, Any] = body["data"]
    return result


async def seed(client: httpx.AsyncClient) -> None:
    for feature in FEATURES:
        await data(client, CREATE_FEATURE, {"input": feature})
    for plan in PLANS:
        features = [{"featureKey": k, "value": v} for k, v in plan["features"].items()]
        await data(client, CREATE_PLAN, {"input": {**plan, "features": features}})
    tenants = [{"key": tenant_key(t), "name": f"Org {t}"} for t in range(POPULATION.tenants)]
    await data(client, UPSERT_TENANTS, {"input": tenants})
    users = [
        {"key": user_key(t, m), "name": f"User {t}-{m}", "tenantKeys": [tenant_key(t)]}
        for t in range(POPULATION.tenants)
        for m in range(POPULATION.users_per_tenant)
    ]
    await data(client, UPSERT_USERS, {"input": users})
    items = entitlement_items(POPULATION, random.Random(7), datetime.now(UTC))
    await data(client, BATCH_ENTITLEMENTS, {"input": items})


async def main(args: argparse.Namespace) -> None:
    database_url = await fresh_pg(args.pg, args.database)
    settings = Settings(
        database_url=database_url,
        entitle_bootstrap_api_key=KEY,
        entitle_scheduler=False,
        entitle_webhooks=False,
    )
    await asyncio.to_thread(upgrade_to_head, database_url)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    stop = await lifespan(app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {KEY}"}
    ) as client:
        await seed(client)
        cursors: list[str | None] = [None]
        after: str | None = None
        while True:
            page = (await data(client, ENTITLEMENTS_PAGE, {"first": 100, "after": after}))["entitlements"]
            assert len(page["edges"]) <= 100
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            cursors.append(after)
        full = cursors[:-1]  # every page of these has 100 edges
        for i in range(50):  # warm-up: caches, prepared statements
            await data(client, ENTITLEMENTS_PAGE, {"first": 100, "after": full[i % len(full)]})
        cpu_rounds: list[float] = []
        wall_rounds: list[float] = []
        for r in range(args.rounds):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(args.requests):
                await data(client, ENTITLEMENTS_PAGE, {"first": 100, "after": full[i % len(full)]})
            cpu = (time.process_time() - cpu0) / args.requests * 1e3
            wall = (time.perf_counter() - wall0) / args.requests * 1e3
            cpu_rounds.append(cpu)
            wall_rounds.append(wall)
            print(f"round {r + 1}: {cpu:.2f} ms CPU, {wall:.2f} ms wall per page", flush=True)
        if args.calls:
            profiler = cProfile.Profile()
            profiler.enable()
            for i in range(args.calls):
                await data(client, ENTITLEMENTS_PAGE, {"first": 100, "after": full[i % len(full)]})
            profiler.disable()
            calls = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
            print(f"{calls / args.calls:.0f} Python function calls per page ({args.calls} pages)")
    await stop()
    print(
        f"median of {args.rounds} rounds: {statistics.median(cpu_rounds):.2f} ms CPU, "
        f"{statistics.median(wall_rounds):.2f} ms wall per entitlements(first: 100) page"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="entitle_listing_cpu_bench")
    parser.add_argument("--calls", type=int, default=0, help="also count function calls over this many pages")
    asyncio.run(main(parser.parse_args()))
