"""CPU per isEntitledTo request, in-process, straight through the ASGI apps (no network, no HTTP parser).

    .venv/bin/python bench/asgi_cpu.py [--requests 20000] [--rounds 3] [--pg URL | --sqlite]
                                        [--background on|off] [--profile FILE.txt] [--gc]

Why: wrk figures need a quiet machine; CPU time spent by this process per request does not (much).
It seeds the demo catalog (3 tenants, 4 users) into a fresh database, builds Entitle's ASGI app and
``bench/reference_app.py``'s, runs ``lifespan`` so the background workers (change feed, webhooks,
scheduler) run as in ``entitle serve``, and then, in alternating rounds, sends the same rotating
bodies (wrk's document, subjects x features) to each and reports process CPU µs per request and
the ratio reference/Entitle. Uvicorn's HTTP parsing (about the same for both) is not included, so
this ratio is larger than the wrk one when Entitle is the cheaper app, smaller when it is dearer.

``--gc`` also times every garbage collection during one more round of Entitle (``gc.callbacks``, with the
collector tuned as ``entitle serve`` tunes it) and prints the count, p99 and longest pause per generation.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_app import app as reference_app
from run import IS_ENTITLED

from entitle.app import create_app
from entitle.db.migrations import upgrade_to_head
from entitle.services.demo import seed_demo
from entitle.settings import Settings

KEY = "bench-admin-key-0123456789"
SUBJECTS = [
    ("acme", None),
    ("globex", None),
    ("initech", None),
    ("acme", "alice@acme.test"),
    ("acme", "bob@acme.test"),
    ("globex", "carol@globex.test"),
    (None, "alice@acme.test"),
]
FEATURES = ["reports", "api-calls", "seats", "sso", "audit-log", "no-such-feature"]

ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


def bodies() -> list[bytes]:
    return [
        orjson.dumps({"query": IS_ENTITLED, "variables": {"tenantKey": t, "userKey": u, "featureKey": f}})
        for t, u in SUBJECTS
        for f in FEATURES
    ]


def scope_for(body: bytes, key: str = KEY) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: ASGIApp, body: bytes, scope: dict[str, Any]) -> tuple[int, bytes]:
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(dict(scope), receive, send)
    return status, b"".join(chunks)


async def run_round(
    app: ASGIApp, requests: list[tuple[bytes, dict[str, Any]]], n: int
) -> tuple[float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    count = len(requests)
    for i in range(n):
        body, scope = requests[i % count]
        status, _ = await call(app, body, scope)
        if status != 200:
            raise SystemExit(f"HTTP {status}")
    return (time.process_time() - cpu0) / n * 1e6, (time.perf_counter() - wall0) / n * 1e6


async def gc_pauses(app: ASGIApp, requests: list[tuple[bytes, dict[str, Any]]], n: int) -> None:
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started = [0.0]

    def timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - started[0]) * 1e3)

    gc.callbacks.append(timer)
    try:
        await run_round(app, requests, n)
    finally:
        gc.callbacks.remove(timer)
    for generation, times in pauses.items():
        if times:
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(
                f"gc generation {generation}: {len(times)} collections in {n} requests, "
                f"p99 {p99:.2f} ms, longest {times[-1]:.2f} ms"
            )
        else:
            print(f"gc generation {generation}: none in {n} requests")


async def lifespan(app: ASGIApp) -> Callable[[], Awaitable[None]]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    stopped = asyncio.Event()
    await queue.put({"type": "lifespan.startup"})

    async def receive() -> dict[str, Any]:
        return await queue.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()
        if message["type"].startswith("lifespan.shutdown"):
            stopped.set()

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    await started.wait()

    async def stop() -> None:
        await queue.put({"type": "lifespan.shutdown"})
        await stopped.wait()
        await task

    return stop


async def main(args: argparse.Namespace, database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        entitle_bootstrap_api_key=KEY,
        entitle_scheduler=args.background == "on",
        entitle_webhooks=args.background == "on",
    )
    await seed_demo(settings)
    app = create_app(settings)
    stop = await lifespan(app)
    try:
        requests = [(body, scope_for(body)) for body in bodies()]
        for body, scope in requests:  # every subject cached; show one answer
            status, answer = await call(app, body, scope)
            assert status == 200, answer
            assert b'"errors"' not in answer, answer
        print(answer.decode()[:300])
        apps: dict[str, ASGIApp] = {"entitle": app, "reference": reference_app}
        for each in apps.values():
            await run_round(each, requests, 2_000)
        results: dict[str, list[float]] = {name: [] for name in apps}
        for r in range(args.rounds):
            order = list(apps.items()) if r % 2 == 0 else list(reversed(apps.items()))
            for name, each in order:
                cpu, wall = await run_round(each, requests, args.requests)
                results[name].append(cpu)
                print(f"round {r + 1} {name}: {cpu:.0f} µs CPU, {wall:.0f} µs wall per request", flush=True)
        ours, ref = statistics.median(results["entitle"]), statistics.median(results["reference"])
        print(
            f"median CPU µs/request: entitle {ours:.0f}, reference {ref:.0f}; ref/entitle {ref / ours:.2f}x"
        )
        if args.gc:
            await gc_pauses(app, requests, args.requests)
        if args.profile:
            profiler = cProfile.Profile()
            gc.collect()
            profiler.enable()
            await run_round(app, requests, args.requests)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(80)
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(60)
            Path(args.profile).write_text(out.getvalue())  # noqa: ASYNC240 (after the measurement)
            print(f"profile written to {args.profile}")
    finally:
        await stop()


async def fresh_pg(pg: str, name: str) -> str:
    admin = await asyncpg.connect(pg + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return pg.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="entitle_cpu_bench")
    parser.add_argument("--sqlite", action="store_true", help="the embedded default instead of PostgreSQL")
    parser.add_argument("--background", choices=["on", "off"], default="on", help="webhooks and scheduler")
    parser.add_argument("--profile", help="also profile one round of Entitle with cProfile into this file")
    parser.add_argument("--gc", action="store_true", help="also time garbage collections during one round")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        if args.sqlite:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        else:
            url = asyncio.run(fresh_pg(args.pg, args.database))
        upgrade_to_head(url)
        asyncio.run(main(args, url))
