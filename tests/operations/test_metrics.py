"""GET /metrics (contract §12): Prometheus text, request/decision/cache counters, aggregated across workers."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import entitle.services.background.feed as feed_module
from entitle import metrics
from entitle.clock import now
from entitle.db.repositories import changes
from entitle.domain.changes import ChangeKind, NewChange
from tests.conftest import ADMIN_KEY, Api, serving
from tests.e2e.conftest import ServeFactory, admin_headers
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import FAST, append, create, settled, until

DECISION = '{ isEntitledTo(tenantKey: "ghost", featureKey: "nothing") { isEntitled justification } }'


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_requests_decisions_and_cache_lookups_are_counted(api: Api) -> None:
    # given
    api.differential = False  # one request each, as counted
    before = (await api.client.get("/metrics")).text
    # when
    body = await api.data(DECISION)
    failed = await api.gql("{ viewer { nope } }")
    response = await api.client.get("/metrics")
    # then
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    justification = body["isEntitledTo"]["justification"]

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("entitle_requests_total", operation="isEntitledTo", outcome="ok") == 1
    assert delta("entitle_requests_total", operation="viewer", outcome="error") == 1
    assert delta("entitle_request_duration_seconds_count", operation="isEntitledTo") == 1
    assert delta("entitle_decisions_total", justification=justification) == 1
    assert (
        delta("entitle_cache_requests_total", cache="catalog", result="hit")
        + delta("entitle_cache_requests_total", cache="catalog", result="miss")
        >= 1
    )
    assert failed["errors"]


async def test_client_chosen_names_never_become_label_values(api: Api) -> None:
    # when
    await api.gql("query Anything { a1: viewer { kind } }")
    await api.gql("{ madeUpField123 }")
    text = (await api.client.get("/metrics")).text
    # then
    assert "madeUpField123" not in text
    assert "Anything" not in text
    assert "a1" not in re.findall(r'operation="([^"]*)"', text)
    assert value(text, "entitle_requests_total", operation="unknown", outcome="error") >= 1


async def test_metrics_can_be_turned_off(database_url: str) -> None:
    # given
    async with serving(database_url, entitle_metrics=False) as api:
        # when
        response = await api.client.get("/metrics")
    # then
    assert response.status_code == 404


@pytest.mark.e2e
def test_metrics_add_up_over_the_workers_of_a_real_serve(serve: ServeFactory, sqlite_url: str) -> None:
    # given
    server = serve({"DATABASE_URL": sqlite_url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY}, workers=2)
    workers: set[str] = set()
    sent = 0
    # when: fresh connections until both workers have answered (bounded), then a fixed number more
    for _ in range(200):
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            response = client.post("/graphql", json={"query": DECISION}, headers=admin_headers())
        assert response.status_code == 200
        workers.add(response.headers["x-entitle-worker"])
        sent += 1
        if len(workers) == 2 and sent >= 20:
            break
    texts = [httpx.get(f"{server.base_url}/metrics", timeout=10).text for _ in range(6)]
    # then
    assert len(workers) == 2
    for text in texts:  # whichever worker answers, the totals are the sum over both
        assert value(text, "entitle_requests_total", operation="isEntitledTo", outcome="ok") == sent
        assert sum(v for (n, _), v in samples(text).items() if n == "entitle_decisions_total") == sent


async def test_the_change_feed_lag_is_the_age_of_the_last_applied_change_and_zero_when_caught_up(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a change committed 7 s before this process reads it (whichever read applies it: this
    # test's or the tail's own, woken by PostgreSQL's NOTIFY)
    seen: list[float] = []
    monkeypatch.setattr(metrics.CHANGE_FEED_LAG, "set", seen.append)
    feed = api.app.runtime.feed
    later = now() + timedelta(seconds=7)
    monkeypatch.setattr(feed_module, "now", lambda: later)
    async with api.app.runtime.database.write() as session:
        await changes.append(session, [NewChange(ChangeKind.TENANT_UPSERTED, tenant_key="a")], now(), "t")
    # when
    await feed.catch_up()
    await feed.catch_up()
    # then
    assert any(6.5 < lag < 8 for lag in seen), seen
    assert seen[-1] == 0.0


async def test_webhook_attempts_are_counted_by_what_became_of_the_delivery(database_url: str) -> None:
    receiver = Receiver().start()
    try:
        async with serving(database_url, **FAST) as hooks:
            # given: a 500, then a 200
            receiver.answers = [500]
            before = (await hooks.client.get("/metrics")).text
            endpoint_id, _ = await create(hooks, receiver.url())
            # when
            await append(hooks, NewChange(ChangeKind.TENANT_UPSERTED, tenant_key="acme", payload={}))
            await settled(hooks, endpoint_id, 1)

            async def counted() -> bool:
                text = (await hooks.client.get("/metrics")).text
                return value(text, "entitle_webhook_deliveries_total", status="SUCCEEDED") > value(
                    before, "entitle_webhook_deliveries_total", status="SUCCEEDED"
                )

            await until(counted, "the success counted")
            after = (await hooks.client.get("/metrics")).text
    finally:
        receiver.stop()

    # then
    def delta(status: str) -> float:
        return value(after, "entitle_webhook_deliveries_total", status=status) - value(
            before, "entitle_webhook_deliveries_total", status=status
        )

    assert (delta("PENDING"), delta("SUCCEEDED"), delta("FAILED")) == (1, 1, 0)
