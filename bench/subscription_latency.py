"""Across the workers of one ``entitle serve --workers 2`` (contract §9: "within 100 ms"): how long a
committed write takes to reach (1) a subscriber connected to the *other* worker and (2) the other
worker's cached decisions.

``.venv/bin/python bench/subscription_latency.py [--writes 200] [--workers 2] [--pg URL]``

PostgreSQL database ``entitle_bench_subscriptions`` on 127.0.0.1:5432 (dropped and recreated). The
server runs with its defaults (scheduler and webhook worker on, poll 50 ms, NOTIFY on commit).

- Worker pinning: HTTP clients hold one keep-alive connection each; a client is kept for each worker
  (its ``x-entitle-worker`` header). A WebSocket's worker is found from ``/proc`` (the worker process
  that owns the server end of the socket), so there is one subscriber on each worker.
- (1) ``--writes`` writes (a grant to ``acme``, then its revocation, alternately), through worker A
  and B in turn; each reaches both subscribers. Latency = arrival of the event minus the change's
  ``at`` (stamped in the writing transaction just before it commits: an upper bound of commit → event),
  also given from the write's HTTP response to the event. Cross-worker = the subscriber on the worker
  that did not write.
- (2) ``--writes`` writes (grant/revoke for ``globex``) through one worker, then ``isEntitledTo`` asked
  back to back on the other worker (no ``minRevision``) until it reflects the write. Latency = from the
  write's response to the first fresh answer (the polling step is a few ms).

Not a test: the figures go into the README. The machine may be shared: the script prints the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from serving import EntitleServer, admin_headers
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"
DATABASE = "entitle_bench_subscriptions"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

SEED = [
    'mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }',
    'mutation { upsertTenants(input: [{key: "acme"}, {key: "globex"}]) { errors { message } } }',
]
GRANT = 'mutation($t: String!) { createEntitlement(input: {featureKey: "sso", tenantKey: $t}) { id } }'
REVOKE = "mutation($id: ID!) { revokeEntitlements(ids: [$id]) { revokedCount } }"
DECIDE = 'query($t: String!) { isEntitledTo(tenantKey: $t, featureKey: "sso") { isEntitled } }'
SUBSCRIBE = """subscription { entitlementsChanged(tenantKey: "acme") { revision change { kind at } } }"""


async def admin(statement: str, pg: str) -> None:
    engine = create_async_engine(f"{pg}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


class Pinned:
    """One keep-alive HTTP connection, so every request goes to the same worker."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, headers=admin_headers(), limits=httpx.Limits(max_connections=1), timeout=10
        )
        self.pid = ""

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}})
        self.pid = response.headers["x-entitle-worker"]
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body


async def pin_each_worker(base_url: str, workers: int) -> dict[str, Pinned]:
    pinned: dict[str, Pinned] = {}
    for _ in range(200):
        client = Pinned(base_url)
        await client.gql("{ revision }")
        if client.pid in pinned:
            await client.client.aclose()
        else:
            pinned[client.pid] = client
        if len(pinned) == workers:
            return pinned
    raise RuntimeError(f"only workers {sorted(pinned)} accepted a connection")


