"""Every method of the sync and async clients against a real ``entitle serve``."""

from __future__ import annotations

import httpx
import pytest

from entitle_client import (
    AsyncEntitleClient,
    BadUserInput,
    Conflict,
    EntitleClient,
    EntitleUnavailable,
    Unauthenticated,
)
from tests.conftest import ADMIN_KEY, Server


def test_is_entitled_answers_a_grant_and_an_actionable_denial(server: Server, tenant: str) -> None:
    server.grant(tenant, feature="reports")
    with EntitleClient(server.base_url, ADMIN_KEY) as client:
        allowed = client.is_entitled("reports", tenant_key=tenant)
        denied = client.is_entitled("sso", tenant_key=tenant)
    assert allowed.is_entitled
    assert allowed.value is True
    assert not allowed.is_fallback
    assert not denied.is_entitled
    assert denied.justification == "MISSING_FEATURE"
    assert denied.message  # a sentence for the end user
    assert denied.upgrade_options == ("pro",)


def test_effective_entitlements_and_route_checks(server: Server, tenant: str) -> None:
    server.grant(tenant, plan="pro")
    with EntitleClient(server.base_url, ADMIN_KEY) as client:
        effective = client.effective_entitlements(tenant_key=tenant)
        route = client.is_entitled(tenant_key=tenant, route=("GET", "/reports/2024"))
    assert set(effective.features) == {"sso", "reports", "api-calls"}
    assert effective.features["api-calls"].limit == 1000
    assert route.is_entitled


def test_report_usage_consumes_and_refuses_over_the_limit(server: Server, tenant: str) -> None:
    server.grant(tenant, feature="api-calls", value=5)
    with EntitleClient(server.base_url, ADMIN_KEY) as client:
        first = client.report_usage("api-calls", 3, tenant_key=tenant)
        again = client.report_usage("api-calls", 3, tenant_key=tenant)
        check = client.is_entitled("api-calls", tenant_key=tenant, usage=2, min_revision=client.last_revision)
    assert (first.is_entitled, first.used, first.remaining) == (True, 3, 2)
    assert not again.is_entitled
    assert again.justification == "LIMIT_EXCEEDED"
    assert check.is_entitled
    assert check.remaining == 2


def test_report_usage_reuses_its_idempotency_key_across_network_retries(server: Server, tenant: str) -> None:
    # given: a transport that drops the first response after the server applied the request
    server.grant(tenant, feature="api-calls", value=10)
    keys: list[str] = []
    real = httpx.HTTPTransport()

    class LosesFirstAnswer(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            keys.append(request.content.decode())
            response = real.handle_request(request)
            if len(keys) == 1:
                response.read()
                raise httpx.ReadError("connection reset", request=request)
            return response

    client = EntitleClient(server.base_url, ADMIN_KEY)
    client._http = httpx.Client(transport=LosesFirstAnswer(), headers=client.headers)
    # when: one report, retried after the network error
    decision = client.report_usage("api-calls", 4, tenant_key=tenant)
    client.close()
    # then: the retry sent the same idempotency key, and the units were counted once
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert "idempotencyKey" in keys[0]
    assert decision.used == 4


def test_network_errors_are_retried_then_raise_unavailable(down_url: str) -> None:
    with EntitleClient(down_url, ADMIN_KEY, retries=2) as client, pytest.raises(EntitleUnavailable):
        client.report_usage("api-calls", 1, tenant_key="acme")


def test_errors_surface_as_typed_exceptions_with_their_code(server: Server, tenant: str) -> None:
    with EntitleClient(server.base_url, "not-a-key") as client, pytest.raises(Unauthenticated) as denied:
        client.effective_entitlements(tenant_key=tenant)
    assert denied.value.code == "UNAUTHENTICATED"
    with EntitleClient(server.base_url, ADMIN_KEY) as client, pytest.raises(BadUserInput) as bad:
        client.report_usage("api-calls", -1, tenant_key=tenant)
    assert bad.value.code == "BAD_USER_INPUT"


def test_reservations_hold_then_commit_or_release(server: Server, tenant: str) -> None:
    server.grant(tenant, feature="api-calls", value=5)
    with EntitleClient(server.base_url, ADMIN_KEY) as client:
        held = client.reserve_usage("api-calls", 2, tenant_key=tenant)
        other = client.reserve_usage("api-calls", 3, tenant_key=tenant)
        refused = client.reserve_usage("api-calls", 1, tenant_key=tenant)
        committed = client.commit_usage(held.id, 1)
        released = client.release_usage(other.id)
        with pytest.raises(Conflict) as settled:
            client.release_usage(held.id)
        decision = client.is_entitled("api-calls", tenant_key=tenant)
    assert (held.status, held.amount, held.decision.remaining) == ("HELD", 2, 3)
    assert (refused.status, refused.decision.justification) == ("REFUSED", "LIMIT_EXCEEDED")
    assert (committed.status, committed.committed) == ("COMMITTED", 1)
    assert released.status == "RELEASED"
    assert settled.value.code == "CONFLICT"
    assert (decision.used, decision.remaining) == (1, 4)


async def test_the_async_client_has_the_same_methods(server: Server, tenant: str) -> None:
    server.grant(tenant, feature="api-calls", value=5)
    async with AsyncEntitleClient(server.base_url, ADMIN_KEY) as client:
        used = await client.report_usage("api-calls", 2, tenant_key=tenant, idempotency_key="k-1")
        repeated = await client.report_usage("api-calls", 2, tenant_key=tenant, idempotency_key="k-1")
        decision = await client.is_entitled("api-calls", tenant_key=tenant)
        effective = await client.effective_entitlements(tenant_key=tenant, min_revision=client.last_revision)
        held = await client.reserve_usage("api-calls", 2, tenant_key=tenant)
        committed = await client.commit_usage(held.id, 1)
        other = await client.reserve_usage("api-calls", 1, tenant_key=tenant)
        released = await client.release_usage(other.id)
    assert (committed.status, committed.committed, released.status) == ("COMMITTED", 1, "RELEASED")
    assert used.used == repeated.used == 2  # the repeated key is counted once
    assert decision.is_entitled
    assert decision.remaining == 3
    assert effective.features["api-calls"].used == 2


def test_fallback_when_the_service_is_down(down_url: str) -> None:
    with EntitleClient(down_url, ADMIN_KEY, retries=1, fallback={"sso": True}) as client:
        allowed = client.is_entitled("sso", tenant_key="acme")
        closed = client.is_entitled("reports", tenant_key="acme")
    assert allowed.is_entitled
    assert allowed.is_fallback
    assert not closed.is_entitled
    assert closed.is_fallback
