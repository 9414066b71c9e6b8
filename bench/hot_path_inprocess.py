"""isEntitledTo through the ASGI app in-process (no network): the cost of per-request operations work.

    .venv/bin/python bench/hot_path_inprocess.py [N=20000] [ENTITLE_METRICS=true|false in the env]

Every ENTITLE_* setting in the environment applies (e.g. ENTITLE_DECISION_LOG=all, ENTITLE_RATE_LIMIT);
with ENTITLE_LOG_FORMAT=json the process logs as `entitle serve` would (run it with 2>/dev/null).

Seeds the demo catalog into a temp SQLite file, warms up, then times N sequential decisions
(httpx.ASGITransport). Prints decisions/s and µs per decision; run it a few times and compare medians.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from entitle.app import create_app
from entitle.db.migrations import upgrade_to_head
from entitle.services.demo import seed_demo
from entitle.settings import Settings

KEY = "bench-admin-key-0123456789"
QUERY = '{ isEntitledTo(tenantKey: "acme", featureKey: "reports") { isEntitled justification } }'


async def main(n: int, tmp: str) -> None:
    url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
    if True:
        settings = Settings(database_url=url, entitle_bootstrap_api_key=KEY)
        if settings.entitle_log_format == "json":
            from entitle.logs import configure_json_logging

            configure_json_logging()
        await seed_demo(settings)
        app = create_app(settings)
        await app.runtime.start()
        try:
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for _ in range(500):
                    await client.post("/graphql", json={"query": QUERY}, headers=headers)
                started = time.perf_counter()
                cpu_started = time.process_time()
                for _ in range(n):
                    response = await client.post("/graphql", json={"query": QUERY}, headers=headers)
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                assert response.status_code == 200, response.text
        finally:
            await app.runtime.stop()
    print(
        f"{n} decisions in {elapsed:.2f} s: {n / elapsed:.0f}/s, {elapsed / n * 1e6:.0f} µs each "
        f"({cpu / n * 1e6:.0f} µs of CPU each: compare this on a busy machine)"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        upgrade_to_head(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, tmp))
