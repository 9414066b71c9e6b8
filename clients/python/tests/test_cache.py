"""``cache=True``: effective entitlements kept in memory and made fresh by the ``entitlementsChanged``
subscription, honouring the client's own writes, and reconnecting after the service restarts."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from pathlib import Path

from entitle_client import EffectiveEntitlements, EntitleClient, Subject
from tests.conftest import ADMIN_KEY, Server, free_port, start_server


def wait_for_feature(client: EntitleClient, subject: Subject, feature: str) -> threading.Event:
    """An event set by the cache when ``feature`` appears in ``subject``'s entry."""
    arrived = threading.Event()

    def listener(who: Subject, effective: EffectiveEntitlements) -> None:
        if who == subject and feature in effective.features:
            arrived.set()

    assert client.cache is not None
    client.cache.add_listener(listener)
    return arrived


def test_a_grant_made_through_the_api_reaches_the_cache(server: Server, tenant: str) -> None:
    with EntitleClient(server.base_url, ADMIN_KEY, cache=True) as client:
        assert client.cache is not None
        assert client.cache.connected.wait(5)
        subject = Subject(tenant_key=tenant)
        # given: the subject was asked once (a refusal: it has nothing), so the cache holds it
        assert not client.is_entitled("sso", tenant_key=tenant).is_entitled
        arrived = wait_for_feature(client, subject, "sso")
        time.sleep(0.2)  # the server registers a subscription once its first await runs
        # when: a grant is made by someone else through the API
        started = time.perf_counter()
        server.grant(tenant, feature="sso")
        # then: the change reaches the cache, and the next check is answered from memory
        assert arrived.wait(1.0), "the grant did not reach the cache within 1 s"
        latency_ms = (time.perf_counter() - started) * 1000
        decision = client.is_entitled("sso", tenant_key=tenant)
        assert decision.is_entitled
        assert decision.from_cache
        print(f"grant to cache: {latency_ms:.1f} ms (including the grant's own round trip)")


def test_a_change_reaches_the_cache_within_100_ms(server: Server, tenant: str) -> None:
    """Freshness (contract §13): from the write's HTTP response to the cache's update (its listener, run on the
    cache thread as the event is stored). Asserted: the median of 5 writes is under 100 ms and each is under 1 s,
    so one slow write on a loaded 2-core machine does not fail it."""
    with EntitleClient(server.base_url, ADMIN_KEY, cache=True) as client:
        assert client.cache is not None
        assert client.cache.connected.wait(5)
        subject = Subject(tenant_key=tenant)
        assert not client.is_entitled("api-calls", tenant_key=tenant).is_entitled  # now cached and watched
        arrivals: dict[int, float] = {}
        arrived = threading.Condition()

        def listener(who: Subject, effective: EffectiveEntitlements) -> None:
            calls = effective.features.get("api-calls")
            if who == subject and calls is not None and calls.limit is not None:
                with arrived:
                    arrivals.setdefault(calls.limit, time.perf_counter())
                    arrived.notify_all()

        client.cache.add_listener(listener)
        time.sleep(0.2)  # the server registers a subscription once its first await runs
        latencies_ms = []
        for limit in (10, 20, 30, 40, 50):  # the most generous LIMIT wins: each grant raises it
            server.grant(tenant, feature="api-calls", value=limit)
            answered = time.perf_counter()
            with arrived:
                assert arrived.wait_for(lambda limit=limit: limit in arrivals, timeout=1.0), (
                    f"the grant of {limit} did not reach the cache within 1 s"
                )
            latencies_ms.append(max(0.0, arrivals[limit] - answered) * 1000)
        print("write response to cache update (ms):", ", ".join(f"{ms:.1f}" for ms in latencies_ms))
        assert statistics.median(latencies_ms) < 100, latencies_ms
        assert client.is_entitled("api-calls", tenant_key=tenant).limit == 50


def test_the_clients_own_writes_are_read_back(server: Server, tenant: str) -> None:
    server.grant(tenant, feature="api-calls", value=10)
    with EntitleClient(server.base_url, ADMIN_KEY, cache=True) as client:
        assert client.cache is not None
        assert client.cache.connected.wait(5)
        assert client.effective_entitlements(tenant_key=tenant).features["api-calls"].used == 0
        assert client.effective_entitlements(tenant_key=tenant).from_cache
        client.report_usage("api-calls", 3, tenant_key=tenant)
        after = client.effective_entitlements(tenant_key=tenant)
        assert after.features["api-calls"].used == 3
        assert not after.from_cache  # asked the server (with minRevision when the write had a revision)
        assert client.effective_entitlements(tenant_key=tenant).from_cache


