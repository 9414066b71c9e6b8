"""Two worker processes on PostgreSQL: a plan change reaches both within the cache poll interval."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory

pytestmark = pytest.mark.e2e

STALE_BOUND_S = 0.100
KEEP_WATCHING_S = 0.300
"""Keep polling at least this long after t0, so the window past the 100 ms bound is sampled too."""
WARM_UP_BOUND_S = 10.0
CONVERGENCE_BOUND_S = 5.0
POLLERS = 2

SEED = [
    'mutation { createFeature(input: {key: "seats", name: "Seats", type: LIMIT}) { key } }',
    'mutation { createPlan(input: {key: "pro", name: "Pro", features: [{featureKey: "seats", value: 10}]}) { key } }',
    'mutation { upsertTenants(input: [{key: "acme"}]) { errors { message } } }',
    'mutation { createEntitlement(input: {planKey: "pro", tenantKey: "acme"}) { status } }',
]
UPDATE_PLAN = (
    'mutation { updatePlan(key: "pro", input: {features: [{featureKey: "seats", value: 20}]}) '
    "{ features { value } } }"
)
SEATS = 'query { isEntitledTo(tenantKey: "acme", featureKey: "seats") { limit } }'


@dataclass(frozen=True)
class Answer:
    pid: str
    data: dict[str, Any]
    arrived: float
    extensions: dict[str, Any] = field(default_factory=dict)


def post_fresh(base_url: str, query: str, variables: dict[str, Any] | None = None) -> Answer:
    """One request over its own TCP connection (``Connection: close``), so accept() picks any worker."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        conn.request(
            "POST",
            "/graphql",
            body=json.dumps({"query": query, "variables": variables or {}}),
            headers={
                "Authorization": f"Bearer {ADMIN_KEY}",
                "Content-Type": "application/json",
                "Connection": "close",
            },
        )
        response = conn.getresponse()
        raw = response.read()
        arrived = time.monotonic()
        assert response.status == 200, raw
        body = json.loads(raw)
        assert "errors" not in body, body
        worker = response.getheader("x-entitle-worker") or ""
        return Answer(worker, body["data"], arrived, body.get("extensions", {}))
    finally:
        conn.close()


def poll_until(
    base_url: str, query: str, done: Any, bound_s: float, start: float | None = None
) -> list[Answer]:
    """Ask ``query`` from ``POLLERS`` threads over fresh connections until ``done(answers)`` or the bound."""
    answers: list[Answer] = []
    deadline = (start if start is not None else time.monotonic()) + bound_s

    def worker() -> None:
        while time.monotonic() < deadline and not done(answers):
            answers.append(post_fresh(base_url, query))

    with ThreadPoolExecutor(POLLERS) as pool:
        for future in [pool.submit(worker) for _ in range(POLLERS)]:
            future.result()
    return sorted(answers, key=lambda a: a.arrived)


def pids_answering(answers: list[Answer], limit: int) -> set[str]:
    return {a.pid for a in answers if a.data["isEntitledTo"]["limit"] == limit}


def test_a_plan_change_reaches_every_worker_within_100_ms(serve: ServeFactory, postgres_url: str) -> None:
    # given: two workers that both hold the subject and the catalog in their caches
    server = serve({"DATABASE_URL": postgres_url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY}, workers=2)
    for query in SEED:
        post_fresh(server.base_url, query)
    warm = poll_until(server.base_url, SEATS, lambda a: len(pids_answering(a, 10)) >= 2, WARM_UP_BOUND_S)
    workers = pids_answering(warm, 10)
    assert len(workers) == 2, f"only {workers} answered in {WARM_UP_BOUND_S} s of warm-up"
    assert pids_answering(warm, 20) == set()

    # when: one worker changes the plan
    changed = post_fresh(server.base_url, UPDATE_PLAN)
    t0 = changed.arrived
    assert changed.data["updatePlan"]["features"] == [{"value": 20}]

    def converged(answers: list[Answer]) -> bool:
        return pids_answering(answers, 20) >= workers and time.monotonic() - t0 > KEEP_WATCHING_S

    answers = poll_until(server.base_url, SEATS, converged, CONVERGENCE_BOUND_S, start=t0)

    # then
    report = []
    for pid in sorted(workers):
        own = [a for a in answers if a.pid == pid]
        last_stale = max((a.arrived - t0 for a in own if a.data["isEntitledTo"]["limit"] == 10), default=None)
        first_fresh = min(
            (a.arrived - t0 for a in own if a.data["isEntitledTo"]["limit"] == 20), default=None
        )
        report.append(
            f"worker {pid}{' (wrote)' if pid == changed.pid else ''}: "
            f"{len(own)} answers, last 10 at {_ms(last_stale)}, first 20 at {_ms(first_fresh)} after t0"
        )
    print("\nconvergence after updatePlan:\n  " + "\n  ".join(report))
    assert pids_answering(answers, 20) == workers, "\n".join(report)
    late = [a for a in answers if a.data["isEntitledTo"]["limit"] == 10 and a.arrived - t0 > STALE_BOUND_S]
    assert not late, f"{len(late)} stale answers later than t0 + 100 ms:\n" + "\n".join(report)
    assert {a.data["isEntitledTo"]["limit"] for a in answers} <= {10, 20}


def _ms(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds * 1000:.1f} ms"


METERED_SEED = [
    'mutation { createFeature(input: {key: "calls", name: "Calls", type: LIMIT, resetPeriod: MONTH}) { key } }',
    'mutation { createPlan(input: {key: "metered", name: "M", features: [{featureKey: "calls", value: 25}]}) { key } }',
    'mutation { upsertTenants(input: [{key: "acme"}]) { errors { message } } }',
    'mutation { createEntitlement(input: {planKey: "metered", tenantKey: "acme"}) { status } }',
]
CONSUME = (
    'mutation { reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 1, idempotencyKey: "%s"}) '
    "{ isEntitled justification used } }"
)
USED = 'query { isEntitledTo(tenantKey: "acme", featureKey: "calls") { used remaining } }'


def test_concurrent_consumption_across_two_workers_never_passes_a_block_limit(
    serve: ServeFactory, postgres_url: str
) -> None:
    # given: a BLOCK limit of 25 on a monthly metered feature, two worker processes
    server = serve({"DATABASE_URL": postgres_url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY}, workers=2)
    for query in METERED_SEED:
        post_fresh(server.base_url, query)
    # when: 60 consumptions of one unit over fresh connections, 8 at a time, spread over both workers
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: post_fresh(server.base_url, CONSUME % f"call-{n}"), range(60)))
    # then: exactly 25 were applied, the rest refused, and the counter stopped at the limit
    applied = [a for a in answers if a.data["reportUsage"]["isEntitled"]]
    refused = {
        a.data["reportUsage"]["justification"] for a in answers if not a.data["reportUsage"]["isEntitled"]
    }
    assert len({a.pid for a in answers}) == 2, "both workers should have consumed"
    assert len(applied) == 25
    assert refused == {"LIMIT_EXCEEDED"}
    assert sorted(a.data["reportUsage"]["used"] for a in applied) == list(range(1, 26))
    assert post_fresh(server.base_url, USED).data["isEntitledTo"] == {"used": 25, "remaining": 0}
