"""Concurrent writers: every small write is answered without error and every row is there.

On SQLite a process queues its write transactions itself (one at a time, FIFO) and waits for
another process's write lock without blocking the event loop; on PostgreSQL writes run in
parallel. Either way a burst of writers loses nothing and nobody sees "database is locked".
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import make_feature, make_plan, make_tenants

WRITERS = 50
ROUNDS = 4

UPSERT_TENANT = "mutation($k: String!) { upsertTenants(input: [{key: $k}]) { errors { code message } } }"
CREATE_ENTITLEMENT = """
mutation($t: String!) { createEntitlement(input: {featureKey: "seats", value: 3, tenantKey: $t}) { id } }
"""
BATCH_ENTITLEMENT = """
mutation($t: String!) {
  batchCreateEntitlements(input: [{featureKey: "seats", value: 2, tenantKey: $t}]) { errors { code message } }
}
"""
REPORT_USAGE = """
mutation($t: String!, $k: String!) {
  reportUsage(input: {featureKey: "calls", amount: 1, tenantKey: $t, idempotencyKey: $k, at: "2030-01-15T00:00:00Z"}) {
    isEntitled used
  }
}
"""
TENANTS = "query($keys: [String!]) { tenants(first: 500, filter: {keys: $keys}) { totalCount } }"
ENTITLEMENTS = """
query($t: [String!]) { entitlements(first: 500, filter: {tenantKeys: $t}) { totalCount edges { node { value } } } }
"""
USED = """
query($t: String!) { isEntitledTo(tenantKey: $t, featureKey: "calls", at: "2030-01-15T00:00:00Z") { used } }
"""


async def seed(api: Api) -> None:
    await make_feature(api, "seats", "LIMIT")
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH", overage="ALLOW")
    await make_plan(api, "pro", {"calls": 1_000_000})
    await make_tenants(api, "hub")
    await api.data(
        'mutation { createEntitlement(input: {planKey: "pro", tenantKey: "hub", '
        'startDate: "2030-01-01T00:00:00Z"}) { id } }'
    )


def write(writer: int, n: int) -> tuple[str, str, dict[str, Any]]:
    kind = ("upsertTenants", "createEntitlement", "batchCreateEntitlements", "reportUsage")[(writer + n) % 4]
    if kind == "upsertTenants":
        return kind, UPSERT_TENANT, {"k": f"w{writer}-{n}"}
    if kind == "createEntitlement":
        return kind, CREATE_ENTITLEMENT, {"t": "hub"}
    if kind == "batchCreateEntitlements":
        return kind, BATCH_ENTITLEMENT, {"t": "hub"}
    return kind, REPORT_USAGE, {"t": "hub", "k": f"w{writer}-{n}"}


async def test_fifty_concurrent_writers_lose_nothing_and_see_no_error(api: Api) -> None:
    # given
    await seed(api)
    answered: dict[str, int] = {}
    tenant_keys: list[str] = []

    async def writer(w: int) -> None:
        for n in range(ROUNDS):
            kind, query, variables = write(w, n)
            body = await api.gql(query, variables)
            assert "errors" not in body, body
            payload = body["data"][next(iter(body["data"]))]
            assert not (isinstance(payload, dict) and payload.get("errors")), payload
            answered[kind] = answered.get(kind, 0) + 1
            if kind == "upsertTenants":
                tenant_keys.append(variables["k"])

    # when: 50 writers at once, 4 small writes each
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))

    # then: every answered write is in the database
    assert sum(answered.values()) == WRITERS * ROUNDS
    tenants = await api.data(TENANTS, {"keys": tenant_keys})
    assert tenants["tenants"]["totalCount"] == answered["upsertTenants"] == len(set(tenant_keys))
    entitlements = await api.data(ENTITLEMENTS, {"t": ["hub"]})
    values = [edge["node"]["value"] for edge in entitlements["entitlements"]["edges"]]
    assert len(values) == entitlements["entitlements"]["totalCount"] == 1 + WRITERS * ROUNDS // 2
    assert values.count(3) == answered["createEntitlement"]
    assert values.count(2) == answered["batchCreateEntitlements"]
    used = await api.data(USED, {"t": "hub"})
    assert used["isEntitledTo"]["used"] == answered["reportUsage"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_write_waits_for_another_process_holding_the_sqlite_write_lock(
    api: Api, database_url: str
) -> None:
    # given: another process (here: a plain sqlite3 connection in a thread) holds the write lock
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    holding = threading.Event()
    release = threading.Event()

    def other_process() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            holding.set()
            release.wait(10)
            conn.execute("COMMIT")
        finally:
            conn.close()

    thread = threading.Thread(target=other_process)
    thread.start()
    try:
        assert await asyncio.to_thread(holding.wait, 10)

        # when: a write arrives while the lock is held, and reads keep being asked meanwhile
        started = time.monotonic()
        pending = asyncio.ensure_future(api.gql(UPSERT_TENANT, {"k": "patient"}))
        reads_meanwhile = 0
        while time.monotonic() - started < 0.5:
            body = await api.gql(TENANTS, {"keys": ["patient"]})
            assert body["data"]["tenants"]["totalCount"] == 0
            reads_meanwhile += 1
        assert not pending.done()
        release.set()
        body = await asyncio.wait_for(pending, 10)
    finally:
        release.set()
        thread.join(10)

    # then: the write waited instead of failing, and the event loop kept serving reads
    assert body["data"] == {"upsertTenants": {"errors": []}}
    assert "errors" not in body
    assert reads_meanwhile >= 5
    assert (await api.data(TENANTS, {"keys": ["patient"]}))["tenants"]["totalCount"] == 1
