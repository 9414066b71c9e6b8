"""isEntitledTo through the API (contract §3, §4): context, merging, time, permissions, usage."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api
from tests.factories import make_feature, make_plan, make_tenant, make_user

START = "2030-01-01T00:00:00Z"
AT = "2030-01-15T00:00:00Z"

REVOKE = "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount } }"
CREATE_FLAG = "mutation($input: FeatureFlagInput!) { createFeatureFlag(input: $input) { id } }"
DECISION = """
query($t: String, $u: String, $f: String, $p: String, $usage: Int, $at: DateTime) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f, permissionKey: $p, usage: $usage, at: $at) {
    isEntitled justification context value limit unlimited used remaining resetsAt expiresAt
    sources { kind expiresAt entitlement { id } plan { key } flag { key } }
  }
}
"""


# --------------------------------------------------------------------------- helpers


async def grant(
    api: Api,
    *,
    plan: str | None = None,
    feature: str | None = None,
    value: Any = None,
    tenant: str | None = None,
    user: str | None = None,
    start: str = START,
    end: str | None = None,
) -> dict[str, Any]:
    """An entitlement starting at ``START`` unless told otherwise (nothing depends on the clock)."""
    return await factories.grant(
        api,
        plan_key=plan,
        feature_key=feature,
        value=value,
        tenant_key=tenant,
        user_key=user,
        start_date=start,
        expiration_date=end,
    )


async def decide(api: Api, **args: Any) -> dict[str, Any]:
    args.setdefault("at", AT)
    data = await api.data(DECISION, args)
    decision: dict[str, Any] = data["isEntitledTo"]
    return decision


async def given_acme(api: Api) -> None:
    """acme has members alice and bob; carol is a user outside acme."""
    await make_tenant(api, "acme")
    await make_user(api, "alice", ["acme"])
    await make_user(api, "bob", ["acme"])
    await make_user(api, "carol")


# --------------------------------------------------------------------------- context resolution


async def test_tenant_level_plan_entitles_the_tenant_and_every_member(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"sso": True})
    await grant(api, plan="pro", tenant="acme")
    # when
    for_tenant = await decide(api, t="acme", f="sso")
    for_member = await decide(api, t="acme", u="bob", f="sso")
    # then
    for decision in (for_tenant, for_member):
        assert decision["isEntitled"] is True
        assert decision["justification"] is None
        assert decision["context"] == "ORGANIZATION"
        assert decision["value"] is True


async def test_organization_context_adds_the_users_own_user_level_grants(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "seats", "LIMIT")
    await make_plan(api, "pro", {"seats": 10})
    await grant(api, plan="pro", tenant="acme")
    personal = await grant(api, feature="seats", value=50, tenant="acme", user="alice")
    # when
    decision = await decide(api, t="acme", u="alice", f="seats")
    # then
    assert decision["limit"] == 50
    assert [s["kind"] for s in decision["sources"]] == ["PLAN", "GRANT"]
    assert decision["sources"][1]["entitlement"] == {"id": personal["id"]}


async def test_user_level_plan_does_not_leak_to_other_members(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "beta")
    await make_plan(api, "labs", {"beta": True})
    await grant(api, plan="labs", tenant="acme", user="alice")
    # when
    alice = await decide(api, t="acme", u="alice", f="beta")
    bob = await decide(api, t="acme", u="bob", f="beta")
    tenant_alone = await decide(api, t="acme", f="beta")
    # then
    assert alice["isEntitled"] is True
    assert (bob["isEntitled"], bob["justification"]) == (False, "MISSING_FEATURE")
    assert (tenant_alone["isEntitled"], tenant_alone["justification"]) == (False, "MISSING_FEATURE")


async def test_a_user_level_grant_in_another_tenant_does_not_apply(api: Api) -> None:
    # given: alice belongs to acme and globex, with a seat grant in globex only
    await given_acme(api)
    await make_tenant(api, "globex")
    await make_user(api, "alice", ["globex"])
    await make_feature(api, "beta")
    await grant(api, feature="beta", tenant="globex", user="alice")
    # when
    in_acme = await decide(api, t="acme", u="alice", f="beta")
    in_globex = await decide(api, t="globex", u="alice", f="beta")
    # then
    assert (in_acme["isEntitled"], in_acme["justification"]) == (False, "MISSING_FEATURE")
    assert in_globex["isEntitled"] is True


async def test_a_user_outside_the_tenant_is_not_a_member(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"sso": True})
    await grant(api, plan="pro", tenant="acme")
    # when
    decision = await decide(api, t="acme", u="carol", f="sso")
    # then
    assert decision["isEntitled"] is False
    assert decision["justification"] == "NOT_A_MEMBER"
    assert decision["context"] == "ORGANIZATION"
    assert decision["sources"] == []


async def test_individual_context_uses_only_the_users_individual_grants(api: Api) -> None:
    # given
    await given_acme(api)
    for key in ("personal", "org", "seat"):
        await make_feature(api, key)
    await grant(api, feature="personal", user="alice")
    await grant(api, feature="org", tenant="acme")
    await grant(api, feature="seat", tenant="acme", user="alice")
    # when
    decisions = {key: await decide(api, u="alice", f=key) for key in ("personal", "org", "seat")}
    # then
    assert {k: d["context"] for k, d in decisions.items()} == dict.fromkeys(decisions, "INDIVIDUAL")
    assert decisions["personal"]["isEntitled"] is True
    assert decisions["personal"]["sources"][0]["kind"] == "GRANT"
    assert (decisions["org"]["isEntitled"], decisions["org"]["justification"]) == (False, "MISSING_FEATURE")
    assert (decisions["seat"]["isEntitled"], decisions["seat"]["justification"]) == (False, "MISSING_FEATURE")


async def test_individual_grants_do_not_apply_in_organization_context(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "personal")
    await grant(api, feature="personal", user="alice")
    # when
    decision = await decide(api, t="acme", u="alice", f="personal")
    # then
    assert (decision["isEntitled"], decision["justification"]) == (False, "MISSING_FEATURE")


@pytest.mark.parametrize(
    ("tenant", "user"),
    [
        ("nope", None),
        ("nope", "alice"),
        ("acme", "nobody"),
        (None, "nobody"),
    ],
)
async def test_an_unknown_tenant_or_user_is_unknown_subject_not_an_error(
    api: Api, tenant: str | None, user: str | None
) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    # when
    decision = await decide(api, t=tenant, u=user, f="sso")
    # then
    assert decision["isEntitled"] is False
    assert decision["justification"] == "UNKNOWN_SUBJECT"


async def test_unknown_subject_comes_before_unknown_feature(api: Api) -> None:
    # when
    decision = await decide(api, t="nope", f="no-such-feature")
    # then
    assert decision["justification"] == "UNKNOWN_SUBJECT"


async def test_not_a_member_comes_before_unknown_feature(api: Api) -> None:
    # given
    await given_acme(api)
    # when
    decision = await decide(api, t="acme", u="carol", f="no-such-feature")
    # then
    assert decision["justification"] == "NOT_A_MEMBER"


async def test_an_unknown_feature_key_is_unknown_feature(api: Api) -> None:
    # given
    await given_acme(api)
    # when
    decision = await decide(api, t="acme", u="alice", f="no-such-feature")
    # then
    assert (decision["isEntitled"], decision["justification"]) == (False, "UNKNOWN_FEATURE")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({"f": "sso"}, id="no subject"),
        pytest.param({"t": "acme"}, id="nothing asked"),
        pytest.param({"t": "acme", "f": "sso", "p": "sso.use"}, id="feature and permission"),
        pytest.param({"t": "acme", "f": "sso", "usage": -1}, id="negative usage"),
    ],
)
async def test_breaking_the_argument_rules_is_bad_user_input(api: Api, args: dict[str, Any]) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    # when
    error = await api.error(DECISION, {"at": AT, **args})
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(
            'tenantKey: "acme", featureKey: "sso", route: {method: "GET", path: "/"}', id="feature+route"
        ),
        pytest.param(
            'tenantKey: "acme", permissionKey: "x", route: {method: "GET", path: "/"}', id="permission+route"
        ),
        pytest.param('route: {method: "GET", path: "/"}', id="route without subject"),
    ],
)
async def test_a_route_with_another_target_or_without_subject_is_bad_user_input(
    api: Api, arguments: str
) -> None:
    # given
    await given_acme(api)
    # when
    error = await api.error(f"{{ isEntitledTo({arguments}) {{ isEntitled }} }}")
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# --------------------------------------------------------------------------- merging


async def test_boolean_is_granted_when_any_source_is_true_and_false_is_no_source(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    await make_plan(api, "free", {"sso": False})
    await make_plan(api, "pro", {"sso": True})
    await grant(api, plan="free", tenant="acme")
    # when
    before = await decide(api, t="acme", f="sso")
    await grant(api, plan="pro", tenant="acme")
    after = await decide(api, t="acme", f="sso")
    # then
    assert (before["isEntitled"], before["justification"]) == (False, "MISSING_FEATURE")
    assert after["isEntitled"] is True
    assert after["value"] is True
    assert [s["plan"] for s in after["sources"]] == [{"key": "pro"}]


async def test_limit_takes_the_largest_and_lists_the_losing_sources_too(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "seats", "LIMIT")
    await make_plan(api, "small", {"seats": 10})
    await make_plan(api, "big", {"seats": 25})
    await grant(api, plan="small", tenant="acme", start="2030-01-01T00:00:00Z")
    await grant(api, plan="big", tenant="acme", start="2030-01-02T00:00:00Z")
    await grant(api, feature="seats", value=5, tenant="acme", start="2030-01-03T00:00:00Z")
    # when
    decision = await decide(api, t="acme", f="seats")
    # then
    assert (decision["value"], decision["limit"], decision["remaining"]) == (25, 25, 25)
    assert decision["unlimited"] is False
    assert [(s["kind"], s["plan"]) for s in decision["sources"]] == [
        ("PLAN", {"key": "small"}),
        ("PLAN", {"key": "big"}),
        ("GRANT", None),
    ]


async def test_unlimited_beats_any_number_and_has_no_limit_or_remaining(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "calls", "LIMIT")
    await make_plan(api, "ultimate", {"calls": "unlimited"})
    await make_plan(api, "big", {"calls": 1_000_000})
    await grant(api, plan="ultimate", tenant="acme")
    await grant(api, plan="big", tenant="acme")
    # when
    decision = await decide(api, t="acme", f="calls", usage=5_000_000)
    # then
    assert decision["isEntitled"] is True
    assert decision["value"] == "unlimited"
    assert decision["unlimited"] is True
    assert decision["limit"] is None
    assert decision["remaining"] is None
    assert len(decision["sources"]) == 2


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["free", "pro"], "pro"),
        (["enterprise", "free"], "enterprise"),
        (["pro", "enterprise", "free"], "enterprise"),
    ],
)
async def test_tier_takes_the_highest_in_the_features_order(
    api: Api, values: list[str], expected: str
) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "support", "TIER", tiers=["free", "pro", "enterprise"])
    for index, value in enumerate(values):
        await grant(
            api, feature="support", value=value, tenant="acme", start=f"2030-01-0{index + 1}T00:00:00Z"
        )
    # when
    decision = await decide(api, t="acme", f="support")
    # then
    assert decision["value"] == expected
    assert len(decision["sources"]) == len(values)


async def test_list_is_the_union_in_start_date_order_whatever_the_creation_order(api: Api) -> None:
    # given: created late-starting first
    await given_acme(api)
    await make_feature(api, "exports", "LIST")
    await grant(api, feature="exports", value=["xlsx", "pdf"], tenant="acme", start="2030-01-05T00:00:00Z")
    await grant(api, feature="exports", value=["csv", "pdf"], tenant="acme", start="2030-01-02T00:00:00Z")
    # when
    decision = await decide(api, t="acme", f="exports")
    # then
    assert decision["value"] == ["csv", "pdf", "xlsx"]


async def test_list_sources_with_the_same_start_are_merged_in_creation_order(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "exports", "LIST")
    first = await grant(api, feature="exports", value=["xlsx", "pdf"], tenant="acme")
    second = await grant(api, feature="exports", value=["csv", "xlsx"], tenant="acme")
    # when
    decision = await decide(api, t="acme", f="exports")
    # then
    assert decision["value"] == ["xlsx", "pdf", "csv"]
    assert [s["entitlement"]["id"] for s in decision["sources"]] == [first["id"], second["id"]]


async def test_sources_name_their_plan_grant_and_flag(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "seats", "LIMIT")
    await make_plan(api, "pro", {"seats": 10})
    plan_grant = await grant(api, plan="pro", tenant="acme")
    add_on = await grant(api, feature="seats", value=3, tenant="acme", start="2030-01-02T00:00:00Z")
    await api.data(
        CREATE_FLAG,
        {
            "input": {
                "key": "more-seats",
                "name": "More seats",
                "on": True,
                "featureKeys": ["seats"],
                "tenantKeys": ["acme"],
            }
        },
    )
    # when
    decision = await decide(api, t="acme", f="seats")
    # then
    assert decision["unlimited"] is True  # a flag on a LIMIT feature without default: unlimited
    assert [{k: s[k] for k in ("kind", "entitlement", "plan", "flag")} for s in decision["sources"]] == [
        {"kind": "PLAN", "entitlement": {"id": plan_grant["id"]}, "plan": {"key": "pro"}, "flag": None},
        {"kind": "GRANT", "entitlement": {"id": add_on["id"]}, "plan": None, "flag": None},
        {"kind": "FEATURE_FLAG", "entitlement": None, "plan": None, "flag": {"key": "more-seats"}},
    ]


@pytest.mark.parametrize(
    ("ends", "expected"),
    [
        (["2030-02-01T00:00:00Z", "2030-03-01T00:00:00Z"], "2030-03-01T00:00:00Z"),
        (["2030-03-01T00:00:00Z", "2030-02-01T00:00:00Z"], "2030-03-01T00:00:00Z"),
        (["2030-02-01T00:00:00Z", None], None),
    ],
)
async def test_expires_at_is_the_latest_expiry_and_null_if_any_source_never_expires(
    api: Api, ends: list[str | None], expected: str | None
) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    for end in ends:
        await grant(api, feature="sso", tenant="acme", end=end)
    # when
    decision = await decide(api, t="acme", f="sso")
    # then
    assert decision["expiresAt"] == expected
    assert sorted(s["expiresAt"] or "~" for s in decision["sources"]) == sorted((e or "~") for e in ends)


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("at", "entitled", "justification"),
    [
        ("2030-01-09T23:59:59.999999Z", False, "NOT_STARTED"),
        ("2030-01-10T00:00:00Z", True, None),
        ("2030-01-19T23:59:59.999999Z", True, None),
        ("2030-01-20T00:00:00Z", False, "PLAN_EXPIRED"),
    ],
)
async def test_an_entitlement_is_active_on_the_half_open_interval(
    api: Api, at: str, entitled: bool, justification: str | None
) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"sso": True})
    await grant(api, plan="pro", tenant="acme", start="2030-01-10T00:00:00Z", end="2030-01-20T00:00:00Z")
    # when
    decision = await decide(api, t="acme", f="sso", at=at)
    # then
    assert (decision["isEntitled"], decision["justification"]) == (entitled, justification)


@pytest.mark.parametrize(
    ("at", "entitled"),
    [("2030-01-09T23:59:59Z", False), ("2030-01-10T00:00:00Z", True), ("2030-01-10T02:00:00+02:00", True)],
)
async def test_instants_with_an_offset_compare_as_utc_and_come_back_in_utc(
    api: Api, at: str, entitled: bool
) -> None:
    # given: 01:00+01:00 is midnight UTC
    await given_acme(api)
    await make_feature(api, "sso")
    await grant(
        api, feature="sso", tenant="acme", start="2030-01-10T01:00:00+01:00", end="2030-02-01T09:00:00+09:00"
    )
    # when
    decision = await decide(api, t="acme", f="sso", at=at)
    # then
    assert decision["isEntitled"] is entitled
    if entitled:
        assert decision["expiresAt"] == "2030-02-01T00:00:00Z"


async def test_both_expired_and_future_sources_give_not_started(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    await grant(api, feature="sso", tenant="acme", start="2030-01-01T00:00:00Z", end="2030-01-10T00:00:00Z")
    await grant(api, feature="sso", tenant="acme", start="2030-02-01T00:00:00Z")
    # when
    decision = await decide(api, t="acme", f="sso", at="2030-01-15T00:00:00Z")
    # then
    assert (decision["isEntitled"], decision["justification"]) == (False, "NOT_STARTED")


async def test_a_revoked_entitlement_counts_before_its_revocation_and_is_expired_after(api: Api) -> None:
    # given: an entitlement that started long ago, revoked now
    await given_acme(api)
    await make_feature(api, "sso")
    created = await grant(api, feature="sso", tenant="acme", start="2020-01-01T00:00:00Z")
    await api.data(REVOKE, {"ids": [created["id"]]})
    listed = await api.data(
        "query($id: ID!) { node(id: $id) { ... on Entitlement { revokedAt status } } }", {"id": created["id"]}
    )
    revoked_at = listed["node"]["revokedAt"]
    # when
    before = await decide(api, t="acme", f="sso", at="2021-01-01T00:00:00Z")
    at_revocation = await decide(api, t="acme", f="sso", at=revoked_at)
    later = await decide(api, t="acme", f="sso", at=AT)
    # then
    assert listed["node"]["status"] == "REVOKED"
    assert before["isEntitled"] is True
    assert before["expiresAt"] == revoked_at
    assert (at_revocation["isEntitled"], at_revocation["justification"]) == (False, "PLAN_EXPIRED")
    assert (later["isEntitled"], later["justification"]) == (False, "PLAN_EXPIRED")


# --------------------------------------------------------------------------- permissions


async def test_a_permission_is_entitled_through_a_feature_that_lists_it(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "reports", permissions=["reports.view", "reports.export"])
    await make_plan(api, "pro", {"reports": True})
    await grant(api, plan="pro", tenant="acme")
    # when
    decision = await decide(api, t="acme", u="bob", p="reports.export")
    # then
    assert decision["isEntitled"] is True
    assert decision["justification"] is None
    assert decision["value"] is True
    assert [s["plan"] for s in decision["sources"]] == [{"key": "pro"}]


async def test_a_permission_lists_each_source_once_across_features(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "reports", permissions=["reports.export"])
    await make_feature(api, "analytics", permissions=["reports.export"])
    await make_plan(api, "pro", {"reports": True, "analytics": True})
    await grant(api, plan="pro", tenant="acme")
    await grant(api, feature="analytics", tenant="acme", start="2030-01-02T00:00:00Z")
    # when
    decision = await decide(api, t="acme", p="reports.export")
    # then
    assert [s["kind"] for s in decision["sources"]] == ["PLAN", "GRANT"]


@pytest.mark.parametrize(
    ("start", "end", "justification"),
    [
        (None, None, "MISSING_PERMISSION"),
        ("2029-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "PLAN_EXPIRED"),
        ("2030-06-01T00:00:00Z", None, "NOT_STARTED"),
    ],
)
async def test_a_permission_nothing_active_grants_is_refused(
    api: Api, start: str | None, end: str | None, justification: str
) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "reports", permissions=["reports.export"])
    await make_feature(api, "other", permissions=["other.use"])
    await grant(api, feature="other", tenant="acme")
    if start is not None:
        await grant(api, feature="reports", tenant="acme", start=start, end=end)
    # when
    decision = await decide(api, t="acme", p="reports.export")
    # then
    assert (decision["isEntitled"], decision["justification"]) == (False, justification)


# --------------------------------------------------------------------------- limits and usage


async def test_a_non_metered_limit_has_remaining_equal_to_limit_and_no_used(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "seats", "LIMIT")
    await grant(api, feature="seats", value=10, tenant="acme")
    # when
    decision = await decide(api, t="acme", f="seats")
    # then
    assert (decision["limit"], decision["remaining"], decision["used"]) == (10, 10, None)
    assert decision["resetsAt"] is None


async def test_a_metered_limit_with_nothing_used_has_used_zero(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH")
    await grant(api, feature="calls", value=100, tenant="acme")
    # when
    decision = await decide(api, t="acme", f="calls")
    # then
    assert (decision["limit"], decision["used"], decision["remaining"]) == (100, 0, 100)
    assert decision["resetsAt"] == "2030-02-01T00:00:00Z"


@pytest.mark.parametrize(
    ("usage", "entitled"),
    [(0, True), (9, True), (10, True), (11, False)],
)
async def test_usage_more_than_remaining_is_limit_exceeded(api: Api, usage: int, entitled: bool) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "seats", "LIMIT")
    await grant(api, feature="seats", value=10, tenant="acme")
    # when
    decision = await decide(api, t="acme", f="seats", usage=usage)
    # then
    assert decision["isEntitled"] is entitled
    assert decision["justification"] == (None if entitled else "LIMIT_EXCEEDED")
    assert (decision["limit"], decision["remaining"]) == (10, 10)
    assert len(decision["sources"]) == 1


@pytest.mark.parametrize(("usage", "entitled"), [(None, True), (0, True), (1, False)])
async def test_a_limit_of_zero_is_granted_with_no_headroom(
    api: Api, usage: int | None, entitled: bool
) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "seats", "LIMIT")
    await grant(api, feature="seats", value=0, tenant="acme")
    # when
    decision = await decide(api, t="acme", f="seats", usage=usage)
    # then
    assert (decision["isEntitled"], decision["limit"], decision["remaining"]) == (entitled, 0, 0)


async def test_usage_is_ignored_for_a_boolean_feature(api: Api) -> None:
    # given
    await given_acme(api)
    await make_feature(api, "sso")
    await grant(api, feature="sso", tenant="acme")
    # when
    decision = await decide(api, t="acme", f="sso", usage=1_000)
    # then
    assert (decision["isEntitled"], decision["justification"]) == (True, None)
    assert (decision["limit"], decision["remaining"], decision["used"]) == (None, None, None)
