"""Compiled queries (graphql/compiled.py): which documents a plan answers, and that its answers are the
general path's, byte for byte — for answers and for every kind of error.

Every test request of ``isEntitledTo`` in this suite already runs through both paths
(``Api._both_paths`` in conftest.py); here the documents and requests are chosen to reach every branch
of a plan, and the tests also check whether a plan answered (``EntitleGraphQL.compiled_answers``).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import JWT_SECRET, Api
from tests.factories import grant, make_feature, make_plan, make_tenant, make_user

START = "2024-01-01T00:00:00Z"

CLIENT_DOCUMENT = """
query Check($t: String, $u: String, $f: String, $p: String, $r: RouteInput, $n: Int, $m: String) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f, permissionKey: $p, route: $r, usage: $n,
    minRevision: $m) {
    isEntitled justification value limit unlimited used remaining resetsAt overage warning expiresAt message
    upgradeOptions { key }
  }
}
"""
BENCH_DOCUMENT = (
    "query IsEntitled($tenantKey: String, $userKey: String, $featureKey: String) {"
    " isEntitledTo(tenantKey: $tenantKey, userKey: $userKey, featureKey: $featureKey) {"
    " isEntitled justification context value limit unlimited used remaining resetsAt expiresAt"
    " sources { kind expiresAt } } }"
)
ALIASED = """
{ check: isEntitledTo(tenantKey: "acme", featureKey: "seats", at: "2030-06-01T00:00:00Z") {
    __typename ok: isEntitled n: limit sources { __typename kind } } }
