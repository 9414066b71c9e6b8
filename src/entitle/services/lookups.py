"""Stored rows the API renders, by id or key, and the catalog snapshot they come with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from entitle.db.repositories import plans, rows
from entitle.db.repositories.catalog import CatalogSnapshot
from entitle.db.repositories.changes import ChangeRecord, to_change
from entitle.db.repositories.decision_log import DecisionLogRecord
from entitle.db.repositories.entitlements import StoredEntitlement
from entitle.db.repositories.features import FeatureRecord
from entitle.db.repositories.flags import FlagRecord
from entitle.db.repositories.plans import PlanFeatureRecord, PlanRecord
from entitle.db.repositories.reservations import ReservationRecord
from entitle.db.repositories.routes import RouteRecord
from entitle.db.repositories.rows import (
    CHANGE_ROWS,
    DECISION_LOG_ROWS,
    ENTITLEMENT_ROWS,
    FEATURE_ROWS,
    FLAG_ROWS,
    PLAN_ROWS,
    ROUTE_ROWS,
    TENANT_ROWS,
    USAGE_RECORD_ROWS,
    USAGE_RESERVATION_ROWS,
    USER_ROWS,
    WEBHOOK_DELIVERY_ROWS,
    WEBHOOK_ENDPOINT_ROWS,
    KeyedKind,
    StoredKind,
)
from entitle.db.repositories.subject_context import entitlement_record
from entitle.db.repositories.subjects import TenantRecord, UserRecord
from entitle.db.repositories.usage import UsageRecordEntry
from entitle.db.repositories.webhooks import WebhookDeliveryRecord, WebhookEndpointRecord
from entitle.services.runtime import Runtime

__all__ = [
    "CHANGE_ROWS",
    "DECISION_LOG_ROWS",
    "ENTITLEMENT_ROWS",
    "FEATURE_ROWS",
    "FLAG_ROWS",
    "PLAN_ROWS",
    "ROUTE_ROWS",
    "TENANT_ROWS",
    "USAGE_RECORD_ROWS",
    "USAGE_RESERVATION_ROWS",
    "USER_ROWS",
    "WEBHOOK_DELIVERY_ROWS",
    "WEBHOOK_ENDPOINT_ROWS",
    "CatalogSnapshot",
    "ChangeRecord",
    "DecisionLogRecord",
    "FeatureRecord",
    "FlagRecord",
    "KeyedKind",
    "PlanFeatureRecord",
    "PlanRecord",
    "ReservationRecord",
    "RouteRecord",
    "StoredEntitlement",
    "StoredKind",
    "TenantRecord",
    "UsageRecordEntry",
    "UserRecord",
    "WebhookDeliveryRecord",
    "WebhookEndpointRecord",
    "entitlement_record",
    "row_by_key",
    "rows_by_id",
    "to_change",
]

R = TypeVar("R")


async def rows_by_id(runtime: Runtime, kind: StoredKind[R], ids: Sequence[int]) -> list[R | None]:
    """The records with these ids, in order (None where missing), in one statement."""
    async with runtime.database.lookup() as connection:
        by_id = await rows.rows_by_id(connection, kind, ids)
    return [by_id.get(i) for i in ids]


async def row_by_key(runtime: Runtime, kind: KeyedKind[R], key: str) -> R | None:
    """The record of a keyed kind (``TENANT_ROWS``, ``USER_ROWS``) with this key."""
    async with runtime.database.read() as session:
        return await rows.row_by_key(session, kind, key)


async def plan_entitlement_counts(runtime: Runtime, plan_ids: Sequence[int]) -> list[dict[int, int]]:
    """Per plan id, in order: its entitlements that are not revoked, by version (one statement)."""
    async with runtime.database.lookup() as connection:
        counts = await plans.entitlement_counts(connection, plan_ids)
    return [counts.get(plan_id, {}) for plan_id in plan_ids]
