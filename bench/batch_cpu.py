"""CPU of one ``batchCreateEntitlements`` of 10,000 items, in-process through the ASGI app (no network).

    .venv/bin/python bench/batch_cpu.py [--runs 5] [--size 10000] [--pg URL | --sqlite]

Seeds the demo catalog into a fresh database and sends fresh batches (7 in 10 tenant-level plan grants,
3 in 10 user-level ``seats`` add-ons, like ``bench/run.py``'s (c)) through the app, reporting this
process's CPU seconds per batch (on PostgreSQL the server's own work is in another process, so this is
the API's share: parsing, validation, the service, serialisation) and wall seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asgi_cpu import KEY, call, fresh_pg, lifespan, scope_for

from entitle.app import create_app
from entitle.db.migrations import upgrade_to_head
from entitle.services.demo import seed_demo
from entitle.settings import Settings

BATCH = """mutation Batch($input: [CreateEntitlementInput!]!) {
  batchCreateEntitlements(input: $input) { entitlements { id } errors { index code message } }
}"""

TENANTS = ["acme", "globex", "initech"]
MEMBERS = [("acme", "alice@acme.test"), ("acme", "bob@acme.test"), ("globex", "carol@globex.test")]
PLANS = ["free", "pro", "enterprise"]


def fresh_batch(run: int, size: int) -> list[dict[str, Any]]:
    rng = random.Random(run)
    items: list[dict[str, Any]] = []
    for i in range(size):
        reason = f"bench run {run} item {i}"
        if i % 10 < 7:
            items.append({"planKey": rng.choice(PLANS), "tenantKey": rng.choice(TENANTS), "reason": reason})
        else:
            tenant, user = rng.choice(MEMBERS)
            value = 1 + rng.randrange(20)
            items.append(
                {
                    "featureKey": "seats",
                    "value": value,
                    "tenantKey": tenant,
                    "userKey": user,
                    "reason": reason,
                }
            )
    return items


async def main(args: argparse.Namespace, database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        entitle_bootstrap_api_key=KEY,
        entitle_scheduler=False,
        entitle_webhooks=False,
        entitle_max_batch=max(10_000, args.size),
    )
    await seed_demo(settings)
    app = create_app(settings)
    stop = await lifespan(app)
    try:
        cpus, walls = [], []
        for run in range(args.runs + 1):
            body = orjson.dumps({"query": BATCH, "variables": {"input": fresh_batch(run, args.size)}})
            cpu0, wall0 = time.process_time(), time.perf_counter()
            status, answer = await call(app, body, scope_for(body))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            result = orjson.loads(answer)
            created = result["data"]["batchCreateEntitlements"]
            if status != 200 or created["errors"] or len(created["entitlements"]) != args.size:
                raise SystemExit(f"batch failed: {answer[:500]!r}")
            if run == 0:
                continue  # warm-up
            cpus.append(cpu)
            walls.append(wall)
            print(f"run {run}: {cpu:.3f} s CPU, {wall:.3f} s wall", flush=True)
        print(
            f"{args.size} items: CPU min {min(cpus):.3f} / median {statistics.median(cpus):.3f} s, "
            f"wall min {min(walls):.3f} / median {statistics.median(walls):.3f} s"
        )
    finally:
        await stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="entitle_batch_cpu")
    parser.add_argument("--sqlite", action="store_true", help="the embedded default instead of PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.sqlite:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        else:
            url = asyncio.run(fresh_pg(args.pg, args.database))
        upgrade_to_head(url)
        asyncio.run(main(args, url))
