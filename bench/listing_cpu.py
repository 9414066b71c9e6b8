"""CPU per nested ``entitlements(first: 100)`` page, in-process, straight through the ASGI app.

    .venv/bin/python bench/listing_cpu.py [--pg URL] [--tenants 1000] [--requests 200] [--rounds 3]
                                          [--profile FILE.txt]

Why: bench/run.py's (b) figure (median latency over HTTP) needs a quiet machine; the CPU this process spends
per page does not (much), so a change to the listing path can be compared before/after on a busy one. It
seeds bench/seed.py's population (scaled by ``--tenants``) through a real ``entitle serve`` on a fresh
PostgreSQL database, stops it, builds the app in this process, and sends the same page bodies as
bench/run.py's listing (pages after rotating cursors) through ASGI. Reports CPU and wall µs per page and
the SQL statements per page stay what the dataloaders make them (printed once).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asgi_cpu import call, fresh_pg, lifespan, scope_for
from run import ENTITLEMENTS_PAGE
from seed import GraphQLClient, Population, seed
from serving import ADMIN_KEY, EntitleServer

from entitle.app import create_app
from entitle.settings import Settings


def seed_database(database_url: str, tenants: int) -> None:
    population = Population(tenants=tenants, user_add_ons=tenants // 7, lapsed=tenants // 20)
    with tempfile.TemporaryDirectory() as workdir:
        server = EntitleServer.start(database_url, Path(workdir))
        try:
            with GraphQLClient(server.base_url, ADMIN_KEY) as client:
                timings = seed(client, population, random.Random(7))
        finally:
            server.stop()
    print(f"seeded {tenants} tenants in {sum(timings.values()):.1f} s", flush=True)


async def main(args: argparse.Namespace) -> None:
    database_url = await fresh_pg(args.pg, "entitle_bench_listing")
    await asyncio.to_thread(seed_database, database_url, args.tenants)
    settings = Settings(database_url=database_url, entitle_bootstrap_api_key=ADMIN_KEY)
    app = create_app(settings)
    stop = await lifespan(app)
    try:
        cursors: list[str | None] = [None]
        after: str | None = None
        while True:
            body = orjson.dumps({"query": ENTITLEMENTS_PAGE, "variables": {"first": 100, "after": after}})
            status, answer = await call(app, body, scope_for(body))
            assert status == 200, answer[:500]
            assert b'"errors"' not in answer, answer[:500]
            page = orjson.loads(answer)["data"]["entitlements"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            cursors.append(after)
        bodies = [
            orjson.dumps({"query": ENTITLEMENTS_PAGE, "variables": {"first": 100, "after": cursor}})
            for cursor in cursors[:-1]  # full pages only
        ]
        requests = [(body, scope_for(body)) for body in bodies]
        print(f"{len(requests)} full pages of 100", flush=True)

        async def one_round(n: int) -> tuple[float, float]:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(n):
                body, scope = requests[i % len(requests)]
                status, answer = await call(app, body, scope)
                if status != 200:
                    raise SystemExit(f"HTTP {status}: {answer[:300]!r}")
            return (time.process_time() - cpu0) / n * 1e3, (time.perf_counter() - wall0) / n * 1e3

        await one_round(20)
        cpus, walls = [], []
        for r in range(args.rounds):
            cpu, wall = await one_round(args.requests)
            cpus.append(cpu)
            walls.append(wall)
            print(f"round {r + 1}: {cpu:.2f} ms CPU, {wall:.2f} ms wall per page", flush=True)
        cpu, wall = statistics.median(cpus), statistics.median(walls)
        print(f"median: {cpu:.2f} ms CPU, {wall:.2f} ms wall per page")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await one_round(args.requests)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(50)
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(80)
            Path(args.profile).write_text(out.getvalue())  # noqa: ASYNC240 (after the measurement)
            print(f"profile written to {args.profile}")
    finally:
        await stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--tenants", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile")
    asyncio.run(main(parser.parse_args()))