"""
NOT_COMPILED = {
    "a fragment": 'query { isEntitledTo(tenantKey: "acme", featureKey: "sso") { ...D } }'
    " fragment D on EntitlementDecision { isEntitled }",
    "a directive": 'query($x: Boolean!) { isEntitledTo(tenantKey: "acme", featureKey: "sso")'
    " { isEntitled @include(if: $x) } }",
    "a second root field": '{ isEntitledTo(tenantKey: "acme", featureKey: "sso") { isEntitled }'
    " viewer { kind } }",
    "a nested resolver": '{ isEntitledTo(tenantKey: "acme", featureKey: "sso") {'
    " sources { plan { key } } } }",
    "a repeated key": '{ isEntitledTo(tenantKey: "acme", featureKey: "sso") { isEntitled isEntitled } }',
}


@pytest.fixture
async def catalog(api: Api) -> None:
    await make_feature(api, "sso", name="Single sign-on")
    await make_feature(api, "seats", "LIMIT", name="Seats")
    await make_feature(api, "calls", "LIMIT", name="API calls", resetPeriod="MONTH")
    await make_plan(api, "basic", {"seats": 5, "calls": 100})
    await make_plan(api, "pro", {"sso": True, "seats": 50, "calls": 10_000})
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "alice", ["acme"])
    await grant(api, plan_key="basic", tenant_key="acme", start_date=START)
    await grant(api, plan_key="pro", tenant_key="globex", start_date=START)


def user_token(sub: str, tenant: str) -> str:
    claims = {"sub": sub, "tenantId": tenant, "exp": int(time.time()) + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def both(api: Api, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    """``body`` sent as is, through the general path and then the plan: the answers must be equal."""
    sent = {"Authorization": f"Bearer {api.token}", **(headers or {})}
    return await api._both_paths(body, sent)


@pytest.mark.usefixtures("catalog")
async def test_the_client_and_bench_documents_are_answered_by_their_plans(api: Api) -> None:
    view = api.app.view
    cases: list[tuple[str, dict[str, Any]]] = [
        (CLIENT_DOCUMENT, {"t": "acme", "f": "sso"}),  # denied: message and upgrade options
        (CLIENT_DOCUMENT, {"t": "acme", "f": "calls", "n": 1}),  # metered: used, remaining, resetsAt
        (CLIENT_DOCUMENT, {"t": "acme", "f": "calls", "n": 1_000}),  # over the limit
        (CLIENT_DOCUMENT, {"t": "globex", "f": "sso"}),  # entitled
        (CLIENT_DOCUMENT, {"t": "acme", "u": "alice", "f": "seats"}),
        (CLIENT_DOCUMENT, {"t": "acme", "r": {"method": "GET", "path": "/reports"}}),
        (BENCH_DOCUMENT, {"tenantKey": "globex", "featureKey": "seats"}),
        (BENCH_DOCUMENT, {"tenantKey": "nobody", "featureKey": "seats"}),
        (ALIASED, {}),
    ]
    for query, variables in cases:
        before = view.compiled_answers
        response = await both(api, {"query": query, "variables": variables})
        assert response.status_code == 200
        assert "errors" not in response.json(), response.json()
        assert view.compiled_answers == before + 1, f"no plan answered {query[:40]!r} {variables}"
    denied = (await both(api, {"query": CLIENT_DOCUMENT, "variables": {"t": "acme", "f": "sso"}})).json()
    decision = denied["data"]["isEntitledTo"]
    assert "Single sign-on" in decision["message"]
    assert [p["key"] for p in decision["upgradeOptions"]] == ["pro"]
    aliased = (await both(api, {"query": ALIASED})).json()["data"]["check"]
    assert aliased == {
        "__typename": "EntitlementDecision",
        "ok": True,
        "n": 5,
        "sources": [{"__typename": "EntitlementSource", "kind": "PLAN"}],
    }


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize("shape", sorted(NOT_COMPILED))
async def test_documents_a_plan_does_not_cover_take_the_general_path(api: Api, shape: str) -> None:
    view = api.app.view
    body = {"query": NOT_COMPILED[shape], "variables": {"x": True}}
    before = view.compiled_answers
    for _ in range(2):
        response = await both(api, body)
        assert response.status_code == 200
    assert view.compiled_answers == before


@pytest.mark.usefixtures("catalog")
async def test_every_refusal_is_the_general_paths_own(api: Api) -> None:
    """Requests a plan starts on and must give up: the answer (status, headers, body) is the general
    path's, and no plan counts it as answered."""
    view = api.app.view
    bad: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"query": CLIENT_DOCUMENT, "variables": {"t": 7, "f": "sso"}}, {}),  # a variable of the wrong type
        ({"query": CLIENT_DOCUMENT, "variables": {"t": "acme", "r": {"method": "GET"}}}, {}),  # missing path
        ({"query": CLIENT_DOCUMENT, "variables": {"f": "sso"}}, {}),  # no subject: BAD_USER_INPUT
        ({"query": CLIENT_DOCUMENT, "variables": {"t": "acme"}}, {}),  # nothing asked
        ({"query": CLIENT_DOCUMENT, "variables": {"t": "a\u0000b", "f": "sso"}}, {}),  # the input boundary
        ({"query": CLIENT_DOCUMENT, "variables": {"t": "acme", "f": "sso", "m": "not-a-revision"}}, {}),
        ({"query": CLIENT_DOCUMENT, "variables": {"t": "acme", "f": "sso"}, "operationName": "Other"}, {}),
        ({"query": CLIENT_DOCUMENT, "variables": ["not", "an", "object"]}, {}),
        (
            {"query": CLIENT_DOCUMENT, "variables": {"t": "acme", "f": "sso"}},
            {"Authorization": "Bearer nope"},
        ),
        ({"query": CLIENT_DOCUMENT, "variables": {"t": "acme", "f": "sso"}}, {"Authorization": ""}),
        (  # a user token asking about another tenant
            {"query": CLIENT_DOCUMENT, "variables": {"t": "globex", "f": "sso"}},
            {"Authorization": f"Bearer {user_token('alice', 'acme')}"},
        ),
        (  # a client asking for graphql-response+json and making a request error
            {"query": CLIENT_DOCUMENT, "variables": {"t": 7}},
            {"Accept": "application/graphql-response+json"},
        ),
    ]
    for body, headers in bad:
        before = view.compiled_answers
        response = await both(api, body, headers)
        assert response.status_code != 200 or response.json().get("errors"), (body, response.text)
        assert view.compiled_answers == before, (body, response.text)


@pytest.mark.usefixtures("catalog")
async def test_a_user_token_and_negotiated_answers_are_compiled_too(api: Api) -> None:
    view = api.app.view
    token = user_token("alice", "acme")
    for headers in (
        {"Authorization": f"Bearer {token}"},
        {"Accept": "application/graphql-response+json"},
        {"Accept": "application/graphql-response+json, application/json;q=0.9"},
    ):
        before = view.compiled_answers
        response = await both(
            api, {"query": CLIENT_DOCUMENT, "variables": {"f": "seats", "t": "acme"}}, headers
        )
        assert response.status_code == 200
        assert "errors" not in response.json()
        assert view.compiled_answers == before + 1
    mine = (
        await both(
            api, {"query": CLIENT_DOCUMENT, "variables": {"f": "seats"}}, {"Authorization": f"Bearer {token}"}
        )
    ).json()
    assert mine["data"]["isEntitledTo"]["limit"] == 5  # alice is asked about as acme's member


async def test_the_switch_turns_plans_off(database_url: str) -> None:
    from tests.conftest import serving

    async with serving(database_url, entitle_compiled_queries=False) as off:
        await make_feature(off, "sso")
        await make_tenant(off, "acme")
        for _ in range(3):
            await off.data(BENCH_DOCUMENT, {"tenantKey": "acme", "featureKey": "sso"})
        assert off.app.view.compiled_answers == 0
