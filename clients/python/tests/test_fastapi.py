"""The FastAPI dependency, the ASGI middleware and the example app, over real FastAPI apps (in process, through
httpx's ASGI transport) deciding with a real ``entitle serve``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from entitle_client import AsyncEntitleClient, Decision, Subject
from entitle_client.asgi import RouteGuard, header
from entitle_client.fastapi import add_access_denied_handler, require_feature
from tests.conftest import ADMIN_KEY, Server

EXAMPLE = Path(__file__).parent.parent / "examples" / "fastapi_app.py"


def tenant_of(request: Request) -> Subject:
    return Subject(tenant_key=request.headers.get("x-tenant"))


def guarded_app(client: AsyncEntitleClient) -> FastAPI:
    app = FastAPI()
    add_access_denied_handler(app)

    @app.get("/sso")
    async def sso(
        decision: Decision = Depends(require_feature("sso", client=client, subject=tenant_of)),
    ) -> Any:
        return {"ok": True, "fallback": decision.is_fallback}

    @app.get("/reports/{name}")
    async def report(name: str) -> Any:
        return {"report": name}

    @app.get("/healthz")
    async def healthz() -> Any:
        return {"ok": True}

    return app


@pytest.fixture
async def entitle(server: Server) -> AsyncIterator[AsyncEntitleClient]:
    async with AsyncEntitleClient(server.base_url, ADMIN_KEY) as client:
        yield client


def http(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


async def test_require_feature_lets_an_entitled_tenant_in_and_answers_403_otherwise(
    server: Server, tenant: str, entitle: AsyncEntitleClient
) -> None:
    async with http(guarded_app(entitle)) as app:
        denied = await app.get("/sso", headers={"x-tenant": tenant})
        anonymous = await app.get("/sso")
        server.grant(tenant, feature="sso")
        allowed = await app.get("/sso", headers={"x-tenant": tenant})
    assert denied.status_code == 403
    body = denied.json()
    assert body.pop("message")  # the server's sentence for the end user
    assert body == {"error": "access_denied", "justification": "MISSING_FEATURE", "upgradeOptions": ["pro"]}
    assert allowed.status_code == 200
    assert allowed.json() == {"ok": True, "fallback": False}
    assert anonymous.status_code == 403
    assert anonymous.json()["justification"] == "UNKNOWN_SUBJECT"


async def test_the_route_guard_decides_each_request_by_its_route(
    server: Server, tenant: str, entitle: AsyncEntitleClient
) -> None:
    app = RouteGuard(
        guarded_app(entitle),
        client=entitle,
        subject=lambda scope: Subject(tenant_key=header(scope, "X-Tenant")),
        exclude=["/healthz"],
    )
    async with http(app) as client:
        denied = await client.get("/reports/q1", headers={"x-tenant": tenant})
        health = await client.get("/healthz")
        anonymous = await client.get("/reports/q1")
        server.grant(tenant, plan="pro")
        allowed = await client.get("/reports/q1", headers={"x-tenant": tenant})
    assert denied.status_code == 403
    assert denied.json()["error"] == "access_denied"
    assert denied.json()["justification"] == "MISSING_FEATURE"
    assert denied.json()["upgradeOptions"] == ["pro"]
    assert health.status_code == 200
    assert anonymous.status_code == 403
    assert allowed.status_code == 200
    assert allowed.json() == {"report": "q1"}


async def test_guards_fail_closed_when_the_service_is_down_unless_a_fallback_allows(down_url: str) -> None:
    async with (
        AsyncEntitleClient(down_url, ADMIN_KEY, retries=0) as closed,
        AsyncEntitleClient(down_url, ADMIN_KEY, retries=0, fallback={"sso": True}) as open_,
    ):
        guard = RouteGuard(guarded_app(closed), client=closed, subject=lambda scope: Subject("acme"))
        async with http(guarded_app(closed)) as a, http(guarded_app(open_)) as b, http(guard) as c:
            refused = await a.get("/sso", headers={"x-tenant": "acme"})
            allowed = await b.get("/sso", headers={"x-tenant": "acme"})
            routed = await c.get("/reports/q1")
    assert refused.status_code == 503
    assert refused.json()["error"] == "entitlements_unavailable"
    assert allowed.status_code == 200
    assert allowed.json() == {"ok": True, "fallback": True}
    assert routed.status_code == 503


async def test_the_example_app_runs(server: Server, tenant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENTITLE_URL", server.base_url)
    monkeypatch.setenv("ENTITLE_TOKEN", ADMIN_KEY)
    spec = importlib.util.spec_from_file_location("fastapi_app_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fastapi_app_example", module)
    spec.loader.exec_module(module)
    server.grant(tenant, feature="api-calls", value=2)
    async with http(module.app) as app:
        sso = await app.get("/sso", headers={"x-tenant": tenant})
        searches = [(await app.post("/search", headers={"x-tenant": tenant})) for _ in range(3)]
    await module.entitle.aclose()
    assert sso.status_code == 403
    assert sso.json()["upgradeOptions"] == ["pro"]
    assert [r.status_code for r in searches] == [200, 200, 403]
    assert [r.json().get("remaining") for r in searches[:2]] == [1, 0]
    assert searches[2].json()["justification"] == "LIMIT_EXCEEDED"