def socket_owner(server_port: int, client_port: int, pids: list[str]) -> str | None:
    """The worker pid holding the server end of the TCP connection ``127.0.0.1:client_port`` (Linux)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
    return None


async def subscribe(base_url: str) -> tuple[ClientConnection, int]:
    url = base_url.replace("http://", "ws://") + "/graphql"
    socket = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await socket.send(json.dumps({"type": "connection_init", "payload": admin_headers()}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    client_port: int = socket.transport.get_extra_info("sockname")[1]
    return socket, client_port


async def subscriber_on_each_worker(base_url: str, pids: list[str]) -> dict[str, ClientConnection]:
    server_port = int(base_url.rsplit(":", 1)[1])
    found: dict[str, ClientConnection] = {}
    for _ in range(50):
        socket, client_port = await subscribe(base_url)
        owner = socket_owner(server_port, client_port, pids)
        if owner is None or owner in found:
            await socket.close()
        else:
            found[owner] = socket
        if len(found) == len(pids):
            await asyncio.sleep(0.3)  # the subscriptions are registered once their first await runs
            return found
    raise RuntimeError(f"could not place a subscriber on every worker (found {sorted(found)})")


async def next_event(socket: ClientConnection) -> tuple[dict[str, Any], float]:
    async with asyncio.timeout(5):
        message = json.loads(await socket.recv())
    arrived = time.time()
    assert message["type"] == "next", message
    return message["payload"]["data"]["entitlementsChanged"], arrived


async def write_toggle(client: Pinned, tenant: str, granted: str | None) -> tuple[dict[str, Any], str | None]:
    if granted is None:
        body = await client.gql(GRANT, {"t": tenant})
        return body, body["data"]["createEntitlement"]["id"]
    return await client.gql(REVOKE, {"id": granted}), None


async def subscription_latency(
    pinned: dict[str, Pinned], sockets: dict[str, ClientConnection], writes: int
) -> dict[str, Any]:
    pids = sorted(pinned)
    samples: dict[str, list[float]] = {
        "cross_at": [],
        "cross_response": [],
        "same_at": [],
        "same_response": [],
    }
    granted = None
    for i in range(writes):
        writer = pids[i % len(pids)]
        body, granted = await write_toggle(pinned[writer], "acme", granted)
        answered = time.time()
        for pid, socket in sockets.items():
            event, arrived = await next_event(socket)
            assert event["revision"] == body["extensions"]["revision"], (event, body)
            at = datetime.fromisoformat(event["change"]["at"]).timestamp()
            side = "same" if pid == writer else "cross"
            samples[f"{side}_at"].append(arrived - at)
            samples[f"{side}_response"].append(arrived - answered)
    return samples


async def cache_propagation(pinned: dict[str, Pinned], writes: int) -> dict[str, Any]:
    pids = sorted(pinned)
    latencies: list[float] = []
    polls: list[int] = []
    granted = None
    for i in range(writes):
        writer, reader = pinned[pids[i % 2]], pinned[pids[(i + 1) % 2]]
        expected = granted is None
        assert (await reader.gql(DECIDE, {"t": "globex"}))["data"]["isEntitledTo"][
            "isEntitled"
        ] is not expected
        _, granted = await write_toggle(writer, "globex", granted)
        answered = time.perf_counter()
        count = 0
        while True:
            count += 1
            body = await reader.gql(DECIDE, {"t": "globex"})
            if body["data"]["isEntitledTo"]["isEntitled"] is expected:
                latencies.append(time.perf_counter() - answered)
                polls.append(count)
                break
            if time.perf_counter() - answered > 5:
                raise RuntimeError(f"write {i} not reflected on worker {reader.pid} after 5 s")
    return {"latencies": latencies, "polls": polls}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median_ms": statistics.median(ordered) * 1000,
        "p90_ms": ordered[int(len(ordered) * 0.9) - 1] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


async def measure(base_url: str, writes: int, workers: int) -> dict[str, Any]:
    pinned = await pin_each_worker(base_url, workers)
    first = next(iter(pinned.values()))
    for query in SEED:
        await first.gql(query)
    sockets = await subscriber_on_each_worker(base_url, sorted(pinned))
    try:
        subscription = await subscription_latency(pinned, sockets, writes)
    finally:
        for socket in sockets.values():
            await socket.close()
    cache = await cache_propagation(pinned, writes)
    for client in pinned.values():
        await client.client.aclose()
    return {
        "workers": sorted(pinned),
        "subscription": {name: summary(values) for name, values in subscription.items()},
        "cache": {**summary(cache["latencies"]), "median_polls": statistics.median(cache["polls"])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg", default=PG)
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE setting of the server (repeatable)"
    )
    args = parser.parse_args()
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)', args.pg))
    asyncio.run(admin(f'CREATE DATABASE "{DATABASE}"', args.pg))
    load_before = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            server = EntitleServer.start(
                f"{args.pg}/{DATABASE}",
                Path(workdir),
                workers=args.workers,
                extra_env=dict(e.split("=", 1) for e in args.env),
            )
            try:
                results = asyncio.run(measure(server.base_url, args.writes, args.workers))
            finally:
                server.stop()
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)', args.pg))
    results.update(
        {
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "nproc": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "writes": args.writes,
            "env": args.env,
        }
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"subscription_latency-{int(time.time())}.json"
    path.write_text(json.dumps(results, indent=2))
    print(markdown(results))
    print(f"\n(JSON: {path})")


def markdown(results: dict[str, Any]) -> str:
    sub, cache = results["subscription"], results["cache"]

    def row(name: str, s: dict[str, float]) -> str:
        return f"| {name} | {s['n']} | {s['median_ms']:.1f} | {s['p90_ms']:.1f} | {s['max_ms']:.1f} |"

    return "\n".join(
        [
            f"{results['date']}, {results['nproc']} cores, load average "
            f"{results['load_average_before'][0]:.2f} before / {results['load_average_after'][0]:.2f} after, "
            f"workers {results['workers']}, settings {results['env'] or 'defaults'}",
            "",
            "| path | n | median ms | p90 ms | max ms |",
            "|---|---:|---:|---:|---:|",
            row("write on worker A → subscriber on worker B (`at` → event)", sub["cross_at"]),
            row("write on worker A → subscriber on worker B (write response → event)", sub["cross_response"]),
            row("write → subscriber on the same worker (`at` → event)", sub["same_at"]),
            row("write → subscriber on the same worker (write response → event)", sub["same_response"]),
            row(
                "write on worker A → `isEntitledTo` on worker B fresh (response → first fresh answer)", cache
            ),
            "",
            f"cache propagation: median {cache['median_polls']} `isEntitledTo` asks until fresh",
        ]
    )


if __name__ == "__main__":
    main()
