"""Contract parts that are in the schema but not built yet answer NOT_IMPLEMENTED, never a made-up answer.

Fields of sections 9-11 that describe today's behaviour exactly (a plan at version 1, no auto-assignment)
answer it; the rest refuse with a message naming the contract section.
"""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.factories import make_feature, make_plan, make_tenant
from tests.graphql.test_user_tokens import user_token

UNBUILT_OPERATIONS = [
    ('mutation { publishPlanVersion(key: "pro", features: []) { version } }', "publishPlanVersion"),
    (
        'mutation { migratePlanEntitlements(key: "pro", fromVersion: 1, toVersion: 2) { migratedCount } }',
        "migratePlanEntitlements",
    ),
    ('{ plan(key: "pro") { versions { version } } }', "Plan.versions"),
    (
        'mutation { createPlan(input: {key: "team", name: "Team", autoAssign: true}) { key } }',
        "autoAssign",
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
    data = await api.data(
        'mutation { createPlan(input: {key: "team", name: "Team", autoAssign: false, rank: null}) '
        "{ key version autoAssign rank } }"
    )
    # then
    assert data["createPlan"] == {"key": "team", "version": 1, "autoAssign": False, "rank": None}
    feature = await api.data(
        'mutation { createFeature(input: {key: "api", name: "API", type: BOOLEAN, warningThresholds: []}) '
        "{ key warningThresholds } }"
    )
    assert feature["createFeature"] == {"key": "api", "warningThresholds": []}
    # nothing was half-written by the refused variant
    await api.error('mutation { createPlan(input: {key: "solo", name: "Solo", rank: 3}) { key } }')
    assert await api.data('{ plan(key: "solo") { key } }') == {"plan": None}


async def test_unbuilt_management_fields_still_refuse_user_tokens_first(api: Api) -> None:
    error = await api.error("{ webhookEndpoints { totalCount } }", token=user_token("alice", "acme"))
    assert error["extensions"]["code"] == "FORBIDDEN"
