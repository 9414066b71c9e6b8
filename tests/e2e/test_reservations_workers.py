"""Reservations across two worker processes of a real ``entitle serve`` on PostgreSQL: 200 concurrent
reserveUsage(1) against a BLOCK limit of 50 hold exactly 50; commits and releases leave ``used`` exact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory
from tests.e2e.test_workers import post_fresh

pytestmark = pytest.mark.e2e

SEED = [
    'mutation { createFeature(input: {key: "calls", name: "Calls", type: LIMIT, resetPeriod: MONTH,'
    " warningThresholds: [50, 100]}) { key } }",
    'mutation { createPlan(input: {key: "metered", name: "M", features: [{featureKey: "calls", value: 50}]}) '
    "{ key } }",
    'mutation { upsertTenants(input: [{key: "acme"}]) { errors { message } } }',
    'mutation { createEntitlement(input: {planKey: "metered", tenantKey: "acme"}) { status } }',
]
RESERVE = (
    'mutation { reserveUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 1, idempotencyKey: "%s"}) '
    "{ id status decision { justification } } }"
)
COMMIT = 'mutation { commitUsage(reservationId: "%s") { status committed } }'
RELEASE = 'mutation { releaseUsage(reservationId: "%s") { status } }'
USED = 'query { isEntitledTo(tenantKey: "acme", featureKey: "calls") { used held remaining } }'
CHANGES = "{ changes(filter: {kinds: [USAGE_THRESHOLD_REACHED, USAGE_LIMIT_EXCEEDED]}) { edges { node { kind } } } }"


def test_concurrent_reservations_across_two_workers_hold_exactly_the_limit(
    serve: ServeFactory, postgres_url: str
) -> None:
    # given: a BLOCK limit of 50, two worker processes
    server = serve({"DATABASE_URL": postgres_url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY}, workers=2)
    for query in SEED:
        post_fresh(server.base_url, query)
    # when: 200 reservations of one unit over fresh connections, 16 at a time, spread over both workers
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda n: post_fresh(server.base_url, RESERVE % f"job-{n}"), range(200)))
    # then: exactly 50 are held, the rest refused
    held = [a.data["reserveUsage"]["id"] for a in answers if a.data["reserveUsage"]["status"] == "HELD"]
    refused = [a.data["reserveUsage"] for a in answers if a.data["reserveUsage"]["status"] == "REFUSED"]
    assert len({a.pid for a in answers}) == 2, "both workers should have reserved"
    assert len(held) == 50
    assert len(refused) == 150
    assert {r["decision"]["justification"] for r in refused} == {"LIMIT_EXCEEDED"}
    assert post_fresh(server.base_url, USED).data["isEntitledTo"] == {"used": 0, "held": 50, "remaining": 0}

    # when: 30 are committed and 20 released, concurrently, each settled twice (the second is a CONFLICT)
    settle = [COMMIT % i for i in held[:30]] + [RELEASE % i for i in held[30:]]
    with ThreadPoolExecutor(max_workers=16) as pool:
        settled = list(pool.map(lambda q: _status(server.base_url, q), settle + settle))
    # then: used is exactly what was committed, nothing is held
    assert settled.count("COMMITTED") == 30
    assert settled.count("RELEASED") == 20
    assert settled.count("CONFLICT") == 50
    assert post_fresh(server.base_url, USED).data["isEntitledTo"] == {"used": 30, "held": 0, "remaining": 20}
    kinds = [e["node"]["kind"] for e in post_fresh(server.base_url, CHANGES).data["changes"]["edges"]]
    assert kinds == ["USAGE_LIMIT_EXCEEDED", "USAGE_THRESHOLD_REACHED"]  # refusals first; 30 of 50 is 60 %


def _status(base_url: str, query: str) -> str:
    import http.client
    import json
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        body = json.dumps({"query": query})
        headers = {
            "Authorization": f"Bearer {ADMIN_KEY}",
            "Content-Type": "application/json",
            "Connection": "close",
        }
        conn.request("POST", "/graphql", body=body, headers=headers)
        answer = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    if answer.get("errors"):
        return str(answer["errors"][0]["extensions"]["code"])
    data = next(iter(answer["data"].values()))
    return str(data["status"])
