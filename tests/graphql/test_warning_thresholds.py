"""Warning thresholds (contract §11): validation, warnings on decisions, and the usage changes, once per period."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Api, serving
from tests.factories import grant, make_feature, make_tenant

START = "2030-01-01T00:00:00Z"
AT = "2030-01-15T00:00:00Z"
NEXT_PERIOD = "2030-02-15T00:00:00Z"

REPORT = """
mutation($input: ReportUsageInput!) {
  reportUsage(input: $input) { isEntitled justification used remaining overage warning }
}
"""
USAGE_CHANGES = """
{ changes(filter: {kinds: [USAGE_THRESHOLD_REACHED, USAGE_LIMIT_EXCEEDED]}) {
    edges { node { kind tenantKey userKey featureKey actor payload } } } }
"""
CREATE = "mutation($input: CreateFeatureInput!) { createFeature(input: $input) { key warningThresholds } }"
UPDATE = (
    "mutation($key: String!, $input: UpdateFeatureInput!) "
    "{ updateFeature(key: $key, input: $input) { key warningThresholds } }"
)


async def given_metered(api: Api, limit: int, *, overage: str = "BLOCK", thresholds: list[int]) -> None:
    await make_feature(
        api, "calls", "LIMIT", resetPeriod="MONTH", overage=overage, warningThresholds=thresholds
    )
    await make_tenant(api, "acme")
    await grant(api, feature_key="calls", value=limit, tenant_key="acme", start_date=START)


async def report(api: Api, amount: int, key: str, at: str = AT) -> dict[str, Any]:
    payload = {"tenantKey": "acme", "featureKey": "calls", "amount": amount, "idempotencyKey": key, "at": at}
    decision: dict[str, Any] = (await api.data(REPORT, {"input": payload}))["reportUsage"]
    return decision


async def usage_changes(api: Api) -> list[tuple[str, int | None, int]]:
    edges = (await api.data(USAGE_CHANGES))["changes"]["edges"]
    return [
        (e["node"]["kind"], e["node"]["payload"].get("threshold"), e["node"]["payload"]["used"])
        for e in edges
    ]


async def test_thresholds_are_stored_and_read_back(api: Api) -> None:
    # when
    created = await api.data(
        CREATE,
        {"input": {"key": "calls", "name": "Calls", "type": "LIMIT", "warningThresholds": [50, 80, 100]}},
    )
    updated = await api.data(UPDATE, {"key": "calls", "input": {"warningThresholds": [90]}})
    # then
    assert created["createFeature"]["warningThresholds"] == [50, 80, 100]
    assert updated["updateFeature"]["warningThresholds"] == [90]
    assert (await api.data('{ feature(key: "calls") { warningThresholds } }'))["feature"] == {
        "warningThresholds": [90]
    }


@pytest.mark.parametrize(
    ("type_", "thresholds"),
    [
        ("LIMIT", [0]),
        ("LIMIT", [101]),
        ("LIMIT", [80, 50]),
        ("LIMIT", [50, 50]),
        ("LIMIT", list(range(1, 23))),
        ("BOOLEAN", [50]),
    ],
)
async def test_bad_thresholds_are_bad_user_input_naming_the_field(
    api: Api, type_: str, thresholds: list[int]
) -> None:
    # when
    error = await api.error(
        CREATE, {"input": {"key": "calls", "name": "Calls", "type": type_, "warningThresholds": thresholds}}
    )
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "warningThresholds"
    assert await api.data('{ feature(key: "calls") { key } }') == {"feature": None}


async def test_a_consumption_reaching_thresholds_warns_and_appends_each_once_per_period(api: Api) -> None:
    # given
    await given_metered(api, 100, thresholds=[50, 80])
    # when
    below = await report(api, 49, "r1")
    crossing = await report(api, 35, "r2")  # 84: past 50 and 80 at once
    further = await report(api, 10, "r3")
    next_period = await report(api, 60, "r4", at=NEXT_PERIOD)
    # then
    assert below["warning"] is None
    assert crossing["warning"] == "usage 84 has reached 80% of the limit of 100 for 'calls'"
    assert further["warning"] is not None
    assert next_period["warning"] == "usage 60 has reached 50% of the limit of 100 for 'calls'"
    assert await usage_changes(api) == [
        ("USAGE_THRESHOLD_REACHED", 50, 84),
        ("USAGE_THRESHOLD_REACHED", 80, 84),
        ("USAGE_THRESHOLD_REACHED", 50, 60),
    ]
    node = (await api.data(USAGE_CHANGES))["changes"]["edges"][0]["node"]
    assert (node["tenantKey"], node["userKey"], node["featureKey"], node["actor"]) == (
        "acme",
        None,
        "calls",
        "bootstrap",
    )
    assert node["payload"]["limit"] == 100
    assert node["payload"]["periodStart"].startswith("2030-01-01")


async def test_the_first_refusal_under_block_appends_limit_exceeded_once_per_period(api: Api) -> None:
    # given
    await given_metered(api, 10, thresholds=[100])
    await report(api, 10, "r1")
    # when
    first = await report(api, 1, "r2")
    second = await report(api, 5, "r3")
    # then
    assert (first["isEntitled"], second["isEntitled"]) == (False, False)
    assert await usage_changes(api) == [
        ("USAGE_THRESHOLD_REACHED", 100, 10),
        ("USAGE_LIMIT_EXCEEDED", None, 10),
    ]


@pytest.mark.parametrize("overage", ["ALLOW", "WARN"])
async def test_going_over_the_limit_appends_limit_exceeded_once(api: Api, overage: str) -> None:
    # given
    await given_metered(api, 10, overage=overage, thresholds=[])
    # when
    await report(api, 10, "r1")
    over = await report(api, 2, "r2")
    await report(api, 2, "r3")
    # then
    assert (over["isEntitled"], over["overage"]) == (True, 2)
    assert await usage_changes(api) == [("USAGE_LIMIT_EXCEEDED", None, 12)]


async def test_concurrent_consumptions_in_two_processes_append_each_change_exactly_once(
    api: Api, database_url: str
) -> None:
    # given
    await given_metered(api, 25, thresholds=[20, 60, 100])
    async with serving(database_url) as other:
        # when
        results = await asyncio.gather(*(report(api if n % 2 else other, 1, f"c{n}") for n in range(40)))
    # then
    assert sum(r["isEntitled"] for r in results) == 25
    kinds = [(kind, threshold) for kind, threshold, _ in await usage_changes(api)]
    assert kinds == [
        ("USAGE_THRESHOLD_REACHED", 20),
        ("USAGE_THRESHOLD_REACHED", 60),
        ("USAGE_THRESHOLD_REACHED", 100),
        ("USAGE_LIMIT_EXCEEDED", None),
    ]


async def test_is_entitled_to_warns_once_usage_is_past_a_threshold(api: Api) -> None:
    # given
    await given_metered(api, 10, thresholds=[80])
    await report(api, 8, "r1")
    # when
    decision = await api.data(
        '{ isEntitledTo(tenantKey: "acme", featureKey: "calls", at: "2030-01-20T00:00:00Z") { warning remaining } }'
    )
    # then
    assert decision["isEntitledTo"] == {
        "warning": "usage 8 has reached 80% of the limit of 10 for 'calls'",
        "remaining": 2,
    }
