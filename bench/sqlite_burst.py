"""Write burst on the embedded SQLite default: N concurrent writers against a real ``entitle serve``.

``.venv/bin/python bench/sqlite_burst.py --writers 50 --seconds 20``

1. starts ``entitle serve --workers W`` (1 by default) on a fresh SQLite file in a temp dir,
   on a free 127.0.0.1 port (migrations included);
2. seeds a metered feature, a LIMIT feature, a plan and ``--usage-tenants`` tenants on that plan;
3. runs ``--writers`` concurrent writers (httpx, one connection each) for ``--seconds``; each
   sends small writes in turn: ``upsertTenants`` of 1 new tenant, ``createEntitlement`` or
   ``batchCreateEntitlements`` of 1 item, ``reportUsage`` of 1 unit with a fresh idempotency key;
4. prints writes/s, p50/p99/max latency (per kind and overall), errors by code, whether any
   answer mentioned "database is locked", and checks the rows in the file against the writes
   that were answered without error (no lost write, no extra one).

Exit status 1 when a write was lost, an error came back, or "database is locked" reached a client.
Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from serving import EntitleServer, admin_headers, cpu_seconds, gql_sync

UPSERT_TENANT = "mutation($k: String!) { upsertTenants(input: [{key: $k}]) { errors { message code } } }"
CREATE_ENTITLEMENT = (
    'mutation($t: String!) { createEntitlement(input: {featureKey: "seats", value: 3, tenantKey: $t}) '
    "{ id } }"
)
BATCH_ENTITLEMENT = (
    "mutation($t: String!) { batchCreateEntitlements("
    'input: [{featureKey: "seats", value: 2, tenantKey: $t}]) { errors { message code } } }'
)
REPORT_USAGE = (
    'mutation($t: String!, $k: String!) { reportUsage(input: {featureKey: "calls", amount: 1, '
    "tenantKey: $t, idempotencyKey: $k}) { isEntitled used } }"
)
SEED = [
    'mutation { createFeature(input: {key: "seats", name: "Seats", type: LIMIT}) { key } }',
    'mutation { createFeature(input: {key: "calls", name: "Calls", type: LIMIT, resetPeriod: MONTH, '
    "overage: ALLOW}) { key } }",
    'mutation { createPlan(input: {key: "pro", name: "Pro", features: [{featureKey: "seats", value: 10}, '
    '{featureKey: "calls", value: 1000000}]}) { key } }',
]
KINDS = ("upsertTenants", "createEntitlement", "batchCreateEntitlements", "reportUsage")


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    locked: int = 0
    samples: list[str] = field(default_factory=list)

    def error(self, code: str, text: str) -> None:
        self.errors[code] += 1
        if "database is locked" in text:
            self.locked += 1
        if len(self.samples) < 5:
            self.samples.append(f"{code}: {text[:300]}")


def request(kind: str, writer: int, n: int, usage_tenants: int) -> tuple[str, dict[str, Any]]:
    tenant = f"u{(writer + n) % usage_tenants}"
    if kind == "upsertTenants":
        return UPSERT_TENANT, {"k": f"burst-{writer}-{n}"}
    if kind == "createEntitlement":
        return CREATE_ENTITLEMENT, {"t": tenant}
    if kind == "batchCreateEntitlements":
        return BATCH_ENTITLEMENT, {"t": tenant}
    return REPORT_USAGE, {"t": tenant, "k": f"burst-{writer}-{n}"}


@dataclass
class RawResponse:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on one connection (``--client raw``): a request costs
    the load generator a few µs of CPU instead of httpx's milliseconds, so on a small machine the
    server, not the client, is what the burst measures."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = urllib.parse.urlsplit(url)
        self._host, self._port, self._path = parsed.hostname or "", parsed.port or 80, parsed.path
        self._head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes) -> RawResponse:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        request = (
            f"POST {self._path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{self._head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            writer.write(request.encode() + body)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length = next(
                int(v) for k, _, v in (x.partition(":") for x in lines[1:]) if k.lower() == "content-length"
            )
            content = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, StopIteration) as error:
            await self.close()
            raise ConnectionError(f"raw client: {type(error).__name__}") from error
        return RawResponse(status, content)

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def classify(kind: str, response: httpx.Response | RawResponse) -> tuple[str | None, str]:
    """``(None, "")`` for a write answered without error, else ``(code, text)``."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}", response.text
    body = response.json()
    if body.get("errors"):
        first = body["errors"][0]
        return str(first.get("extensions", {}).get("code", "NO_CODE")), str(first.get("message"))
    payload = body["data"][next(iter(body["data"]))]
    if isinstance(payload, dict) and payload.get("errors"):
        first = payload["errors"][0]
        return str(first.get("code", "ITEM_ERROR")), str(first.get("message"))
    return None, ""


