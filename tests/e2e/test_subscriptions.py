"""Live subscriptions over WebSocket (graphql-transport-ws) against real `entitle serve` processes:
a write through one worker reaches a subscriber on the other within 100 ms (contract §9)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import ADMIN_KEY, JWT_SECRET
from tests.e2e.conftest import ServeFactory, admin_headers

pytestmark = pytest.mark.e2e

SUBSCRIBE = """
subscription($t: String, $u: String) {
  entitlementsChanged(tenantKey: $t, userKey: $u) {
    revision change { kind tenantKey at } effective { features { feature { key } } }
  }
}
"""


def settings(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "ENTITLE_JWT_SECRET": JWT_SECRET,
    }


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/graphql"


async def open_subscription(
    base_url: str, token: str, query: str, variables: dict[str, Any]
) -> ClientConnection:
    socket = await connect(ws_url(base_url), subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}})
    )
    return socket


async def next_message(socket: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(5.0):
        message: dict[str, Any] = json.loads(await socket.recv())
    return message


def refusal(message: dict[str, Any]) -> str:
    """The error code of a refused subscription: an ``error`` message, or a ``next`` with errors and no
    data (graphql-transport-ws sends errors raised by the resolver that way), never data."""
    if message["type"] == "error":
        errors = message["payload"]
    else:
        assert message["type"] == "next", message
        assert message["payload"].get("data") is None, message
        errors = message["payload"]["errors"]
    code: str = errors[0]["extensions"]["code"]
    return code


async def gql(base_url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=admin_headers(),
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


SETUP = [
    'mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }',
    'mutation { upsertTenants(input: [{key: "acme"}, {key: "globex"}]) { errors { index } } }',
]
GRANT = (
    "mutation($t: String!, $f: String!) { createEntitlement(input: {featureKey: $f, tenantKey: $t, "
    'startDate: "2020-01-01T00:00:00Z"}) { id } }'
)
FEATURE = 'mutation { createFeature(input: {key: "%s", name: "Feature", type: BOOLEAN}) { key } }'


async def test_a_subscriber_on_one_worker_sees_a_grant_made_through_another_within_100_ms(
    serve: ServeFactory, postgres_url: str
) -> None:
    # given: two replicas of the service on one PostgreSQL database, a subscriber on the second
    writer, reader = serve(settings(postgres_url)), serve(settings(postgres_url))
    for statement in [*SETUP, *(FEATURE % f for f in ("a", "b", "c"))]:
        await gql(writer.base_url, statement)
    await gql(reader.base_url, '{ isEntitledTo(tenantKey: "acme", featureKey: "sso") { isEntitled } }')
    socket = await open_subscription(reader.base_url, ADMIN_KEY, SUBSCRIBE, {"t": "acme"})
    try:
        await asyncio.sleep(0.3)  # the subscription is registered once its first await runs
        # when: a grant for another tenant (not for this subscriber), then three for acme
        await gql(writer.base_url, GRANT, {"t": "globex", "f": "sso"})
        latencies = []
        for feature in ("sso", "a", "b"):
            body = await gql(writer.base_url, GRANT, {"t": "acme", "f": feature})
            message = await next_message(socket)
            received = datetime.now(UTC)
            # then: acme's change arrives, with acme's effective entitlements after it
            assert message["type"] == "next", message
            event = message["payload"]["data"]["entitlementsChanged"]
            written = datetime.fromisoformat(event["change"].pop("at"))
            assert event["change"] == {"kind": "ENTITLEMENT_GRANTED", "tenantKey": "acme"}
            assert {"feature": {"key": feature}} in event["effective"]["features"]
            assert event["revision"] == body["extensions"]["revision"]
            # `at` is stamped before the commit: this bounds commit-to-subscriber from above
            latencies.append((received - written).total_seconds())
        median = sorted(latencies)[1]
        assert median < 0.1, f"median {median * 1000:.0f} ms from the write to the subscriber ({latencies})"
    finally:
        await socket.close()


async def test_a_user_token_subscribes_to_its_own_subject_only_and_a_bad_token_gets_an_error(
    serve: ServeFactory, sqlite_url: str
) -> None:
    server = serve(settings(sqlite_url))
    for statement in SETUP:
        await gql(server.base_url, statement)
    token = jwt.encode({"sub": "alice", "tenantId": "acme", "exp": int(time.time()) + 600}, JWT_SECRET)
    other = await open_subscription(server.base_url, token, SUBSCRIBE, {"t": "globex"})
    bad = await open_subscription(server.base_url, "not-a-key", SUBSCRIBE, {"t": "acme"})
    try:
        assert refusal(await next_message(other)) == "FORBIDDEN"
        assert refusal(await next_message(bad)) == "UNAUTHENTICATED"
    finally:
        await other.close()
        await bad.close()
