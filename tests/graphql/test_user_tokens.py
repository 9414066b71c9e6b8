"""End-user tokens (contract §2): a user token may ask about its own subject only."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from tests.conftest import JWT_SECRET, Api
from tests.factories import grant, make_feature, make_tenant, make_user

START = "2030-01-01T00:00:00Z"
AT = "2030-01-15T00:00:00Z"

DECISION = """
query($t: String, $u: String, $at: DateTime) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: "beta", at: $at) { isEntitled justification context }
}
"""
EFFECTIVE = """
query($t: String, $u: String, $at: DateTime) {
  effectiveEntitlements(tenantKey: $t, userKey: $u, at: $at) {
    context tenant { key } user { key } features { feature { key } }
  }
}
"""
REPORT = """
mutation($input: ReportUsageInput!) { reportUsage(input: $input) { isEntitled used } }
"""
USED = """
{ isEntitledTo(tenantKey: "acme", featureKey: "calls", at: "2030-01-15T00:00:00Z") { used } }
"""
VIEWER = "{ viewer { kind tenantKey userKey readOnly } }"


def user_token(sub: str, tenant: str | None = None, **claims: Any) -> str:
    payload: dict[str, Any] = {"sub": sub, "exp": int(time.time()) + 3600, **claims}
    if tenant is not None:
        payload["tenantId"] = tenant
    return jwt.encode(payload, JWT_SECRET, algorithm="HS256")


async def given_subjects(api: Api) -> None:
    """acme (members alice and bob); beta granted to alice in acme and to alice individually differently."""
    await make_feature(api, "beta")
    await make_feature(api, "personal")
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH")
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "alice", ["acme"])
    await make_user(api, "bob", ["acme"])
    await grant(api, feature_key="beta", tenant_key="acme", user_key="alice", start_date=START)
    await grant(api, feature_key="personal", user_key="alice", start_date=START)
    await grant(api, feature_key="calls", value=10, tenant_key="acme", start_date=START)


async def test_omitted_keys_default_to_the_tokens_subject(api: Api) -> None:
    # given
    await given_subjects(api)
    token = user_token("alice", "acme")
    # when
    data = await api.data(DECISION, {"at": AT}, token=token)
    # then: alice's USER-level grant in acme applies, so both keys came from the token
    assert data["isEntitledTo"] == {"isEntitled": True, "justification": None, "context": "ORGANIZATION"}


async def test_naming_its_own_keys_is_allowed(api: Api) -> None:
    # given
    await given_subjects(api)
    token = user_token("alice", "acme")
    # when
    data = await api.data(DECISION, {"t": "acme", "u": "alice", "at": AT}, token=token)
    # then
    assert data["isEntitledTo"]["isEntitled"] is True


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"t": "globex"}, id="another tenant"),
        pytest.param({"u": "bob"}, id="another user"),
        pytest.param({"t": "acme", "u": "bob"}, id="another member of its tenant"),
    ],
)
@pytest.mark.parametrize("query", [DECISION, EFFECTIVE], ids=["isEntitledTo", "effectiveEntitlements"])
async def test_asking_about_another_subject_is_forbidden(
    api: Api, query: str, arguments: dict[str, str]
) -> None:
    # given
    await given_subjects(api)
    token = user_token("alice", "acme")
    # when
    error = await api.error(query, {"at": AT, **arguments}, token=token)
    # then
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_effective_entitlements_default_to_the_tokens_subject(api: Api) -> None:
    # given
    await given_subjects(api)
    token = user_token("alice", "acme")
    # when
    data = await api.data(EFFECTIVE, {"at": AT}, token=token)
    # then
    result = data["effectiveEntitlements"]
    assert (result["context"], result["tenant"], result["user"]) == (
        "ORGANIZATION",
        {"key": "acme"},
        {"key": "alice"},
    )
    assert sorted(f["feature"]["key"] for f in result["features"]) == ["beta", "calls"]


async def test_a_token_without_a_tenant_claim_is_the_individual_context(api: Api) -> None:
    # given
    await given_subjects(api)
    token = user_token("alice")
    # when
    decision = (await api.data(DECISION, {"at": AT}, token=token))["isEntitledTo"]
    effective = (await api.data(EFFECTIVE, {"at": AT}, token=token))["effectiveEntitlements"]
    naming_a_tenant = await api.error(DECISION, {"t": "acme", "at": AT}, token=token)
    # then
    assert (decision["context"], decision["justification"]) == ("INDIVIDUAL", "MISSING_FEATURE")
    assert effective["context"] == "INDIVIDUAL"
    assert [f["feature"]["key"] for f in effective["features"]] == ["personal"]
    assert naming_a_tenant["extensions"]["code"] == "FORBIDDEN"


async def test_a_token_for_a_tenant_its_user_is_not_a_member_of_is_not_a_member(api: Api) -> None:
    # given
    await given_subjects(api)
    token = user_token("alice", "globex")
    # when
    decision = (await api.data(DECISION, {"at": AT}, token=token))["isEntitledTo"]
    # then
    assert (decision["isEntitled"], decision["justification"]) == (False, "NOT_A_MEMBER")


async def test_report_usage_with_a_user_token_is_forbidden_and_records_nothing(api: Api) -> None:
    # given
    await given_subjects(api)
    token = user_token("alice", "acme")
    payload = {"featureKey": "calls", "amount": 1, "idempotencyKey": "k", "at": AT}
    # when
    error = await api.error(REPORT, {"input": payload}, token=token)
    # then
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await api.data(USED))["isEntitledTo"]["used"] == 0


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("{ apiRoutes { totalCount } }", id="apiRoutes"),
        pytest.param("{ featureFlags { totalCount } }", id="featureFlags"),
        pytest.param(
            'mutation { createApiRoute(input: {method: "GET", pathPattern: "/x", policy: ALLOW}) { id } }',
            id="createApiRoute",
        ),
    ],
)
async def test_a_user_token_may_not_read_or_change_routes_and_flags(api: Api, query: str) -> None:
    # when
    error = await api.error(query, token=user_token("alice", "acme"))
    # then
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_the_viewer_of_a_user_token_is_its_subject(api: Api) -> None:
    # when
    data = await api.data(VIEWER, token=user_token("alice", "acme"))
    # then
    assert data["viewer"] == {"kind": "USER", "tenantKey": "acme", "userKey": "alice", "readOnly": False}


async def test_a_user_token_sees_which_flag_entitles_it_but_not_whom_else_it_targets(api: Api) -> None:
    # given
    await given_subjects(api)
    await api.data(
        'mutation { createFeatureFlag(input: {key: "beta-flag", name: "b", on: true, featureKeys: ["beta"],'
        ' tenantKeys: ["acme", "globex"], userKeys: ["bob"], percentage: 5}) { key } }'
    )
    token = user_token("bob", "acme")
    # when
    named = await api.data(
        '{ isEntitledTo(featureKey: "beta", at: "2030-01-15T00:00:00Z") { sources { flag { key } } } }',
        token=token,
    )
    errors = [
        await api.error(
            f'{{ isEntitledTo(featureKey: "beta", at: "2030-01-15T00:00:00Z") {{ sources {{ flag {{ {field} }} }} }} }}',
            token=token,
        )
        for field in ("tenantKeys", "userKeys", "rules { values }", "percentage")
    ]
    # then
    assert named["isEntitledTo"]["sources"] == [{"flag": {"key": "beta-flag"}}]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"] * 4
