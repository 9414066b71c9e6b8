"""Upgrading an empty database to head yields exactly the models' schema, on both backends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from entitle.db.migrations import upgrade_to_head
from entitle.db.tables import metadata


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


async def _inspect(database_url: str) -> tuple[list[Any], list[str]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_diff)
            revisions = await connection.exec_driver_sql("SELECT scope FROM revisions ORDER BY scope")
            return differences, [row[0] for row in revisions]
    finally:
        await engine.dispose()


def test_migrations_produce_exactly_the_models_schema(database_url: str) -> None:
    # given: the per-test database was upgraded to head from empty; upgrading again is a no-op
    upgrade_to_head(database_url)
    # when
    differences, scopes = asyncio.run(_inspect(database_url))
    # then
    assert differences == []
    assert scopes == ["catalog", "subjects"]


def test_replicas_migrating_an_empty_postgresql_database_at_once_all_succeed() -> None:
    # given: an empty database (PostgreSQL only: SQLite has a single file writer anyway)
    from tests.conftest import PG_BASE, admin, pg_available

    if not pg_available():
        pytest.skip(
            "PostgreSQL not reachable: running SQLite only (set ENTITLE_TEST_POSTGRES=1 to require it)"
        )
    name = f"entitle_test_race_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"{PG_BASE}/{name}"
    try:
        # when: three replica processes start at the same moment
        migrate = f"from entitle.db.migrations import upgrade_to_head; upgrade_to_head({url!r})"
        replicas = [
            subprocess.Popen(
                [sys.executable, "-c", migrate], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(3)
        ]
        outcomes = [replica.wait(timeout=60) for replica in replicas]
        output = b"".join(replica.stdout.read() for replica in replicas if replica.stdout)
        # then: every one succeeded and the schema is exactly the models'
        differences, scopes = asyncio.run(_inspect(url))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert outcomes == [0, 0, 0], output.decode(errors="replace")
    assert differences == []
    assert scopes == ["catalog", "subjects"]


def test_0008_marks_what_the_old_window_had_not_reached(tmp_path: Any) -> None:
    """Instants up to the scheduler's cursor were dealt with by the window (announced, or deliberately
    not replayed): after the upgrade only later ones are marked to come. SQLite here; the statements
    are the same on PostgreSQL."""
    import sqlalchemy as sa
    from alembic import command

    from entitle.db.migrations import alembic_config
    from entitle.db.tables import FEATURES, SCHEDULE_CURSOR, TENANTS

    # given: a database at 0007 with the cursor at `until`, and instants before and after it
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0007")
    until = datetime(2030, 1, 1, 12, tzinfo=UTC)
    hour = timedelta(hours=1)
    instant = SCHEDULE_CURSOR.c.until.type
    counters = sa.table(
        "usage_counters",
        *(sa.column(name) for name in ("subject_kind", "subject_id", "feature_id", "period_start", "used")),
        sa.column("period_end", instant),
    )
    periods = {"dealt": until - hour, "pending": until + hour, "legacy": None}
    grants = sa.table(
        "entitlements",
        *(sa.column(name) for name in ("id", "assign_level", "feature_id", "tenant_id", "metadata")),
        *(sa.column(name, instant) for name in ("start_date", "expiration_date", "created_at", "updated_at")),
    )
    # name: (created_at, start_date, expiration_date)
    grant_times = {
        "started before": (until - 2 * hour, until - hour, until + hour),
        "starts after": (until - 2 * hour, until + hour, until + 2 * hour),
        "started when granted": (until + 2 * hour, until + hour, None),
        "expired before": (until - 3 * hour, until - 2 * hour, until - hour),
    }

    async def seed() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    sa.insert(FEATURES).values(id=1, key="calls", name="Calls", type="LIMIT", metadata={})
                )
                await connection.execute(
                    sa.insert(TENANTS).values(
                        id=1, key="acme", metadata={}, created_at=until, updated_at=until
                    )
                )
                await connection.execute(sa.insert(SCHEDULE_CURSOR).values(name="entitlements", until=until))
                for n, end in enumerate(periods.values()):
                    await connection.execute(
                        sa.insert(counters).values(
                            subject_kind="T",
                            subject_id=n,
                            feature_id=1,
                            period_start=until,
                            used=1,
                            period_end=end,
                        )
                    )
                for n, (created, start, expiration) in enumerate(grant_times.values(), start=1):
                    await connection.execute(
                        sa.insert(grants).values(
                            id=n,
                            assign_level="TENANT",
                            feature_id=1,
                            tenant_id=1,
                            metadata="{}",
                            start_date=start,
                            expiration_date=expiration,
                            created_at=created,
                            updated_at=created,
                        )
                    )
        finally:
            await engine.dispose()

    async def marks() -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                counted = await connection.exec_driver_sql(
                    "SELECT reset_appended FROM usage_counters ORDER BY subject_id"
                )
                granted = await connection.exec_driver_sql(
                    "SELECT start_pending, expiry_pending FROM entitlements ORDER BY id"
                )
                return (
                    {name: mark for name, (mark,) in zip(periods, counted, strict=True)},
                    {name: tuple(row) for name, row in zip(grant_times, granted, strict=True)},
                )
        finally:
            await engine.dispose()

    asyncio.run(seed())
    # when
    upgrade_to_head(url)
    # then: (start_pending, expiry_pending) per grant, reset_appended per counter
    counters_marks, grant_marks = asyncio.run(marks())
    assert counters_marks == {"dealt": 1, "pending": 0, "legacy": 1}
    assert grant_marks == {
        "started before": (0, 1),
        "starts after": (1, 1),
        "started when granted": (0, 0),
        "expired before": (0, 0),
    }
