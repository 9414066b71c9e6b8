"""Webhooks (contract §10) through the public API, with real HTTP receivers on 127.0.0.1, on both databases.

Changes are appended the way the write paths append them (``changes.append`` in a write
transaction); the delivery worker of the app under test fans them out and sends them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from entitle.clock import now
from entitle.db.repositories import changes
from entitle.domain.changes import ChangeKind, NewChange
from tests.conftest import Api, serving
from tests.e2e.conftest import free_port
from tests.graphql.test_auth import user_token
from tests.webhooks.receiver import Receiver, verify

FAST = {
    "entitle_webhooks": True,
    "entitle_webhook_allow_private": True,
    "entitle_webhook_poll_ms": 20,
    "entitle_webhook_retry_base_s": 0.2,
    "entitle_webhook_timeout_s": 1.0,
}
WAIT_S = 60.0

CREATE = """
mutation($input: WebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url events enabled description createdAt updatedAt } }
}
"""
UPDATE = """
mutation($id: ID!, $input: WebhookEndpointInput!) {
  updateWebhookEndpoint(id: $id, input: $input) { id url events enabled description }
}
"""
DELETE = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId } }"
ROTATE = "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id } } }"
DELIVERY_FIELDS = """
  id eventType status attempts lastStatusCode lastError nextAttemptAt createdAt deliveredAt
  endpoint { id } change { id revision kind tenantKey payload }
"""
DELIVERIES = f"""
query($id: ID!, $status: [DeliveryStatus!]) {{
  node(id: $id) {{ ... on WebhookEndpoint {{
    deliveries(status: $status) {{ totalCount edges {{ node {{ {DELIVERY_FIELDS} }} }} }}
  }} }}
}}
"""
DELIVERY = f"query($id: ID!) {{ node(id: $id) {{ ... on WebhookDelivery {{ {DELIVERY_FIELDS} }} }} }}"
REDELIVER = f"mutation($id: ID!) {{ redeliverWebhook(deliveryId: $id) {{ {DELIVERY_FIELDS} }} }}"
SEND_TEST = f"mutation($id: ID!) {{ sendTestWebhook(endpointId: $id) {{ {DELIVERY_FIELDS} }} }}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    served = Receiver().start()
    yield served
    served.stop()


@pytest.fixture
async def hooks(database_url: str) -> AsyncIterator[Api]:
    async with serving(database_url, **FAST) as served:
        yield served


def granted(tenant: str, kind: ChangeKind = ChangeKind.ENTITLEMENT_GRANTED) -> NewChange:
    return NewChange(kind, tenant_key=tenant, payload={"tenantKey": tenant, "planKey": "pro"})


async def append(api: Api, *items: NewChange) -> None:
    """What a write path does: the changes in the writer's transaction."""
    async with api.app.runtime.database.write() as session:
        await changes.append(session, list(items), now(), "admin")


async def create(api: Api, url: str, events: list[str] | None = None, **fields: Any) -> tuple[str, str]:
    data = await api.data(CREATE, {"input": {"url": url, "events": events or ["*"], **fields}})
    payload = data["createWebhookEndpoint"]
    return payload["endpoint"]["id"], payload["secret"]


