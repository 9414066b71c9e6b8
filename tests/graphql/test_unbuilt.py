"""Contract parts that are in the schema but not built yet answer NOT_IMPLEMENTED, never a made-up answer.

Fields of sections 9-11 that describe today's behaviour exactly (no warning thresholds) answer it; the rest refuse with a message naming the contract section.
"""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.factories import make_feature, make_plan, make_tenant
from tests.graphql.test_user_tokens import user_token

UNBUILT_OPERATIONS = [
    ('{ usage(tenantKey: "acme", featureKey: "calls") { used } }', "usage"),
    ("{ usageRecords { totalCount } }", "usageRecords"),
    (
        'mutation { reserveUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 1, idempotencyKey: "k"})'
        " { status } }",
        "reserveUsage",
    ),
    (
        'mutation { createFeature(input: {key: "api", name: "API", type: LIMIT, warningThresholds: [80]}) { key } }',
        "warningThresholds",
    ),
]


@pytest.mark.parametrize(("document", "named"), UNBUILT_OPERATIONS)
async def test_an_unbuilt_part_of_the_contract_answers_not_implemented(
    api: Api, document: str, named: str
) -> None:
    # given
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH")
    await make_plan(api, "pro", {"calls": 10})
    await make_tenant(api, "acme")
    # when
    error = await api.error(document)
    # then
    assert error["extensions"]["code"] == "NOT_IMPLEMENTED"
    assert named in error["message"]
    assert "not provide yet" in error["message"]


async def test_writes_that_name_todays_behaviour_explicitly_still_work(api: Api) -> None:
    # given / when
    feature = await api.data(
        'mutation { createFeature(input: {key: "api", name: "API", type: BOOLEAN, warningThresholds: []}) '
        "{ key warningThresholds } }"
    )
    # then
    assert feature["createFeature"] == {"key": "api", "warningThresholds": []}
    # nothing was half-written by the refused variant
    await api.error(
        'mutation { createFeature(input: {key: "solo", name: "Solo", type: LIMIT, warningThresholds: [80]}) '
        "{ key } }"
    )
    assert await api.data('{ feature(key: "solo") { key } }') == {"feature": None}


async def test_unbuilt_management_fields_still_refuse_user_tokens_first(api: Api) -> None:
    error = await api.error("{ webhookEndpoints { totalCount } }", token=user_token("alice", "acme"))
    assert error["extensions"]["code"] == "FORBIDDEN"
