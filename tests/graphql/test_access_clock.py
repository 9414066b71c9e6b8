"""Decisions asked without ``at`` are made at the access service's clock, which a test fixes by injection
(``serving(..., clock=...)``, i.e. ``create_app(clock=...)``): no wall-clock windows."""

from __future__ import annotations

from datetime import UTC, datetime

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
