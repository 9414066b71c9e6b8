"""Stored records by id or key, for the API's loaders and single-object fields.

Each ``StoredKind`` names a table and the typed record its rows become, so a loader of tenants is a
``DataLoader[int, TenantRecord | None]``, not of untyped rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa

from entitle.db.engine import Executor
from entitle.db.repositories import ResultRow
from entitle.db.repositories.changes import ChangeRecord
from entitle.db.repositories.decision_log import DecisionLogRecord
from entitle.db.repositories.entitlements import StoredEntitlement
from entitle.db.repositories.reservations import ReservationRecord
from entitle.db.repositories.subjects import TenantRecord, UserRecord
from entitle.db.repositories.usage import UsageRecordEntry
from entitle.db.repositories.webhooks import WebhookDeliveryRecord, WebhookEndpointRecord
from entitle.db.tables import (
    CHANGES,
    DECISION_LOG,
    ENTITLEMENTS,
    TENANTS,
    USAGE_RECORDS,
    USAGE_RESERVATIONS,
    USERS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
)

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class StoredKind(Generic[R]):
    """A table whose rows the API loads by id, and the record each row becomes."""

    table: sa.Table
    record: Callable[[ResultRow], R]


TENANT_ROWS = StoredKind(TENANTS, TenantRecord.of)
USER_ROWS = StoredKind(USERS, UserRecord.of)
ENTITLEMENT_ROWS = StoredKind(ENTITLEMENTS, StoredEntitlement.of)
CHANGE_ROWS = StoredKind(CHANGES, ChangeRecord.of)
WEBHOOK_ENDPOINT_ROWS = StoredKind(WEBHOOK_ENDPOINTS, WebhookEndpointRecord.of)
WEBHOOK_DELIVERY_ROWS = StoredKind(WEBHOOK_DELIVERIES, WebhookDeliveryRecord.of)
USAGE_RESERVATION_ROWS = StoredKind(USAGE_RESERVATIONS, ReservationRecord.of)
USAGE_RECORD_ROWS = StoredKind(USAGE_RECORDS, UsageRecordEntry.of)
DECISION_LOG_ROWS = StoredKind(DECISION_LOG, DecisionLogRecord.of)


async def rows_by_id(session: Executor, kind: StoredKind[R], ids: Sequence[int]) -> dict[int, R]:
    """The records of ``kind`` with these ids, in one ``IN`` statement; missing ids are absent."""
    table = kind.table
    rows = await session.execute(sa.select(table).where(table.c.id.in_(list(ids))))
    return {row.id: kind.record(row) for row in rows}


async def row_by_key(session: Executor, kind: StoredKind[R], key: str) -> R | None:
    """The record of ``kind`` (a keyed table: tenants, users) with this key."""
    table = kind.table
    row = (await session.execute(sa.select(table).where(table.c.key == key))).first()
    return None if row is None else kind.record(row)
