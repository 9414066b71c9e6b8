"""effectiveEntitlements: every feature and permission a subject has at an instant."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import grant, make_feature, make_plan, make_tenant, make_user

START = "2030-01-01T00:00:00Z"
AT = "2030-01-15T00:00:00Z"

EFFECTIVE = """
query($t: String, $u: String, $at: DateTime) {
  effectiveEntitlements(tenantKey: $t, userKey: $u, at: $at) {
    context tenant { key } user { key } permissions
    features {
      feature { key } value limit unlimited used remaining expiresAt
      sources { kind expiresAt entitlement { id } plan { key } flag { key } }
    }
  }
}
"""
CREATE_FLAG = "mutation($input: FeatureFlagInput!) { createFeatureFlag(input: $input) { id } }"
REPORT = """
mutation($input: ReportUsageInput!) { reportUsage(input: $input) { isEntitled used } }
"""


async def effective(api: Api, t: str | None = None, u: str | None = None, at: str = AT) -> dict[str, Any]:
    data = await api.data(EFFECTIVE, {"t": t, "u": u, "at": at})
    result: dict[str, Any] = data["effectiveEntitlements"]
    return result


def by_key(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["feature"]["key"]: f for f in result["features"]}


async def given_catalog(api: Api) -> None:
    """Features of every type; the pro plan; acme with members alice and bob; carol outside."""
    await make_feature(api, "sso", permissions=["sso.login"])
    await make_feature(api, "seats", "LIMIT", permissions=["members.invite"])
    await make_feature(api, "exports", "LIST", permissions=["reports.export", "sso.login"])
    await make_feature(api, "support", "TIER", tiers=["basic", "pro", "enterprise"])
    await make_feature(api, "audit", permissions=["audit.read"])
    await make_feature(api, "beta")
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH")
    await make_plan(
        api,
        "pro",
        {"sso": True, "seats": 10, "exports": ["csv"], "support": "pro", "audit": False, "calls": 100},
    )
    await make_tenant(api, "acme")
    await make_user(api, "alice", ["acme"])
    await make_user(api, "bob", ["acme"])
    await make_user(api, "carol")


async def test_effective_entitlements_merge_every_feature_the_subject_has(api: Api) -> None:
    # given
    await given_catalog(api)
    plan = await grant(api, plan_key="pro", tenant_key="acme", start_date=START)
    seat = await grant(
        api,
        feature_key="seats",
        value=25,
        tenant_key="acme",
        user_key="alice",
        start_date="2030-01-02T00:00:00Z",
        expiration_date="2030-06-01T00:00:00Z",
    )
    await grant(
        api,
        feature_key="exports",
        value=["pdf", "csv"],
        tenant_key="acme",
        user_key="alice",
        start_date=START,
    )
    await api.data(
        CREATE_FLAG,
        {
            "input": {
                "key": "beta-acme",
                "name": "b",
                "on": True,
                "featureKeys": ["beta"],
                "tenantKeys": ["acme"],
            }
        },
    )
    # when
    result = await effective(api, "acme", "alice")
    # then
    assert (result["context"], result["tenant"], result["user"]) == (
        "ORGANIZATION",
        {"key": "acme"},
        {"key": "alice"},
    )
    features = by_key(result)
    assert sorted(features) == ["beta", "calls", "exports", "seats", "sso", "support"]
    assert features["sso"]["value"] is True
    assert {k: features["seats"][k] for k in ("value", "limit", "remaining", "unlimited", "used")} == {
        "value": 25,
        "limit": 25,
        "remaining": 25,
        "unlimited": False,
        "used": None,
    }
    assert [(s["kind"], s["entitlement"]["id"]) for s in features["seats"]["sources"]] == [
        ("PLAN", plan["id"]),
        ("GRANT", seat["id"]),
    ]
    assert features["seats"]["expiresAt"] is None
    assert features["exports"]["value"] == ["csv", "pdf"]
    assert features["support"]["value"] == "pro"
    assert features["beta"]["sources"] == [
        {
            "kind": "FEATURE_FLAG",
            "expiresAt": None,
            "entitlement": None,
            "plan": None,
            "flag": {"key": "beta-acme"},
        }
    ]
    assert (features["calls"]["used"], features["calls"]["remaining"]) == (0, 100)
    assert sorted(result["permissions"]) == ["members.invite", "reports.export", "sso.login"]
    assert len(result["permissions"]) == len(set(result["permissions"]))


async def test_effective_entitlements_leave_out_inactive_sources_and_other_members_grants(api: Api) -> None:
    # given
    await given_catalog(api)
    await grant(
        api, feature_key="sso", tenant_key="acme", start_date=START, expiration_date="2030-01-10T00:00:00Z"
    )
    await grant(api, feature_key="seats", value=5, tenant_key="acme", start_date="2030-02-01T00:00:00Z")
    await grant(api, feature_key="audit", tenant_key="acme", user_key="alice", start_date=START)
    await grant(api, feature_key="support", value="enterprise", tenant_key="acme", start_date=START)
    # when
    for_bob = await effective(api, "acme", "bob")
    for_alice = await effective(api, "acme", "alice")
    # then
    assert sorted(by_key(for_bob)) == ["support"]
    assert for_bob["permissions"] == []
    assert sorted(by_key(for_alice)) == ["audit", "support"]
    assert for_alice["permissions"] == ["audit.read"]


async def test_effective_entitlements_show_metered_usage_and_the_latest_expiry(api: Api) -> None:
    # given
    await given_catalog(api)
    await grant(
        api, plan_key="pro", tenant_key="acme", start_date=START, expiration_date="2030-03-01T00:00:00Z"
    )
    await grant(
        api,
        feature_key="calls",
        value=50,
        tenant_key="acme",
        start_date=START,
        expiration_date="2030-05-01T00:00:00Z",
    )
    await api.data(
        REPORT,
        {
            "input": {
                "tenantKey": "acme",
                "featureKey": "calls",
                "amount": 30,
                "idempotencyKey": "k",
                "at": AT,
            }
        },
    )
    # when
    calls = by_key(await effective(api, "acme"))["calls"]
    # then
    assert (calls["value"], calls["limit"], calls["used"], calls["remaining"]) == (100, 100, 30, 70)
    assert calls["expiresAt"] == "2030-05-01T00:00:00Z"


async def test_effective_entitlements_in_individual_context_use_only_individual_grants(api: Api) -> None:
    # given
    await given_catalog(api)
    await grant(api, plan_key="pro", tenant_key="acme", start_date=START)
    await grant(api, feature_key="beta", user_key="alice", start_date=START)
    # when
    result = await effective(api, None, "alice")
    # then
    assert (result["context"], result["tenant"], result["user"]) == ("INDIVIDUAL", None, {"key": "alice"})
    assert sorted(by_key(result)) == ["beta"]
    assert result["permissions"] == []


@pytest.mark.parametrize(
    ("tenant", "user"),
    [("nobody", None), (None, "nobody"), ("acme", "nobody"), ("acme", "carol")],
)
async def test_effective_entitlements_of_an_unknown_subject_or_non_member_are_empty_not_an_error(
    api: Api, tenant: str | None, user: str | None
) -> None:
    # given
    await given_catalog(api)
    await grant(api, plan_key="pro", tenant_key="acme", start_date=START)
    await api.data(
        CREATE_FLAG, {"input": {"key": "everyone", "name": "e", "on": True, "featureKeys": ["beta"]}}
    )
    # when
    result = await effective(api, tenant, user)
    # then
    assert (result["features"], result["permissions"]) == ([], [])


async def test_effective_entitlements_without_a_subject_is_bad_user_input(api: Api) -> None:
    # when
    error = await api.error(EFFECTIVE, {"at": AT})
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
