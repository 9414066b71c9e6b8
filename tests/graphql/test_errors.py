"""Bad requests (§7): every error has extensions.code, nothing is a 5xx, nothing leaks, the server keeps serving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, JWT_SECRET, Api, serving
from tests.factories import make_feature

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
FEATURES = "{ features { totalCount } }"
LEAKS = ("Traceback", "SELECT", "sqlalchemy", "asyncpg", "aiosqlite", JWT_SECRET, ADMIN_KEY)
SMALL_BODY = 2048


def _assert_clean(response: httpx.Response) -> dict[str, Any]:
    """A 4xx/200 JSON answer whose every error has a code and no leaked internals."""
    assert response.status_code < 500, response.text
    for leak in LEAKS:
        assert leak not in response.text, leak
    body = response.json()
    bodies = body if isinstance(body, list) else [body]
    for one in bodies:
        for error in one.get("errors") or []:
            assert isinstance(error["extensions"]["code"], str), error
            assert error["message"]
    return body  # type: ignore[no-any-return]


def _code(body: dict[str, Any]) -> str:
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def _still_serving(api: Api) -> None:
    assert (await api.data(FEATURES))["features"]["totalCount"] >= 0


@pytest.fixture
async def small_body_api(database_url: str) -> AsyncIterator[Api]:
    async with serving(database_url, entitle_max_body_bytes=SMALL_BODY) as served:
        yield served


NOT_GRAPHQL_BODIES = [
    b"{not json",
    b"",
    b"[1, 2",
    b'"just a string"',
    b"42",
    b"null",
    b"[]",
    b"[1]",
    b'[{"query": 1}]',
    b'{"query": 5}',
    b'{"query": "{ viewer { kind } }", "operationName": 5}',
    b'{"query": "{ viewer { kind } }", "variables": [1]}',
    b'{"variables": {}}',
    b"\xff\xfe",
]


async def test_a_body_that_is_not_a_graphql_request_is_400_with_a_code(api: Api) -> None:
    for content in NOT_GRAPHQL_BODIES:
        # when
        response = await api.client.post(
            "/graphql", content=content, headers={**AUTH, "Content-Type": "application/json"}
        )
        # then
        assert response.status_code == 400, (content, response.text)
        body = _assert_clean(response)
        assert _code(body) in {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}
    await _still_serving(api)


async def test_a_query_sent_with_get_works(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    # when
    response = await api.client.get("/graphql", params={"query": FEATURES}, headers=AUTH)
    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"features": {"totalCount": 1}}}


async def test_a_mutation_sent_with_get_is_refused(api: Api) -> None:
    # when
    response = await api.client.get(
        "/graphql",
        params={"query": 'mutation { createFeature(input: {key: "x", name: "X", type: BOOLEAN}) { key } }'},
        headers=AUTH,
    )
    # then
    assert 400 <= response.status_code < 500
    _assert_clean(response)
    assert (await api.data(FEATURES))["features"]["totalCount"] == 0


BAD_DOCUMENTS: list[tuple[str, dict[str, Any] | None, str]] = [
    ("{ features { totalCount ", None, "GRAPHQL_PARSE_FAILED"),
    ("query {", None, "GRAPHQL_PARSE_FAILED"),
    ("{ featurez { totalCount } }", None, "GRAPHQL_VALIDATION_FAILED"),
    ("{ features { nope } }", None, "GRAPHQL_VALIDATION_FAILED"),
    ("query($n: Int) { features(first: $n) { totalCount } }", {"n": "ten"}, "GRAPHQL_VALIDATION_FAILED"),
    ("query($k: String!) { feature(key: $k) { key } }", {}, "GRAPHQL_VALIDATION_FAILED"),
    (
        "query($d: DateTime) { entitlements(filter: {expiresAfter: $d}) { totalCount } }",
        {"d": "yesterday"},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    (
        'mutation { createFeature(input: {key: "x", name: "X", type: HUGE}) { key } }',
        None,
        "GRAPHQL_VALIDATION_FAILED",
    ),
    ("subscription { features { totalCount } }", None, "GRAPHQL_VALIDATION_FAILED"),
]


async def test_documents_that_do_not_parse_or_validate_are_classified(api: Api) -> None:
    for query, variables, code in BAD_DOCUMENTS:
        # when
        response = await api.post(query, variables)
        # then
        body = _assert_clean(response)
        assert _code(body) == code, (query, body)
    await _still_serving(api)


async def test_a_query_deeper_than_the_limit_is_too_complex(api: Api) -> None:
    # given
    deep = "{ entitlements { edges { node { plan { entitlements { edges { node { tenant { entitlements { edges { node { id } } } } } } } } } } } }"
    # when
    body = _assert_clean(await api.post(deep))
    # then
    assert _code(body) == "QUERY_TOO_COMPLEX"
    assert body.get("data") is None


async def test_an_alias_flood_is_too_complex(api: Api) -> None:
    # given
    flood = "{ " + " ".join(f"a{i}: features {{ totalCount }}" for i in range(51)) + " }"
    fifty = "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(50)) + " }"
    # when
    flooded = _assert_clean(await api.post(flood))
    allowed = await api.data(fifty)
    # then
    assert _code(flooded) == "QUERY_TOO_COMPLEX"
    assert len(allowed) == 50


async def test_a_body_over_the_limit_is_413_with_a_json_error(small_body_api: Api) -> None:
    # given
    api = small_body_api
    padding = "x" * (SMALL_BODY + 10)
    # when
    response = await api.post(FEATURES + "#" + padding)

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b'{"query": "{ features { totalCount } }", "x": "', padding.encode(), b'"}'):
            yield chunk

    streamed = await api.client.post(
        "/graphql", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    # then
    assert response.status_code == 413
    assert _code(_assert_clean(response)) == "BAD_USER_INPUT"
    assert streamed.status_code == 413
    assert _code(_assert_clean(streamed)) == "BAD_USER_INPUT"
    assert (await api.data(FEATURES))["features"]["totalCount"] == 0


async def test_a_batch_of_up_to_ten_operations_is_answered_in_order(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    operations = [{"query": "{ viewer { kind } }"}] * 9 + [{"query": FEATURES}]
    # when
    response = await api.client.post("/graphql", json=operations, headers=AUTH)
    # then
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 10
    assert body[0] == {"data": {"viewer": {"kind": "MANAGEMENT"}}}
    assert body[9] == {"data": {"features": {"totalCount": 1}}}


async def test_a_batch_of_eleven_operations_is_refused_with_a_clear_error(api: Api) -> None:
    # when
    response = await api.client.post("/graphql", json=[{"query": FEATURES}] * 11, headers=AUTH)
    # then
    assert response.status_code == 400
    body = _assert_clean(response)
    assert _code(body) == "BAD_USER_INPUT"
    assert "10" in body["errors"][0]["message"]
    await _still_serving(api)


async def test_a_batch_cannot_smuggle_a_request_past_authentication(api: Api) -> None:
    response = await api.client.post("/graphql", json=[{"query": FEATURES}, {"query": FEATURES}])
    assert response.status_code == 401
    assert _code(_assert_clean(response)) == "UNAUTHENTICATED"


async def test_an_unknown_operation_name_is_refused_with_a_clear_error(api: Api) -> None:
    # when
    response = await api.client.post(
        "/graphql",
        json={"query": "query A { viewer { kind } } query B { viewer { name } }", "operationName": "C"},
        headers=AUTH,
    )
    chosen = await api.client.post(
        "/graphql",
        json={"query": "query A { viewer { kind } } query B { viewer { readOnly } }", "operationName": "B"},
        headers=AUTH,
    )
    # then
    body = _assert_clean(response)
    assert response.status_code in {200, 400}
    assert _code(body) == "GRAPHQL_VALIDATION_FAILED"
    assert '"C"' in body["errors"][0]["message"]
    assert chosen.json() == {"data": {"viewer": {"readOnly": False}}}


async def test_domain_errors_carry_their_code_and_field(api: Api) -> None:
    # when
    body = await api.gql('mutation { deletePlan(key: "ghost") { deletedId } }')
    # then
    error = body["errors"][0]
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "key"}
    assert error["path"] == ["deletePlan"]


async def test_a_huge_number_is_a_validation_error_not_a_crash(api: Api) -> None:
    response = await api.post("{ features(first: 99999999999999999999) { totalCount } }")
    assert _code(_assert_clean(response)) == "GRAPHQL_VALIDATION_FAILED"


async def test_no_bad_request_stops_the_server(api: Api) -> None:
    # given
    bad = [
        ("post", {"content": b"{", "headers": {**AUTH, "Content-Type": "application/json"}}),
        ("post", {"json": {"query": "{"}, "headers": AUTH}),
        ("post", {"json": [{"query": FEATURES}] * 20, "headers": AUTH}),
        ("post", {"json": {"query": FEATURES}, "headers": {"Authorization": "Bearer nope"}}),
        ("post", {"content": b"query=1", "headers": {**AUTH, "Content-Type": "text/plain"}}),
        ("get", {"params": {"query": "{"}, "headers": AUTH}),
        ("put", {"json": {"query": FEATURES}, "headers": AUTH}),
    ]
    # when
    responses = [await getattr(api.client, method)("/graphql", **kwargs) for method, kwargs in bad]
    # then
    for response in responses:
        assert response.status_code < 500, response.text
        for leak in LEAKS:
            assert leak not in response.text
    await _still_serving(api)
