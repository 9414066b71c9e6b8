"""Upgrading an empty database to head yields exactly the models' schema, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

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
