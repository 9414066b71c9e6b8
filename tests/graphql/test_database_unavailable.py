"""A database that does not answer in time is SERVICE_UNAVAILABLE (HTTP 503 + Retry-After), on both
backends: here a write held up by another connection's lock past the configured timeout (SQLite's
busy timeout; PostgreSQL's statement timeout). Outages of a whole server: tests/e2e/test_database_outage.py."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import serving

TIMEOUT_S = 0.5
CREATE_FEATURE = "mutation($input: CreateFeatureInput!) { createFeature(input: $input) { key } }"
SSO = {"input": {"key": "sso", "name": "SSO", "type": "BOOLEAN"}}


@asynccontextmanager
async def features_locked(database_url: str) -> AsyncIterator[None]:
    """Another connection holds the lock a feature write needs, until the block ends."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.rollback()
            connection.close()
        return
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as holder:
            await holder.execute(sa.text("LOCK TABLE features IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                await holder.rollback()
    finally:
        await engine.dispose()


async def test_a_write_held_up_past_the_timeout_is_service_unavailable_and_succeeds_once_released(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.WARNING)
    async with serving(
        database_url, entitle_db_statement_timeout_s=TIMEOUT_S, entitle_sqlite_busy_timeout_s=TIMEOUT_S
    ) as api:
        async with features_locked(database_url):
            # when
            started = time.monotonic()
            held_up = await api.post(CREATE_FEATURE, SSO)
            took = time.monotonic() - started
        released = await api.post(CREATE_FEATURE, SSO)
    # then
    assert held_up.status_code == 503, held_up.text
    assert held_up.headers["retry-after"].isdigit()
    assert held_up.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    for leak in ("Traceback", "SELECT", "INSERT", "sqlalchemy", "asyncpg", "sqlite"):
        assert leak not in held_up.text
    assert took < TIMEOUT_S + 2.0, took
    assert released.status_code == 200, released.text
    assert released.json()["data"]["createFeature"]["key"] == "sso"
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()] != []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_writes_queued_behind_another_process_holding_the_sqlite_lock_all_answer_within_the_busy_timeout(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds SQLite's write lock past the busy timeout while this process has many
    writes queued: each answers SERVICE_UNAVAILABLE within the timeout of its own arrival (not one
    timeout per write queued ahead of it), nothing is logged with a traceback, and once the lock is
    released writes succeed again."""
    # given
    caplog.set_level(logging.WARNING)
    kinds = [
        ("upsertTenants", 'mutation { upsertTenants(input: [{key: "t%d"}]) { errors { code } } }'),
        (
            "createFeature",
            'mutation { createFeature(input: {key: "f%d", name: "F", type: BOOLEAN}) { key } }',
        ),
    ]
    async with serving(database_url, entitle_sqlite_busy_timeout_s=TIMEOUT_S) as api:
        async with features_locked(database_url):
            # when: 10 writes at once while the lock is held
            started = time.monotonic()
            answers = await asyncio.gather(*(api.post(kinds[i % 2][1] % i) for i in range(10)))
            took = time.monotonic() - started
        released = await api.post(CREATE_FEATURE, SSO)
    # then
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"].isdigit()
        assert answer.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert took < TIMEOUT_S + 2.0, took  # all of them within about one timeout, not ten
    assert released.status_code == 200, released.text
    assert released.json()["data"]["createFeature"]["key"] == "sso"
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
