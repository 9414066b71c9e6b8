"""Webhook delivery benchmark (contract §10): 10,000 changes to 3 endpoints on a local receiver.

``.venv/bin/python bench/webhooks.py [--changes 10000] [--endpoints 3] [--sqlite]``

Starts one ``entitle serve`` process (PostgreSQL database ``entitle_bench_webhooks`` on 127.0.0.1:5432,
dropped and recreated, or a temp SQLite file with ``--sqlite``) and a threaded HTTP receiver on
127.0.0.1; creates the endpoints through the API; appends the changes in one transaction (as one batch
write does); prints the time until every delivery is ``SUCCEEDED`` and the receiver has them all.
Not a test: the figure goes into the README.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from serving import free_port
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from entitle.db.repositories import changes
from entitle.domain.changes import ChangeKind, NewChange

KEY = "bench-admin-key-0123456789"
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()


def start_receiver(counter: Counter) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            with counter.lock:
                counter.count += 1
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def admin(statement: str) -> None:
    engine = create_async_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(sa.text(statement))
    await engine.dispose()


async def append(url: str, count: int) -> None:
    engine = create_async_engine(url)
    async with async_sessionmaker(engine)() as session, session.begin():
        items = [NewChange(ChangeKind.ENTITLEMENT_GRANTED, tenant_key=f"t{i}") for i in range(count)]
        await changes.append(session, items, datetime.now(UTC))
    await engine.dispose()


async def succeeded(url: str) -> int:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        value = await conn.scalar(
            sa.text("SELECT count(*) FROM webhook_deliveries WHERE status = 'SUCCEEDED'")
        )
    await engine.dispose()
    return int(value or 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="entitle-bench-webhooks-"))
    if args.sqlite:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    else:
        asyncio.run(admin('DROP DATABASE IF EXISTS "entitle_bench_webhooks" WITH (FORCE)'))
        asyncio.run(admin('CREATE DATABASE "entitle_bench_webhooks"'))
        url = f"{PG}/entitle_bench_webhooks"
    counter = Counter()
    receiver = start_receiver(counter)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTITLE_") and k != "DATABASE_URL"}
    env.update(
        {"DATABASE_URL": url, "ENTITLE_BOOTSTRAP_API_KEY": KEY, "ENTITLE_WEBHOOK_ALLOW_PRIVATE": "true"}
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "entitle", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "serve.stderr").open("wb"),
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("entitle serve did not start")
            time.sleep(0.1)
        for i in range(args.endpoints):
            target = f"http://127.0.0.1:{receiver.server_address[1]}/e{i}"
            body = httpx.post(
                f"{base}/graphql",
                json={
                    "query": 'mutation($u: String!) { createWebhookEndpoint(input: {url: $u, events: ["*"]}) '
                    "{ endpoint { id } } }",
                    "variables": {"u": target},
                },
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=10,
            ).json()
            assert "errors" not in body, body
        wanted = args.changes * args.endpoints
        started = time.monotonic()
        asyncio.run(append(url, args.changes))
        appended = time.monotonic() - started
        while True:
            done = asyncio.run(succeeded(url))
            if done >= wanted and counter.count >= wanted:
                break
            if time.monotonic() - started > 1800:
                raise SystemExit(f"only {done} of {wanted} after 30 min")
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        backend = "SQLite" if args.sqlite else "PostgreSQL"
        print(
            f"{backend}: {args.changes} changes x {args.endpoints} endpoints = {wanted} deliveries "
            f"SUCCEEDED in {elapsed:.1f} s ({wanted / elapsed:.0f}/s; append took {appended:.1f} s; "
            f"receiver got {counter.count})"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        receiver.shutdown()
        if not args.sqlite:
            asyncio.run(admin('DROP DATABASE IF EXISTS "entitle_bench_webhooks" WITH (FORCE)'))


if __name__ == "__main__":
    main()
