"""Logs (contract §12): ENTITLE_LOG_FORMAT=json gives one JSON object per line for every request and every
warning/error, with the request id (X-Request-ID in and out); never a token, key or variable value."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from entitle.logs import RequestIdFilter, json_formatter
from tests.conftest import ADMIN_KEY, JWT_SECRET, serving
from tests.e2e.conftest import ServeFactory, admin_headers
from tests.graphql.test_user_tokens import user_token

ASK = "query($t: String, $f: String) { isEntitledTo(tenantKey: $t, featureKey: $f) { isEntitled } }"
SECRET = "sk_live_51HsEcReTvAlUe0123456789"


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def text(self) -> str:
        return self.stream.getvalue()

    def of(self, request_id: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("request_id") == request_id]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The root logger's records as `entitle serve` writes them with ENTITLE_LOG_FORMAT=json."""
    capture = Captured()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))  # the test's client
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield capture
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_every_request_is_one_json_line_with_its_request_id(
    database_url: str, captured: Captured
) -> None:
    async with serving(database_url, entitle_log_format="json") as api:
        # when
        response = await api.client.post(
            "/graphql",
            json={"query": ASK, "variables": {"t": "acme", "f": "reports"}},
            headers={**admin_headers(), "X-Request-ID": "trace-42.a:b_c"},
        )
        other = await api.client.get("/healthz")
    # then
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-42.a:b_c"
    [line] = captured.of("trace-42.a:b_c")
    assert line["event"] == "request"
    assert line["level"] == "INFO"
    assert line["operation"] == "isEntitledTo"
    assert line["status"] == 200
    assert line["principal"] == "MANAGEMENT"
    assert line["method"] == "POST"
    assert line["path"] == "/graphql"
    assert isinstance(line["duration_ms"], float)
    assert line["ts"].endswith("+00:00")
    generated = other.headers["x-request-id"]
    assert len(generated) == 32
    assert captured.of(generated)[0]["path"] == "/healthz"


@pytest.mark.parametrize("sent", ["x" * 129, "has space", "new\\nline", "<script>", ""])
async def test_an_unsafe_request_id_is_replaced(database_url: str, captured: Captured, sent: str) -> None:
    async with serving(database_url, entitle_log_format="json") as api:
        response = await api.client.get("/healthz", headers={"X-Request-ID": sent})
    returned = response.headers["x-request-id"]
    assert returned != sent
    assert len(returned) == 32
    assert sent not in captured.text() or sent == ""


async def test_no_token_key_or_variable_value_reaches_the_log(database_url: str, captured: Captured) -> None:
    async with serving(database_url, entitle_log_format="json") as api:
        api.differential = False  # one log line per request, as counted
        # when: a secret-looking variable in a good, a bad and a refused request, by key and by user token
        await api.data(ASK, {"t": SECRET, "f": "reports"})
        await api.gql(ASK, {"t": SECRET, "f": 12})
        await api.gql("query($t: Int!) { viewer { kind } }", {"t": SECRET})
        await api.gql(ASK, {"t": SECRET, "f": "x"}, token=user_token("alice", "acme"))
        await api.post(ASK, {"t": SECRET}, token="ent_not_a_key_" + SECRET)
        await api.client.get(
            "/graphql", params={"query": ASK, "variables": json.dumps({"t": SECRET})}, headers=admin_headers()
        )
    # then
    text = captured.text()
    assert text.count('"event":"request"') == 6
    for secret in (SECRET, ADMIN_KEY, JWT_SECRET, "Bearer", user_token("alice", "acme")[:40]):
        assert secret not in text


async def test_a_client_error_is_one_line_without_traceback(database_url: str, captured: Captured) -> None:
    async with serving(database_url, entitle_log_format="json") as api:
        # when
        response = await api.client.post(
            "/graphql",
            json={"query": "{ isEntitledTo { isEntitled } }"},
            headers={**admin_headers(), "X-Request-ID": "bad-1"},
        )
        unauthenticated = await api.client.post(
            "/graphql", json={"query": ASK}, headers={"X-Request-ID": "anon-1"}
        )
    # then
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    [line] = captured.of("bad-1")
    assert line["event"] == "request"
    assert "exc_info" not in line
    assert unauthenticated.status_code == 401
    [anonymous] = captured.of("anon-1")
    assert anonymous["status"] == 401
    assert anonymous["principal"] is None


async def test_an_unexpected_error_is_logged_once_with_the_request_id(
    database_url: str, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("entitle.services.access.AccessService.check", broken)
    async with serving(database_url, entitle_log_format="json") as api:
        # when
        response = await api.client.post(
            "/graphql",
            json={"query": ASK, "variables": {"t": "a", "f": "b"}},
            headers={**admin_headers(), "X-Request-ID": "boom-1"},
        )
    # then
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    lines = captured.of("boom-1")
    assert [line["level"] for line in lines] == ["ERROR", "INFO"]
    assert "RuntimeError: boom" in lines[0]["exc_info"]
    assert lines[1]["event"] == "request"


async def test_text_logs_have_no_request_lines_but_answers_keep_their_id(
    database_url: str, captured: Captured
) -> None:
    async with serving(database_url) as api:
        response = await api.client.get("/healthz", headers={"X-Request-ID": "abc"})
    assert response.headers["x-request-id"] == "abc"
    assert captured.text() == ""


@pytest.mark.e2e
def test_a_real_serve_writes_only_json_lines(serve: ServeFactory, sqlite_url: str) -> None:
    # given
    server = serve(
        {"DATABASE_URL": sqlite_url, "ENTITLE_LOG_FORMAT": "json", "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY}
    )
    # when
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        answer = client.post(
            "/graphql",
            json={"query": ASK, "variables": {"t": SECRET, "f": "x"}},
            headers={**admin_headers(), "X-Request-ID": "e2e-1"},
        )
    server.stop()
    # then
    assert answer.status_code == 200
    lines = server.stderr().splitlines()
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "event"} <= set(p) for p in parsed)
    assert any(p.get("request_id") == "e2e-1" and p["event"] == "request" for p in parsed)
    assert any("Application startup complete" in p["event"] for p in parsed)
    assert SECRET not in server.stderr()
    assert ADMIN_KEY not in server.stderr()
