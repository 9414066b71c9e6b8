"""API routes (contract §6): managing them, matching, precedence and the decision for a route."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import grant, make_feature, make_plan, make_tenant, make_user

START = "2030-01-01T00:00:00Z"
AT = "2030-01-15T00:00:00Z"

CREATE_ROUTE = """
mutation($input: ApiRouteInput!) {
  createApiRoute(input: $input) { id method pathPattern policy feature { key } permissionKey priority }
}
"""
DELETE_ROUTE = "mutation($id: ID!) { deleteApiRoute(id: $id) { deletedId } }"
LIST_ROUTES = """
{ apiRoutes { totalCount edges { node { id method pathPattern policy feature { key } permissionKey priority } } } }
"""
DECISION = """
query($t: String, $u: String, $method: String!, $path: String!, $usage: Int, $at: DateTime) {
  isEntitledTo(tenantKey: $t, userKey: $u, route: {method: $method, path: $path}, usage: $usage, at: $at) {
    isEntitled justification value limit remaining sources { kind plan { key } entitlement { id } }
  }
}
"""


async def make_route(
    api: Api, method: str, pattern: str, policy: str = "ALLOW", **fields: Any
) -> dict[str, Any]:
    data = await api.data(
        CREATE_ROUTE, {"input": {"method": method, "pathPattern": pattern, "policy": policy, **fields}}
    )
    route: dict[str, Any] = data["createApiRoute"]
    return route


async def decide(api: Api, method: str, path: str, t: str | None = "acme", **args: Any) -> dict[str, Any]:
    data = await api.data(DECISION, {"t": t, "method": method, "path": path, "at": AT, **args})
    decision: dict[str, Any] = data["isEntitledTo"]
    return decision


def outcome(decision: dict[str, Any]) -> str:
    return "ENTITLED" if decision["isEntitled"] else decision["justification"]


# --------------------------------------------------------------------------- managing routes


async def test_created_routes_are_listed_and_a_deleted_one_is_gone(api: Api) -> None:
    # given
    await make_feature(api, "reports")
    first = await make_route(api, "get", "/api/v1/reports/{id}", "REQUIRE_FEATURE", featureKey="reports")
    second = await make_route(
        api, "*", "/admin/**", "REQUIRE_PERMISSION", permissionKey="admin.access", priority=3
    )
    # when
    listed = (await api.data(LIST_ROUTES))["apiRoutes"]
    deleted = (await api.data(DELETE_ROUTE, {"id": first["id"]}))["deleteApiRoute"]
    after = (await api.data(LIST_ROUTES))["apiRoutes"]
    # then
    assert first == {
        "id": first["id"],
        "method": "GET",
        "pathPattern": "/api/v1/reports/{id}",
        "policy": "REQUIRE_FEATURE",
        "feature": {"key": "reports"},
        "permissionKey": None,
        "priority": 0,
    }
    assert listed["totalCount"] == 2
    assert [e["node"] for e in listed["edges"]] == [first, second]
    assert deleted == {"deletedId": first["id"]}
    assert [e["node"]["id"] for e in after["edges"]] == [second["id"]]


async def test_deleting_a_route_changes_the_next_decision(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    route = await make_route(api, "GET", "/ping")
    before = await decide(api, "GET", "/ping")
    # when
    await api.data(DELETE_ROUTE, {"id": route["id"]})
    after = await decide(api, "GET", "/ping")
    # then
    assert (outcome(before), outcome(after)) == ("ENTITLED", "MISSING_ROUTE")


async def test_deleting_an_unknown_route_is_not_found(api: Api) -> None:
    # given
    route = await make_route(api, "GET", "/ping")
    await api.data(DELETE_ROUTE, {"id": route["id"]})
    # when
    error = await api.error(DELETE_ROUTE, {"id": route["id"]})
    # then
    assert error["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("route_input", "field"),
    [
        pytest.param({"method": "GET", "pathPattern": "api/v1"}, "pathPattern", id="no leading slash"),
        pytest.param({"method": "GET", "pathPattern": "/a/**/b"}, "pathPattern", id="inner double star"),
        pytest.param({"method": "GET", "pathPattern": "/a//b"}, "pathPattern", id="empty segment"),
        pytest.param({"method": "GET", "pathPattern": "/a/{bad-name}"}, "pathPattern", id="malformed param"),
        pytest.param({"method": "GET", "pathPattern": "/a/{x}/{x}"}, "pathPattern", id="repeated param"),
        pytest.param({"method": "GET", "pathPattern": "/a/b*"}, "pathPattern", id="star inside a segment"),
        pytest.param({"method": "G ET", "pathPattern": "/a"}, "method", id="bad method"),
        pytest.param({"method": "", "pathPattern": "/a"}, "method", id="empty method"),
        pytest.param(
            {"method": "GET", "pathPattern": "/a", "policy": "REQUIRE_FEATURE"}, "featureKey", id="no feature"
        ),
        pytest.param(
            {"method": "GET", "pathPattern": "/a", "policy": "REQUIRE_PERMISSION"},
            "permissionKey",
            id="no permission",
        ),
    ],
)
async def test_a_bad_route_is_bad_user_input_naming_the_field(
    api: Api, route_input: dict[str, Any], field: str
) -> None:
    # when
    error = await api.error(CREATE_ROUTE, {"input": {"policy": "ALLOW", **route_input}})
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert (await api.data(LIST_ROUTES))["apiRoutes"]["totalCount"] == 0


# --------------------------------------------------------------------------- matching and precedence


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param("GET", "/api/v1/users/42", "ENTITLED", id="param matches one segment"),
        pytest.param("get", "/api/v1/users/42", "ENTITLED", id="method is case-insensitive"),
        pytest.param("GET", "/api/v1/users/42/", "ENTITLED", id="trailing slash ignored"),
        pytest.param("GET", "/api/v1/users/42?expand=1", "ENTITLED", id="query string ignored"),
        pytest.param("GET", "/api/v1/users/42/posts", "MISSING_ROUTE", id="param is exactly one segment"),
        pytest.param("GET", "/api/v1/users", "MISSING_ROUTE", id="param is not optional"),
        pytest.param("GET", "/API/v1/users/42", "MISSING_ROUTE", id="literals are case-sensitive"),
        pytest.param("POST", "/api/v1/users/42", "MISSING_ROUTE", id="other method"),
        pytest.param("GET", "/api/v1/users/me", "ROUTE_DENIED", id="more literal segments win a tie"),
        pytest.param("GET", "/api/v1/teams/7/members", "ENTITLED", id="star matches one segment"),
        pytest.param("DELETE", "/files", "ENTITLED", id="final double star matches zero segments"),
        pytest.param("PUT", "/files/a/b/c", "ENTITLED", id="final double star matches the rest; any method"),
        pytest.param("GET", "/files/secret/x", "ROUTE_DENIED", id="higher priority wins"),
        pytest.param("POST", "/files/secret/x", "ENTITLED", id="priority route needs its method"),
        pytest.param("GET", "/prio/fixed", "ENTITLED", id="priority beats literal segments"),
        pytest.param("GET", "/tie/1", "ROUTE_DENIED", id="same priority and literals: DENY wins"),
        pytest.param("GET", "/nowhere", "MISSING_ROUTE", id="no matching route"),
    ],
)
async def test_the_matching_route_with_the_highest_precedence_decides(
    api: Api, method: str, path: str, expected: str
) -> None:
    # given
    await make_tenant(api, "acme")
    await make_route(api, "GET", "/api/v1/users/{id}", "ALLOW")
    await make_route(api, "GET", "/api/v1/users/me", "DENY")
    await make_route(api, "GET", "/api/v1/teams/*/members", "ALLOW")
    await make_route(api, "*", "/files/**", "ALLOW")
    await make_route(api, "GET", "/files/secret/**", "DENY", priority=5)
    await make_route(api, "GET", "/prio/fixed", "DENY")
    await make_route(api, "GET", "/prio/{x}", "ALLOW", priority=10)
    await make_route(api, "GET", "/tie/{x}", "ALLOW")
    await make_route(api, "GET", "/tie/*", "DENY")
    # when
    decision = await decide(api, method, path)
    # then
    assert outcome(decision) == expected


async def test_an_allow_route_entitles_with_a_route_source(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    await make_route(api, "GET", "/public/**")
    # when
    decision = await decide(api, "GET", "/public/docs")
    # then
    assert decision["isEntitled"] is True
    assert decision["justification"] is None
    assert decision["value"] is None
    assert decision["sources"] == [{"kind": "ROUTE", "plan": None, "entitlement": None}]


async def test_a_deny_route_refuses_with_no_sources(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    await make_route(api, "*", "/internal/**", "DENY")
    # when
    decision = await decide(api, "PATCH", "/internal/x")
    # then
    assert (decision["isEntitled"], decision["justification"], decision["sources"]) == (
        False,
        "ROUTE_DENIED",
        [],
    )


@pytest.mark.parametrize(
    ("tenant", "user", "expected"),
    [("nobody", None, "UNKNOWN_SUBJECT"), ("acme", "outsider", "NOT_A_MEMBER")],
)
async def test_subject_checks_come_before_the_route(
    api: Api, tenant: str, user: str | None, expected: str
) -> None:
    # given
    await make_tenant(api, "acme")
    await make_user(api, "outsider")
    await make_route(api, "GET", "/public/**")
    # when
    decision = await decide(api, "GET", "/public/x", t=tenant, u=user)
    # then
    assert outcome(decision) == expected


# --------------------------------------------------------------------------- REQUIRE_FEATURE / REQUIRE_PERMISSION


async def given_reports_route(api: Api) -> None:
    """acme has the pro plan (reports, calls: 10); globex has nothing; initech had pro until 2030-01-10."""
    await make_feature(api, "reports", permissions=["reports.export"])
    await make_feature(api, "calls", "LIMIT")
    await make_plan(api, "pro", {"reports": True, "calls": 10})
    for key in ("acme", "globex", "initech"):
        await make_tenant(api, key)
    await grant(api, plan_key="pro", tenant_key="acme", start_date=START)
    await grant(
        api, plan_key="pro", tenant_key="initech", start_date=START, expiration_date="2030-01-10T00:00:00Z"
    )
    await make_route(api, "GET", "/reports/**", "REQUIRE_FEATURE", featureKey="reports")
    await make_route(api, "POST", "/reports/export", "REQUIRE_PERMISSION", permissionKey="reports.export")
    await make_route(api, "POST", "/calls", "REQUIRE_FEATURE", featureKey="calls")


@pytest.mark.parametrize(
    ("tenant", "method", "path", "usage", "expected"),
    [
        ("acme", "GET", "/reports/q1", None, "ENTITLED"),
        ("globex", "GET", "/reports/q1", None, "MISSING_FEATURE"),
        ("initech", "GET", "/reports/q1", None, "PLAN_EXPIRED"),
        ("acme", "POST", "/reports/export", None, "ENTITLED"),
        ("globex", "POST", "/reports/export", None, "MISSING_PERMISSION"),
        ("initech", "POST", "/reports/export", None, "PLAN_EXPIRED"),
        ("acme", "POST", "/calls", 10, "ENTITLED"),
        ("acme", "POST", "/calls", 11, "LIMIT_EXCEEDED"),
    ],
)
async def test_a_require_route_is_decided_like_its_feature_or_permission(
    api: Api, tenant: str, method: str, path: str, usage: int | None, expected: str
) -> None:
    # given
    await given_reports_route(api)
    # when
    decision = await decide(api, method, path, t=tenant, usage=usage)
    # then
    assert outcome(decision) == expected


async def test_a_require_feature_route_carries_the_features_value_and_sources(api: Api) -> None:
    # given
    await given_reports_route(api)
    # when
    decision = await decide(api, "POST", "/calls")
    # then
    assert (decision["value"], decision["limit"], decision["remaining"]) == (10, 10, 10)
    assert [(s["kind"], s["plan"]) for s in decision["sources"]] == [("PLAN", {"key": "pro"})]
