"""reportUsage uses the limits as of the request, even when another process just lowered them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Api, serving
from tests.factories import grant, make_feature, make_plan, make_tenant

REPORT = """
mutation($key: String!) {
  reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 5, idempotencyKey: $key}) {
    isEntitled justification limit used
  }
}
"""
LOWER_LIMIT = (
    'mutation { updatePlan(key: "metered", input: {features: [{featureKey: "calls", value: 6}]}) { key } }'
)


@pytest.fixture
async def slow_polling_api(database_url: str) -> AsyncIterator[Api]:
    """A second process that would not notice other processes' changes for ten minutes by polling."""
    async with serving(database_url, entitle_cache_poll_ms=600_000) as served:
        yield served


async def test_a_limit_lowered_by_another_process_applies_to_the_next_consumption(
    api: Api, slow_polling_api: Api
) -> None:
    # given: a metered limit of 100, known (cached) by the slow-polling process
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH")
    await make_plan(api, "metered", {"calls": 100})
    await make_tenant(api, "acme")
    await grant(api, plan_key="metered", tenant_key="acme")
    first = await slow_polling_api.data(REPORT, {"key": "k1"})
    # when: the other process lowers the limit to 6
    await api.data(LOWER_LIMIT)
    second = await slow_polling_api.data(REPORT, {"key": "k2"})
    # then
    assert first["reportUsage"] == {"isEntitled": True, "justification": None, "limit": 100, "used": 5}
    assert second["reportUsage"] == {
        "isEntitled": False,
        "justification": "LIMIT_EXCEEDED",
        "limit": 6,
        "used": 5,
    }
