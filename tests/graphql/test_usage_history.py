"""Usage history (contract §11): ``usage`` per period, newest first, and ``usageRecords``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import grant, make_feature, make_tenant, make_user
from tests.graphql.test_user_tokens import user_token

START = "2030-01-10T00:00:00Z"
REPORT = "mutation($input: ReportUsageInput!) { reportUsage(input: $input) { isEntitled } }"
USAGE = """
query($f: String!, $t: String, $u: String, $periods: Int, $at: DateTime) {
  usage(featureKey: $f, tenantKey: $t, userKey: $u, periods: $periods, at: $at) { start end used limit overage }
}
"""
RECORDS = """
query($first: Int, $after: String, $filter: UsageRecordFilter) {
  usageRecords(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id tenantKey userKey featureKey amount idempotencyKey at accepted } }
  }
}
"""


async def given_metered(api: Api, limit: Any = 10, *, overage: str = "ALLOW") -> None:
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH", overage=overage)
    await make_feature(api, "exports", "LIMIT", resetPeriod="DAY")
    await make_tenant(api, "acme")
    await make_user(api, "alice", ["acme"])
    await grant(api, feature_key="calls", value=limit, tenant_key="acme", start_date=START)
    await grant(api, feature_key="exports", value=5, tenant_key="acme", start_date=START)


async def report(api: Api, amount: int, key: str, at: str, feature: str = "calls") -> None:
    payload = {"tenantKey": "acme", "featureKey": feature, "amount": amount, "idempotencyKey": key, "at": at}
    await api.data(REPORT, {"input": payload})


async def test_usage_lists_the_current_period_and_those_before_it_newest_first(api: Api) -> None:
    # given: anchored on the 10th; usage in January's and March's periods
    await given_metered(api, 10)
    await report(api, 4, "jan", "2030-01-20T00:00:00Z")
    await report(api, 13, "mar", "2030-03-12T00:00:00Z")
    # when
    data = await api.data(USAGE, {"f": "calls", "t": "acme", "periods": 3, "at": "2030-03-15T00:00:00Z"})
    # then
    assert data["usage"] == [
        {
            "start": "2030-03-10T00:00:00Z",
            "end": "2030-04-10T00:00:00Z",
            "used": 13,
            "limit": 10,
            "overage": 3,
        },
        {
            "start": "2030-02-10T00:00:00Z",
            "end": "2030-03-10T00:00:00Z",
            "used": 0,
            "limit": 10,
            "overage": 0,
        },
        {
            "start": "2030-01-10T00:00:00Z",
            "end": "2030-02-10T00:00:00Z",
            "used": 4,
            "limit": 10,
            "overage": 0,
        },
    ]


async def test_usage_defaults_to_the_current_period_and_an_unlimited_limit_is_null(api: Api) -> None:
    await given_metered(api, "unlimited")
    await report(api, 7, "jan", "2030-01-20T00:00:00Z")
    data = await api.data(USAGE, {"f": "calls", "t": "acme", "at": "2030-01-21T00:00:00Z"})
    assert data["usage"] == [
        {
            "start": "2030-01-10T00:00:00Z",
            "end": "2030-02-10T00:00:00Z",
            "used": 7,
            "limit": None,
            "overage": 0,
        }
    ]


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"f": "calls", "t": "acme", "periods": 0}, "BAD_USER_INPUT", "periods"),
        ({"f": "calls", "t": "acme", "periods": 121}, "BAD_USER_INPUT", "periods"),
        ({"f": "nope", "t": "acme"}, "NOT_FOUND", "featureKey"),
        ({"f": "calls"}, "BAD_USER_INPUT", "tenantKey"),
    ],
)
async def test_bad_usage_arguments(api: Api, variables: dict[str, Any], code: str, field: str) -> None:
    await given_metered(api)
    error = await api.error(USAGE, variables)
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field)


async def test_an_unknown_subject_has_no_usage_periods(api: Api) -> None:
    await given_metered(api)
    assert (await api.data(USAGE, {"f": "calls", "t": "globex"}))["usage"] == []


async def test_a_user_token_reads_its_own_usage_only(api: Api) -> None:
    # given
    await given_metered(api)
    await report(api, 2, "jan", "2030-01-20T00:00:00Z")
    alice = user_token("alice", "acme")
    # when
    own = await api.data(USAGE, {"f": "calls", "at": "2030-01-21T00:00:00Z"}, token=alice)
    other = await api.error(USAGE, {"f": "calls", "t": "globex"}, token=alice)
    records = await api.error(RECORDS, token=alice)
    # then
    assert own["usage"][0]["used"] == 2
    assert other["extensions"]["code"] == "FORBIDDEN"
    assert records["extensions"]["code"] == "FORBIDDEN"


async def test_usage_records_list_every_consumption_applied_or_refused_newest_first(api: Api) -> None:
    # given
    await given_metered(api, 10)
    await report(api, 3, "a", "2030-01-20T00:00:00Z")
    await report(api, 6, "b", "2030-01-21T00:00:00Z", feature="exports")  # refused: 5 a day
    await report(api, 3, "a", "2030-01-20T00:00:00Z")  # a repeat: no new record
    await report(api, 4, "c", "2030-01-22T00:00:00Z")
    # when
    first = (await api.data(RECORDS, {"first": 2}))["usageRecords"]
    rest = (await api.data(RECORDS, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["usageRecords"]
    refused = (await api.data(RECORDS, {"filter": {"featureKeys": ["exports"]}}))["usageRecords"]
    since = await api.data(RECORDS, {"filter": {"since": "2030-01-21T00:00:00Z", "tenantKeys": ["acme"]}})
    # then
    nodes = [e["node"] for e in first["edges"] + rest["edges"]]
    assert [(n["idempotencyKey"], n["amount"], n["accepted"]) for n in nodes] == [
        ("c", 4, True),
        ("b", 6, False),
        ("a", 3, True),
    ]
    assert first["totalCount"] == 3
    assert (first["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    assert [e["node"]["idempotencyKey"] for e in refused["edges"]] == ["b"]
    assert [e["node"]["idempotencyKey"] for e in since["usageRecords"]["edges"]] == ["c", "b"]
    node = await api.data(
        "query($id: ID!) { node(id: $id) { ... on UsageRecord { idempotencyKey } } }", {"id": nodes[0]["id"]}
    )
    assert node["node"] == {"idempotencyKey": "c"}
