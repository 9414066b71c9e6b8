"""Entitlements through the API: levels, status, update, revoke, filters and ordering (§3, §7)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import Api
from tests.factories import CREATE_ENTITLEMENT, grant, make_feature, make_plan, make_tenant, make_user

UPDATE = """
mutation($id: ID!, $input: UpdateEntitlementInput!) {
  updateEntitlement(id: $id, input: $input) { id startDate expirationDate reason metadata status }
}
"""
REVOKE = """
mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount errors { index code field message } } }
"""
NODE = """
query($id: ID!) {
  node(id: $id) { ... on Entitlement { id status revokedAt plan { key } tenant { key } } }
}
"""
LIST = """
query($filter: EntitlementFilter, $orderBy: EntitlementOrder, $first: Int, $last: Int) {
  entitlements(filter: $filter, orderBy: $orderBy, first: $first, last: $last) {
    totalCount edges { node { id reason } }
  }
}
"""
NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _catalog_and_subjects(api: Api) -> None:
    await make_feature(api, "sso")
    await make_feature(api, "seats", "LIMIT")
    await make_feature(api, "exports", "LIST")
    await make_plan(api, "pro", {"sso": True, "seats": 10})
    await make_plan(api, "basic", {"seats": 2})
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "ann", ["acme"])
    await make_user(api, "bob", ["acme", "globex"])
    await make_user(api, "solo")


async def _reasons(
    api: Api, filter: dict[str, Any] | None = None, order: Any = None, **page: Any
) -> list[str]:
    data = await api.data(LIST, {"filter": filter, "orderBy": order, **page})
    return [edge["node"]["reason"] for edge in data["entitlements"]["edges"]]


# --------------------------------------------------------------------------- levels


async def test_the_assign_level_follows_from_the_keys_given(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    # when
    tenant = await grant(api, plan_key="pro", tenant_key="acme")
    user = await grant(api, plan_key="pro", tenant_key="acme", user_key="ann")
    individual = await grant(api, feature_key="exports", user_key="solo", value=["csv"])
    # then
    assert (tenant["assignLevel"], tenant["tenant"], tenant["user"]) == ("TENANT", {"key": "acme"}, None)
    assert (user["assignLevel"], user["tenant"], user["user"]) == ("USER", {"key": "acme"}, {"key": "ann"})
    assert (individual["assignLevel"], individual["tenant"], individual["user"]) == (
        "INDIVIDUAL",
        None,
        {"key": "solo"},
    )
    assert individual["feature"] == {"key": "exports"}
    assert individual["plan"] is None
    assert individual["value"] == ["csv"]


async def test_a_user_level_grant_for_a_non_member_is_a_conflict(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    # when
    error = await api.error(
        CREATE_ENTITLEMENT, {"input": {"planKey": "pro", "tenantKey": "globex", "userKey": "ann"}}
    )
    # then
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await api.data(LIST))["entitlements"]["totalCount"] == 0


async def test_exactly_one_of_plan_key_and_feature_key_is_required(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    for keys in ({}, {"planKey": "pro", "featureKey": "sso"}):
        # when
        error = await api.error(CREATE_ENTITLEMENT, {"input": {**keys, "tenantKey": "acme"}})
        # then
        assert error["extensions"]["code"] == "BAD_USER_INPUT", keys
    assert (await api.data(LIST))["entitlements"]["totalCount"] == 0


async def test_a_grant_needs_a_subject(api: Api) -> None:
    await _catalog_and_subjects(api)
    error = await api.error(CREATE_ENTITLEMENT, {"input": {"planKey": "pro"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


BAD_GRANTS: list[tuple[dict[str, Any], str, str]] = [
    ({"planKey": "ghost", "tenantKey": "acme"}, "NOT_FOUND", "planKey"),
    ({"featureKey": "ghost", "tenantKey": "acme"}, "NOT_FOUND", "featureKey"),
    ({"planKey": "pro", "tenantKey": "ghost"}, "NOT_FOUND", "tenantKey"),
    ({"planKey": "pro", "userKey": "ghost"}, "NOT_FOUND", "userKey"),
    ({"featureKey": "seats", "value": "many", "tenantKey": "acme"}, "BAD_USER_INPUT", "value"),
    ({"planKey": "pro", "tenantKey": "acme", "value": 3}, "BAD_USER_INPUT", "value"),
    ({"planKey": "pro", "tenantKey": "acme", "metadata": [1]}, "BAD_USER_INPUT", "metadata"),
]


async def test_a_bad_grant_is_refused_naming_the_field(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    for input_, code, field in BAD_GRANTS:
        # when
        error = await api.error(CREATE_ENTITLEMENT, {"input": input_})
        # then
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field), input_
    assert (await api.data(LIST))["entitlements"]["totalCount"] == 0


async def test_a_grant_whose_expiration_is_not_after_its_start_is_refused(api: Api) -> None:
    await _catalog_and_subjects(api)
    error = await api.error(
        CREATE_ENTITLEMENT,
        {
            "input": {
                "planKey": "pro",
                "tenantKey": "acme",
                "startDate": _iso(NOW),
                "expirationDate": _iso(NOW),
            }
        },
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "expirationDate"


# --------------------------------------------------------------------------- status


async def test_status_is_active_scheduled_expired_or_revoked(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    active = await grant(
        api, plan_key="pro", tenant_key="acme", expiration_date=_iso(NOW + timedelta(days=1))
    )
    scheduled = await grant(api, plan_key="pro", tenant_key="acme", start_date=_iso(NOW + timedelta(days=1)))
    expired = await grant(
        api,
        plan_key="pro",
        tenant_key="acme",
        start_date=_iso(NOW - timedelta(days=10)),
        expiration_date=_iso(NOW - timedelta(days=1)),
    )
    revoked = await grant(api, plan_key="pro", tenant_key="acme")
    # when
    await api.data(REVOKE, {"ids": [revoked["id"]]})
    # then
    assert active["status"] == "ACTIVE"
    assert scheduled["status"] == "SCHEDULED"
    assert expired["status"] == "EXPIRED"
    assert (await api.data(NODE, {"id": revoked["id"]}))["node"]["status"] == "REVOKED"


# --------------------------------------------------------------------------- update


async def test_update_entitlement_changes_the_given_fields(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    created = await grant(api, plan_key="pro", tenant_key="acme", reason="sale")
    end = NOW + timedelta(days=30)
    # when
    data = await api.data(
        UPDATE, {"id": created["id"], "input": {"expirationDate": _iso(end), "metadata": {"crm": "42"}}}
    )
    # then
    updated = data["updateEntitlement"]
    assert updated["expirationDate"] == _iso(end)
    assert updated["reason"] == "sale"
    assert updated["metadata"] == {"crm": "42"}
    assert updated["startDate"] == created["startDate"]


async def test_update_entitlement_can_clear_the_expiration(api: Api) -> None:
    await _catalog_and_subjects(api)
    created = await grant(
        api, plan_key="pro", tenant_key="acme", expiration_date=_iso(NOW + timedelta(days=3))
    )
    data = await api.data(UPDATE, {"id": created["id"], "input": {"expirationDate": None}})
    assert data["updateEntitlement"]["expirationDate"] is None


async def test_update_entitlement_refuses_an_expiration_not_after_the_start(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    created = await grant(
        api,
        plan_key="pro",
        tenant_key="acme",
        start_date="2025-01-01T00:00:00Z",
        expiration_date="2098-01-01T00:00:00Z",
    )
    for change in ({"expirationDate": "2020-01-01T00:00:00Z"}, {"startDate": "2099-01-01T00:00:00Z"}):
        # when
        error = await api.error(UPDATE, {"id": created["id"], "input": change})
        # then
        assert error["extensions"]["code"] == "BAD_USER_INPUT", change
        assert error["extensions"]["field"] == "expirationDate"
    node = await api.data(
        "query($id: ID!) { node(id: $id) { ... on Entitlement { startDate expirationDate } } }",
        {"id": created["id"]},
    )
    assert node["node"] == {"startDate": "2025-01-01T00:00:00Z", "expirationDate": "2098-01-01T00:00:00Z"}


async def test_update_of_an_unknown_entitlement_is_not_found(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    await grant(api, plan_key="pro", tenant_key="acme")
    tenant_id = (await api.data('{ tenant(key: "acme") { id } }'))["tenant"]["id"]
    # when
    unknown_id = base64.b64encode(b"Entitlement:999999").decode()
    unknown = await api.error(UPDATE, {"id": unknown_id, "input": {"reason": "x"}})
    other_type = await api.error(UPDATE, {"id": tenant_id, "input": {"reason": "x"}})
    # then
    assert unknown["extensions"]["code"] == "NOT_FOUND"
    assert other_type["extensions"]["code"] == "NOT_FOUND"


# --------------------------------------------------------------------------- revoke


async def test_revoke_revokes_known_ids_reports_unknown_ones_and_keeps_history(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    first = await grant(api, plan_key="pro", tenant_key="acme")
    second = await grant(api, plan_key="basic", user_key="solo")
    kept = await grant(api, plan_key="basic", tenant_key="globex")
    tenant_id = (await api.data('{ tenant(key: "acme") { id } }'))["tenant"]["id"]
    await api.data(REVOKE, {"ids": [second["id"]]})
    # when
    data = await api.data(REVOKE, {"ids": [first["id"], "not-an-id!", tenant_id, second["id"]]})
    # then
    payload = data["revokeEntitlements"]
    assert payload["revokedCount"] == 1
    assert [(e["index"], e["code"]) for e in payload["errors"]] == [(1, "BAD_USER_INPUT"), (2, "NOT_FOUND")]
    node = (await api.data(NODE, {"id": first["id"]}))["node"]
    assert node["status"] == "REVOKED"
    assert node["revokedAt"] is not None
    assert node["plan"] == {"key": "pro"}
    assert node["tenant"] == {"key": "acme"}
    assert (await api.data(NODE, {"id": kept["id"]}))["node"]["status"] == "ACTIVE"
    assert (await api.data(LIST))["entitlements"]["totalCount"] == 3


async def test_revoking_an_already_revoked_entitlement_keeps_its_first_revocation_time(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    created = await grant(api, plan_key="pro", tenant_key="acme")
    await api.data(REVOKE, {"ids": [created["id"]]})
    first = (await api.data(NODE, {"id": created["id"]}))["node"]["revokedAt"]
    # when
    again = await api.data(REVOKE, {"ids": [created["id"]]})
    # then
    assert again["revokeEntitlements"] == {"revokedCount": 0, "errors": []}
    assert (await api.data(NODE, {"id": created["id"]}))["node"]["revokedAt"] == first


# --------------------------------------------------------------------------- filters and order


async def _filter_fixture(api: Api) -> None:
    """One grant per reason; the reason names it."""
    await _catalog_and_subjects(api)
    await grant(
        api,
        plan_key="pro",
        tenant_key="acme",
        reason="acme-pro",
        expiration_date=_iso(NOW + timedelta(days=5)),
    )
    await grant(api, plan_key="basic", tenant_key="acme", user_key="ann", reason="acme-ann-basic")
    await grant(
        api,
        feature_key="sso",
        tenant_key="globex",
        user_key="bob",
        reason="globex-bob-sso",
        value=True,
        expiration_date=_iso(NOW + timedelta(days=20)),
    )
    await grant(
        api,
        feature_key="exports",
        user_key="bob",
        reason="bob-exports",
        value=["csv"],
        start_date=_iso(NOW + timedelta(days=2)),
        expiration_date=_iso(NOW + timedelta(days=10)),
    )
    await grant(
        api,
        plan_key="basic",
        user_key="solo",
        reason="solo-basic",
        start_date=_iso(NOW - timedelta(days=9)),
        expiration_date=_iso(NOW - timedelta(days=1)),
    )
    await grant(api, plan_key="basic", tenant_key="globex", reason="globex-basic-revoked")
    revoked = await api.data(LIST, {"filter": {"tenantKeys": ["globex"], "planKeys": ["basic"]}})
    await api.data(REVOKE, {"ids": [e["node"]["id"] for e in revoked["entitlements"]["edges"]]})


FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"planKeys": ["pro"]}, {"acme-pro"}),
    ({"planKeys": ["basic", "ghost"]}, {"acme-ann-basic", "solo-basic", "globex-basic-revoked"}),
    ({"featureKeys": ["sso"]}, {"acme-pro", "globex-bob-sso"}),
    ({"featureKeys": ["exports"]}, {"bob-exports"}),
    ({"featureKeys": ["seats"]}, {"acme-pro", "acme-ann-basic", "solo-basic", "globex-basic-revoked"}),
    ({"tenantKeys": ["acme"]}, {"acme-pro", "acme-ann-basic"}),
    ({"tenantKeys": ["globex"]}, {"globex-bob-sso", "globex-basic-revoked"}),
    ({"userKeys": ["bob"]}, {"globex-bob-sso", "bob-exports"}),
    ({"userKeys": ["ann", "solo"]}, {"acme-ann-basic", "solo-basic"}),
    ({"userKeys": ["ghost"]}, set()),
    ({"assignLevel": "TENANT"}, {"acme-pro", "globex-basic-revoked"}),
    ({"assignLevel": "USER"}, {"acme-ann-basic", "globex-bob-sso"}),
    ({"assignLevel": "INDIVIDUAL"}, {"bob-exports", "solo-basic"}),
    ({"status": ["ACTIVE"]}, {"acme-pro", "acme-ann-basic", "globex-bob-sso"}),
    ({"status": ["SCHEDULED"]}, {"bob-exports"}),
    ({"status": ["EXPIRED"]}, {"solo-basic"}),
    ({"status": ["REVOKED"]}, {"globex-basic-revoked"}),
    ({"status": ["EXPIRED", "REVOKED"]}, {"solo-basic", "globex-basic-revoked"}),
    ({"status": []}, set()),
    ({"expiresBefore": _iso(NOW + timedelta(days=6))}, {"acme-pro", "solo-basic"}),
    ({"expiresAfter": _iso(NOW + timedelta(days=5))}, {"acme-pro", "globex-bob-sso", "bob-exports"}),
    (
        {"expiresAfter": _iso(NOW), "expiresBefore": _iso(NOW + timedelta(days=15))},
        {"acme-pro", "bob-exports"},
    ),
    ({"tenantKeys": ["acme"], "assignLevel": "USER"}, {"acme-ann-basic"}),
    ({"userKeys": ["bob"], "status": ["ACTIVE"]}, {"globex-bob-sso"}),
]


async def test_entitlement_filters_select_the_matching_grants(api: Api) -> None:
    # given
    await _filter_fixture(api)
    for filter, expected in FILTER_CASES:
        # when
        data = await api.data(LIST, {"filter": filter})
        # then
        reasons = {edge["node"]["reason"] for edge in data["entitlements"]["edges"]}
        assert reasons == expected, filter
        assert data["entitlements"]["totalCount"] == len(expected), filter


async def test_entitlements_can_be_ordered_by_creation_and_expiration_both_ways(api: Api) -> None:
    # given
    await _filter_fixture(api)
    created_order = [
        "acme-pro",
        "acme-ann-basic",
        "globex-bob-sso",
        "bob-exports",
        "solo-basic",
        "globex-basic-revoked",
    ]
    expiring_order = ["solo-basic", "acme-pro", "bob-exports", "globex-bob-sso"]
    # when
    created_asc = await _reasons(api, order={"field": "CREATED_AT", "direction": "ASC"})
    created_desc = await _reasons(api, order={"field": "CREATED_AT", "direction": "DESC"})
    expiring_asc = await _reasons(api, order={"field": "EXPIRATION_DATE", "direction": "ASC"})
    expiring_desc = await _reasons(api, order={"field": "EXPIRATION_DATE", "direction": "DESC"})
    last_two = await _reasons(api, order={"field": "EXPIRATION_DATE", "direction": "ASC"}, last=2)
    # then
    assert created_asc == created_order
    assert created_desc == created_order[::-1]
    assert expiring_asc[:4] == expiring_order
    assert set(expiring_asc[4:]) == {"acme-ann-basic", "globex-basic-revoked"}  # never expire: last
    assert expiring_desc[2:] == expiring_order[::-1]
    assert set(expiring_desc[:2]) == {"acme-ann-basic", "globex-basic-revoked"}
    assert last_two == expiring_asc[4:]


async def test_a_plans_and_a_tenants_entitlements_are_scoped_to_them(api: Api) -> None:
    # given
    await _filter_fixture(api)
    # when
    data = await api.data(
        """
        {
          plan(key: "basic") { entitlements(filter: {status: [ACTIVE, EXPIRED]}) { totalCount edges { node { reason } } } }
          tenant(key: "globex") { entitlements { totalCount edges { node { reason } } } }
        }
        """
    )
    # then
    plan = data["plan"]["entitlements"]
    assert {e["node"]["reason"] for e in plan["edges"]} == {"acme-ann-basic", "solo-basic"}
    assert plan["totalCount"] == 2
    tenant = data["tenant"]["entitlements"]
    assert {e["node"]["reason"] for e in tenant["edges"]} == {"globex-bob-sso", "globex-basic-revoked"}


async def test_dates_with_an_offset_are_stored_and_answered_in_utc(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    # when
    created = await grant(
        api,
        plan_key="pro",
        tenant_key="acme",
        start_date="2030-01-01T02:00:00+02:00",
        expiration_date="2030-01-31T18:30:00-05:30",
    )
    # then
    assert created["startDate"] == "2030-01-01T00:00:00Z"
    assert created["expirationDate"] == "2030-02-01T00:00:00Z"


async def test_a_date_without_an_offset_is_refused(api: Api) -> None:
    # given
    await _catalog_and_subjects(api)
    # when
    error = await api.error(
        CREATE_ENTITLEMENT,
        {"input": {"planKey": "pro", "tenantKey": "acme", "startDate": "2030-01-01T00:00:00"}},
    )
    # then
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "offset" in error["message"]
    assert (await api.data(LIST))["entitlements"]["totalCount"] == 0
