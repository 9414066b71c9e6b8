"""Metering (contract §5): reportUsage, overage handling, idempotency, periods, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Api, serving
from tests.factories import grant, make_feature, make_tenant, make_user

START = "2030-01-01T00:00:00Z"
AT = "2030-01-15T00:00:00Z"

REPORT = """
mutation($input: ReportUsageInput!) {
  reportUsage(input: $input) {
    isEntitled justification context value limit unlimited used remaining resetsAt overage warning expiresAt
    sources { kind expiresAt entitlement { id } plan { key } flag { key } }
  }
}
"""
DECISION = """
query($t: String, $u: String, $f: String!, $at: DateTime) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f, at: $at) {
    isEntitled justification limit used remaining resetsAt overage warning
  }
}
"""
REVOKE = "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount } }"
CREATE_FLAG = "mutation($input: FeatureFlagInput!) { createFeatureFlag(input: $input) { id } }"


async def report(
    api: Api,
    amount: int,
    key: str,
    *,
    t: str | None = "acme",
    u: str | None = None,
    f: str = "calls",
    at: str = AT,
) -> dict[str, Any]:
    payload = {
        "tenantKey": t,
        "userKey": u,
        "featureKey": f,
        "amount": amount,
        "idempotencyKey": key,
        "at": at,
    }
    data = await api.data(REPORT, {"input": payload})
    decision: dict[str, Any] = data["reportUsage"]
    return decision


async def check(
    api: Api, *, t: str | None = "acme", u: str | None = None, f: str = "calls", at: str = AT
) -> dict[str, Any]:
    data = await api.data(DECISION, {"t": t, "u": u, "f": f, "at": at})
    decision: dict[str, Any] = data["isEntitledTo"]
    return decision


async def given_metered(
    api: Api, limit: Any = 10, *, overage: str = "BLOCK", period: str = "MONTH", start: str = START
) -> dict[str, Any]:
    """acme (members alice, bob) holds ``calls``: a metered LIMIT feature with ``limit``."""
    await make_feature(api, "calls", "LIMIT", resetPeriod=period, overage=overage)
    await make_tenant(api, "acme")
    await make_user(api, "alice", ["acme"])
    await make_user(api, "bob", ["acme"])
    return await grant(api, feature_key="calls", value=limit, tenant_key="acme", start_date=start)


def numbers(decision: dict[str, Any]) -> tuple[Any, ...]:
    return decision["isEntitled"], decision["justification"], decision["used"], decision["remaining"]


# --------------------------------------------------------------------------- overage handling


async def test_block_refuses_a_consumption_that_does_not_fit_and_records_nothing(api: Api) -> None:
    # given
    await given_metered(api, 10)
    first = await report(api, 7, "r1")
    # when
    refused = await report(api, 4, "r2")
    # then
    assert numbers(first) == (True, None, 7, 3)
    assert numbers(refused) == (False, "LIMIT_EXCEEDED", 7, 3)
    assert (refused["value"], refused["limit"], len(refused["sources"])) == (10, 10, 1)
    assert numbers(await check(api)) == (True, None, 7, 3)
    assert numbers(await report(api, 3, "r3")) == (True, None, 10, 0)
    assert numbers(await report(api, 1, "r4")) == (False, "LIMIT_EXCEEDED", 10, 0)


async def test_allow_records_beyond_the_limit_and_reports_overage(api: Api) -> None:
    # given
    await given_metered(api, 10, overage="ALLOW")
    within = await report(api, 8, "r1")
    # when
    beyond = await report(api, 5, "r2")
    # then
    assert (numbers(within), within["overage"]) == ((True, None, 8, 2), 0)
    assert (numbers(beyond), beyond["overage"], beyond["warning"]) == ((True, None, 13, 0), 3, None)
    after = await check(api)
    assert (after["used"], after["overage"]) == (13, 3)


async def test_warn_records_and_sets_a_warning_once_used_exceeds_the_limit(api: Api) -> None:
    # given
    await given_metered(api, 10, overage="WARN")
    at_limit = await report(api, 10, "r1")
    # when
    beyond = await report(api, 1, "r2")
    # then
    assert numbers(at_limit) == (True, None, 10, 0)
    assert at_limit["warning"] is None
    assert numbers(beyond) == (True, None, 11, 0)
    assert isinstance(beyond["warning"], str)
    assert beyond["warning"]
    assert (await check(api))["warning"] == beyond["warning"]


async def test_an_unlimited_metered_feature_records_and_never_refuses(api: Api) -> None:
    # given
    await given_metered(api, "unlimited")
    # when
    decision = await report(api, 1_000_000, "r1")
    # then
    assert numbers(decision) == (True, None, 1_000_000, None)
    assert (decision["limit"], decision["unlimited"], decision["overage"]) == (None, True, None)


@pytest.mark.parametrize(
    ("overage", "usage", "entitled"),
    [("BLOCK", 3, True), ("BLOCK", 4, False), ("ALLOW", 4, True), ("WARN", 400, True)],
)
async def test_is_entitled_to_weighs_usage_against_what_is_left_in_the_period(
    api: Api, overage: str, usage: int, entitled: bool
) -> None:
    # given: 7 of 10 used
    await given_metered(api, 10, overage=overage)
    await report(api, 7, "r1")
    # when
    data = await api.data(
        'query($n: Int) { isEntitledTo(tenantKey: "acme", featureKey: "calls", usage: $n, at: "2030-01-15T00:00:00Z") '
        "{ isEntitled justification used remaining } }",
        {"n": usage},
    )
    # then: only BLOCK refuses for usage; ALLOW and WARN permit consumption beyond the limit
    decision = data["isEntitledTo"]
    assert numbers(decision) == (entitled, None if entitled else "LIMIT_EXCEEDED", 7, 3)


# --------------------------------------------------------------------------- idempotency


async def test_a_repeated_idempotency_key_returns_exactly_the_first_answer_and_consumes_once(
    api: Api,
) -> None:
    # given
    await given_metered(api, 10)
    first = await report(api, 3, "same")
    await report(api, 2, "other")
    # when
    repeat = await report(api, 9, "same")
    # then
    assert repeat == first
    assert (await check(api))["used"] == 5


async def test_a_repeated_refusal_returns_the_refusal(api: Api) -> None:
    # given
    await given_metered(api, 5)
    refused = await report(api, 6, "big")
    await report(api, 1, "small")
    # when
    repeat = await report(api, 6, "big")
    # then
    assert repeat == refused
    assert repeat["justification"] == "LIMIT_EXCEEDED"
    assert (await check(api))["used"] == 1


async def test_a_repeated_key_returns_the_first_answer_even_after_the_grant_is_revoked(api: Api) -> None:
    # given: the grant starts long ago so that its revocation (now) lies before AT
    entitlement = await given_metered(api, 10, start="2020-01-01T00:00:00Z")
    first = await report(api, 3, "same")
    await api.data(REVOKE, {"ids": [entitlement["id"]]})
    # when
    repeat = await report(api, 3, "same")
    fresh = await report(api, 3, "fresh")
    # then
    assert repeat == first
    assert (fresh["isEntitled"], fresh["justification"]) == (False, "PLAN_EXPIRED")


async def test_concurrent_repeats_of_one_key_consume_once_and_share_one_answer(api: Api) -> None:
    # given
    await given_metered(api, 10)
    # when
    results = await asyncio.gather(*(report(api, 2, "same") for _ in range(10)))
    # then
    assert all(r == results[0] for r in results)
    assert results[0]["used"] == 2
    assert (await check(api))["used"] == 2


async def test_a_non_member_repeating_a_members_key_is_refused_as_not_a_member(api: Api) -> None:
    # given
    await given_metered(api, 10)
    await make_user(api, "mallory")
    await report(api, 3, "same", u="alice")
    # when
    outsider = await report(api, 3, "same", u="mallory")
    # then
    assert (outsider["isEntitled"], outsider["justification"], outsider["used"]) == (
        False,
        "NOT_A_MEMBER",
        None,
    )


async def test_an_idempotency_key_is_scoped_to_its_subject(api: Api) -> None:
    # given
    await given_metered(api, 10)
    await make_tenant(api, "globex")
    await grant(api, feature_key="calls", value=10, tenant_key="globex", start_date=START)
    await report(api, 3, "same", t="acme")
    # when
    other = await report(api, 4, "same", t="globex")
    # then
    assert other["used"] == 4
    assert (await check(api, t="acme"))["used"] == 3


# --------------------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("period", "resets_at"),
    [
        ("DAY", "2030-01-15T12:00:00Z"),
        ("WEEK", "2030-01-17T12:00:00Z"),
        ("MONTH", "2030-02-10T12:00:00Z"),
        ("YEAR", "2031-01-10T12:00:00Z"),
    ],
)
async def test_periods_are_anchored_at_the_start_of_the_earliest_starting_active_source(
    api: Api, period: str, resets_at: str
) -> None:
    # given: an earlier source that has expired, the anchor, and a later-starting source
    await given_metered(api, 10, period=period, start="2030-01-10T12:00:00Z")
    await grant(
        api,
        feature_key="calls",
        value=5,
        tenant_key="acme",
        start_date="2029-06-03T08:00:00Z",
        expiration_date="2030-01-01T00:00:00Z",
    )
    await grant(api, feature_key="calls", value=5, tenant_key="acme", start_date="2030-01-12T06:00:00Z")
    # when
    reported = await report(api, 1, "r1")
    checked = await check(api)
    # then
    assert reported["resetsAt"] == checked["resetsAt"] == resets_at


async def test_used_resets_to_zero_at_the_period_boundary(api: Api) -> None:
    # given
    await given_metered(api, 10, start="2030-01-10T12:00:00Z")
    # when
    reported = await report(api, 4, "r1", at="2030-02-10T11:59:59Z")
    just_before = await check(api, at="2030-02-10T11:59:59.999999Z")
    at_boundary = await check(api, at="2030-02-10T12:00:00Z")
    # then
    assert (reported["used"], reported["resetsAt"]) == (4, "2030-02-10T12:00:00Z")
    assert (just_before["used"], just_before["remaining"]) == (4, 6)
    assert (at_boundary["used"], at_boundary["remaining"], at_boundary["resetsAt"]) == (
        0,
        10,
        "2030-03-10T12:00:00Z",
    )


@pytest.mark.parametrize(
    ("period", "resets_at"),
    [
        ("DAY", "2030-01-16T00:00:00Z"),
        ("WEEK", "2030-01-21T00:00:00Z"),
        ("MONTH", "2030-02-01T00:00:00Z"),
        ("YEAR", "2031-01-01T00:00:00Z"),
    ],
)
async def test_a_flag_only_grant_resets_at_utc_calendar_boundaries(
    api: Api, period: str, resets_at: str
) -> None:
    # given
    await make_feature(api, "calls", "LIMIT", resetPeriod=period, defaultValue=10)
    await make_tenant(api, "acme")
    await api.data(
        CREATE_FLAG, {"input": {"key": "calls-beta", "name": "b", "on": True, "featureKeys": ["calls"]}}
    )
    # when
    reported = await report(api, 2, "r1", at="2030-01-15T09:30:00Z")
    # then
    assert (reported["used"], reported["limit"], reported["resetsAt"]) == (2, 10, resets_at)
    assert [s["kind"] for s in reported["sources"]] == ["FEATURE_FLAG"]
    assert await report(api, 2, "r1", at="2030-01-15T09:30:00Z") == reported


# --------------------------------------------------------------------------- who is counted


async def test_usage_is_counted_for_the_tenant_in_organization_context(api: Api) -> None:
    # given
    await given_metered(api, 10)
    # when
    await report(api, 3, "r1", u="alice")
    await report(api, 2, "r2", u="bob")
    # then
    assert [(await check(api, u=u))["used"] for u in (None, "alice", "bob")] == [5, 5, 5]


async def test_usage_is_counted_for_the_user_in_individual_context(api: Api) -> None:
    # given
    await given_metered(api, 10)
    await grant(api, feature_key="calls", value=10, user_key="alice", start_date=START)
    await report(api, 3, "r1", u="alice")
    # when
    individual = await report(api, 4, "r1", t=None, u="alice")
    # then
    assert (individual["context"], individual["used"]) == ("INDIVIDUAL", 4)
    assert (await check(api))["used"] == 3
    assert (await check(api, t=None, u="alice"))["used"] == 4


# --------------------------------------------------------------------------- refusals and bad input


async def test_a_consumption_nothing_grants_is_refused_and_records_nothing(api: Api) -> None:
    # given
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH")
    await make_tenant(api, "acme")
    # when
    refused = await report(api, 1, "r1")
    await grant(api, feature_key="calls", value=10, tenant_key="acme", start_date=START)
    # then
    assert (refused["isEntitled"], refused["justification"]) == (False, "MISSING_FEATURE")
    assert (await check(api))["used"] == 0


@pytest.mark.parametrize(
    ("t", "expected"),
    [("nobody", "UNKNOWN_SUBJECT"), ("acme", "UNKNOWN_FEATURE")],
)
async def test_report_usage_refuses_an_unknown_subject_or_feature(api: Api, t: str, expected: str) -> None:
    # given
    await make_tenant(api, "acme")
    # when
    decision = await report(api, 1, "r1", t=t, f="calls")
    # then
    assert (decision["isEntitled"], decision["justification"]) == (False, expected)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"featureKey": "seats"}, "featureKey", id="limit without reset period"),
        pytest.param({"featureKey": "sso"}, "featureKey", id="boolean feature"),
        pytest.param({"amount": -1}, "amount", id="negative amount"),
        pytest.param({"tenantKey": None}, "tenantKey", id="no subject"),
        pytest.param({"idempotencyKey": ""}, "idempotencyKey", id="empty idempotency key"),
    ],
)
async def test_report_usage_with_bad_arguments_is_bad_user_input(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    # given
    await given_metered(api, 10)
    await make_feature(api, "seats", "LIMIT")
    await make_feature(api, "sso")
    await grant(api, feature_key="seats", value=10, tenant_key="acme", start_date=START)
    await grant(api, feature_key="sso", tenant_key="acme", start_date=START)
    payload = {
        "tenantKey": "acme",
        "featureKey": "calls",
        "amount": 1,
        "idempotencyKey": "k",
        "at": AT,
        **changes,
    }
    # when
    error = await api.error(REPORT, {"input": payload})
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert (await check(api))["used"] == 0


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_reports_never_take_used_past_a_block_limit(api: Api) -> None:
    # given
    await given_metered(api, 25)
    # when
    results = await asyncio.gather(*(report(api, 1, f"c{n}") for n in range(40)))
    # then
    assert sum(r["isEntitled"] for r in results) == 25
    assert {r["justification"] for r in results if not r["isEntitled"]} == {"LIMIT_EXCEEDED"}
    assert sorted(r["used"] for r in results if r["isEntitled"]) == list(range(1, 26))
    assert (await check(api))["used"] == 25


async def test_concurrent_reports_from_two_processes_never_take_used_past_a_block_limit(
    api: Api, database_url: str
) -> None:
    # given
    await given_metered(api, 25)
    async with serving(database_url) as other:
        # when
        results = await asyncio.gather(*(report(api if n % 2 else other, 1, f"c{n}") for n in range(40)))
    # then
    assert sum(r["isEntitled"] for r in results) == 25
    assert (await check(api))["used"] == 25
