"""Persisted queries (contract §12): Apollo APQ over GET and POST, and trusted documents
(ENTITLE_TRUSTED_DOCUMENTS, ENTITLE_TRUSTED_ONLY)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from entitle.graphql.persisted import TrustedDocumentsError, load_trusted_documents
from tests.conftest import Api, serving
from tests.e2e.conftest import admin_headers

VIEWER = "{ viewer { kind } }"
OTHER = "query Other { viewer { name } }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def apq(digest: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


async def post(api: Api, body: Any) -> httpx.Response:
    return await api.client.post("/graphql", json=body, headers=admin_headers())


async def get(api: Api, params: dict[str, str], accept: str = "*/*") -> httpx.Response:
    return await api.client.get("/graphql", params=params, headers={**admin_headers(), "Accept": accept})


def code(response: httpx.Response) -> str:
    result: str = response.json()["errors"][0]["extensions"]["code"]
    return result


async def test_an_unknown_hash_asks_for_the_query_then_the_hash_alone_runs_it(api: Api) -> None:
    # when
    unknown = await post(api, {"extensions": apq(sha(VIEWER))})
    registered = await post(api, {"query": VIEWER, "extensions": apq(sha(VIEWER))})
    by_post = await post(api, {"extensions": apq(sha(VIEWER))})
    by_get = await get(api, {"extensions": json.dumps(apq(sha(VIEWER)))})
    # then
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0] == {
        "message": "PersistedQueryNotFound",
        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
    }
    assert unknown.headers["cache-control"] == "no-store"
    expected = {"data": {"viewer": {"kind": "MANAGEMENT"}}}
    assert registered.json() == expected
    assert by_post.json() == expected
    assert by_get.status_code == 200
    assert by_get.json() == expected  # not the GraphiQL page


async def test_apq_over_get_registers_too(api: Api) -> None:
    # when
    first = await get(api, {"extensions": json.dumps(apq(sha(OTHER)))})
    registered = await get(api, {"query": OTHER, "extensions": json.dumps(apq(sha(OTHER)))})
    again = await get(
        api, {"extensions": json.dumps(apq(sha(OTHER)))}, accept="application/graphql-response+json"
    )
    # then
    assert code(first) == "PERSISTED_QUERY_NOT_FOUND"
    assert registered.json()["data"] == {"viewer": {"name": "bootstrap"}}
    assert again.json()["data"] == {"viewer": {"name": "bootstrap"}}


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        (apq(sha("{ viewer { name } }")), "does not match"),
        (apq(sha(VIEWER), version=2), "version 1"),
        (apq(sha(VIEWER).upper()), "64 lower-case hex"),
        ({"persistedQuery": "yes"}, "version 1"),
    ],
)
async def test_a_hash_that_does_not_fit_is_bad_input(
    api: Api, extensions: dict[str, Any], message: str
) -> None:
    # when
    response = await post(api, {"query": VIEWER, "extensions": extensions})
    # then
    assert response.status_code == 400
    assert code(response) == "BAD_USER_INPUT"
    assert message in response.json()["errors"][0]["message"]


@pytest.fixture
def trusted_file(tmp_path: Path) -> Path:
    path = tmp_path / "trusted.json"
    path.write_text(json.dumps({sha(VIEWER): VIEWER}))
    return path


async def test_trusted_documents_resolve_by_hash(database_url: str, trusted_file: Path) -> None:
    async with serving(database_url, entitle_trusted_documents=trusted_file) as api:
        # when
        trusted = await post(api, {"extensions": apq(sha(VIEWER))})
        other = await post(api, {"query": OTHER})
    # then
    assert trusted.json() == {"data": {"viewer": {"kind": "MANAGEMENT"}}}
    assert other.json()["data"] == {"viewer": {"name": "bootstrap"}}  # not trusted-only


async def test_trusted_only_refuses_every_other_document(database_url: str, trusted_file: Path) -> None:
    async with serving(
        database_url, entitle_trusted_documents=trusted_file, entitle_trusted_only=True
    ) as api:
        # when
        by_hash = await post(api, {"extensions": apq(sha(VIEWER))})
        as_text = await post(api, {"query": VIEWER})
        other = await post(api, {"query": OTHER})
        other_apq = await post(api, {"query": OTHER, "extensions": apq(sha(OTHER))})
        unknown_hash = await post(api, {"extensions": apq(sha(OTHER))})
        other_get = await get(api, {"query": OTHER})
        batch = await post(api, [{"query": VIEWER}, {"query": OTHER}])
    # then
    assert by_hash.json()["data"] == {"viewer": {"kind": "MANAGEMENT"}}
    assert as_text.json()["data"] == {"viewer": {"kind": "MANAGEMENT"}}
    for refused in (other, other_apq, unknown_hash, other_get, batch):
        assert refused.status_code == 400
        assert code(refused) == "PERSISTED_QUERY_NOT_IN_LIST"
        assert "ENTITLE_TRUSTED_ONLY" in refused.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "must be a JSON object"),
        ("{nope", "cannot read"),
        (json.dumps({"00" * 32: VIEWER}), "is not the SHA-256"),
    ],
)
def test_an_unusable_trusted_documents_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "trusted.json"
    path.write_text(content)
    with pytest.raises(TrustedDocumentsError, match=message):
        load_trusted_documents(path)
