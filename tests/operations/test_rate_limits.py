"""Rate limits (contract §12): ENTITLE_RATE_LIMIT requests/second per API key or user → HTTP 429, RATE_LIMITED,
Retry-After; a token bucket per caller, per process."""

from __future__ import annotations

import asyncio

import pytest

from entitle.auth import Principal
from entitle.domain.errors import RateLimited
from entitle.services.rate_limits import RateLimiter
from tests.conftest import Api, serving
from tests.graphql.test_user_tokens import user_token
from tests.operations.test_metrics import value

VIEWER = "{ viewer { kind } }"
KEY = Principal(kind="MANAGEMENT", name="ops")


async def test_a_caller_over_its_rate_gets_429_with_retry_after(database_url: str) -> None:
    async with serving(database_url, entitle_rate_limit=5) as api:
        # given: a burst of one second's worth
        before = (await api.client.get("/metrics")).text
        for _ in range(5):
            await api.data(VIEWER)
        # when
        refused = await api.post(VIEWER)
        other = await api.post(VIEWER, token=user_token("alice", "acme"))
        await asyncio.sleep(0.25)  # one token back
        again = await api.post(VIEWER)
        after = (await api.client.get("/metrics")).text
    # then
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "ENTITLE_RATE_LIMIT" in error["message"]
    assert other.status_code == 200  # each caller has its own bucket
    assert again.status_code == 200
    assert (
        value(after, "entitle_requests_total", operation="none", outcome="rate_limited")
        - value(before, "entitle_requests_total", operation="none", outcome="rate_limited")
        == 1
    )
    assert value(after, "entitle_rate_limited_total") - value(before, "entitle_rate_limited_total") == 1


async def test_there_is_no_limit_by_default(api: Api) -> None:
    answers = [await api.post(VIEWER) for _ in range(60)]
    assert {a.status_code for a in answers} == {200}


async def test_a_graphql_response_client_gets_429_without_data(database_url: str) -> None:
    async with serving(database_url, entitle_rate_limit=1) as api:
        headers = {"Authorization": "Bearer " + str(api.token), "Accept": "application/graphql-response+json"}
        await api.client.post("/graphql", json={"query": VIEWER}, headers=headers)
        refused = await api.client.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert refused.status_code == 429
    assert "data" not in refused.json()
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


@pytest.mark.parametrize(
    ("rate", "burst", "times", "allowed"),
    [
        (1.0, None, [0, 0, 0.5, 1.0], [True, False, False, True]),
        (10.0, None, [0] * 11, [True] * 10 + [False]),
        (10.0, 2, [0, 0, 0, 0.1, 0.1], [True, True, False, True, False]),
        (0.5, None, [0, 1, 2], [True, False, True]),
    ],
)
def test_the_token_bucket(rate: float, burst: int | None, times: list[float], allowed: list[bool]) -> None:
    clock = iter(times)
    limiter = RateLimiter(rate, burst, clock=lambda: next(clock))
    outcomes = []
    for _ in times:
        try:
            limiter.take(KEY)
            outcomes.append(True)
        except RateLimited:
            outcomes.append(False)
    assert outcomes == allowed


def test_retry_after_is_the_wait_for_the_next_token() -> None:
    clock = iter([0.0, 0.0])
    limiter = RateLimiter(0.25, clock=lambda: next(clock))
    limiter.take(KEY)
    with pytest.raises(RateLimited) as refused:
        limiter.take(KEY)
    assert refused.value.retry_after_s == 4
