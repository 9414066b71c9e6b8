"""Decisions asked without ``at`` are made at the access service's clock, which a test fixes by injection
(``serving(..., clock=...)``, i.e. ``create_app(clock=...)``): no wall-clock windows. The metering use
cases (reportUsage, reserveUsage / commitUsage, usage) read "now" from the same injected clock: a
period boundary or a hold's expiry is decided by it, not by the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import serving
from tests.factories import grant, make_feature, make_plan, make_tenant

CHECK = """
query($feature: String!) {
  isEntitledTo(tenantKey: "acme", featureKey: $feature) { isEntitled justification expiresAt }
}
"""
EFFECTIVE = '{ effectiveEntitlements(tenantKey: "acme") { features { feature { key } } } }'


class FixedClock:
    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def __call__(self) -> datetime:
        return self.instant


async def test_a_decision_without_at_is_made_at_the_injected_clock(database_url: str) -> None:
    # given a pro plan for acme from 2030-01-01 to 2030-02-01, and a clock we set
    clock = FixedClock(datetime(2029, 12, 31, tzinfo=UTC))
    async with serving(database_url, clock=clock) as api:
        await make_feature(api, "sso")
        await make_plan(api, "pro", {"sso": True})
        await make_tenant(api, "acme")
        await grant(
            api,
            plan_key="pro",
            tenant_key="acme",
            start_date="2030-01-01T00:00:00Z",
            expiration_date="2030-02-01T00:00:00Z",
        )
        # when / then: before, during and after the window, by the clock alone
        answers = []
        for instant in (datetime(2029, 12, 31, tzinfo=UTC), datetime(2030, 1, 15, tzinfo=UTC)):
            clock.instant = instant
            answers.append((await api.data(CHECK, {"feature": "sso"}))["isEntitledTo"])
            effective = (await api.data(EFFECTIVE))["effectiveEntitlements"]["features"]
            answers.append([f["feature"]["key"] for f in effective])
        clock.instant = datetime(2030, 2, 1, tzinfo=UTC)
        answers.append((await api.data(CHECK, {"feature": "sso"}))["isEntitledTo"])
    assert answers == [
        {"isEntitled": False, "justification": "NOT_STARTED", "expiresAt": None},
        [],
        {"isEntitled": True, "justification": None, "expiresAt": "2030-02-01T00:00:00Z"},
        ["sso"],
        {"isEntitled": False, "justification": "PLAN_EXPIRED", "expiresAt": None},
    ]


REPORT = """
mutation($amount: Int!, $key: String!) {
  reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: $amount, idempotencyKey: $key}) {
    isEntitled justification used remaining resetsAt
  }
}
"""
USAGE = '{ usage(tenantKey: "acme", featureKey: "calls", periods: 2) { start end used limit overage } }'
RESERVATION = "id status expiresAt decision { isEntitled justification used held remaining }"
RESERVE = f"""
mutation($amount: Int!, $key: String!) {{
  reserveUsage(input: {{tenantKey: "acme", featureKey: "calls", amount: $amount, idempotencyKey: $key,
                        expiresInSeconds: 60}}) {{ {RESERVATION} }}
}}
"""
COMMIT = f"mutation($id: ID!) {{ commitUsage(reservationId: $id) {{ {RESERVATION} }} }}"
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on UsageReservation {{ {RESERVATION} }} }} }}"
HELD = '{ isEntitledTo(tenantKey: "acme", featureKey: "calls") { used held remaining } }'


async def given_calls_from_2030(api: Any) -> None:
    """10 calls a month for acme, BLOCK, periods anchored on 2030-01-10 (all after the wall clock)."""
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH", overage="BLOCK")
    await make_tenant(api, "acme")
    await grant(api, feature_key="calls", value=10, tenant_key="acme", start_date="2030-01-10T00:00:00Z")


async def test_report_usage_without_at_consumes_in_the_period_of_the_injected_clock(
    database_url: str,
) -> None:
    # given the clock inside the first period
    clock = FixedClock(datetime(2030, 1, 20, tzinfo=UTC))
    async with serving(database_url, clock=clock) as api:
        await given_calls_from_2030(api)
        answers = [
            (await api.data(REPORT, {"amount": 10, "key": "a"}))["reportUsage"],
            (await api.data(REPORT, {"amount": 1, "key": "b"}))["reportUsage"],
        ]
        # when the clock reaches the reset boundary (the wall clock is years before the grant)
        clock.instant = datetime(2030, 2, 10, tzinfo=UTC)
        answers.append((await api.data(REPORT, {"amount": 1, "key": "c"}))["reportUsage"])
        # then usage (without at) lists the periods by the same clock
        periods = (await api.data(USAGE))["usage"]
    assert answers == [
        {
            "isEntitled": True,
            "justification": None,
            "used": 10,
            "remaining": 0,
            "resetsAt": "2030-02-10T00:00:00Z",
        },
        {
            "isEntitled": False,
            "justification": "LIMIT_EXCEEDED",
            "used": 10,
            "remaining": 0,
            "resetsAt": "2030-02-10T00:00:00Z",
        },
        {
            "isEntitled": True,
            "justification": None,
            "used": 1,
            "remaining": 9,
            "resetsAt": "2030-03-10T00:00:00Z",
        },
    ]
    assert periods == [
        {
            "start": "2030-02-10T00:00:00Z",
            "end": "2030-03-10T00:00:00Z",
            "used": 1,
            "limit": 10,
            "overage": 0,
        },
        {
            "start": "2030-01-10T00:00:00Z",
            "end": "2030-02-10T00:00:00Z",
            "used": 10,
            "limit": 10,
            "overage": 0,
        },
    ]


async def test_usage_without_at_before_the_grant_starts_follows_the_injected_clock(database_url: str) -> None:
    # given the clock before the grant: the UTC calendar and a limit of 0
    clock = FixedClock(datetime(2029, 12, 15, tzinfo=UTC))
    async with serving(database_url, clock=clock) as api:
        await given_calls_from_2030(api)
        # when
        periods = (await api.data(USAGE))["usage"]
    # then
    assert periods == [
        {"start": "2029-12-01T00:00:00Z", "end": "2030-01-01T00:00:00Z", "used": 0, "limit": 0, "overage": 0},
        {"start": "2029-11-01T00:00:00Z", "end": "2029-12-01T00:00:00Z", "used": 0, "limit": 0, "overage": 0},
    ]


async def test_a_reservation_is_held_and_expires_by_the_injected_clock(database_url: str) -> None:
    # given a hold made at the clock's instant, for 60 s
    clock = FixedClock(datetime(2030, 1, 20, 12, 0, tzinfo=UTC))
    async with serving(database_url, clock=clock) as api:
        await given_calls_from_2030(api)
        held = (await api.data(RESERVE, {"amount": 8, "key": "job-1"}))["reserveUsage"]
        during = [(await api.data(NODE, {"id": held["id"]}))["node"], (await api.data(HELD))["isEntitledTo"]]
        # when the clock passes its expiry (no wall-clock wait)
        clock.instant = datetime(2030, 1, 20, 12, 1, 1, tzinfo=UTC)
        after = [(await api.data(NODE, {"id": held["id"]}))["node"], (await api.data(HELD))["isEntitledTo"]]
        late_commit = await api.error(COMMIT, {"id": held["id"]})
        # and a new hold past the period's end falls in the next period, by the clock
        clock.instant = datetime(2030, 2, 10, tzinfo=UTC)
        next_period = (await api.data(RESERVE, {"amount": 10, "key": "job-2"}))["reserveUsage"]
    # then
    assert (held["status"], held["expiresAt"]) == ("HELD", "2030-01-20T12:01:00Z")
    assert held["decision"] == {
        "isEntitled": True,
        "justification": None,
        "used": 0,
        "held": 8,
        "remaining": 2,
    }
    assert during[0]["status"] == "HELD"
    assert during[1] == {"used": 0, "held": 8, "remaining": 2}
    assert after[0]["status"] == "EXPIRED"
    assert after[1] == {"used": 0, "held": 0, "remaining": 10}
    assert late_commit["extensions"]["code"] == "CONFLICT"
    assert (next_period["status"], next_period["expiresAt"]) == ("HELD", "2030-02-10T00:01:00Z")
    assert next_period["decision"]["held"] == 10


async def test_an_entitlements_status_and_the_status_filter_follow_the_injected_clock(
    database_url: str,
) -> None:
    # given a pro plan for acme from 2030-01-01 to 2030-02-01, and a clock before it starts
    clock = FixedClock(datetime(2029, 12, 31, tzinfo=UTC))
    listing = """
    query($status: [EntitlementStatus!]) {
      all: entitlements(first: 10) { edges { node { status } } }
      filtered: entitlements(first: 10, filter: {status: $status}) { edges { node { status } } }
    }
    """
    async with serving(database_url, clock=clock) as api:
        await make_feature(api, "sso")
        await make_plan(api, "pro", {"sso": True})
        await make_tenant(api, "acme")
        await grant(
            api,
            plan_key="pro",
            tenant_key="acme",
            start_date="2030-01-01T00:00:00Z",
            expiration_date="2030-02-01T00:00:00Z",
        )
        # when: the same listing before, during and after the window, by the clock alone
        seen: list[tuple[list[str], int]] = []
        for instant in (
            datetime(2029, 12, 31, tzinfo=UTC),
            datetime(2030, 1, 15, tzinfo=UTC),
            datetime(2030, 2, 1, tzinfo=UTC),
        ):
            clock.instant = instant
            data = await api.data(listing, {"status": ["ACTIVE"]})
            seen.append(([e["node"]["status"] for e in data["all"]["edges"]], len(data["filtered"]["edges"])))
    # then
    assert seen == [(["SCHEDULED"], 0), (["ACTIVE"], 1), (["EXPIRED"], 0)]
