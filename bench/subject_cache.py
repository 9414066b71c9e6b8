"""What a subject-cache miss and a cached subject cost, in-process (issue 12, "flat with data").

    .venv/bin/python bench/subject_cache.py --seed   # once: seeds the database entitle_subject_bench
    .venv/bin/python bench/subject_cache.py [--subjects 4000] [--rounds 3]

``--seed`` drops and recreates the database and seeds it through the API (``bench/seed.py``'s shape, scaled
down: 5,000 tenants with 3 members each, one plan entitlement per tenant and 61,000 USER-level add-ons, so a
subject holds about as many entitlements as in ``bench/large.py``'s 1M-entitlement run). Then, in this
process, on Entitle's own ASGI app (``lifespan`` run, as in ``bench/asgi_cpu.py``):

- **miss**: ``isEntitledTo`` for ``--subjects`` distinct (tenant, member) subjects, the subject cache dropped
  first, so every request loads its subject from PostgreSQL;
- **hit**: the same requests again, every subject cached;
- the subject cache alone: process CPU and wall per miss (``SubjectCache.get``), the growth of the
  process's resident memory with every seeded subject cached, and the bytes the cache holds per subject
  (``tracemalloc``, after a collection, cache index included).

Figures are process CPU µs per request (PostgreSQL's own CPU is not counted; the wall figure includes it),
median of ``--rounds``. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asgi_cpu import call, lifespan, scope_for
from run import IS_ENTITLED, reset_database, start
from seed import FEATURES, GraphQLClient, Population, seed, tenant_key, user_key

from entitle.app import create_app
from entitle.settings import Settings

POPULATION = Population(tenants=5_000, user_add_ons=61_000, lapsed=250)


def _entitle_ready(base_url: str) -> bool:
    import httpx

    return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200


def do_seed(pg: str, database: str, database_url: str) -> None:
    import os

    reset_database(pg, database)
    token = "bench-" + secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTITLE_") and k != "DATABASE_URL"}
    env |= {"DATABASE_URL": database_url, "ENTITLE_BOOTSTRAP_API_KEY": token}
    with tempfile.TemporaryDirectory(prefix="entitle-subject-bench-") as tmp:
        server = start(
            "entitle",
            [sys.executable, "-m", "entitle", "serve", "--workers", "1"],
            env,
            Path(tmp),
            _entitle_ready,
        )
        try:
            with GraphQLClient(server.base_url, token, timeout=600) as client:
                timings = seed(client, POPULATION, random.Random(7))
        finally:
            server.stop()
    print(
        f"seeded {POPULATION.tenants:,} tenants, {POPULATION.users:,} users, "
        f"{POPULATION.entitlements:,} entitlements: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    )


async def measure(args: argparse.Namespace, database_url: str) -> None:
    key = "bench-subject-cache-" + secrets.token_urlsafe(12)
    settings = Settings(
        database_url=database_url,
        entitle_bootstrap_api_key=key,
        entitle_scheduler=False,
        entitle_webhooks=False,
        entitle_decision_log="off",
    )
    app = create_app(settings)
    runtime = app.runtime
    stop = await lifespan(app)
    rng = random.Random(11)
    features = [f["key"] for f in FEATURES]
    pairs = random.Random(3).sample(
        [(tenant_key(t), user_key(t, m)) for t in range(POPULATION.tenants) for m in range(3)], args.subjects
    )
    requests = []
    for tenant, user in pairs:
        variables = {"tenantKey": tenant, "userKey": user, "featureKey": rng.choice(features)}
        body = orjson.dumps({"query": IS_ENTITLED, "variables": variables})
        requests.append((body, scope_for(body, key)))
    try:
        for body, scope in requests[:50]:  # warm: document caches, connection pool, catalog
            status, answer = await call(app, body, scope)
            assert status == 200, answer
            assert b'"errors"' not in answer, answer
        print(answer.decode()[:200])
        results: dict[str, list[tuple[float, float]]] = {"miss": [], "hit": [], "load": []}
        for r in range(args.rounds):
            runtime.subjects.invalidate()
            gc.collect()
            for name in ("miss", "hit"):
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for body, scope in requests:
                    status, answer = await call(app, body, scope)
                    if status != 200:
                        raise SystemExit(answer)
                n = len(requests)
                results[name].append(
                    ((time.process_time() - cpu0) / n * 1e6, (time.perf_counter() - wall0) / n * 1e6)
                )
            runtime.subjects.invalidate()
            gc.collect()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for tenant, user in pairs:
                await runtime.subjects.get(tenant, user)
            n = len(pairs)
            results["load"].append(
                ((time.process_time() - cpu0) / n * 1e6, (time.perf_counter() - wall0) / n * 1e6)
            )
            print(
                f"round {r + 1}: "
                + ", ".join(
                    f"{k} {v[-1][0]:.0f} µs CPU / {v[-1][1]:.0f} µs wall" for k, v in results.items()
                ),
                flush=True,
            )
        for name, label in (
            ("miss", "isEntitledTo, subject cache miss"),
            ("hit", "isEntitledTo, subject cache hit"),
            ("load", "SubjectCache.get miss alone"),
        ):
            cpu = statistics.median(c for c, _ in results[name])
            wall = statistics.median(w for _, w in results[name])
            print(f"{label}: {cpu:.0f} µs CPU, {wall:.0f} µs wall per request (median of {args.rounds})")

        runtime.subjects.invalidate()
        gc.collect()
        everyone = [(tenant_key(t), user_key(t, m)) for t in range(POPULATION.tenants) for m in range(3)]
        rss0 = rss_kib()
        for tenant, user in everyone:
            await runtime.subjects.get(tenant, user)
        gc.collect()
        grown = rss_kib() - rss0
        print(
            f"resident memory: +{grown / 1024:,.1f} MiB for {len(runtime.subjects):,} cached subjects, "
            f"{grown * 1024 / len(runtime.subjects):,.0f} bytes per cached subject"
        )
        runtime.subjects.invalidate()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for tenant, user in pairs:
            await runtime.subjects.get(tenant, user)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        print(
            f"subject cache: {len(runtime.subjects):,} subjects hold {held / 1024:,.0f} KiB, "
            f"{held / len(pairs):,.0f} bytes per cached subject"
        )
    finally:
        await stop()


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seed", action="store_true", help="(re)create and seed the database first")
    parser.add_argument("--subjects", type=int, default=4_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="entitle_subject_bench")
    args = parser.parse_args()
    database_url = args.pg.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{args.database}"
    if args.seed:
        do_seed(args.pg, args.database, database_url)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(measure(args, database_url))


if __name__ == "__main__":
    main()