async def writer_loop(
    client: httpx.AsyncClient | RawClient,
    url: str,
    writer: int,
    deadline: float,
    usage_tenants: int,
    tally: Tally,
) -> None:
    for n in itertools.count():
        if time.monotonic() >= deadline:
            return
        kind = KINDS[(writer + n) % len(KINDS)]
        query, variables = request(kind, writer, n, usage_tenants)
        start = time.monotonic()
        try:
            if isinstance(client, RawClient):
                response: httpx.Response | RawResponse = await client.post(
                    json.dumps({"query": query, "variables": variables}).encode()
                )
            else:
                response = await client.post(url, json={"query": query, "variables": variables})
        except (httpx.HTTPError, ConnectionError) as exc:
            tally.error(type(exc).__name__, str(exc))
            continue
        tally.latencies[kind].append(time.monotonic() - start)
        code, text = classify(kind, response)
        if code is None:
            tally.ok[kind] += 1
        else:
            tally.error(code, text)


async def drive(
    url: str, writers: int, seconds: float, usage_tenants: int, request_timeout: float, client_kind: str
) -> tuple[Tally, float]:
    tally = Tally()
    if client_kind == "raw":  # one connection per writer, like httpx's pool below
        clients = [RawClient(url, admin_headers()) for _ in range(writers)]
        start = time.monotonic()
        deadline = start + seconds
        await asyncio.gather(
            *(writer_loop(clients[w], url, w, deadline, usage_tenants, tally) for w in range(writers))
        )
        elapsed = time.monotonic() - start
        for client in clients:
            await client.close()
        return tally, elapsed
    limits = httpx.Limits(max_connections=writers, max_keepalive_connections=writers)
    async with httpx.AsyncClient(headers=admin_headers(), limits=limits, timeout=request_timeout) as client:
        start = time.monotonic()
        deadline = start + seconds
        await asyncio.gather(
            *(writer_loop(client, url, w, deadline, usage_tenants, tally) for w in range(writers))
        )
        elapsed = time.monotonic() - start
    return tally, elapsed


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def count_rows(path: Path, usage_tenants: int) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tenants = db.execute("SELECT count(*) FROM tenants WHERE key LIKE 'burst-%'").fetchone()[0]
        by_value = dict(
            db.execute(
                "SELECT CAST(e.value AS TEXT), count(*) FROM entitlements e "
                "JOIN features f ON f.id = e.feature_id WHERE f.key = 'seats' GROUP BY 1"
            ).fetchall()
        )
        events = db.execute("SELECT count(*) FROM usage_events").fetchone()[0]
        used = db.execute("SELECT coalesce(sum(used), 0) FROM usage_counters").fetchone()[0]
    return {
        "upsertTenants": tenants,
        "createEntitlement": by_value.get("3", 0),
        "batchCreateEntitlements": by_value.get("2", 0),
        "reportUsage": events,
        "reportUsage (units)": used,
    }


