"""A real ``entitle serve`` killed with SIGKILL while webhook deliveries are in flight: after a restart,
every change is delivered at least once (contract §10: no delivery is lost)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from entitle.db.repositories import changes
from entitle.domain.changes import ChangeKind, NewChange
from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory, admin_headers
from tests.webhooks.receiver import Receiver, verify

pytestmark = pytest.mark.e2e

CHANGES = 300
LEASE_S = 4
DELIVERED_BOUND_S = 60.0


def settings(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "ENTITLE_WEBHOOK_ALLOW_PRIVATE": "true",
        "ENTITLE_WEBHOOK_POLL_MS": "50",
        "ENTITLE_WEBHOOK_RETRY_BASE_S": "0.2",
        "ENTITLE_WEBHOOK_TIMEOUT_S": "2",
        "ENTITLE_WEBHOOK_LEASE_S": str(LEASE_S),
    }


def append_changes(database_url: str, count: int) -> None:
    """What the write paths do: changes appended in a write transaction (here by another process)."""

    async def run() -> None:
        engine = create_async_engine(database_url)
        try:
            async with async_sessionmaker(engine)() as session, session.begin():
                await changes.append(
                    session,
                    [NewChange(ChangeKind.ENTITLEMENT_GRANTED, tenant_key=f"t{i}") for i in range(count)],
                    datetime.now(UTC),
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_mid_delivery_loses_nothing(
    backend: str, serve: ServeFactory, request: pytest.FixtureRequest
) -> None:
    database_url = request.getfixturevalue(f"{backend}_url")
    receiver = Receiver(delay_s=0.02).start()
    try:
        server = serve(settings(database_url))
        created = httpx.post(
            server.graphql_url,
            json={
                "query": 'mutation($url: String!) { createWebhookEndpoint(input: {url: $url, events: ["*"]}) '
                "{ secret } }",
                "variables": {"url": receiver.url()},
            },
            headers=admin_headers(),
            timeout=10,
        ).json()
        secret = created["data"]["createWebhookEndpoint"]["secret"]
        append_changes(database_url, CHANGES)
        deadline = time.monotonic() + DELIVERED_BOUND_S
        while len(receiver.requests) < 20:
            assert time.monotonic() < deadline, "no deliveries before the kill"
            time.sleep(0.01)
        # when: SIGKILL the whole server while it is sending
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        before_restart = {r.json["data"]["tenantKey"] for r in receiver.requests}
        assert len(before_restart) < CHANGES
        serve(settings(database_url))
        wanted = {f"t{i}" for i in range(CHANGES)}
        while {r.json["data"]["tenantKey"] for r in receiver.requests} != wanted:
            assert time.monotonic() < deadline, (
                f"{len(wanted - {r.json['data']['tenantKey'] for r in receiver.requests})} changes never delivered"
            )
            time.sleep(0.05)
        # then
        assert all(verify(secret, r) for r in receiver.requests)
        revisions = [r.json["data"]["revision"] for r in receiver.requests]
        first_seen = list(dict.fromkeys(revisions))
        assert first_seen == sorted(first_seen)
    finally:
        receiver.stop()