async def until(check: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def deliveries(api: Api, endpoint_id: str, status: list[str] | None = None) -> list[dict[str, Any]]:
    data = await api.data(DELIVERIES, {"id": endpoint_id, "status": status})
    return [edge["node"] for edge in data["node"]["deliveries"]["edges"]]


async def settled(api: Api, endpoint_id: str, count: int) -> list[dict[str, Any]]:
    """The endpoint's deliveries (newest first) once ``count`` of them are no longer pending."""

    async def done() -> bool:
        data = await api.data(DELIVERIES, {"id": endpoint_id, "status": ["SUCCEEDED", "FAILED"]})
        return bool(data["node"]["deliveries"]["totalCount"] >= count)

    await until(done, f"{count} settled deliveries")
    return await deliveries(api, endpoint_id, ["SUCCEEDED", "FAILED"])


async def test_a_change_is_delivered_once_signed_per_standard_webhooks(
    hooks: Api, receiver: Receiver
) -> None:
    # given
    endpoint_id, secret = await create(hooks, receiver.url(), ["entitlement.granted"], description="billing")
    # when
    await append(hooks, granted("acme"), granted("acme", ChangeKind.TENANT_UPSERTED))
    [delivery] = await settled(hooks, endpoint_id, 1)
    # then
    assert secret.startswith("whsec_")
    assert len(secret) == len("whsec_") + 44
    [request] = receiver.requests
    assert verify(secret, request)
    assert not verify("whsec_" + "A" * 43 + "=", request)
    assert request.headers["content-type"] == "application/json"
    assert request.webhook_id.startswith("msg_")
    body = request.json
    assert body["type"] == "entitlement.granted"
    assert body["timestamp"].endswith("Z")
    assert body["data"]["kind"] == "ENTITLEMENT_GRANTED"
    assert body["data"]["actor"] == "admin"
    assert body["data"]["tenantKey"] == "acme"
    assert body["data"]["payload"] == {"tenantKey": "acme", "planKey": "pro"}
    assert delivery["status"] == "SUCCEEDED"
    assert delivery["attempts"] == 1
    assert delivery["lastStatusCode"] == 200
    assert delivery["lastError"] is None
    assert delivery["nextAttemptAt"] is None
    assert delivery["deliveredAt"] is not None
    assert delivery["eventType"] == "entitlement.granted"
    assert delivery["endpoint"]["id"] == endpoint_id
    assert delivery["change"]["kind"] == "ENTITLEMENT_GRANTED"
    assert delivery["change"]["revision"] == body["data"]["revision"]
    node = await hooks.data(DELIVERY, {"id": delivery["id"]})
    assert node["node"]["id"] == delivery["id"]
    listed = await hooks.data(
        "{ webhookEndpoints { totalCount edges { node { id url events description } } } }"
    )
    assert listed["webhookEndpoints"]["edges"] == [
        {
            "node": {
                "id": endpoint_id,
                "url": receiver.url(),
                "events": ["entitlement.granted"],
                "description": "billing",
            }
        }
    ]
    assert secret not in str(await hooks.data(DELIVERIES, {"id": endpoint_id}))


async def test_retries_after_500_and_timeout_keep_the_webhook_id(hooks: Api, receiver: Receiver) -> None:
    # given: a 500, then no answer within the 1 s timeout, then 200
    receiver.answers = [500, 2.0]
    endpoint_id, secret = await create(hooks, receiver.url())
    # when
    await append(hooks, granted("acme"))
    [delivery] = await settled(hooks, endpoint_id, 1)
    # then
    assert len(receiver.requests) == 3
    assert len({r.webhook_id for r in receiver.requests}) == 1
    assert all(verify(secret, r) for r in receiver.requests)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("SUCCEEDED", 3, 200)
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert all(gap < 10 for gap in gaps)


async def test_a_receiver_down_then_up_gets_the_delivery(hooks: Api) -> None:
    # given: nothing listens on the port yet (connection refused)
    port = free_port()
    receiver = Receiver(port)
    endpoint_id, _ = await create(hooks, receiver.url())
    await append(hooks, granted("acme"))

    async def refused_twice() -> bool:
        found = await deliveries(hooks, endpoint_id)
        return bool(found) and found[0]["attempts"] >= 2

    await until(refused_twice, "two refused attempts")
    [pending] = await deliveries(hooks, endpoint_id)
    assert pending["status"] == "PENDING"
    assert pending["nextAttemptAt"] is not None
    assert pending["lastStatusCode"] is None
    assert "connection failed" in pending["lastError"]
    # when
    receiver.start()
    try:
        [delivery] = await settled(hooks, endpoint_id, 1)
    finally:
        receiver.stop()
    # then
    assert delivery["status"] == "SUCCEEDED"
    assert delivery["attempts"] >= 3
    assert len(receiver.requests) == 1


async def test_an_endpoints_deliveries_go_in_revision_order_behind_a_retry(
    hooks: Api, receiver: Receiver
) -> None:
    # given: the first delivery fails twice
    receiver.answers = [503, 503]
    endpoint_id, _ = await create(hooks, receiver.url())
    # when
    await append(hooks, granted("t1"))
    await append(hooks, granted("t2"), granted("t3"))
    await settled(hooks, endpoint_id, 3)
    # then
    assert [r.json["data"]["tenantKey"] for r in receiver.requests] == ["t1", "t1", "t1", "t2", "t3"]


async def test_a_failing_endpoint_does_not_delay_another(hooks: Api, receiver: Receiver) -> None:
    # given: /slow answers after 0.9 s (under the timeout), /fast at once
    slow = Receiver(delay_s=0.9).start()
    try:
        await create(hooks, slow.url())
        fast_id, _ = await create(hooks, receiver.url())
        # when
        await append(hooks, *[granted(f"t{i}") for i in range(20)])
        started = time.monotonic()
        await settled(hooks, fast_id, 20)
        # then
        assert time.monotonic() - started < 5
        assert len(slow.requests) < 10
    finally:
        slow.stop()


async def test_disabled_and_deleted_endpoints_get_nothing(hooks: Api, receiver: Receiver) -> None:
    # given
    live_id, _ = await create(hooks, receiver.url("/live"))
    await create(hooks, receiver.url("/disabled"), enabled=False)
    deleted_id, _ = await create(hooks, receiver.url("/deleted"))
    paused_id, _ = await create(hooks, receiver.url("/paused"))
    await hooks.data(DELETE, {"id": deleted_id})
    updated = await hooks.data(
        UPDATE,
        {"id": paused_id, "input": {"url": receiver.url("/paused"), "events": ["*"], "enabled": False}},
    )
    assert updated["updateWebhookEndpoint"]["enabled"] is False
    # when
    await append(hooks, granted("acme"))
    await settled(hooks, live_id, 1)
    await asyncio.sleep(0.3)
    # then
    assert [r.path for r in receiver.requests] == ["/live"]
    assert await deliveries(hooks, paused_id) == []
    assert (await hooks.data(DELIVERIES, {"id": deleted_id}))["node"] is None


async def test_events_filter_what_an_endpoint_gets(hooks: Api, receiver: Receiver) -> None:
    # given
    endpoint_id, _ = await create(hooks, receiver.url(), ["tenant.upserted", "usage.period_reset"])
    # when
    await append(
        hooks,
        granted("a"),
        granted("b", ChangeKind.TENANT_UPSERTED),
        granted("c", ChangeKind.USAGE_PERIOD_RESET),
    )
    await settled(hooks, endpoint_id, 2)
    # then
    assert [r.json["type"] for r in receiver.requests] == ["tenant.upserted", "usage.period_reset"]


async def test_after_rotation_both_secrets_sign(hooks: Api, receiver: Receiver) -> None:
    # given
    endpoint_id, old = await create(hooks, receiver.url())
    rotated = (await hooks.data(ROTATE, {"id": endpoint_id}))["rotateWebhookSecret"]
    new = rotated["secret"]
    # when
    await append(hooks, granted("acme"))
    await settled(hooks, endpoint_id, 1)
    # then
    [request] = receiver.requests
    assert new != old
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify(new, request)
    assert verify(old, request)


async def test_test_webhook_and_redelivery_keep_their_webhook_id(hooks: Api, receiver: Receiver) -> None:
    # given
    endpoint_id, secret = await create(hooks, receiver.url())
    sent = (await hooks.data(SEND_TEST, {"id": endpoint_id}))["sendTestWebhook"]
    assert (sent["eventType"], sent["status"], sent["change"]) == ("webhook.test", "PENDING", None)
    [delivery] = await settled(hooks, endpoint_id, 1)
    # when
    again = (await hooks.data(REDELIVER, {"id": delivery["id"]}))["redeliverWebhook"]
    assert again["status"] == "PENDING"

    async def twice() -> bool:
        node = (await hooks.data(DELIVERY, {"id": delivery["id"]}))["node"]
        return node["status"] == "SUCCEEDED" and node["attempts"] == 2

    await until(twice, "the redelivery")
    # then
    first, second = receiver.requests
    assert first.webhook_id == second.webhook_id
    assert first.body == second.body
    assert first.json["type"] == "webhook.test"
    assert first.json["data"] == {"endpointId": endpoint_id}
    assert verify(secret, second)


async def test_a_delivery_that_keeps_failing_ends_failed(database_url: str, receiver: Receiver) -> None:
    receiver.default = 500
    async with serving(database_url, **{**FAST, "entitle_webhook_retry_window_s": 1.0}) as api:
        endpoint_id, _ = await create(api, receiver.url())
        await append(api, granted("acme"))
        [delivery] = await settled(api, endpoint_id, 1)
        assert delivery["status"] == "FAILED"
        assert delivery["nextAttemptAt"] is None
        assert delivery["lastStatusCode"] == 500
        assert delivery["lastError"] == "HTTP 500"
        assert delivery["attempts"] >= 2
        assert delivery["deliveredAt"] is None
        assert await deliveries(api, endpoint_id, ["SUCCEEDED"]) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_private_destinations_are_refused(database_url: str, url: str) -> None:
    async with serving(database_url, entitle_webhook_allow_private=False) as api:
        error = await api.error(CREATE, {"input": {"url": url, "events": ["*"]}})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "input.url")
        assert "ENTITLE_WEBHOOK_ALLOW_PRIVATE" in error["message"]


