"""A real ``entitle serve`` (SQLite in a temp dir) for the client tests, with a small catalog, and helpers.

The server is started once per test session in its own process group and stopped (the whole group) at the end.
Each test makes its own tenant (``tenant`` fixture), so tests sharing the server do not see each other's writes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ADMIN_KEY = "client-tests-admin-key-0123456789"
READY_TIMEOUT_S = 30.0

CATALOG = [
    'mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }',
    'mutation { createFeature(input: {key: "reports", name: "Reports", type: BOOLEAN}) { key } }',
    'mutation { createFeature(input: {key: "api-calls", name: "API calls", type: LIMIT, resetPeriod: MONTH,'
    " overage: BLOCK}) { key } }",
    'mutation { createPlan(input: {key: "pro", name: "Pro", features: [{featureKey: "sso", value: true},'
    ' {featureKey: "reports", value: true}, {featureKey: "api-calls", value: 1000}]}) { key } }',
    'mutation { createApiRoute(input: {method: "GET", pathPattern: "/reports/**", policy: REQUIRE_FEATURE,'
    ' featureKey: "reports"}) { id } }',
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a management query; fail the test on any error."""
        response = httpx.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=10,
        )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body

    def grant(
        self, tenant: str, feature: str | None = None, plan: str | None = None, value: Any = None
    ) -> str:
        body = self.gql(
            "mutation($i: CreateEntitlementInput!) { createEntitlement(input: $i) { id } }",
            {
                "i": {
                    "tenantKey": tenant,
                    "featureKey": feature,
                    "planKey": plan,
                    "value": value,
                    "startDate": "2020-01-01T00:00:00Z",
                }
            },
        )
        entitlement_id: str = body["data"]["createEntitlement"]["id"]
        return entitlement_id

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start_server(workdir: Path, database: Path, port: int | None = None) -> Server:
    port = port or free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ENTITLE_", "PYTEST_")) and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        ENTITLE_BOOTSTRAP_API_KEY=ADMIN_KEY,
        PYTHONUNBUFFERED="1",
    )
    stderr_path = workdir / f"serve-{port}.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "entitle", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, stderr_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"entitle serve exited:\n{stderr_path.read_text(errors='replace')}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base_url}/readyz", timeout=1.0).status_code == 200:
                return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"entitle serve not ready:\n{stderr_path.read_text(errors='replace')}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("entitle-serve")
    server = start_server(workdir, workdir / "entitle.db")
    try:
        for statement in CATALOG:
            server.gql(statement)
        yield server
    finally:
        server.stop()


@pytest.fixture
def tenant(server: Server) -> str:
    """A new tenant with no entitlements."""
    key = f"t-{uuid.uuid4().hex[:12]}"
    server.gql("mutation($k: String!) { upsertTenants(input: [{key: $k}]) { errors { index } } }", {"k": key})
    return key


@pytest.fixture
def down_url() -> str:
    """A URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"
