"""Inputs at the edges (found in review): each gets a clear 4xx-class error, never INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import Api
from tests.factories import grant, make_feature, make_plan, make_tenant

IS_ENTITLED_AT = """
query { isEntitledTo(tenantKey: "acme", featureKey: "sso", at: %s) { isEntitled } }
"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
ENTITLEMENTS_AFTER = """
query($after: String) {
  entitlements(first: 5, after: $after, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount }
}
"""
CREATE_PLAN = "mutation($input: CreatePlanInput!) { createPlan(input: $input) { key } }"
UPSERT_TENANTS = """
mutation($input: [TenantInput!]!, $atomic: Boolean) {
  upsertTenants(input: $input, atomic: $atomic) { tenants { key } errors { index code field } }
}
"""
UPSERT_USERS = """
mutation($input: [UserInput!]!) { upsertUsers(input: $input) { users { key } errors { index code field } } }
"""
CREATE_ROUTE = "mutation($input: ApiRouteInput!) { createApiRoute(input: $input) { id } }"
REPORT = """
mutation($amount: Int!, $key: String!) {
  reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: $amount, idempotencyKey: $key}) {
    isEntitled used overage
  }
}
"""
DELETE_FEATURE = 'mutation { deleteFeature(key: "calls") { deletedId } }'
UPDATE_PLAN_EMPTY = 'mutation { updatePlan(key: "metered", input: {features: []}) { key } }'
REVOKE = "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount } }"
UPDATE_ENTITLEMENT = """
mutation($id: ID!, $input: UpdateEntitlementInput!) { updateEntitlement(id: $id, input: $input) { reason } }
"""
TENANTS_BY_KEYS = "query($keys: [String!]) { tenants(filter: {keys: $keys}) { totalCount } }"


@pytest.mark.parametrize(
    "literal",
    ['"2020-01-01T00:00:00"', '"garbage"', "5", '"9999-12-31T23:00:00-05:00"', '"0001-01-01T00:00:00Z"'],
    ids=["no_offset", "not_a_date", "a_number", "beyond_year_9000", "before_year_1900"],
)
async def test_a_bad_inline_datetime_does_not_validate(api: Api, literal: str) -> None:
    error = await api.error(IS_ENTITLED_AT % literal)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize("pk", ["99999999999999999999999", "3000000000", "0", "-4"])
async def test_an_id_out_of_range_is_bad_input(api: Api, pk: str) -> None:
    global_id = base64.b64encode(f"Entitlement:{pk}".encode()).decode()
    error = await api.error(NODE, {"id": global_id})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "id")


async def test_a_cursor_with_a_naive_datetime_is_bad_input(api: Api) -> None:
    cursor = base64.urlsafe_b64encode(b'["2020-01-01T00:00:00",1]').decode().rstrip("=")
    error = await api.error(ENTITLEMENTS_AFTER, {"after": cursor})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "after")


async def test_a_trial_longer_than_a_hundred_years_is_bad_input(api: Api) -> None:
    error = await api.error(
        CREATE_PLAN, {"input": {"key": "forever", "name": "F", "defaultTimeLimitationDays": 2_000_000_000}}
    )
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "defaultTimeLimitationDays",
    )


async def test_an_overlong_name_is_an_item_error_and_the_good_items_are_still_written(api: Api) -> None:
    # when
    data = await api.data(
        UPSERT_TENANTS, {"input": [{"key": "ok1"}, {"key": "long", "name": "x" * 201}], "atomic": False}
    )
    # then
    payload = data["upsertTenants"]
    assert payload["tenants"] == [{"key": "ok1"}]
    assert payload["errors"] == [{"index": 1, "code": "BAD_USER_INPUT", "field": "name"}]


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ({"method": "A" * 17, "pathPattern": "/x", "policy": "ALLOW"}, "method"),
        ({"method": "GET", "pathPattern": "/" + "a" * 1000, "policy": "ALLOW"}, "pathPattern"),
    ],
    ids=["method_longer_than_16", "pattern_longer_than_1000"],
)
async def test_route_fields_longer_than_stored_are_bad_input(
    api: Api, route: dict[str, str], field: str
) -> None:
    error = await api.error(CREATE_ROUTE, {"input": route})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field)


