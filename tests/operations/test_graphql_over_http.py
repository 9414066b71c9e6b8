"""GraphQL over HTTP: ``application/graphql-response+json`` negotiation and status codes (contract §12)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from entitle.graphql.over_http import accepts_graphql_response
from tests.conftest import ADMIN_KEY, Api

NEW = "application/graphql-response+json"
RECOMMENDED = f"{NEW}, application/json;q=0.9"


async def post(api: Api, body: Any, accept: str | None, token: str | None = ADMIN_KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept is not None:
        headers["Accept"] = accept
    return await api.client.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ viewer { kind }", None, "GRAPHQL_PARSE_FAILED"),
        ("{ viewer { noSuchField } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int) { features(first: $n) { totalCount } }", {"n": "ten"}, "GRAPHQL_VALIDATION_FAILED"),
    ],
    ids=["parse", "validation", "variable-coercion"],
)
@pytest.mark.parametrize("accept", [NEW, RECOMMENDED])
async def test_a_request_error_is_400_without_data_for_graphql_response_clients(
    api: Api, accept: str, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    # when
    response = await post(api, {"query": query, "variables": variables}, accept)
    # then
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == f"{NEW}; charset=utf-8"
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", f"application/json, {NEW};q=0.5"])
async def test_json_clients_keep_http_200_with_data_null(api: Api, accept: str | None) -> None:
    # when
    response = await post(api, {"query": "{ viewer { kind }"}, accept)
    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_execution_errors_and_successes_stay_200_with_data(api: Api) -> None:
    # when
    failed = await post(api, {"query": 'mutation { deletePlan(key: "ghost") { deletedId } }'}, NEW)
    succeeded = await post(api, {"query": "{ viewer { kind } }"}, NEW)
    # then
    assert failed.status_code == 200
    assert failed.headers["content-type"].startswith(NEW)
    assert "data" in failed.json()
    assert failed.json()["errors"][0]["path"] == ["deletePlan"]
    assert succeeded.status_code == 200
    assert succeeded.headers["content-type"].startswith(NEW)
    assert succeeded.json() == {"data": {"viewer": {"kind": "MANAGEMENT"}}}


async def test_refusals_before_execution_carry_no_data_entry(api: Api) -> None:
    # when
    unauthenticated = await post(api, {"query": "{ viewer { kind } }"}, NEW, token=None)
    unreadable = await api.client.post(
        "/graphql",
        content=b"{not json",
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json", "Accept": NEW},
    )
    # then
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"].startswith(NEW)
    assert unauthenticated.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in unauthenticated.json()
    assert unreadable.status_code == 400
    assert "data" not in unreadable.json()


async def test_a_batch_stays_200(api: Api) -> None:
    # when
    response = await post(api, [{"query": "{ viewer { kind } }"}, {"query": "{ nope }"}], NEW)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body[0] == {"data": {"viewer": {"kind": "MANAGEMENT"}}}
    assert body[1]["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (NEW, True),
        (RECOMMENDED, True),
        (f"{NEW};q=0.5, application/json", False),
        (f"{NEW};q=0", False),
        (f"{NEW};q=oops", False),
        (f"application/json;q=0.5, {NEW.upper()};q=0.6", True),
        ("application/json", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_accept_negotiation(accept: str, expected: bool) -> None:
    assert accepts_graphql_response(accept) is expected
