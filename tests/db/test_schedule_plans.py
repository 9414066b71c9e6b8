"""The scheduler runs every second inside a write transaction (on SQLite it holds the only write lock
meanwhile): what it reads must walk the partial indexes of the pending rows, never scan the tables.
An OR of the two grant conditions was planned as a scan of every entitlement, every second."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from entitle.db.repositories import schedule

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_the_scheduler_reads_only_the_pending_rows_through_their_indexes(database_url: str) -> None:
    # given
    engine = create_async_engine(database_url)
    seen: list[tuple[str, object]] = []

    def keep(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        async with engine.connect() as connection:
            session = AsyncSession(bind=connection)
            # when
            until = datetime(2030, 1, 1, tzinfo=UTC)
            await schedule.due_grants(session, until)
            await schedule.usage_periods_ended(session, until)
            statements = list(seen)
            plans = [
                " | ".join(
                    str(row[-1]) for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p)
                )
                for s, p in statements
            ]
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", keep)
        await engine.dispose()
    # then
    assert len(plans) == 2
    for plan in plans:
        assert "SCAN entitlements" not in plan, plan
        assert "SCAN usage_counters" not in plan, plan
    assert "ix_entitlements_start_pending" in plans[0]
    assert "ix_entitlements_expiry_pending" in plans[0]
    assert "ix_usage_counters_reset_pending" in plans[1]
