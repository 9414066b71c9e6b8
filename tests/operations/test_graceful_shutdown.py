"""Graceful shutdown (contract §12): on SIGTERM a real `entitle serve` finishes the requests in flight, stops its
background tasks (change feed, webhooks, scheduler, decision log) and writes the decisions still queued."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory, admin_headers

ASK = '{ isEntitledTo(tenantKey: "acme", featureKey: "reports") { isEntitled } }'
UPSERT = (
    "mutation($input: [TenantInput!]!) { upsertTenants(input: $input) { tenants { key } errors { index } } }"
)
SLOW_BATCH = 4_000


def decision_log_rows(url: str) -> int:
    async def count() -> int:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return int(await connection.scalar(sa.text("SELECT count(*) FROM decision_log")) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigterm_lets_the_request_in_flight_finish_and_flushes_the_decision_log(
    serve: ServeFactory, backend: str, request: pytest.FixtureRequest
) -> None:
    # given: a server that writes decisions only when it stops (flush every 10 minutes)
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    server = serve(
        {
            "DATABASE_URL": url,
            "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "ENTITLE_DECISION_LOG": "all",
            "ENTITLE_DECISION_LOG_FLUSH_MS": "600000",
        }
    )
    with httpx.Client(base_url=server.base_url, headers=admin_headers(), timeout=30) as client:
        for _ in range(5):
            assert client.post("/graphql", json={"query": ASK}).status_code == 200
    assert decision_log_rows(url) == 0
    answers: list[httpx.Response] = []
    started = threading.Event()

    def slow_request() -> None:
        items = [{"key": f"t{i}", "name": f"Tenant {i}"} for i in range(SLOW_BATCH)]
        with httpx.Client(base_url=server.base_url, headers=admin_headers(), timeout=30) as client:
            started.set()
            answers.append(client.post("/graphql", json={"query": UPSERT, "variables": {"input": items}}))

    # when: SIGTERM while the batch is being written
    sender = threading.Thread(target=slow_request)
    sender.start()
    started.wait(5)
    time.sleep(0.3)
    in_flight = sender.is_alive() and not answers
    sent_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    sender.join(30)
    server.process.wait(30)
    # then: the batch was answered in full, the process ended cleanly and the queued decisions were written
    assert in_flight, "the batch finished before SIGTERM: make it larger"
    assert answers, "the request in flight got no answer"
    body = answers[0].json()
    assert answers[0].status_code == 200, body
    assert len(body["data"]["upsertTenants"]["tenants"]) == SLOW_BATCH
    # uvicorn re-raises the signal once it has shut down (so the exit status says SIGTERM, as it should)
    assert server.process.returncode in (0, -signal.SIGTERM)
    stderr = server.stderr()
    assert "Application shutdown complete" in stderr
    assert "Traceback" not in stderr
    assert "Task was destroyed" not in stderr
    assert decision_log_rows(url) == 5
    assert time.monotonic() - sent_at < 15
