"""isEntitledTo with a large population: is the hot path flat with data? (issue: 1,000,000 entitlements,
300,000 subjects, requests spread over all subjects so most miss the cache, and a Zipf-skewed mix).

    .venv/bin/python bench/large.py [--tenants 75000] [--add-ons 920000] [--duration 15]

Same servers and wrk driver as ``bench/run.py`` (PostgreSQL database ``entitle_bench``, dropped and recreated;
Entitle and the reference app, 1 worker each). Seeds ``--tenants`` tenants with 3 members each and one plan
entitlement per tenant, plus ``--add-ons`` USER-level grants, through the API. Then, for two request mixes —
``uniform`` (one body per (tenant, member, feature) drawn uniformly, as many bodies as subjects) and ``zipf``
(tenants drawn with probability ∝ 1/rank^1.1) — warms up for 5 s and runs wrk; reports req/s, p99, the
subject cache's hit rate over the run (from ``/metrics``) and the worker's resident memory after it. The
reference app is measured in the same run for scale. Figures go into the README; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import tempfile
from pathlib import Path

import httpx
from run import (
    IS_ENTITLED,
    Process,
    check_bodies,
    reset_database,
    run_wrk,
    servers,
)
from seed import FEATURES, GraphQLClient, Population, seed, tenant_key, user_key


def bodies_file(triples: list[tuple[str, str, str]], path: Path) -> Path:
    with path.open("w") as out:
        for tenant, user, feature in triples:
            variables = {"tenantKey": tenant, "userKey": user, "featureKey": feature}
            out.write(
                json.dumps({"query": IS_ENTITLED, "variables": variables}, separators=(",", ":")) + "\n"
            )
    return path


def uniform(population: Population, rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    features = [f["key"] for f in FEATURES]
    out = []
    for _ in range(count):
        t = rng.randrange(population.tenants)
        out.append(
            (tenant_key(t), user_key(t, rng.randrange(population.users_per_tenant)), rng.choice(features))
        )
    return out


def zipf(
    population: Population, rng: random.Random, count: int, s: float = 1.1
) -> list[tuple[str, str, str]]:
    features = [f["key"] for f in FEATURES]
    weights = [1 / (rank**s) for rank in range(1, population.tenants + 1)]
    tenants = rng.choices(range(population.tenants), weights=weights, k=count)
    return [
        (tenant_key(t), user_key(t, rng.randrange(population.users_per_tenant)), rng.choice(features))
        for t in tenants
    ]


def cache_counts(base_url: str) -> tuple[float, float]:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    hits = misses = 0.0
    for line in text.splitlines():
        if line.startswith("entitle_cache_requests_total") and 'cache="subjects"' in line:
            value = float(line.rsplit(" ", 1)[1])
            if 'result="hit"' in line:
                hits += value
            elif 'result="miss"' in line:
                misses += value
    return hits, misses


def rss_mib(process: Process) -> float:
    total = 0
    for pid in process.worker_pids():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total = max(total, int(line.split()[1]))
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--tenants", type=int, default=75_000)
    parser.add_argument("--add-ons", type=int, default=920_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="entitle_bench")
    args = parser.parse_args()
    args.workers = 1
    args.setting = []
    population = Population(tenants=args.tenants, user_add_ons=args.add_ons, lapsed=args.tenants // 20)
    rng = random.Random(7)
    reset_database(args.pg, args.database)
    database_url = args.pg.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{args.database}"
    token = "bench-" + secrets.token_urlsafe(24)
    with (
        tempfile.TemporaryDirectory(prefix="entitle-large-") as tmp,
        servers(args, token, database_url, Path(tmp)) as (entitle, reference),
    ):
        with GraphQLClient(entitle.base_url, token, timeout=600) as client:
            timings = seed(client, population, rng)
        subjects = population.tenants + population.users
        print(
            f"seeded {population.tenants:,} tenants, {population.users:,} users, "
            f"{population.entitlements:,} entitlements: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
            flush=True,
        )
        wrk = {"connections": args.connections, "threads": 1}
        for name, triples in (
            ("uniform", uniform(population, rng, subjects)),
            ("zipf", zipf(population, rng, subjects)),
        ):
            bodies = bodies_file(triples, Path(tmp) / f"{name}.jsonl")
            check_bodies(entitle.base_url, token, bodies, 200)
            run_wrk(entitle, token, bodies, duration=5, **wrk)
            hits, misses = cache_counts(entitle.base_url)
            ours = run_wrk(entitle, token, bodies, duration=args.duration, **wrk)
            hits2, misses2 = cache_counts(entitle.base_url)
            asked = (hits2 - hits) + (misses2 - misses)
            ref = run_wrk(reference, token, bodies, duration=args.duration, **wrk)
            print(
                f"{name}: entitle {ours['rps']:,.0f} req/s p99 {ours['p99_ms']:.2f} ms, "
                f"reference {ref['rps']:,.0f} req/s ({ours['rps'] / ref['rps']:.2f}x); "
                f"subject cache hit rate {(hits2 - hits) / asked:.1%} of {asked:,.0f} lookups; "
                f"worker RSS {rss_mib(entitle):,.0f} MiB",
                flush=True,
            )


if __name__ == "__main__":
    main()
