"""ENTITLE_INTROSPECTION=false disables introspection and GraphiQL (contract §1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Api, serving

INTROSPECT = "{ __schema { queryType { name } } }"


@pytest.fixture
async def closed_api(database_url: str) -> AsyncIterator[Api]:
    async with serving(database_url, entitle_introspection=False) as served:
        yield served


async def test_introspection_is_refused_when_disabled(closed_api: Api) -> None:
    error = await closed_api.error(INTROSPECT)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection" in error["message"].lower()


async def test_queries_still_work_when_introspection_is_disabled(closed_api: Api) -> None:
    data = await closed_api.data("{ viewer { kind } }")
    assert data == {"viewer": {"kind": "MANAGEMENT"}}


async def test_graphiql_is_not_served_when_introspection_is_disabled(closed_api: Api) -> None:
    response = await closed_api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_introspection_and_graphiql_are_on_by_default(api: Api) -> None:
    assert (await api.data(INTROSPECT)) == {"__schema": {"queryType": {"name": "Query"}}}
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
