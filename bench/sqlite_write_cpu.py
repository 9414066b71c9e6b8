"""CPU per small write on SQLite, in-process, straight through the ASGI app (no network, no HTTP parser).

    .venv/bin/python bench/sqlite_write_cpu.py [--writers 50] [--writes 3000] [--rounds 3]
                                               [--profile FILE.txt]

The same four small writes as ``bench/sqlite_burst.py`` (``upsertTenants`` of one new tenant,
``createEntitlement``, ``batchCreateEntitlements`` of one item, ``reportUsage`` with a fresh
idempotency key), sent by ``--writers`` concurrent tasks to the app in this process, with its
lifespan running (change feed, webhooks, scheduler, as in ``entitle serve``). Reports process CPU
(µs) and wall time per write for each round; wall time is bounded below by the CPU on a busy
machine, so CPU per write is the figure to compare before/after a change. ``--profile`` runs one
more round under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asgi_cpu import KEY, ASGIApp, call, lifespan, scope_for
from sqlite_burst import KINDS, SEED, request

from entitle.app import create_app
from entitle.db.migrations import upgrade_to_head
from entitle.settings import Settings

USAGE_TENANTS = 20


async def gql(app: ASGIApp, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = orjson.dumps({"query": query, "variables": variables or {}})
    status, answer = await call(app, body, scope_for(body))
    decoded = orjson.loads(answer)
    if status != 200 or decoded.get("errors"):
        raise SystemExit(f"{query[:60]}: HTTP {status} {answer[:300]!r}")
    return decoded["data"]


async def seed(app: ASGIApp) -> None:
    for query in SEED:
        await gql(app, query)
    tenants = [{"key": f"u{i}"} for i in range(USAGE_TENANTS)]
    upsert = "mutation($i: [TenantInput!]!) { upsertTenants(input: $i) { errors { message } } }"
    await gql(app, upsert, {"i": tenants})
    plans = [{"planKey": "pro", "tenantKey": t["key"]} for t in tenants]
    grant = (
        "mutation($i: [CreateEntitlementInput!]!) "
        "{ batchCreateEntitlements(input: $i) { errors { message } } }"
    )
    await gql(app, grant, {"i": plans})


async def run_round(app: ASGIApp, writers: int, writes: int, round_no: int) -> tuple[float, float]:
    counter = itertools.count()

    async def writer(w: int) -> None:
        for n in itertools.count():
            if next(counter) >= writes:
                return
            kind = KINDS[(w + n) % len(KINDS)]
            query, variables = request(kind, w + 1000 * round_no, n, USAGE_TENANTS)
            body = orjson.dumps({"query": query, "variables": variables})
            status, answer = await call(app, body, scope_for(body))
            if status != 200 or (b'"errors"' in answer and b'"errors":[]' not in answer):
                raise SystemExit(f"{kind}: HTTP {status} {answer[:300]!r}")
            # A served request ends with I/O: yield, or a writer whose request never waited runs
            # its next one in the same step, every other task (timers included) waiting behind it.
            await asyncio.sleep(0)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return (time.process_time() - cpu0) / writes * 1e6, (time.perf_counter() - wall0) / writes * 1e6


async def main(args: argparse.Namespace, database_url: str) -> None:
    settings = Settings(database_url=database_url, entitle_bootstrap_api_key=KEY)
    app = create_app(settings)
    stop = await lifespan(app)
    try:
        await seed(app)
        await run_round(app, args.writers, min(args.writes, 500), 0)  # warm up
        cpus = []
        for r in range(1, args.rounds + 1):
            cpu, wall = await run_round(app, args.writers, args.writes, r)
            cpus.append(cpu)
            print(f"round {r}: {cpu:.0f} µs CPU, {wall:.0f} µs wall per write ({1e6 / wall:.0f} writes/s)")
        print(f"median CPU µs/write: {statistics.median(cpus):.0f}")
        if args.profile:
            profiler = cProfile.Profile()
            gc.collect()
            profiler.enable()
            await run_round(app, args.writers, args.writes, args.rounds + 1)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(120)
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(60)
            Path(args.profile).write_text(out.getvalue())  # noqa: ASYNC240 (after the measurement)
            print(f"profile written to {args.profile}")
    finally:
        await stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--writes", type=int, default=3000, help="writes per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="also profile one round with cProfile into this file")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_to_head(url)
        asyncio.run(main(args, url))
