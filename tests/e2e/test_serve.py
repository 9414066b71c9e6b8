"""A real ``entitle serve`` process on SQLite, spoken to over real HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory, admin_headers

pytestmark = pytest.mark.e2e

CREATE_FEATURE = """
mutation($input: CreateFeatureInput!) { createFeature(input: $input) { key type } }
"""
CREATE_PLAN = """
mutation($input: CreatePlanInput!) { createPlan(input: $input) { key features { feature { key } value } } }
"""
UPSERT_TENANTS = """
mutation($input: [TenantInput!]!) { upsertTenants(input: $input) { tenants { key } errors { code message } } }
"""
CREATE_ENTITLEMENT = """
mutation($input: CreateEntitlementInput!) { createEntitlement(input: $input) { id status } }
"""
IS_ENTITLED = """
query($t: String, $f: String) {
  isEntitledTo(tenantKey: $t, featureKey: $f) { isEntitled justification limit remaining }
}
"""
VIEWER = "query { viewer { kind } }"


def gql(
    client: httpx.Client, query: str, variables: dict[str, Any] | None = None, token: str = ADMIN_KEY
) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=admin_headers(token)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    assert response.headers["x-entitle-worker"].isdigit()
    data: dict[str, Any] = body["data"]
    return data


def sqlite_settings(url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY, **extra}


def assert_still_serving(client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200
    assert gql(client, VIEWER)["viewer"]["kind"] == "MANAGEMENT"


def test_the_process_serves_graphiql_health_and_readiness(serve: ServeFactory, sqlite_url: str) -> None:
    # given
    server = serve(sqlite_settings(sqlite_url))
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        # when
        page = client.get("/graphql", headers={"Accept": "text/html"})
        health = client.get("/healthz")
        ready = client.get("/readyz")
    # then
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "graphiql" in page.text.lower()
    assert health.status_code == 200
    assert ready.status_code == 200


def test_a_query_without_a_token_is_unauthenticated(serve: ServeFactory, sqlite_url: str) -> None:
    # given
    server = serve(sqlite_settings(sqlite_url))
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        # when
        response = client.post("/graphql", json={"query": VIEWER})
    # then
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_catalog_built_over_http_entitles_its_tenant(serve: ServeFactory, sqlite_url: str) -> None:
    # given
    server = serve(sqlite_settings(sqlite_url))
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        gql(client, CREATE_FEATURE, {"input": {"key": "seats", "name": "Seats", "type": "LIMIT"}})
        gql(
            client,
            CREATE_PLAN,
            {"input": {"key": "pro", "name": "Pro", "features": [{"featureKey": "seats", "value": 10}]}},
        )
        tenants = gql(client, UPSERT_TENANTS, {"input": [{"key": "acme", "name": "Acme"}]})
        assert tenants["upsertTenants"]["errors"] == []
        created = gql(client, CREATE_ENTITLEMENT, {"input": {"planKey": "pro", "tenantKey": "acme"}})
        assert created["createEntitlement"]["status"] == "ACTIVE"
        # when
        decision = gql(client, IS_ENTITLED, {"t": "acme", "f": "seats"})["isEntitledTo"]
        other = gql(client, IS_ENTITLED, {"t": "nobody", "f": "seats"})["isEntitledTo"]
    # then
    assert decision == {"isEntitled": True, "justification": None, "limit": 10, "remaining": 10}
    assert other["isEntitled"] is False
    assert other["justification"] == "UNKNOWN_SUBJECT"


def test_malformed_and_oversize_bodies_get_json_4xx_and_the_server_keeps_serving(
    serve: ServeFactory, sqlite_url: str
) -> None:
    # given
    server = serve(sqlite_settings(sqlite_url, ENTITLE_MAX_BODY_BYTES="2048"))
    headers = {**admin_headers(), "Content-Type": "application/json"}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        # when
        malformed = client.post("/graphql", content=b'{"query": "{ viewer { kind } ', headers=headers)
        oversize = client.post(
            "/graphql",
            content=b'{"query": "{ viewer { kind } }", "x": "' + b"a" * 4096 + b'"}',
            headers=headers,
        )
        # then
        for response, status in ((malformed, 400), (oversize, 413)):
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["errors"][0]["extensions"]["code"]
        assert_still_serving(client)
    assert server.alive()


def test_an_empty_database_without_bootstrap_key_prints_one_working_key(
    serve: ServeFactory, sqlite_url: str
) -> None:
    # given: an empty database and no ENTITLE_BOOTSTRAP_API_KEY
    server = serve({"DATABASE_URL": sqlite_url})
    # when
    printed = re.findall(r"Created a management API key \(shown once\): (\S+)", server.stderr())
    # then
    assert len(printed) == 1, server.stderr()
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        assert gql(client, VIEWER, token=printed[0])["viewer"]["kind"] == "MANAGEMENT"
        refused = client.post("/graphql", json={"query": VIEWER}, headers=admin_headers("not-a-key"))
        assert refused.status_code == 401
    assert printed[0] not in server.stderr().replace(printed[0], "", 1)
    # and a restart on the same database prints no new key
    server.stop()
    again = serve({"DATABASE_URL": sqlite_url})
    assert "Created a management API key" not in again.stderr()
