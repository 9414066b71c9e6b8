"""Stored records by id or key, for the API's loaders, single-object fields and listings.

Each ``StoredKind`` names a table and the typed record its rows become, so a loader of tenants is a
``DataLoader[int, TenantRecord | None]`` and a page of tenants a ``Page[TenantRecord]``, not untyped rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from entitle.db.engine import Executor
from entitle.db.repositories.changes import ChangeRecord
from entitle.db.repositories.decision_log import DecisionLogRecord
from entitle.db.repositories.entitlements import StoredEntitlement
from entitle.db.repositories.features import FeatureRecord
from entitle.db.repositories.flags import FlagRecord
from entitle.db.repositories.plans import PlanRecord
from entitle.db.repositories.reservations import ReservationRecord
from entitle.db.repositories.routes import RouteRecord
from entitle.db.repositories.subjects import TenantRecord, UserRecord
from entitle.db.repositories.usage import UsageRecordEntry
from entitle.db.repositories.webhooks import WebhookDeliveryRecord, WebhookEndpointRecord
from entitle.db.tables import (
    CHANGES,
    DECISION_LOG,
    ENTITLEMENTS,
    FEATURES,
    FLAGS,
    PLANS,
    ROUTES,
    TENANTS,
    USAGE_RECORDS,
    USAGE_RESERVATIONS,
    USERS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
)
from entitle.domain.metering import ReservationStatus

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class StoredKind(Generic[R]):
    """A table whose rows the API loads by id or lists, and the record each row becomes.

    ``record`` takes the values of the table's columns positionally, in the table's column order
    (``select(table)``): the record classes declare their fields in that order
    (``tests/db/test_stored_kinds.py`` checks every kind), so a record costs its ``__init__``, not a
    mapping of the row per record.
    """

    table: sa.Table
    record: Callable[..., R]


@dataclass(frozen=True, slots=True)
class KeyedKind(StoredKind[R]):
    """A kind whose table has a unique ``key`` and a ``name`` (features, plans, flags, tenants, users)."""


def _feature(*columns: Any) -> FeatureRecord:
    """``warning_thresholds`` (the last column) is NULL when a feature has none."""
    values = list(columns)
    values[-1] = list(values[-1] or [])
    return FeatureRecord(*values)


_RESERVATION_STATUS = [column.name for column in USAGE_RESERVATIONS.columns].index("status")


def _reservation(*columns: Any) -> ReservationRecord:
    values = list(columns)
    values[_RESERVATION_STATUS] = ReservationStatus(values[_RESERVATION_STATUS])
    return ReservationRecord(*values)


TENANT_ROWS = KeyedKind(TENANTS, TenantRecord)
USER_ROWS = KeyedKind(USERS, UserRecord)
FEATURE_ROWS = KeyedKind(FEATURES, _feature)
PLAN_ROWS = KeyedKind(PLANS, PlanRecord)
FLAG_ROWS = KeyedKind(FLAGS, FlagRecord)
ROUTE_ROWS = StoredKind(ROUTES, RouteRecord)
ENTITLEMENT_ROWS = StoredKind(ENTITLEMENTS, StoredEntitlement)
CHANGE_ROWS = StoredKind(CHANGES, ChangeRecord)
WEBHOOK_ENDPOINT_ROWS = StoredKind(WEBHOOK_ENDPOINTS, WebhookEndpointRecord)
WEBHOOK_DELIVERY_ROWS = StoredKind(WEBHOOK_DELIVERIES, WebhookDeliveryRecord)
USAGE_RESERVATION_ROWS = StoredKind(USAGE_RESERVATIONS, _reservation)
USAGE_RECORD_ROWS = StoredKind(USAGE_RECORDS, UsageRecordEntry)
DECISION_LOG_ROWS = StoredKind(DECISION_LOG, DecisionLogRecord)


async def rows_by_id(session: Executor, kind: StoredKind[R], ids: Sequence[int]) -> dict[int, R]:
    """The records of ``kind`` with these ids, in one ``IN`` statement; missing ids are absent."""
    table, record = kind.table, kind.record
    rows = await session.execute(sa.select(table).where(table.c.id.in_(list(ids))))
    return {row.id: record(*row) for row in rows}


async def row_by_key(session: Executor, kind: KeyedKind[R], key: str) -> R | None:
    """The record of ``kind`` (a keyed table: tenants, users, ...) with this key."""
    table = kind.table
    row = (await session.execute(sa.select(table).where(table.c.key == key))).first()
    return None if row is None else kind.record(*row)
