"""Memory soak: does a serving process's RSS level off under a steady mixed load?

``.venv/bin/python bench/soak.py --minutes 30 [--clients 2] [--backends sqlite,postgres] [--gc-log DIR]
[--trace DIR]``

For each backend (SQLite on a temp file; PostgreSQL on a fresh database ``entitle_soak_<pid>`` when
127.0.0.1:5432 answers, dropped afterwards) it starts ``entitle serve`` (one worker) on a free
127.0.0.1 port, seeds a small catalog (3 features, 2 plans, 200 tenants with 400 users that the reads
ask about, 200 more tenants that only writes touch), then runs ``--clients`` concurrent clients per
backend for ``--minutes``: a steady mix of ``isEntitledTo`` (6 in 10, a different subject each time),
listings (``entitlements(first: 20)`` with nested fields, ``tenants(first: 20)``; 2 in 10) and small
writes (``upsertTenants`` of 1 new tenant, ``createEntitlement``, ``reportUsage`` with a new
idempotency key; 2 in 10), each client pausing ``--pause-ms`` between requests so the machine stays
usable. Every 10 s it samples the server's RSS from /proc. At the end it prints the samples, the
requests and errors, and the least-squares slope of RSS (MiB/min) over the second half of the run
(the first half is warm-up: caches filling, the allocator reaching its working set).
Both backends run at the same time, so ``--minutes`` is the whole duration.

The load is steady-state in what the process may keep: it measures leaks, not data growth. The
writes grow the database (new tenants, entitlements, usage events and idempotency keys, change-feed
rows), but the data a process legitimately holds in memory does not grow with them: the decisions
and listings ask about the same 600 subjects and the same first pages throughout, and
``createEntitlement`` grants to the write-only tenants (``w0``..``w199``), which no read asks about.
(Granting to the tenants the decisions ask about, as this script did before, grows every cached
subject context by one entitlement record per grant: that is the cache holding more data, bounded
by ``ENTITLE_SUBJECT_CACHE_MB``, not a leak.) One exception on SQLite: each connection's page cache
(SQLite's default ``cache_size``, 2,000 KiB per connection) fills as the file grows, so a small
SQLite slope that shrinks as those caches reach their bound is data, not a leak. Otherwise a process
whose RSS still climbs in the second half keeps something per request or per new key: ``--gc-log DIR``
logs the garbage collector's generations every 30 s (cheap), ``--trace DIR`` runs each server under
tracemalloc (``bench/soak_trace/``; slow) and writes what grew between 1/3 and 5/6 of the run, by line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from serving import EntitleServer, admin_headers, gql_sync, rss_mb

PG_BASE = os.environ.get("ENTITLE_SOAK_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
SAMPLE_EVERY_S = 10.0
TENANTS = 200
USERS = 400
WRITE_TENANTS = 200
"""Tenants ``w0``.. that only ``createEntitlement`` touches (no read asks about them)."""

SEED = [
    'mutation { createFeature(input: {key: "seats", name: "Seats", type: LIMIT}) { key } }',
    'mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }',
    'mutation { createFeature(input: {key: "calls", name: "Calls", type: LIMIT, resetPeriod: MONTH, '
    "overage: ALLOW}) { key } }",
    'mutation { createPlan(input: {key: "basic", name: "Basic", features: [{featureKey: "seats", value: 3}, '
    '{featureKey: "calls", value: 1000000}]}) { key } }',
    'mutation { createPlan(input: {key: "pro", name: "Pro", features: [{featureKey: "seats", value: 10}, '
    '{featureKey: "sso", value: true}, {featureKey: "calls", value: 1000000}]}) { key } }',
]
IS_ENTITLED = (
    "query($t: String, $u: String, $f: String) { isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f) "
    "{ isEntitled justification value limit used remaining } }"
)
ENTITLEMENTS = (
    "query($after: String) { entitlements(first: 20, after: $after) { edges { cursor node { id status "
    "plan { key features { feature { key } value } } tenant { key } user { key } } } "
    "pageInfo { hasNextPage endCursor } } }"
)
TENANT_LIST = "query { tenants(first: 20) { edges { node { key name } } } }"
UPSERT_TENANT = "mutation($k: String!) { upsertTenants(input: [{key: $k}]) { errors { message } } }"
CREATE_ENTITLEMENT = (
    "mutation($t: String!) { createEntitlement("
    'input: {featureKey: "seats", value: 1, tenantKey: $t}) { id } }'
)
REPORT_USAGE = (
    'mutation($t: String!, $k: String!) { reportUsage(input: {featureKey: "calls", amount: 1, tenantKey: $t, '
    "idempotencyKey: $k}) { used } }"
)


@dataclass
class Run:
    name: str
    server: EntitleServer
    pid: int
    samples: list[tuple[float, float]] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


def seed(url: str) -> None:
    with httpx.Client(timeout=60) as client:
        for query in SEED:
            gql_sync(client, url, query)
        tenants = [{"key": f"t{i}"} for i in range(TENANTS)]
        tenants += [{"key": f"w{i}"} for i in range(WRITE_TENANTS)]
        gql_sync(
            client,
            url,
            "mutation($i: [TenantInput!]!) { upsertTenants(input: $i) { errors { message } } }",
            {"i": tenants},
        )
        users = [{"key": f"u{i}", "tenantKeys": [f"t{i % TENANTS}"]} for i in range(USERS)]
        gql_sync(
            client,
            url,
            "mutation($i: [UserInput!]!) { upsertUsers(input: $i) { errors { message } } }",
            {"i": users},
        )
        grants = [{"planKey": "pro" if i % 3 == 0 else "basic", "tenantKey": f"t{i}"} for i in range(TENANTS)]
        gql_sync(
            client,
            url,
            "mutation($i: [CreateEntitlementInput!]!) "
            "{ batchCreateEntitlements(input: $i) { errors { message } } }",
            {"i": grants},
        )


def pick(rng: random.Random, client_id: int, n: int) -> tuple[str, str, dict[str, Any]]:
    roll = rng.random()
    tenant = f"t{rng.randrange(TENANTS)}"
    if roll < 0.6:
        user = rng.randrange(USERS)
        subject = (
            {"t": f"t{user % TENANTS}", "u": f"u{user}"} if rng.random() < 0.5 else {"t": tenant, "u": None}
        )
        return "isEntitledTo", IS_ENTITLED, {**subject, "f": rng.choice(["seats", "sso", "calls", "nope"])}
    if roll < 0.7:
        return "entitlements", ENTITLEMENTS, {"after": None}
    if roll < 0.8:
        return "tenants", TENANT_LIST, {}
    if roll < 0.87:
        return "upsertTenants", UPSERT_TENANT, {"k": f"soak-{client_id}-{n}"}
    if roll < 0.93:
        return "createEntitlement", CREATE_ENTITLEMENT, {"t": f"w{rng.randrange(WRITE_TENANTS)}"}
    return "reportUsage", REPORT_USAGE, {"t": tenant, "k": f"soak-{client_id}-{n}"}


async def client_loop(run: Run, client_id: int, deadline: float, pause_s: float) -> None:
    rng = random.Random(client_id)
    async with httpx.AsyncClient(headers=admin_headers(), timeout=60) as client:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            kind, query, variables = pick(rng, client_id, n)
            try:
                response = await client.post(
                    run.server.graphql_url, json={"query": query, "variables": variables}
                )
                body = response.json() if response.status_code == 200 else {"errors": [{}]}
            except (httpx.HTTPError, ValueError) as exc:
                run.errors[type(exc).__name__] += 1
                continue
            run.requests[kind] += 1
            if body.get("errors"):
                run.errors[
                    str(body["errors"][0].get("extensions", {}).get("code", response.status_code))
                ] += 1
            await asyncio.sleep(pause_s)


async def sampler(runs: list[Run], start: float, deadline: float) -> None:
    while True:
        now = time.monotonic()
        for run in runs:
            with contextlib.suppress(OSError, RuntimeError):
                run.samples.append((now - start, rss_mb(run.pid)))
        line = "  ".join(f"{r.name} {r.samples[-1][1]:.1f} MiB" for r in runs if r.samples)
        print(f"[{now - start:6.0f} s] {line}", flush=True)
        if now >= deadline:
            return
        await asyncio.sleep(min(SAMPLE_EVERY_S, max(deadline - time.monotonic(), 0.0)))


async def soak(runs: list[Run], seconds: float, clients: int, pause_s: float) -> None:
    start = time.monotonic()
    deadline = start + seconds
    await asyncio.gather(
        sampler(runs, start, deadline),
        *(client_loop(run, i, deadline, pause_s) for run in runs for i in range(clients)),
    )


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over the second half of the samples, in MiB per minute."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return float("nan")
    xs = [t / 60 for t, _ in half]
    ys = [rss for _, rss in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else float("nan")


def postgres_database() -> str | None:
    import asyncpg

    name = f"entitle_soak_{os.getpid()}"
    dsn = PG_BASE.replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        conn = await asyncpg.connect(f"{dsn}/postgres", timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except Exception as exc:  # unreachable: soak SQLite only
        print(f"PostgreSQL not reachable at {PG_BASE} ({type(exc).__name__}): SQLite only", file=sys.stderr)
        return None
    return name


def drop_postgres_database(name: str) -> None:
    import asyncpg

    dsn = PG_BASE.replace("postgresql+asyncpg://", "postgresql://")

    async def drop() -> None:
        conn = await asyncpg.connect(f"{dsn}/postgres", timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def trace_env(
    trace_dir: str | None, backend: str, minutes: float, gc_dir: str | None = None
) -> dict[str, str]:
    """Environment that turns bench/soak_trace/sitecustomize.py on in the server (``--trace``,
    ``--gc-log``)."""
    env = {}
    if trace_dir is not None:
        out = Path(trace_dir) / backend
        out.mkdir(parents=True, exist_ok=True)
        # Snapshot times count from the server's start; seeding takes a few seconds before the load.
        at = ",".join(str(round(minutes * 60 * f)) for f in (1 / 3, 5 / 6))
        env.update({"SOAK_TRACE_DIR": str(out.resolve()), "SOAK_TRACE_AT": at})
    if gc_dir is not None:
        Path(gc_dir).mkdir(parents=True, exist_ok=True)
        env["SOAK_GC_LOG"] = str((Path(gc_dir) / f"{backend}-gc.txt").resolve())
    if env:
        hook = Path(__file__).resolve().parent / "soak_trace"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients per backend")
    parser.add_argument("--pause-ms", type=float, default=5.0, help="pause after each request, per client")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--trace",
        metavar="DIR",
        help="debug: run each server under tracemalloc (bench/soak_trace/sitecustomize.py) and write "
        "snapshots, gc type counts and their diff at 1/3 and 5/6 of the run to DIR/<backend>/ "
        "(slows the server; do not compare its RSS with an untraced run)",
    )
    parser.add_argument(
        "--gc-log",
        metavar="DIR",
        help="debug: each server writes DIR/<backend>-gc.txt every 30 s (RSS, gc counts and collections, "
        "generation-2 size); cheap, no tracing",
    )
    args = parser.parse_args()
    if not 0 < args.minutes <= 240:
        parser.error("--minutes must be in (0, 240]")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    with tempfile.TemporaryDirectory(prefix="entitle-soak-") as tmp:
        workdir = Path(tmp)
        runs: list[Run] = []
        pg_name = postgres_database() if "postgres" in backends else None
        try:
            urls = {}
            if "sqlite" in backends:
                urls["sqlite"] = f"sqlite+aiosqlite:///{workdir / 'soak.db'}"
            if pg_name is not None:
                urls["postgres"] = f"{PG_BASE}/{pg_name}"
            for name, url in urls.items():
                trace = trace_env(args.trace, name, args.minutes, args.gc_log)
                server = EntitleServer.start(url, workdir, extra_env=trace)
                runs.append(Run(name, server, server.serving_pids()[0]))
                seed(server.graphql_url)
            print(f"soak: {', '.join(r.name for r in runs)}; {args.clients} clients each; {args.minutes} min")
            asyncio.run(soak(runs, args.minutes * 60, args.clients, args.pause_ms / 1000))
        finally:
            for run in runs:
                run.server.stop()
            if pg_name is not None:
                drop_postgres_database(pg_name)

    for run in runs:
        print(f"\n== {run.name} (pid {run.pid})")
        print("  t (s)  RSS (MiB)")
        for t, rss in run.samples:
            print(f"  {t:6.0f}  {rss:8.1f}")
        total = sum(run.requests.values())
        print(f"  requests: {total} ({dict(run.requests)}); errors: {dict(run.errors) or 'none'}")
        first, last = run.samples[0][1], run.samples[-1][1]
        print(
            f"  RSS {first:.1f} -> {last:.1f} MiB (max {max(r for _, r in run.samples):.1f}); "
            f"slope over the second half: {slope_mb_per_min(run.samples):+.3f} MiB/min"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
