"""Test fixtures: every API test runs on SQLite and on PostgreSQL, each on a fresh database.

PostgreSQL: on 127.0.0.1:5432 (user postgres, trust auth) or ENTITLE_TEST_POSTGRES_URL. With
ENTITLE_TEST_POSTGRES=1 (as in CI) an unreachable server fails the run; otherwise the PostgreSQL
cases are skipped with a message. One database per test worker, migrated once and truncated
after every test; SQLite gets a copy of a migrated file per test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from entitle.app import EntitleApp, create_app
from entitle.clock import now
from entitle.db.migrations import upgrade_to_head
from entitle.db.tables import metadata
from entitle.graphql.compiled import COMPILED_ROOTS
from entitle.settings import Settings

ADMIN_KEY = "test-admin-key-0123456789"
JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"
PG_BASE = os.environ.get("ENTITLE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REQUIRE_PG = os.environ.get("ENTITLE_TEST_POSTGRES") == "1"


def _pg_reachable() -> bool:
    async def probe() -> None:
        engine = create_async_engine(f"{PG_BASE}/postgres")
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
        return True
    except Exception:
        return False


_PG_OK: bool | None = None


def pg_available() -> bool:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = _pg_reachable()
        if not _PG_OK and REQUIRE_PG:
            pytest.exit("ENTITLE_TEST_POSTGRES=1 but PostgreSQL is not reachable at " + PG_BASE, returncode=3)
    return _PG_OK


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


async def admin(*statements: str) -> None:
    """Run statements on the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    engine = create_async_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One database per test process and run (so concurrent runs never share one), dropped at the end."""
    if not pg_available():
        pytest.skip(
            "PostgreSQL not reachable: running SQLite only (set ENTITLE_TEST_POSTGRES=1 to require it)"
        )
    name = f"entitle_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"{PG_BASE}/{name}"
    try:
        upgrade_to_head(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_TRUNCATE = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name != "revisions")


async def _reset_pg(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {_TRUNCATE} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "entitle.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        yield url
        asyncio.run(_reset_pg(url))


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "entitle_bootstrap_api_key": ADMIN_KEY,
        "entitle_jwt_secret": JWT_SECRET,
        "entitle_cache_poll_ms": 20,
        # Tests that count feed reads expect one every poll; test_feed_tail.py covers the idle pace.
        "entitle_cache_idle_poll_ms": 20,
        # The webhook worker polls in the background; only the webhook tests turn it on, so other
        # tests' statement counts see no statement of theirs.
        "entitle_webhooks": False,
        "entitle_scheduler": False,  # started by the tests of scheduled changes
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


DIFFERENTIAL = os.environ.get("ENTITLE_TEST_DIFFERENTIAL", "1") != "0"
"""Every test request of a compiled root field runs through both paths (see ``Api._both_paths``)."""


@dataclass
class Api:
    """A client of the GraphQL API over HTTP (httpx against the ASGI app)."""

    client: httpx.AsyncClient
    app: EntitleApp
    token: str | None = ADMIN_KEY
    statements: list[str] = field(default_factory=list)
    differential: bool = DIFFERENTIAL
    """Send compiled roots through both paths (off in tests that count requests or statements)."""

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = "default"
    ) -> httpx.Response:
        bearer = self.token if token == "default" else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        body = {"query": query, "variables": variables or {}}
        if self.differential and any(root in query for root in COMPILED_ROOTS):
            return await self._both_paths(body, headers)
        return await self.client.post("/graphql", json=body, headers=headers)

    async def _both_paths(self, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        """The request through the general path, then again where a compiled plan may answer it: both
        answers must be the same bytes (graphql/compiled.py); the second is returned.

        A pair may differ because the state moved in between (another process's write, a database
        timeout under load): a difference counts only when it persists over three pairs."""
        view = self.app.view
        answers: list[tuple[Any, ...]] = []
        # every answer carries its request id: one id for both requests of a pair, so both echo it
        headers = {"X-Request-ID": f"differential-{uuid.uuid4().hex}", **headers}
        switch = view.compiled_queries
        for _ in range(3):
            view.compiled_queries = False
            try:
                general = await self.client.post("/graphql", json=body, headers=headers)
            finally:
                view.compiled_queries = switch
            compiled = await self.client.post("/graphql", json=body, headers=headers)
            pair = [(r.status_code, r.headers.multi_items(), r.content) for r in (general, compiled)]
            if pair[0] == pair[1]:
                return compiled
            answers.append(tuple(pair))
        raise AssertionError(f"a compiled plan answered differently from the general path: {answers[-1]}")

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = "default"
    ) -> dict[str, Any]:
        """The response body; fails the test on an HTTP status other than 200."""
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = "default"
    ) -> Any:
        """``data`` of a response that must have no errors."""
        body = await self.gql(query, variables, token=token)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = "default"
    ) -> dict[str, Any]:
        """The first error of a response that must have one."""
        body = await self.gql(query, variables, token=token)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error


@asynccontextmanager
async def serving(
    database_url: str, *, clock: Callable[[], datetime] | None = None, **overrides: Any
) -> AsyncIterator[Api]:
    """The API on ``database_url`` (test settings plus ``overrides``) over httpx; stopped on exit.
    ``clock`` fixes the instant a decision asked without ``at`` is made at (the access service's clock).

    Also how a test gets a second process on the same database: each app has its own caches and
    revision watcher, exactly as another worker would.
    """
    app = create_app(make_settings(database_url, **overrides), clock=clock or now)
    await app.runtime.start()
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The change feed's tail reads in the background (every ENTITLE_CACHE_POLL_MS): not the request's.
        if "FROM changes" not in statement:
            statements.append(statement)

    sa.event.listen(app.runtime.database.engine.sync_engine, "before_cursor_execute", record)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://entitle.test") as client:
            yield Api(client=client, app=app, statements=statements)
    finally:
        await app.runtime.stop()


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    async with serving(database_url) as served:
        yield served
