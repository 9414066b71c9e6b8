"""Entitle's benchmark: (a) isEntitledTo throughput vs a bare strawberry app, (b) a nested listing,
(c) a 10,000-item batch, all on PostgreSQL, all over real HTTP to real ``entitle serve`` processes.

``make bench`` (or ``.venv/bin/python bench/run.py [--workers 1] [--duration 15] ...``):
1. drops and recreates the ``entitle_bench`` database, starts ``entitle serve`` and
   ``bench/reference_app.py`` on free ports with the same uvicorn settings and worker count;
2. seeds Entitle through its API (bench/seed.py) and checks a sample of the benchmark requests;
3. (a) warms both apps up, then runs wrk (bench/isentitled.lua) against each for ``--duration`` s;
4. (b) times sequential ``entitlements(first: 100)`` pages with nested plan/features/tenant/user;
5. (c) times ``batchCreateEntitlements`` of 10,000 fresh items, ``--batch-runs`` times;
6. prints a Markdown table and writes JSON to bench/results/ (git-ignored).
Timings are not assertions: they go into the README.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from seed import (
    BATCH_ENTITLEMENTS,
    PLAN_WEIGHTS,
    GraphQLClient,
    Population,
    access_triples,
    seed,
    tenant_key,
    user_key,
)
from serving import free_port

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "isentitled.lua"

IS_ENTITLED = (
    "query IsEntitled($tenantKey: String, $userKey: String, $featureKey: String) {"
    " isEntitledTo(tenantKey: $tenantKey, userKey: $userKey, featureKey: $featureKey) {"
    " isEntitled justification context value limit unlimited used remaining resetsAt expiresAt"
    " sources { kind expiresAt } } }"
)
ENTITLEMENTS_PAGE = """
query Page($first: Int!, $after: String, $filter: EntitlementFilter) {
  entitlements(first: $first, after: $after, filter: $filter) {
    edges {
      cursor
      node {
        id status startDate expirationDate
        plan { key features { feature { key } value } }
        tenant { key }
        user { key }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


# ---------------------------------------------------------------- processes


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def group_cpu_seconds(self) -> float:
        """user+system CPU of every process in this process group (the server and its workers)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.popen.pid:  # pgrp
                    total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / ticks

    def worker_pids(self) -> list[int]:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.popen.pid:
                    pids.append(int(stat.parent.name))
        return sorted(pids)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


def start(name: str, argv: list[str], env: dict[str, str], logdir: Path, ready: Any) -> Process:
    port = free_port()
    log = logdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process = Process(name, popen, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise SystemExit(f"{name} exited with {popen.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if ready(process.base_url):
                return process
        time.sleep(0.2)
    process.stop()
    raise SystemExit(f"{name} not ready after 60 s:\n{log.read_text()}")


def _entitle_ready(base_url: str) -> bool:
    return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200


def _reference_ready(base_url: str) -> bool:
    return httpx.post(f"{base_url}/graphql", json={"query": "{ __typename }"}, timeout=2).status_code == 200


def reset_database(pg_base: str, name: str) -> str:
    async def run() -> str:
        conn = await asyncpg.connect(f"{pg_base}/postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
            version: str = await conn.fetchval("SHOW server_version")
            return version
        finally:
            await conn.close()

    return asyncio.run(run())


# ---------------------------------------------------------------- machine


def machine_info(workers: int) -> dict[str, Any]:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc,
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": " ".join((wrk_version.stdout + wrk_version.stderr).split()[:2]),
        "load_average_at_start": os.getloadavg(),
        "server_workers": workers,
    }


# ---------------------------------------------------------------- (a) throughput


def write_bodies(triples: list[tuple[str, str, str]], directory: Path) -> Path:
    path = directory / "isentitled-bodies.jsonl"
    with path.open("w") as out:
        for tenant, user, feature in triples:
            variables = {"tenantKey": tenant, "userKey": user, "featureKey": feature}
            out.write(
                json.dumps({"query": IS_ENTITLED, "variables": variables}, separators=(",", ":")) + "\n"
            )
    return path


def check_bodies(base_url: str, token: str, bodies: Path, sample: int) -> Counter[str]:
    """Send the first ``sample`` bodies; every answer must be a decision. Returns the decision mix."""
    mix: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client, bodies.open() as lines:
        for _, line in zip(range(sample), lines, strict=False):
            response = client.post("/graphql", content=line)
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise SystemExit(f"bad benchmark request {line!r}: {response.status_code} {body}")
            decision = body["data"]["isEntitledTo"]
            mix["entitled" if decision["isEntitled"] else decision["justification"]] += 1
    return mix


def prime(base_url: str, token: str, bodies: Path, concurrency: int = 8) -> float:
    """Send every body once (``concurrency`` at a time) so each subject's context is cached; seconds."""
    lines = [line for line in bodies.read_text().splitlines() if line]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def run() -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:

            async def worker(offset: int) -> None:
                for line in lines[offset::concurrency]:
                    (await client.post("/graphql", content=line)).raise_for_status()

            await asyncio.gather(*(worker(i) for i in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started


def run_wrk(
    process: Process, token: str, bodies: Path, *, duration: int, connections: int, threads: int
) -> dict[str, Any]:
    env = {**os.environ, "ENTITLE_BENCH_BODIES": str(bodies), "ENTITLE_BENCH_TOKEN": token}
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA_SCRIPT),
        f"{process.base_url}/graphql",
    ]
    cpu_before = process.group_cpu_seconds()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=duration + 60)
    cpu = process.group_cpu_seconds() - cpu_before
    lines = [line for line in done.stdout.splitlines() if line.startswith("WRK_JSON ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(lines[-1].removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    return {
        "app": process.name,
        "requests": raw["requests"],
        "rps": raw["requests"] / seconds,
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p90_ms": raw["latency_us"]["p90"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "max_ms": raw["latency_us"]["max"] / 1000,
        "errors": errors,
        "error_detail": raw["errors"],
        "server_cpu_pct": 100 * cpu / seconds,
    }


# ---------------------------------------------------------------- (d) under provisioning writes

SIGNUP = 'mutation($t: String!) { upsertTenants(input: [{key: $t, name: "New"}]) { errors { code } } }'
ADD_ON = 'mutation($t: String!) { createEntitlement(input: {featureKey: "exports", tenantKey: $t}) { id } }'
METADATA = (
    'mutation($t: String!) { upsertTenants(input: [{key: $t, metadata: {crm: "x"}}]) { errors { code } } }'
)


class ProvisioningWriter:
    """Writes at a steady ``rate`` per second, as a provisioning system does: tenant signups, add-on
    grants and metadata edits, none of them about the subjects the benchmark asks. ``lanes`` threads
    share the rate, so a slow write does not lower it."""

    def __init__(self, base_url: str, token: str, rate: float, tag: str, lanes: int = 8) -> None:
        self.base_url, self.token, self.rate, self.tag = base_url, token, rate, tag
        self.stop = threading.Event()
        self.writes = 0
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._lane, args=(n, lanes), daemon=True) for n in range(lanes)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _lane(self, lane: int, lanes: int) -> None:
        rate = self.rate / lanes
        with GraphQLClient(self.base_url, self.token) as client:
            started, done = time.monotonic(), 0
            while not self.stop.is_set():
                tenant = f"{self.tag}-{lane}-{done // 3}"
                client.data((SIGNUP, ADD_ON, METADATA)[done % 3], {"t": tenant})
                done += 1
                with self._lock:
                    self.writes += 1
                delay = started + done / rate - time.monotonic()
                if delay > 0:
                    self.stop.wait(delay)


def under_writes(
    process: Process, token: str, bodies: Path, rate: float, *, duration: int, **wrk: Any
) -> dict[str, Any]:
    writer = ProvisioningWriter(process.base_url, token, rate, f"w{int(rate)}-{secrets.token_hex(3)}")
    writer.start()
    try:
        measured = run_wrk(process, token, bodies, duration=duration, **wrk)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    measured["writes_per_s"] = writer.writes / duration
    return measured


# ---------------------------------------------------------------- (e) while a webhook backlog drains

CREATE_ENDPOINT = (
    'mutation($url: String!) { createWebhookEndpoint(input: {url: $url, events: ["*"]}) { secret } }'
)


def during_webhook_backlog(
    process: Process,
    client: GraphQLClient,
    token: str,
    bodies: Path,
    population: Population,
    size: int,
    *,
    duration: int,
    **wrk: Any,
) -> dict[str, Any]:
    """isEntitledTo quiet, then while ``size`` grants fan out to 3 endpoints on a local receiver; and how
    long until every delivery succeeded."""
    from webhooks import Counter, start_receiver

    counter = Counter()
    receiver = start_receiver(counter)
    try:
        for n in range(3):
            client.data(CREATE_ENDPOINT, {"url": f"http://127.0.0.1:{receiver.server_port}/hook{n}"})
        quiet = run_wrk(process, token, bodies, duration=duration, **wrk)
        started = time.monotonic()
        client.data(BATCH_ENTITLEMENTS, {"input": fresh_batch(99, population, random.Random(99), size)})
        busy = run_wrk(process, token, bodies, duration=duration, **wrk)
        busy["delivered_during"] = counter.count
        deadline = started + 900
        while counter.count < 3 * size and time.monotonic() < deadline:
            time.sleep(0.2)
        drained = time.monotonic() - started
    finally:
        receiver.shutdown()
    return {
        "quiet": quiet,
        "draining": busy,
        "ratio": busy["rps"] / quiet["rps"],
        "deliveries": counter.count,
        "drained_s": drained,
    }


# ---------------------------------------------------------------- (b) listing


def listing_latency(client: GraphQLClient, population: Population, samples: int, rng: random.Random) -> Any:
    """Median of sequential nested ``entitlements(first: 100)`` pages at random cursors and filters."""
    cursors: list[str | None] = [None]
    after: str | None = None
    while True:
        page = client.data(ENTITLEMENTS_PAGE, {"first": 100, "after": after})["entitlements"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        cursors.append(after)

    def variables(i: int) -> tuple[str, dict[str, Any]]:
        kind = i % 8
        if kind == 5:
            tenants = [tenant_key(rng.randrange(population.tenants)) for _ in range(50)]
            return "filter tenantKeys (50)", {"first": 100, "filter": {"tenantKeys": tenants}}
        if kind == 6:
            return "filter planKeys", {"first": 100, "filter": {"planKeys": [rng.choice(list(PLAN_WEIGHTS))]}}
        if kind == 7:
            return "filter status ACTIVE", {
                "first": 100,
                "after": rng.choice(cursors),
                "filter": {"status": ["ACTIVE"]},
            }
        return "after cursor", {"first": 100, "after": rng.choice(cursors)}

    for i in range(10):  # warm-up: caches, plans, prepared statements
        client.data(ENTITLEMENTS_PAGE, variables(i)[1])
    timings: dict[str, list[float]] = {}
    rows: list[int] = []
    for i in range(samples):
        kind, values = variables(i)
        body = json.dumps({"query": ENTITLEMENTS_PAGE, "variables": values})
        started = time.perf_counter()
        response = client.http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
        elapsed = time.perf_counter() - started
        payload = response.json()
        if response.status_code != 200 or payload.get("errors"):
            raise SystemExit(f"listing failed: {payload}")
        rows.append(len(payload["data"]["entitlements"]["edges"]))
        timings.setdefault(kind, []).append(elapsed * 1000)
    every = sorted(t for values in timings.values() for t in values)
    return {
        "pages_available": len(cursors),
        "samples": samples,
        "rows_per_page_mean": statistics.fmean(rows),
        "median_ms": statistics.median(every),
        "p90_ms": every[int(0.9 * (len(every) - 1))],
        "p99_ms": every[int(0.99 * (len(every) - 1))],
        "max_ms": every[-1],
        "median_ms_by_kind": {kind: statistics.median(values) for kind, values in timings.items()},
    }


# ---------------------------------------------------------------- (c) batch


def fresh_batch(run: int, population: Population, rng: random.Random, size: int) -> list[dict[str, Any]]:
    """7 in 10 TENANT-level plan entitlements, 3 in 10 USER-level add-ons; every item is new."""
    items: list[dict[str, Any]] = []
    for i in range(size):
        t = rng.randrange(population.tenants)
        reason = f"bench-c run {run} item {i}"
        if i % 10 < 7:
            items.append(
                {"planKey": rng.choice(list(PLAN_WEIGHTS)), "tenantKey": tenant_key(t), "reason": reason}
            )
        else:
            items.append(
                {
                    "featureKey": "seats",
                    "value": 1 + rng.randrange(20),
                    "tenantKey": tenant_key(t),
                    "userKey": user_key(t, rng.randrange(population.users_per_tenant)),
                    "reason": reason,
                }
            )
    return items


def batch_wall_times(client: GraphQLClient, population: Population, runs: int, size: int) -> Any:
    seconds = []
    for run in range(runs):
        body = json.dumps(
            {
                "query": BATCH_ENTITLEMENTS,
                "variables": {"input": fresh_batch(run, population, random.Random(run), size)},
            }
        )
        started = time.perf_counter()
        response = client.http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
        elapsed = time.perf_counter() - started
        payload = response.json()
        if response.status_code != 200 or payload.get("errors"):
            raise SystemExit(f"batch failed: {str(payload)[:500]}")
        result = payload["data"]["batchCreateEntitlements"]
        if result["errors"] or len(result["entitlements"]) != size:
            raise SystemExit(f"batch wrote {len(result['entitlements'])} of {size}: {result['errors'][:3]}")
        seconds.append(elapsed)
    return {
        "items": size,
        "runs": runs,
        "body_bytes": len(body),
        "seconds": seconds,
        "min_s": min(seconds),
        "median_s": statistics.median(seconds),
    }


# ---------------------------------------------------------------- report


def markdown_under_writes(results: dict[str, Any]) -> str:
    rows = [
        f"| (d) isEntitledTo under {m['writing']['writes_per_s']:.0f} provisioning writes/s | req/s vs the "
        f"same server quiet, back to back | {m['writing']['rps']:,.0f} vs {m['quiet']['rps']:,.0f} | | "
        f"**{m['ratio']:.2f}x** (p99 {m['writing']['p99_ms']:.2f} ms) | >= 0.9x |"
        for m in results.get("under_writes", {}).values()
    ]
    return "\n".join(rows)


def markdown_backlog(backlog: dict[str, Any]) -> str:
    return (
        f"| (e) isEntitledTo while {backlog['deliveries']:,} webhook deliveries drain | req/s vs quiet, "
        f"back to back; all delivered after | {backlog['draining']['rps']:,.0f} vs "
        f"{backlog['quiet']['rps']:,.0f}; "
        f"{backlog['drained_s']:.1f} s | | **{backlog['ratio']:.2f}x** | >= 0.8x |"
    )


def markdown(results: dict[str, Any]) -> str:
    m, pop, config = results["machine"], results["population"], results["config"]
    throughput = results["throughput"]
    rounds, cold = throughput["rounds"], throughput["cold"]
    ours, ref, ratio = throughput["entitle"], throughput["reference"], throughput["ratio"]
    listing, batch = results["listing"], results["batch"]
    load = ", ".join(f"{x:.2f}" for x in m["load_average_at_start"])
    lines = [
        f"### Benchmark, {m['date']}",
        "",
        f"Machine: {m['cpu_model']}, nproc {m['nproc']}, Python {m['python']}, "
        f"PostgreSQL {results['postgres_version']}, {m['wrk']}; load average at start {load}.",
        f"Data: {pop['tenants']:,} tenants, {pop['users']:,} users, {pop['entitlements']:,} entitlements "
        f"(seeded through the API in {results['seed_seconds_total']:.1f} s). "
        f"wrk: {config['connections']} connections, {config['threads']} thread, "
        f"{config['duration']} s per app per round, {len(rounds)} alternating round(s), "
        "best round of each app reported; "
        f"{m['server_workers']} uvicorn worker(s) per app (uvloop, httptools, no access log). "
        f"Steady state: every (tenant, user) of the 10,000 request bodies was asked once before.",
        f"Decision mix of the first {throughput['checked']} requests: "
        + ", ".join(f"{k} {v}" for k, v in throughput["decision_mix"].most_common())
        + ".",
        "",
        "| benchmark | metric | Entitle | reference app | result | target |",
        "|---|---|---:|---:|---:|---|",
        f"| (a) `isEntitledTo` (wrk) | req/s | {ours['rps']:,.0f} | {ref['rps']:,.0f} | "
        f"**{ratio:.2f}x** | ≥ 0.70x |",
        f"| | p50 latency | {ours['p50_ms']:.2f} ms | {ref['p50_ms']:.2f} ms | | |",
        f"| | p99 latency | {ours['p99_ms']:.2f} ms | {ref['p99_ms']:.2f} ms | **{ours['p99_ms']:.2f} ms** | "
        "< 15 ms |",
        f"| | server CPU (of one core) | {ours['server_cpu_pct']:.0f} % "
        f"| {ref['server_cpu_pct']:.0f} % | | |",
        f"| | errors | {ours['errors']} | {ref['errors']} | | 0 |",
        f"| | cold caches, first {config['warmup']} s "
        f"| {cold['rps']:,.0f} req/s, p99 {cold['p99_ms']:.1f} ms | | | |",
        f"| (b) `entitlements(first: 100)` nested | median latency ({listing['samples']} sequential) | "
        f"{listing['median_ms']:.1f} ms | | **{listing['median_ms']:.1f} ms** | < 30 ms |",
        f"| | p90 / p99 | {listing['p90_ms']:.1f} / {listing['p99_ms']:.1f} ms | | | |",
        f"| (c) `batchCreateEntitlements` ({batch['items']:,} items) | wall time min / median "
        f"({batch['runs']} runs) | {batch['min_s']:.2f} / {batch['median_s']:.2f} s | | "
        f"**{batch['median_s']:.2f} s** | < 2 s |",
        *([markdown_under_writes(results)] if results.get("under_writes") else []),
        *([markdown_backlog(results["webhook_backlog"])] if results.get("webhook_backlog") else []),
        "",
        "Rounds, req/s (p99): "
        + "; ".join(
            f"Entitle {r['entitle']['rps']:,.0f} ({r['entitle']['p99_ms']:.1f} ms) / "
            f"reference {r['reference']['rps']:,.0f} ({r['reference']['p99_ms']:.1f} ms)"
            for r in rounds
        )
        + ".",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def servers(
    args: argparse.Namespace, token: str, database_url: str, logdir: Path
) -> Iterator[tuple[Process, Process]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTITLE_") and k != "DATABASE_URL"}
    entitle_env = {
        **env,
        "DATABASE_URL": database_url,
        "ENTITLE_BOOTSTRAP_API_KEY": token,
        "ENTITLE_WEBHOOK_ALLOW_PRIVATE": "true",  # (e): the receiver is on 127.0.0.1
        **dict(setting.split("=", 1) for setting in args.setting),
    }
    workers = ["--workers", str(args.workers)]
    started: list[Process] = []
    try:
        started.append(
            start(
                "entitle",
                [sys.executable, "-m", "entitle", "serve", *workers],
                entitle_env,
                logdir,
                _entitle_ready,
            )
        )
        started.append(
            start(
                "reference",
                [sys.executable, str(BENCH_DIR / "reference_app.py"), *workers],
                env,
                logdir,
                _reference_ready,
            )
        )
        yield started[0], started[1]
    finally:
        for process in started:
            process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers per app (default 1: wrk needs a core)"
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk per app per round")
    parser.add_argument(
        "--warmup", type=int, default=5, help="seconds of wrk warm-up per app (Entitle's is reported as cold)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating wrk rounds (each app's best is reported)"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--tenants", type=int, default=10_000, help="3 users each; entitlements = 1.2 x tenants"
    )
    parser.add_argument("--samples", type=int, default=200, help="(b) sequential listing requests")
    parser.add_argument("--batch-runs", type=int, default=3, help="(c) runs of one 10,000-item batch")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument(
        "--webhook-backlog", type=int, default=10_000, help="(e) grants fanned out to 3 endpoints (0: skip)"
    )
    parser.add_argument(
        "--write-rates", default="10,100", help="(d) provisioning writes per second during isEntitledTo"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="ENTITLE_X=VALUE",
        help="a setting for entitle serve (repeatable), e.g. --setting ENTITLE_DECISION_LOG=all",
    )
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--database", default="entitle_bench")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: `sudo apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`"
        )
    machine = machine_info(args.workers)
    population = Population(
        tenants=args.tenants, user_add_ons=args.tenants * 3 // 20, lapsed=args.tenants // 20
    )
    rng = random.Random(42)
    pg_version = reset_database(args.pg, args.database)
    database_url = args.pg.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{args.database}"
    token = "bench-" + secrets.token_urlsafe(24)
    RESULTS_DIR.mkdir(exist_ok=True)

    with (
        tempfile.TemporaryDirectory(prefix="entitle-bench-") as tmp,
        servers(args, token, database_url, Path(tmp)) as (entitle, reference),
    ):
        print(
            f"entitle {entitle.base_url} (pids {entitle.worker_pids()}), reference {reference.base_url}",
            flush=True,
        )
        with GraphQLClient(entitle.base_url, token, timeout=300) as client:
            seed_timings = seed(client, population, rng)
            print("seeded: " + ", ".join(f"{k} {v:.1f} s" for k, v in seed_timings.items()), flush=True)

            bodies = write_bodies(access_triples(population, rng, 10_000), Path(tmp))
            checked = 500
            mix = check_bodies(entitle.base_url, token, bodies, checked)
            check_bodies(reference.base_url, token, bodies, 50)
            print(f"decision mix: {dict(mix)}", flush=True)

            wrk = {"connections": args.connections, "threads": args.threads}
            cold = run_wrk(entitle, token, bodies, duration=args.warmup, **wrk)
            print(f"cold caches ({args.warmup} s): entitle {cold['rps']:,.0f} req/s", flush=True)
            primed = prime(entitle.base_url, token, bodies)
            print(f"primed every subject in {primed:.1f} s", flush=True)
            run_wrk(reference, token, bodies, duration=args.warmup, **wrk)
            rounds = []
            for r in range(args.rounds):
                order = (entitle, reference) if r % 2 == 0 else (reference, entitle)
                measured = {p.name: run_wrk(p, token, bodies, duration=args.duration, **wrk) for p in order}
                rounds.append(measured)
                print(
                    f"round {r + 1}: "
                    + ", ".join(
                        f"{name} {m['rps']:,.0f} req/s p99 {m['p99_ms']:.2f} ms"
                        for name, m in measured.items()
                    ),
                    flush=True,
                )

            def best_round(app: str) -> dict[str, Any]:
                best: dict[str, Any] = max((r[app] for r in rounds), key=lambda x: x["rps"])
                return best

            ours, ref = best_round("entitle"), best_round("reference")
            loaded = {}
            for rate in (float(r) for r in args.write_rates.split(",") if r):
                quiet = run_wrk(entitle, token, bodies, duration=args.duration, **wrk)
                busy = under_writes(entitle, token, bodies, rate, duration=args.duration, **wrk)
                loaded[f"{rate:g}"] = {"quiet": quiet, "writing": busy, "ratio": busy["rps"] / quiet["rps"]}
                print(
                    f"under {busy['writes_per_s']:.0f} writes/s: {busy['rps']:,.0f} req/s vs quiet "
                    f"{quiet['rps']:,.0f} ({busy['rps'] / quiet['rps']:.2f}x), p99 {busy['p99_ms']:.2f} ms",
                    flush=True,
                )
            listing = listing_latency(client, population, args.samples, rng)
            print(f"listing: median {listing['median_ms']:.1f} ms", flush=True)
            batch = batch_wall_times(client, population, args.batch_runs, args.batch_size)
            print(f"batch: {', '.join(f'{s:.2f} s' for s in batch['seconds'])}", flush=True)
            backlog = None
            if args.webhook_backlog:
                backlog = during_webhook_backlog(
                    entitle,
                    client,
                    token,
                    bodies,
                    population,
                    args.webhook_backlog,
                    duration=args.duration,
                    **wrk,
                )
                print(
                    f"webhook backlog: {backlog['draining']['rps']:,.0f} req/s vs quiet "
                    f"{backlog['quiet']['rps']:,.0f} ({backlog['ratio']:.2f}x); {backlog['deliveries']:,} "
                    f"deliveries in {backlog['drained_s']:.1f} s",
                    flush=True,
                )

    results = {
        "machine": machine,
        "postgres_version": pg_version,
        "config": {**vars(args), "threads": args.threads},
        "population": {
            "tenants": population.tenants,
            "users": population.users,
            "entitlements": population.entitlements,
        },
        "seed_seconds": seed_timings,
        "seed_seconds_total": sum(seed_timings.values()),
        "throughput": {
            "checked": checked,
            "cold": cold,
            "primed_seconds": primed,
            "decision_mix": mix,
            "rounds": rounds,
            "entitle": ours,
            "reference": ref,
            "ratio": ours["rps"] / ref["rps"],
        },
        "listing": listing,
        "batch": batch,
        "under_writes": loaded,
        "webhook_backlog": backlog,
    }
    table = markdown(results)
    print("\n" + table + "\n")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"bench-{stamp}.json"
    out.write_text(json.dumps({**results, "markdown": table}, indent=2, default=str) + "\n")
    print(f"results: {out.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    main()
