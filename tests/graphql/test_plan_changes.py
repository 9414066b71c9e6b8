"""Plan changes (upgrade/downgrade) and carried-over usage through the API (contract §11), on both databases."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import grant, make_feature, make_plan, make_tenant, make_user
from tests.graphql.test_usage import DECISION, report

START = "2030-01-01T00:00:00Z"
CHANGE_AT = "2030-01-15T00:00:00Z"

CHANGE = """
mutation($id: ID!, $to: String!, $at: DateTime, $carry: Boolean) {
  changePlan(entitlementId: $id, toPlanKey: $to, effectiveAt: $at, carryOverUsage: $carry) {
    ended { id status startDate expirationDate plan { key } planVersion reason metadata tenant { key } }
    started {
      id assignLevel startDate expirationDate plan { key } planVersion reason metadata tenant { key } user { key }
    }
  }
}
"""
COUNT = "{ entitlements { totalCount } }"


async def given_basic_and_pro(api: Api) -> None:
    """calls is metered monthly: basic has 100, pro 1,000."""
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH")
    await make_plan(api, "basic", {"calls": 100})
    await make_plan(api, "pro", {"calls": 1000})
    await make_tenant(api, "acme")


async def change(api: Api, entitlement_id: str, to: str, at: str | None = CHANGE_AT, **more: Any) -> Any:
    data = await api.data(CHANGE, {"id": entitlement_id, "to": to, "at": at, **more})
    return data["changePlan"]


async def calls(api: Api, at: str) -> dict[str, Any]:
    decision: dict[str, Any] = (await api.data(DECISION, {"t": "acme", "f": "calls", "at": at}))[
        "isEntitledTo"
    ]
    return decision


async def test_change_plan_ends_the_entitlement_and_starts_one_to_the_new_plan_then(api: Api) -> None:
    # given
    await given_basic_and_pro(api)
    old = await grant(
        api,
        plan_key="basic",
        tenant_key="acme",
        start_date=START,
        reason="contract 7",
        metadata={"crm": "x1"},
    )
    # when
    payload = await change(api, old["id"], "pro")
    # then
    ended, started = payload["ended"], payload["started"]
    assert ended["id"] == old["id"]
    assert ended["expirationDate"] == "2030-01-15T00:00:00Z"
    assert ended["plan"] == {"key": "basic"}
    assert started == {
        "id": started["id"],
        "assignLevel": "TENANT",
        "startDate": "2030-01-15T00:00:00Z",
        "expirationDate": None,
        "plan": {"key": "pro"},
        "planVersion": 1,
        "reason": "contract 7",
        "metadata": {"crm": "x1"},
        "tenant": {"key": "acme"},
        "user": None,
    }
    assert (await calls(api, "2030-01-14T23:59:59Z"))["limit"] == 100
    assert (await calls(api, "2030-01-15T00:00:00Z"))["limit"] == 1000
    kinds = "{ changes { edges { node { kind planKey tenantKey } } } }"
    edges = (await api.data(kinds))["changes"]["edges"]
    assert [e["node"] for e in edges[-2:]] == [
        {"kind": "ENTITLEMENT_UPDATED", "planKey": "basic", "tenantKey": "acme"},
        {"kind": "ENTITLEMENT_GRANTED", "planKey": "pro", "tenantKey": "acme"},
    ]


async def test_carried_over_usage_keeps_counting_against_the_new_limits(api: Api) -> None:
    # given 80 of basic's 100 calls used this month
    await given_basic_and_pro(api)
    old = await grant(api, plan_key="basic", tenant_key="acme", start_date=START)
    await report(api, 80, "k1", at="2030-01-10T00:00:00Z")
    # when: an upgrade to pro that carries the usage over
    await change(api, old["id"], "pro", carry=True)
    # then
    decision = await calls(api, "2030-01-20T00:00:00Z")
    assert (decision["limit"], decision["used"], decision["remaining"]) == (1000, 80, 920)
    assert decision["resetsAt"] == "2030-02-01T00:00:00Z"  # the old period anchor goes on
    assert (await calls(api, "2030-02-02T00:00:00Z"))["used"] == 0


async def test_without_carry_over_a_fresh_period_starts_at_the_change(api: Api) -> None:
    # given
    await given_basic_and_pro(api)
    old = await grant(api, plan_key="basic", tenant_key="acme", start_date=START)
    await report(api, 80, "k1", at="2030-01-10T00:00:00Z")
    # when
    await change(api, old["id"], "pro", carry=False)
    # then
    decision = await calls(api, "2030-01-20T00:00:00Z")
    assert (decision["limit"], decision["used"]) == (1000, 0)
    assert decision["resetsAt"] == "2030-02-15T00:00:00Z"


async def test_a_downgrade_with_carried_usage_past_the_new_limit_refuses_more(api: Api) -> None:
    # given 80 used on pro, then a downgrade to basic's 50 in the same period
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH")
    await make_plan(api, "pro", {"calls": 1000})
    await make_plan(api, "small", {"calls": 50})
    await make_tenant(api, "acme")
    old = await grant(api, plan_key="pro", tenant_key="acme", start_date=START)
    await report(api, 80, "k1", at="2030-01-10T00:00:00Z")
    await change(api, old["id"], "small")
    # when
    refused = await report(api, 1, "k2", at="2030-01-20T00:00:00Z")
    # then
    assert (refused["isEntitled"], refused["justification"], refused["used"]) == (False, "LIMIT_EXCEEDED", 80)
    assert refused["remaining"] == 0


async def test_the_new_entitlement_keeps_the_old_term_or_takes_the_target_plans_trial(api: Api) -> None:
    # given one entitlement with a term end, one without; the target plan has a 14-day trial
    await given_basic_and_pro(api)
    await make_plan(api, "trial", {"calls": 10}, defaultTimeLimitationDays=14)
    await make_tenant(api, "globex")
    termed = await grant(
        api, plan_key="basic", tenant_key="acme", start_date=START, expiration_date="2030-12-31T00:00:00Z"
    )
    open_ended = await grant(api, plan_key="basic", tenant_key="globex", start_date=START)
    # when
    first = await change(api, termed["id"], "trial")
    second = await change(api, open_ended["id"], "trial")
    # then
    assert first["started"]["expirationDate"] == "2030-12-31T00:00:00Z"
    assert second["started"]["expirationDate"] == "2030-01-29T00:00:00Z"


async def test_a_user_level_entitlement_changes_for_the_same_member(api: Api) -> None:
    await given_basic_and_pro(api)
    await make_user(api, "alice", ["acme"])
    old = await grant(api, plan_key="basic", tenant_key="acme", user_key="alice", start_date=START)
    started = (await change(api, old["id"], "pro"))["started"]
    assert (started["assignLevel"], started["tenant"], started["user"]) == (
        "USER",
        {"key": "acme"},
        {"key": "alice"},
    )


async def test_the_new_entitlement_gets_the_target_plans_current_version(api: Api) -> None:
    await given_basic_and_pro(api)
    await api.data(
        'mutation { publishPlanVersion(key: "pro", features: [{featureKey: "calls", value: 2000}]) { version } }'
    )
    old = await grant(api, plan_key="basic", tenant_key="acme", start_date=START)
    started = (await change(api, old["id"], "pro"))["started"]
    assert started["planVersion"] == 2
    assert (await calls(api, "2030-01-20T00:00:00Z"))["limit"] == 2000


async def test_effective_at_defaults_to_now(api: Api) -> None:
    await given_basic_and_pro(api)
    old = await grant(api, plan_key="basic", tenant_key="acme")
    payload = await change(api, old["id"], "pro", at=None)
    assert payload["ended"]["expirationDate"] == payload["started"]["startDate"]
    assert payload["ended"]["status"] == "EXPIRED"
    assert (await api.data('{ isEntitledTo(tenantKey: "acme", featureKey: "calls") { limit } }'))[
        "isEntitledTo"
    ] == {"limit": 1000}


ENTITLEMENT_ID_OF_A_PLAN = "UGxhbjox"  # "Plan:1"
UNKNOWN_ENTITLEMENT = "RW50aXRsZW1lbnQ6OTk5"  # "Entitlement:999"


@pytest.mark.parametrize(
    ("which", "to", "at", "code", "field"),
    [
        ("feature grant", "pro", CHANGE_AT, "BAD_USER_INPUT", "entitlementId"),
        ("revoked", "pro", CHANGE_AT, "BAD_USER_INPUT", "entitlementId"),
        ("plan id", "pro", CHANGE_AT, "BAD_USER_INPUT", "entitlementId"),
        ("not an id", "pro", CHANGE_AT, "BAD_USER_INPUT", "entitlementId"),
        ("unknown", "pro", CHANGE_AT, "NOT_FOUND", "entitlementId"),
        ("basic", "nope", CHANGE_AT, "NOT_FOUND", "toPlanKey"),
        ("basic", "pro", "2029-12-31T00:00:00Z", "BAD_USER_INPUT", "effectiveAt"),
        ("basic", "pro", START, "BAD_USER_INPUT", "effectiveAt"),
        ("basic", "pro", "2030-07-01T00:00:00Z", "BAD_USER_INPUT", "effectiveAt"),  # after it expired
    ],
)
async def test_bad_plan_changes_are_refused_naming_the_field_and_write_nothing(
    api: Api, which: str, to: str, at: str, code: str, field: str
) -> None:
    # given
    await given_basic_and_pro(api)
    basic = await grant(
        api, plan_key="basic", tenant_key="acme", start_date=START, expiration_date="2030-06-01T00:00:00Z"
    )
    feature_grant = await grant(api, feature_key="calls", value=5, tenant_key="acme", start_date=START)
    revoked = await grant(api, plan_key="basic", tenant_key="acme", start_date=START)
    await api.data(
        "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount } }", {"ids": [revoked["id"]]}
    )
    ids = {
        "basic": basic["id"],
        "feature grant": feature_grant["id"],
        "revoked": revoked["id"],
        "plan id": ENTITLEMENT_ID_OF_A_PLAN,
        "not an id": "???",
        "unknown": UNKNOWN_ENTITLEMENT,
    }
    before = await api.data(COUNT)
    # when
    body = await api.gql(CHANGE, {"id": ids[which], "to": to, "at": at})
    # then
    assert body["errors"][0]["extensions"] == {"code": code, "field": field}
    assert await api.data(COUNT) == before
    unchanged = await api.data(
        "query($id: ID!) { node(id: $id) { ... on Entitlement { expirationDate } } }", {"id": basic["id"]}
    )
    assert unchanged["node"]["expirationDate"] == "2030-06-01T00:00:00Z"