def test_the_cache_reconnects_after_the_service_restarts(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "restart.db"
    server = start_server(tmp_path, database, port)
    try:
        server.gql('mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }')
        server.gql('mutation { upsertTenants(input: [{key: "acme"}]) { errors { index } } }')
        client = EntitleClient(server.base_url, ADMIN_KEY, cache=True, retries=0, fallback={"sso": True})
        assert client.cache is not None
        assert client.cache.connected.wait(5)
        assert not client.is_entitled("sso", tenant_key="acme").is_entitled
        # when: the service goes away, reads fall back; when it is back, the cache reconnects
        server.stop()
        assert client.is_entitled("sso", tenant_key="acme").is_fallback
        server = start_server(tmp_path, database, port)
        assert client.cache.connected.wait(15)
        assert not client.is_entitled("sso", tenant_key="acme").is_entitled
        arrived = wait_for_feature(client, Subject("acme"), "sso")
        time.sleep(0.2)
        server.grant("acme", feature="sso")
        assert arrived.wait(1.0)
        assert client.is_entitled("sso", tenant_key="acme").from_cache
        client.close()
    finally:
        server.stop()


def test_the_cache_is_bounded(server: Server, tenant: str) -> None:
    server.grant(tenant, feature="sso")
    with EntitleClient(server.base_url, ADMIN_KEY, cache=True, cache_size=2) as client:
        assert client.cache is not None
        assert client.cache.connected.wait(5)
        for key in (tenant, "other-1", "other-2"):
            client.effective_entitlements(tenant_key=key)
        assert len(client.cache) == 2
        # the least recently used subject was evicted: asking it again goes to the server
        assert not client.effective_entitlements(tenant_key=tenant).from_cache
        assert client.effective_entitlements(tenant_key=tenant).from_cache


def test_an_update_from_the_stream_does_not_save_a_subject_from_eviction(server: Server, tenant: str) -> None:
    """The LRU is ordered by reads: a change event refreshes an entry where it stands (before, an event arriving
    late made the subject the most recently used one, and another subject was evicted in its place)."""
    other = f"t-{uuid.uuid4().hex[:12]}"
    with EntitleClient(server.base_url, ADMIN_KEY, cache=True, cache_size=2) as client:
        assert client.cache is not None
        assert client.cache.connected.wait(5)
        # given: the tenant was read first, then another subject
        client.effective_entitlements(tenant_key=tenant)
        client.effective_entitlements(tenant_key=other)
        arrived = wait_for_feature(client, Subject(tenant), "sso")
        time.sleep(0.2)  # the server registers a subscription once its first await runs
        # when: a change for the tenant arrives, then a third subject is read
        server.grant(tenant, feature="sso")
        assert arrived.wait(1.0)
        client.effective_entitlements(tenant_key="third")
        # then: the least recently read subject (the tenant) went, the other stayed
        assert client.effective_entitlements(tenant_key=other).from_cache
        assert not client.effective_entitlements(tenant_key=tenant).from_cache


def test_the_cache_keeps_more_subjects_than_one_socket_holds(server: Server) -> None:
    """The server refuses more than 100 subscriptions on one WebSocket: the cache opens another socket, and
    every cached subject stays fresh (before, subjects past the 100th were kept with no live subscription)."""
    tenants = [f"many-{uuid.uuid4().hex[:8]}-{i}" for i in range(120)]
    server.gql(
        "mutation($t: [TenantInput!]!) { upsertTenants(input: $t) { errors { index } } }",
        {"t": [{"key": key} for key in tenants]},
    )
    grants = [{"tenantKey": key, "featureKey": "sso", "startDate": "2020-01-01T00:00:00Z"} for key in tenants]
    body = server.gql(
        "mutation($i: [CreateEntitlementInput!]!) { batchCreateEntitlements(input: $i) {"
        " entitlements { id } errors { index } } }",
        {"i": grants},
    )
    ids = [e["id"] for e in body["data"]["batchCreateEntitlements"]["entitlements"]]
    with EntitleClient(server.base_url, ADMIN_KEY, cache=True, cache_size=200) as client:
        assert client.cache is not None
        assert client.cache.connected.wait(5)
        assert all(client.is_entitled("sso", tenant_key=key).is_entitled for key in tenants)
        # A subject asked while its socket was still connecting is not kept: asked again, it is.
        deadline = time.monotonic() + 10
        while len(client.cache) < len(tenants) and time.monotonic() < deadline:
            time.sleep(0.05)
            for key in tenants:
                client.is_entitled("sso", tenant_key=key)
        assert len(client.cache) == len(tenants)
        assert client.cache.sockets == 2  # 100 + 20 subscriptions (the second opened as the first filled)
        last = Subject(tenant_key=tenants[-1])
        revoked = threading.Event()
        client.cache.add_listener(lambda who, e: who == last and "sso" not in e.features and revoked.set())
        time.sleep(0.2)  # the server registers a subscription once its first await runs
        # when: the 120th subject's grant is revoked, the change reaches its entry over the second socket
        server.gql(
            "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount } }", {"ids": ids[-1:]}
        )
        assert revoked.wait(1.0), "the revocation did not reach the 120th subject's entry within 1 s"
        assert not client.is_entitled("sso", tenant_key=tenants[-1]).is_entitled
        assert client.is_entitled("sso", tenant_key=tenants[0]).from_cache
