"""reserveUsage + commitUsage pairs per second over real HTTP against a real ``entitle serve`` on PostgreSQL.

``python bench/reservations.py [--workers 1] [--connections 8] [--subjects 1000] [--duration 15]``:
drops and recreates the database ``entitle_bench_reservations``, starts ``entitle serve``, seeds one
metered feature (monthly, BLOCK, limit 1,000,000,000) granted to ``--subjects`` tenants through the API,
then runs ``--connections`` lanes, each looping reserveUsage(amount 1) then commitUsage of that
reservation, for ``--duration`` s: (1) every pair on a random one of the tenants, (2) every pair on one
hot tenant (all lanes serialize on its counter row). Prints pairs/s and the pair latency p50/p99, and
checks that ``used`` equals the pairs committed. The load generator (httpx, in this process) shares the
machine with the server: on a small machine it is part of what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from serving import ADMIN_KEY, EntitleServer
from sqlalchemy.ext.asyncio import create_async_engine

PG = os.environ.get("ENTITLE_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
DATABASE = "entitle_bench_reservations"
RESERVE = (
    'mutation($t: String!, $k: String!) { reserveUsage(input: {tenantKey: $t, featureKey: "calls",'
    " amount: 1, idempotencyKey: $k}) { id status } }"
)
COMMIT = "mutation($id: ID!) { commitUsage(reservationId: $id) { status } }"
REPORT = (
    'mutation($t: String!, $k: String!) { reportUsage(input: {tenantKey: $t, featureKey: "calls",'
    " amount: 1, idempotencyKey: $k}) { isEntitled } }"
)
USED = 'query($t: String!) { isEntitledTo(tenantKey: $t, featureKey: "calls") { used held } }'


async def admin(statement: str) -> None:
    engine = create_async_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(sa.text(statement))
    await engine.dispose()


async def gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


async def seed(client: httpx.AsyncClient, subjects: int) -> list[str]:
    await gql(
        client,
        'mutation { createFeature(input: {key: "calls", name: "Calls", type: LIMIT, resetPeriod: MONTH})'
        " { key } }",
    )
    await gql(
        client,
        'mutation { createPlan(input: {key: "metered", name: "Metered", '
        'features: [{featureKey: "calls", value: 1000000000}]}) { key } }',
    )
    tenants = [f"t{n:05d}" for n in range(subjects)]
    await gql(
        client,
        "mutation($input: [TenantInput!]!) { upsertTenants(input: $input) { errors { message } } }",
        {"input": [{"key": t} for t in tenants]},
    )
    await gql(
        client,
        "mutation($input: [CreateEntitlementInput!]!) { batchCreateEntitlements(input: $input) "
        "{ errors { message } } }",
        {
            "input": [
                {"planKey": "metered", "tenantKey": t, "startDate": "2020-01-01T00:00:00Z"} for t in tenants
            ]
        },
    )
    return tenants


async def run_phase(
    base_url: str,
    tenants: list[str],
    connections: int,
    duration: float,
    label: str,
    *,
    baseline: bool = False,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    committed: dict[str, int] = {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30) as client:
        stop = time.monotonic() + duration

        async def lane(lane_id: int) -> None:
            nonlocal errors
            n = 0
            while time.monotonic() < stop:
                tenant = random.choice(tenants)
                started = time.perf_counter()
                try:
                    held = (await gql(client, RESERVE, {"t": tenant, "k": f"{label}-{lane_id}-{n}"}))[
                        "reserveUsage"
                    ]
                    await gql(client, COMMIT, {"id": held["id"]})
                except RuntimeError:
                    errors += 1
                    continue
                finally:
                    n += 1
                latencies.append(time.perf_counter() - started)
                committed[tenant] = committed.get(tenant, 0) + 1

        began = time.monotonic()
        await asyncio.gather(*(lane(i) for i in range(connections)))
        elapsed = time.monotonic() - began
        sample = random.sample(sorted(committed), min(20, len(committed)))
        for tenant in sample:  # the counters hold exactly what was committed
            usage = (await gql(client, USED, {"t": tenant}))["isEntitledTo"]
            assert usage["held"] == 0, usage
            assert usage["used"] >= committed[tenant], (usage, committed[tenant])
    latencies.sort()
    return {
        "phase": label,
        "pairs": len(latencies),
        "pairs_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    asyncio.run(admin(f'CREATE DATABASE "{DATABASE}"'))
    workdir = Path(tempfile.mkdtemp(prefix="entitle-bench-reservations-"))
    server = EntitleServer.start(f"{PG}/{DATABASE}", workdir, workers=args.workers)
    try:

        async def go() -> list[dict[str, Any]]:
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=120) as client:
                tenants = await seed(client, args.subjects)
            await run_phase(server.base_url, tenants, args.connections, 3, "warmup")
            spread = await run_phase(server.base_url, tenants, args.connections, args.duration, "spread")
            hot = await run_phase(server.base_url, tenants[:1], args.connections, args.duration, "hot")
            report = await run_phase(
                server.base_url, tenants, args.connections, args.duration, "2x reportUsage", baseline=True
            )
            return [spread, hot, report]

        results = asyncio.run(go())
    finally:
        server.stop()
    load = os.getloadavg()
    print(
        f"\nreserveUsage+commitUsage pairs, PostgreSQL, entitle serve --workers {args.workers}, "
        f"{args.connections} connections, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f}, "
        f"python {sys.version.split()[0]}\n"
    )
    print("| phase | subjects | pairs | pairs/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for r, subjects in zip(results, (args.subjects, 1, args.subjects), strict=True):
        print(
            f"| {r['phase']} | {subjects} | {r['pairs']} | {r['pairs_per_s']:.0f} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['errors']} |"
        )


if __name__ == "__main__":
    main()
