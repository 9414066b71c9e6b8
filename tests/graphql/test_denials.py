"""Actionable denials through the API: `message` and `upgradeOptions` of a decision (contract §11)."""

from __future__ import annotations

from tests.conftest import Api
from tests.factories import grant, make_feature, make_plan, make_tenant

START = "2030-01-01T00:00:00Z"
AT = "2030-01-15T00:00:00Z"

DECISION = """
query($feature: String!, $usage: Int) {
  isEntitledTo(tenantKey: "acme", featureKey: $feature, usage: $usage, at: "2030-01-15T00:00:00Z") {
    isEntitled justification message upgradeOptions { key name }
  }
}
"""
REPORT = """
mutation($amount: Int!, $key: String!) {
  reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: $amount, idempotencyKey: $key,
                      at: "2030-01-15T00:00:00Z"}) {
    isEntitled justification used message upgradeOptions { key }
  }
}
"""


async def given_a_free_tenant(api: Api) -> None:
    await make_feature(api, "calls", "LIMIT", name="API calls", resetPeriod="MONTH")
    await make_feature(api, "sso", name="Single sign-on")
    await make_plan(api, "free", {"calls": 10})
    await make_plan(api, "team", {"calls": 100})
    await make_plan(api, "enterprise", {"calls": "unlimited", "sso": True})
    await make_tenant(api, "acme")
    await grant(api, plan_key="free", tenant_key="acme", start_date=START)


async def test_a_missing_feature_says_so_by_name_and_lists_the_plans_that_include_it(api: Api) -> None:
    # given
    await given_a_free_tenant(api)
    # when
    data = await api.data(DECISION, {"feature": "sso"})
    # then
    assert data["isEntitledTo"] == {
        "isEntitled": False,
        "justification": "MISSING_FEATURE",
        "message": "Your plan does not include Single sign-on.",
        "upgradeOptions": [{"key": "enterprise", "name": "enterprise"}],
    }


async def test_an_entitled_decision_has_no_message_and_no_upgrade_options(api: Api) -> None:
    await given_a_free_tenant(api)
    data = await api.data(DECISION, {"feature": "calls", "usage": 3})
    assert data["isEntitledTo"] == {
        "isEntitled": True,
        "justification": None,
        "message": None,
        "upgradeOptions": [],
    }


async def test_a_refused_consumption_names_what_is_left_and_the_plans_with_room_for_it(api: Api) -> None:
    # given: 8 of 10 calls used this month
    await given_a_free_tenant(api)
    await api.data(REPORT, {"amount": 8, "key": "first"})
    # when: 50 more are asked for
    data = await api.data(REPORT, {"amount": 50, "key": "second"})
    # then: team (100) has room for 58, enterprise is unlimited
    assert data["reportUsage"] == {
        "isEntitled": False,
        "justification": "LIMIT_EXCEEDED",
        "used": 8,
        "message": "Only 2 of your 10 API calls are left of this month.",
        "upgradeOptions": [{"key": "enterprise"}, {"key": "team"}],
    }
    # and when everything is used, only plans with room for the request are offered
    await api.data(REPORT, {"amount": 2, "key": "third"})
    data = await api.data(DECISION, {"feature": "calls", "usage": 95})
    assert data["isEntitledTo"]["message"] == "You have used all 10 API calls of this month."
    assert data["isEntitledTo"]["upgradeOptions"] == [{"key": "enterprise", "name": "enterprise"}]