async def test_bad_input_is_refused_naming_the_field(api: Api) -> None:
    cases = [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "input.url"),
        ({"url": "not a url", "events": ["*"]}, "input.url"),
        ({"url": "http://user:pw@example.com/", "events": ["*"]}, "input.url"),
        ({"url": "https://example.com/", "events": ["entitlement.nope"]}, "input.events"),
        ({"url": "https://example.com/", "events": []}, "input.events"),
    ]
    for value, field in cases:
        error = await api.error(CREATE, {"input": value})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field), value
    missing = await api.error(ROTATE, {"id": "V2ViaG9va0VuZHBvaW50Ojk5"})
    assert missing["extensions"]["code"] == "NOT_FOUND"


async def test_webhooks_are_management_only(api: Api) -> None:
    token = user_token("ann", "acme")
    error = await api.error("{ webhookEndpoints { totalCount } }", token=token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    error = await api.error(CREATE, {"input": {"url": "https://example.com/", "events": ["*"]}}, token=token)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_the_destination_is_checked_again_at_send_time(database_url: str, receiver: Receiver) -> None:
    # given: the endpoint was accepted while private addresses were allowed
    async with serving(database_url, **FAST) as api:
        endpoint_id, _ = await create(api, receiver.url())
    # when: a worker that refuses them sends
    async with serving(database_url, **{**FAST, "entitle_webhook_allow_private": False}) as strict:
        await append(strict, granted("acme"))

        async def attempted() -> bool:
            found = await deliveries(strict, endpoint_id)
            return bool(found) and found[0]["attempts"] >= 1

        await until(attempted, "a refused attempt")
        [delivery] = await deliveries(strict, endpoint_id)
    # then
    assert receiver.requests == []
    assert delivery["status"] == "PENDING"
    assert "127.0.0.1 is a loopback address" in delivery["lastError"]


async def test_two_workers_send_each_delivery_once(database_url: str, receiver: Receiver) -> None:
    async with serving(database_url, **FAST) as one, serving(database_url, **FAST) as two:
        ids = [(await create(one, receiver.url(f"/e{i}")))[0] for i in range(3)]
        for start in range(0, 120, 30):
            await append(two, *[granted(f"t{i}") for i in range(start, start + 30)])
        for endpoint_id in ids:
            await settled(one, endpoint_id, 120)
    webhook_ids = [r.webhook_id for r in receiver.requests]
    assert len(webhook_ids) == 360
    assert len(set(webhook_ids)) == 360
    for i in range(3):
        assert [r.json["data"]["tenantKey"] for r in receiver.on(f"/e{i}")] == [f"t{n}" for n in range(120)]