async def test_an_atomic_user_batch_reports_a_malformed_key_and_an_unknown_tenant_together(api: Api) -> None:
    data = await api.data(
        UPSERT_USERS, {"input": [{"key": "-bad"}, {"key": "u-new", "tenantKeys": ["nope"]}]}
    )
    assert data["upsertUsers"] == {
        "users": [],
        "errors": [
            {"index": 0, "code": "BAD_USER_INPUT", "field": "key"},
            {"index": 1, "code": "NOT_FOUND", "field": "tenantKeys"},
        ],
    }


async def _metered(api: Api, overage: str) -> None:
    await make_feature(api, "calls", "LIMIT", resetPeriod="MONTH", overage=overage)
    await make_plan(api, "metered", {"calls": 10})
    await make_tenant(api, "acme")
    await grant(api, plan_key="metered", tenant_key="acme")


async def test_a_feature_with_recorded_usage_cannot_be_deleted(api: Api) -> None:
    # given
    await _metered(api, "BLOCK")
    await api.data(REPORT, {"amount": 1, "key": "k1"})
    await api.data(UPDATE_PLAN_EMPTY)
    # when
    error = await api.error(DELETE_FEATURE)
    # then
    assert error["extensions"]["code"] == "CONFLICT"


async def test_usage_beyond_the_largest_reportable_count_is_refused_and_used_stays_readable(api: Api) -> None:
    # given
    await _metered(api, "ALLOW")
    first = await api.data(REPORT, {"amount": 2**31 - 1, "key": "k1"})
    # when
    error = await api.error(REPORT, {"amount": 1, "key": "k2"})
    # then
    assert first["reportUsage"] == {"isEntitled": True, "used": 2**31 - 1, "overage": 2**31 - 11}
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "amount")
    again = await api.data(REPORT, {"amount": 0, "key": "k3"})
    assert again["reportUsage"]["used"] == 2**31 - 1


async def test_a_revoked_entitlement_keeps_its_dates_but_its_reason_may_change(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"sso": True})
    await make_tenant(api, "acme")
    entitlement = await grant(api, plan_key="pro", tenant_key="acme")
    await api.data(REVOKE, {"ids": [entitlement["id"]]})
    # when
    error = await api.error(
        UPDATE_ENTITLEMENT, {"id": entitlement["id"], "input": {"expirationDate": "2040-01-01T00:00:00Z"}}
    )
    data = await api.data(UPDATE_ENTITLEMENT, {"id": entitlement["id"], "input": {"reason": "churned"}})
    # then
    assert error["extensions"]["code"] == "CONFLICT"
    assert data["updateEntitlement"] == {"reason": "churned"}


async def test_a_key_filter_longer_than_ten_thousand_keys_is_bad_input(api: Api) -> None:
    error = await api.error(TENANTS_BY_KEYS, {"keys": [f"t{i}" for i in range(10_001)]})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "filter.keys")


async def test_a_document_with_two_operations_must_name_one(api: Api) -> None:
    # when
    response = await api.client.post(
        "/graphql",
        json={
            "query": 'mutation B { upsertTenants(input: [{key: "zz"}]) { errors { code } } } query A { viewer { kind } }'
        },
        headers={"Authorization": f"Bearer {api.token}"},
    )
    named = await api.client.post(
        "/graphql",
        json={"query": "query A { viewer { kind } } query C { viewer { readOnly } }", "operationName": "C"},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    # then
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert (await api.data("{ tenants { totalCount } }"))["tenants"]["totalCount"] == 0
    assert named.json() == {"data": {"viewer": {"readOnly": False}}}
