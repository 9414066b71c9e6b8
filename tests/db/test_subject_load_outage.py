"""On PostgreSQL a subject's context is loaded on the raw asyncpg connection (repositories/
subject_context.py), not through SQLAlchemy's execution. A connection lost under it must still be
handled as SQLAlchemy handles one lost under any statement: the ``handle_error`` hooks run, the
connection AND its pool siblings (opened before the outage) are discarded, and the error raised is
SQLAlchemy's, which ``db.health`` classifies as an outage (SERVICE_UNAVAILABLE, one log line)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from entitle.db.engine import Database
from entitle.db.health import unavailable_reason
from entitle.db.repositories.subject_context import load_subject
from tests.conftest import admin, make_settings, serving

CHECK = 'query($t: String!) { isEntitledTo(tenantKey: $t, featureKey: "sso") { isEntitled justification } }'
QUIET = {"entitle_cache_poll_ms": 600_000, "entitle_cache_idle_poll_ms": 600_000}
"""No feed poll meets a dropped connection first (which would discard the pool through SQLAlchemy)."""


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("the raw asyncpg path is PostgreSQL's")
    return database_url


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(make_settings(postgres_url))
    yield database
    await database.dispose()


async def drop_connections(database_url: str) -> None:
    """The server ends the sessions of the pool (as a restart or a failover would), not the change
    feed's LISTEN connection: its loss would have the feed read at once, through SQLAlchemy, which
    renews the pool before the subject load meets a dropped connection."""
    name = database_url.rsplit("/", 1)[1]
    await admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid() AND query NOT ILIKE 'LISTEN%'"
    )
    await asyncio.sleep(0.2)  # the clients see their sockets close


async def pooled_connections(database: Database, count: int) -> None:
    """``count`` connections opened and returned to the pool (each used for a subject load)."""
    entered = asyncio.Barrier(count)

    async def hold() -> None:
        async with database.lookup() as connection:
            await load_subject(connection, "acme", None)
            await entered.wait()

    await asyncio.gather(*(hold() for _ in range(count)))


async def test_a_connection_lost_under_a_subject_load_fails_as_sqlalchemy_fails_and_the_pool_is_renewed(
    database: Database, postgres_url: str
) -> None:
    # given three pooled connections, then the server drops every session
    await pooled_connections(database, 3)
    await drop_connections(postgres_url)
    # when a subject load meets a dropped connection
    with pytest.raises(sa.exc.DBAPIError) as lost:
        async with database.lookup() as connection:
            await load_subject(connection, "acme", None)
    # then SQLAlchemy's error for a lost connection (an outage for db.health), as a statement would get
    assert lost.value.connection_invalidated
    assert unavailable_reason(lost.value) is not None
    # and the pool discarded the siblings: each next load gets a connection opened after the outage
    for _ in range(3):
        async with database.lookup() as connection:
            subject = await load_subject(connection, "acme", None)
        assert subject.tenant is None  # (no such tenant: the statement ran)


async def test_an_outage_met_by_a_subject_load_is_service_unavailable_logged_once_and_recovers(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given a served process whose catalog is cached and whose pool holds connections
    caplog.set_level(logging.WARNING)
    async with serving(postgres_url, **QUIET) as api:
        api.differential = False  # one request each: the first meets the dropped connection
        # The general path only: a compiled plan that fails hands the request to the general path,
        # which would load the subject again, on a fresh connection, and answer 200.
        api.app.view.compiled_queries = False
        await api.data('mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }')
        assert (await api.data(CHECK, {"t": "warm"}))["isEntitledTo"]["justification"] == "UNKNOWN_SUBJECT"
        await pooled_connections(api.app.runtime.database, 3)
        await drop_connections(postgres_url)
        # when decisions for subjects not cached yet load them on the dropped connections
        during = await api.post(CHECK, {"t": "acme"})
        after = [await api.post(CHECK, {"t": f"t{i}"}) for i in range(3)]
    # then the first is SERVICE_UNAVAILABLE (503, retry), reported to db.health once, with no traceback
    assert during.status_code == 503, during.text
    assert during.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    for leak in ("Traceback", "SELECT", "sqlalchemy", "asyncpg"):
        assert leak not in during.text
    outages = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(outages) == 1, outages
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    # and the next ones are answered on fresh connections (no sibling of the lost one is reused)
    assert [a.status_code for a in after] == [200, 200, 200], [a.text for a in after]
