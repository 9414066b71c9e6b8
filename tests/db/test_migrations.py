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


def test_0008_marks_the_periods_the_old_window_had_dealt_with(tmp_path: Any) -> None:
    """Counters whose period ended up to the scheduler's cursor were dealt with by the window (their
    reset appended, or deliberately not replayed): after the upgrade they are marked; the current
    periods stay pending. SQLite here; the statements are the same on PostgreSQL."""
    import sqlalchemy as sa
    from alembic import command

    from entitle.db.migrations import alembic_config
    from entitle.db.tables import FEATURES, SCHEDULE_CURSOR

    # given: a database at 0007 with the cursor at `until`, one period ended before it, one after
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0007")
    until = datetime(2030, 1, 1, 12, tzinfo=UTC)
    counters = sa.table(
        "usage_counters",
        *(sa.column(name) for name in ("subject_kind", "subject_id", "feature_id", "period_start", "used")),
        sa.column("period_end", SCHEDULE_CURSOR.c.until.type),
    )
    periods = {"dealt": until - timedelta(hours=1), "pending": until + timedelta(hours=1), "legacy": None}

    async def seed() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    sa.insert(FEATURES).values(id=1, key="calls", name="Calls", type="LIMIT", metadata={})
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
        finally:
            await engine.dispose()

    async def marks() -> dict[str, int]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.exec_driver_sql(
                    "SELECT subject_id, reset_appended FROM usage_counters ORDER BY subject_id"
                )
                return {name: mark for name, (_, mark) in zip(periods, rows, strict=True)}
        finally:
            await engine.dispose()

    asyncio.run(seed())
    # when
    upgrade_to_head(url)
    # then
    assert asyncio.run(marks()) == {"dealt": 1, "pending": 0, "legacy": 1}
