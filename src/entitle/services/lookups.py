"""Stored rows the API renders, by id or key, and the catalog snapshot they come with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from entitle.db.repositories import plans, rows
from entitle.db.repositories.catalog import CatalogSnapshot
from entitle.db.repositories.changes import to_change
from entitle.db.repositories.plans import PlanFeatureRecord
from entitle.db.repositories.rows import Row, RowKind
from entitle.db.repositories.subject_context import entitlement_record
from entitle.services.runtime import Runtime

__all__ = [
    "CatalogSnapshot",
    "PlanFeatureRecord",
    "Row",
    "RowKind",
    "entitlement_record",
    "row_by_key",
    "rows_by_id",
    "to_change",
]


async def rows_by_id(runtime: Runtime, kind: RowKind, ids: Sequence[int]) -> list[Row | None]:
    """The rows with these ids, in order (None where missing), in one statement."""
    async with runtime.database.lookup() as connection:
        by_id = await rows.rows_by_id(connection, kind, ids)
    return [by_id.get(i) for i in ids]


async def row_by_key(runtime: Runtime, kind: Literal["tenants", "users"], key: str) -> Row | None:
    async with runtime.database.read() as session:
        return await rows.row_by_key(session, kind, key)


async def plan_entitlement_counts(runtime: Runtime, plan_ids: Sequence[int]) -> list[dict[int, int]]:
    """Per plan id, in order: its entitlements that are not revoked, by version (one statement)."""
    async with runtime.database.lookup() as connection:
        counts = await plans.entitlement_counts(connection, plan_ids)
    return [counts.get(plan_id, {}) for plan_id in plan_ids]
