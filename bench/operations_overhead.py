"""What the §12 operations features cost isEntitledTo, in-process, robust to a busy machine.

    .venv/bin/python bench/operations_overhead.py [--blocks 40] [--size 200] [--database-url URL] 2>/dev/null

One app (the demo catalog on a temp SQLite file, or ``--database-url``) serves blocks of ``size``
sequential decisions through httpx's ASGI transport, switching between modes block by block:
``off`` (defaults), ``json`` (ENTITLE_LOG_FORMAT=json: a JSON line per request, to stderr),
``decisions`` (ENTITLE_DECISION_LOG=all; the block's entries are written before its clock stops),
``rate limit`` (ENTITLE_RATE_LIMIT high enough never to refuse) and ``all`` of them. Interleaving
blocks and keeping each mode's fastest block cancels out other load on the machine. Prints µs per
decision per mode and its throughput relative to ``off``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import httpx

from entitle.app import create_app
from entitle.db.migrations import upgrade_to_head
from entitle.graphql.http import EntitleGraphQL
from entitle.logs import configure_json_logging
from entitle.services.background.decision_log import DecisionLog
from entitle.services.demo import seed_demo
from entitle.services.rate_limits import RateLimiter
from entitle.settings import Settings

KEY = "bench-admin-key-0123456789"
QUERY = '{ isEntitledTo(tenantKey: "acme", featureKey: "reports") { isEntitled justification } }'
MODES = ("off", "json", "decisions", "rate limit", "all")


def graphql_app(app: object) -> EntitleGraphQL:
    inner = app.graphql  # type: ignore[attr-defined]
    while not isinstance(inner, EntitleGraphQL):
        inner = inner.app
    return inner


async def main(blocks: int, size: int, url: str) -> None:
    settings = Settings(
        database_url=url, entitle_bootstrap_api_key=KEY, entitle_decision_log="all", entitle_log_format="json"
    )
    await seed_demo(settings)
    configure_json_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the bench's client, not the service
    app = create_app(settings)
    await app.runtime.start()
    log = app.runtime.decision_log
    assert isinstance(log, DecisionLog)
    graphql = graphql_app(app)
    limiter = RateLimiter(1e9)
    best = dict.fromkeys(MODES, float("inf"))

    def switch(mode: str) -> None:
        app._handle.log_requests = mode in ("json", "all")
        app.runtime.decision_log = log if mode in ("decisions", "all") else None
        graphql._limiter = limiter if mode in ("rate limit", "all") else None

    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(500):
                await client.post("/graphql", json={"query": QUERY}, headers=headers)
            await log.flush()
            for _ in range(blocks):
                for mode in MODES:
                    switch(mode)
                    started = time.perf_counter()
                    for _ in range(size):
                        response = await client.post("/graphql", json={"query": QUERY}, headers=headers)
                    await log.flush()
                    best[mode] = min(best[mode], (time.perf_counter() - started) / size)
                    assert response.status_code == 200, response.text
    finally:
        switch("all")
        await app.runtime.stop()
    print(f"fastest of {blocks} interleaved blocks of {size} decisions ({url.split(':')[0]}):")
    for mode in MODES:
        print(f"  {mode:<10} {best[mode] * 1e6:7.0f} µs/decision  {best['off'] / best[mode]:.3f}x of off")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--database-url", help="default: a temp SQLite file; must be migrated and empty")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_to_head(database_url)
        asyncio.run(main(args.blocks, args.size, database_url))