def start_py_spy(path: str, pid: int, seconds: float) -> subprocess.Popen[bytes]:
    output_format = {".json": "speedscope", ".txt": "raw"}.get(Path(path).suffix, "flamegraph")
    argv = ["py-spy", "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "200"]
    argv += ["--format", output_format, "--output", path, "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1, help="entitle serve worker processes")
    parser.add_argument("--usage-tenants", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=60.0, help="client timeout per request (s)")
    parser.add_argument(
        "--client",
        choices=["httpx", "raw"],
        default="httpx",
        help="httpx (as before), or a minimal HTTP/1.1 keep-alive client that leaves the CPU to the server",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="record the serving process with py-spy (must be installed) during the burst, to PATH "
        "(speedscope JSON if it ends in .json, collapsed stacks if .txt, else a flame graph SVG)",
    )
    args = parser.parse_args()
    if args.seconds > 600:
        parser.error("--seconds is bounded to 600")

    with tempfile.TemporaryDirectory(prefix="entitle-burst-") as tmp:
        workdir = Path(tmp)
        db_path = workdir / "burst.db"
        server = EntitleServer.start(f"sqlite+aiosqlite:///{db_path}", workdir, workers=args.workers)
        try:
            with httpx.Client(timeout=30) as client:
                for query in SEED:
                    gql_sync(client, server.graphql_url, query)
                tenants = [{"key": f"u{i}"} for i in range(args.usage_tenants)]
                gql_sync(
                    client,
                    server.graphql_url,
                    "mutation($i: [TenantInput!]!) { upsertTenants(input: $i) { errors { message } } }",
                    {"i": tenants},
                )
                plans = [{"planKey": "pro", "tenantKey": t["key"]} for t in tenants]
                gql_sync(
                    client,
                    server.graphql_url,
                    "mutation($i: [CreateEntitlementInput!]!) "
                    "{ batchCreateEntitlements(input: $i) { errors { message } } }",
                    {"i": plans},
                )
            pids = server.serving_pids()
            cpu_before = cpu_seconds(pids)
            client_cpu_before = time.process_time()
            spy = start_py_spy(args.py_spy, pids[0], args.seconds) if args.py_spy else None
            tally, elapsed = asyncio.run(
                drive(
                    server.graphql_url,
                    args.writers,
                    args.seconds,
                    args.usage_tenants,
                    args.timeout,
                    args.client,
                )
            )
            server_cpu = cpu_seconds(pids) - cpu_before
            client_cpu = time.process_time() - client_cpu_before
            if spy is not None:
                spy.wait(timeout=60)
            alive = server.process.poll() is None
        finally:
            server.stop()
        rows = count_rows(db_path, args.usage_tenants)
        locked_in_log = server.stderr().count("database is locked")

    everything = [x for values in tally.latencies.values() for x in values]
    answered_ok = sum(tally.ok.values())
    print(
        f"SQLite write burst: {args.writers} writers ({args.client} client), {elapsed:.1f} s, "
        f"{args.workers} worker process(es)"
    )
    print(f"  writes answered without error: {answered_ok} ({answered_ok / elapsed:.0f}/s)")
    print(
        f"  server CPU: {server_cpu:.1f} s ({server_cpu / elapsed * 100:.0f} % of one core), "
        f"{server_cpu / max(answered_ok, 1) * 1000:.2f} ms per write; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"  client CPU: {client_cpu:.1f} s ({client_cpu / elapsed * 100:.0f} % of one core), "
        f"{client_cpu / max(answered_ok, 1) * 1000:.2f} ms per write"
    )
    print(
        f"  latency all: p50 {percentile(everything, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(everything, 0.99) * 1000:.0f} ms, max {max(everything, default=0) * 1000:.0f} ms"
    )
    for kind in KINDS:
        values = tally.latencies[kind]
        if values:
            print(
                f"    {kind:<24} n={len(values):>6}  p50 {percentile(values, 0.5) * 1000:6.0f} ms  "
                f"p99 {percentile(values, 0.99) * 1000:6.0f} ms  "
                f"mean {statistics.fmean(values) * 1000:6.0f} ms"
            )
    print(f"  errors by code: {dict(tally.errors) or 'none'}")
    for sample in tally.samples:
        print(f"    e.g. {sample}")
    print(f"  'database is locked' in answers: {tally.locked}, in the server log: {locked_in_log}")
    lost = False
    print("  rows check (answered ok == rows in the file):")
    for kind in KINDS:
        expected, found = tally.ok[kind], rows[kind]
        mark = "ok" if expected == found else "MISMATCH"
        lost |= expected != found
        print(f"    {kind:<24} answered {expected:>6}  rows {found:>6}  {mark}")
    units_ok = rows["reportUsage (units)"] == tally.ok["reportUsage"]
    lost |= not units_ok
    units = rows["reportUsage (units)"]
    print(f"    {'usage units':<24} answered {tally.ok['reportUsage']:>6}  rows {units:>6}")
    if not alive:
        print("  the server died during the run")
    failed = lost or bool(tally.errors) or tally.locked > 0 or not alive
    print("RESULT:", "FAIL" if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
