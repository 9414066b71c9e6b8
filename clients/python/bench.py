"""Client figures against a real `entitle serve` on SQLite (run from the repository root:
``.venv/bin/python clients/python/bench.py``): a cached check (sync and async), a cache miss (the first
check of a subject with ``cache=True``: one ``effectiveEntitlements`` round trip, then subscribed), an
uncached check (one ``isEntitledTo`` round trip), and the FastAPI guard's overhead per request against the
same app unguarded (in process, httpx ASGI transport)."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Request

sys.path.insert(0, str(Path(__file__).parent))

from tests.conftest import ADMIN_KEY, CATALOG, start_server

from entitle_client import AsyncEntitleClient, EntitleClient, Subject
from entitle_client.fastapi import require_feature

MISSES = 200
ROUNDS = 5


def per_call_us(fn: object, n: int) -> float:
    assert callable(fn)
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


async def async_cached_us(base_url: str, n: int) -> float:
    async with AsyncEntitleClient(base_url, ADMIN_KEY, cache=True) as client:
        assert client.cache is not None
        await asyncio.to_thread(client.cache.connected.wait, 5)
        assert (await client.is_entitled("sso", tenant_key="acme")).is_entitled
        started = time.perf_counter()
        for _ in range(n):
            await client.is_entitled("sso", tenant_key="acme")
        assert (await client.is_entitled("sso", tenant_key="acme")).from_cache
        return (time.perf_counter() - started) / n * 1e6


def cache_miss_us(client: EntitleClient, tenants: list[str]) -> tuple[float, int]:
    assert client.cache is not None
    before = len(client.cache)
    started = time.perf_counter()
    for key in tenants:
        assert client.is_entitled("sso", tenant_key=key).is_entitled
    elapsed = time.perf_counter() - started
    kept = len(client.cache) - before  # not all when a socket opened for them was not connected yet
    return elapsed / len(tenants) * 1e6, kept


async def guard_overhead(base_url: str, n: int) -> tuple[float, float]:
    async with AsyncEntitleClient(base_url, ADMIN_KEY, cache=True) as client:
        assert client.cache is not None
        await asyncio.to_thread(client.cache.connected.wait, 5)
        app = FastAPI()
        guard = require_feature("sso", client=client, subject=lambda r: Subject("acme"))

        @app.get("/plain")
        async def plain() -> dict[str, bool]:
            return {"ok": True}

        @app.get("/guarded", dependencies=[Depends(guard)])
        async def guarded(request: Request) -> dict[str, bool]:
            return {"ok": True}

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as http:
            results: dict[str, list[float]] = {"/plain": [], "/guarded": []}
            for _ in range(ROUNDS):  # alternating, so a busy moment of the machine hits both alike
                for path in results:
                    assert (await http.get(path)).status_code == 200
                    started = time.perf_counter()
                    for _ in range(n):
                        await http.get(path)
                    results[path].append((time.perf_counter() - started) / n * 1e6)
            return statistics.median(results["/plain"]), statistics.median(results["/guarded"])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), Path(tmp) / "bench.db")
        try:
            for statement in CATALOG:
                server.gql(statement)
            server.gql('mutation { upsertTenants(input: [{key: "acme"}]) { errors { index } } }')
            server.grant("acme", feature="sso")
            tenants = [f"miss-{i}" for i in range(MISSES)]
            server.gql(
                "mutation($t: [TenantInput!]!) { upsertTenants(input: $t) { errors { index } } }",
                {"t": [{"key": key} for key in tenants]},
            )
            for key in tenants:
                server.grant(key, feature="sso")
            with EntitleClient(server.base_url, ADMIN_KEY) as plain:
                uncached = [
                    per_call_us(lambda: plain.is_entitled("sso", tenant_key="acme"), 200) for _ in range(3)
                ]
            with EntitleClient(server.base_url, ADMIN_KEY, cache=True) as cached:
                assert cached.cache is not None
                cached.cache.connected.wait(5)
                assert cached.is_entitled("sso", tenant_key="acme").is_entitled
                hit = [
                    per_call_us(lambda: cached.is_entitled("sso", tenant_key="acme"), 100_000)
                    for _ in range(3)
                ]
                assert cached.is_entitled("sso", tenant_key="acme").from_cache
                miss, kept = cache_miss_us(cached, tenants)
            async_hit = asyncio.run(async_cached_us(server.base_url, 100_000))
            plain_us, guarded_us = asyncio.run(guard_overhead(server.base_url, 1000))
        finally:
            server.stop()
    print(f"cached check:      {statistics.median(hit):8.2f} µs/call (median of 3 x 100000)")
    print(f"cached check, async: {async_hit:6.2f} µs/call (100000 awaits)")
    print(f"cache miss:        {miss:8.1f} µs/call ({MISSES} subjects, each asked once; {kept} kept)")
    print(f"uncached check:    {statistics.median(uncached):8.1f} µs/call (median of 3 x 200)")
    print(
        f"FastAPI unguarded: {plain_us:8.1f} µs/request; guarded (cached): {guarded_us:.1f} µs/request;"
        f" overhead {guarded_us - plain_us:.1f} µs (medians of {ROUNDS} alternating rounds of 1000)"
    )


if __name__ == "__main__":
    main()
