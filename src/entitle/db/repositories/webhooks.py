"""Webhook storage (contract §10): endpoints, the delivery outbox, and the fan-out cursor.

**Fan-out** turns committed changes into delivery rows, one per (matching change, enabled endpoint),
in the same transaction that moves the cursor: a change is fanned out exactly once, and a delivery
exists before it is attempted. One process at a time fans out: on PostgreSQL the cursor row is
taken ``FOR UPDATE SKIP LOCKED`` (a busy process skips its turn); SQLite's writers are serialized.

**Claiming**: an endpoint's deliveries are sent in ``id`` order by one process at a time. A process
claims the head of an endpoint's queue by writing ``lease_owner``/``lease_until`` on those rows, and
only when no other live lease is on that endpoint's pending rows; on PostgreSQL it first takes the
endpoint row ``FOR UPDATE SKIP LOCKED``, so two processes never both pass that check. A process
killed mid-send leaves its lease to run out; another (or the restarted one) takes the rows over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from entitle.db.engine import Executor, upsert_statement
from entitle.db.repositories import ResultRow, changes
from entitle.db.tables import WEBHOOK_CURSOR, WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS
from entitle.domain.changes import Change, Revision
from entitle.domain.webhooks import DeliveryStatus, new_message_id, subscribes


@dataclass(frozen=True, slots=True)
class WebhookEndpointRecord:
    """A stored endpoint (attribute names are the column names); the secrets never leave the API."""

    id: int
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ResultRow) -> WebhookEndpointRecord:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    """A stored delivery, as the API shows it (attribute names are the column names)."""

    id: int
    endpoint_id: int
    change_id: int | None
    message_id: str
    event_type: str
    body: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    retry_until: datetime
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: ResultRow) -> WebhookDeliveryRecord:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """What the sender needs of a delivery it leased."""

    id: int
    message_id: str
    body: str
    attempts: int
    retry_until: datetime


E = WEBHOOK_ENDPOINTS
D = WEBHOOK_DELIVERIES
_PENDING = DeliveryStatus.PENDING.value
_CURSOR_ID = 1
_CHUNK = 1_000


def _is_postgresql(executor: Executor) -> bool:
    dialect = executor.dialect if isinstance(executor, AsyncConnection) else executor.get_bind().dialect
    return dialect.name == "postgresql"


# --- endpoints -------------------------------------------------------------------------------


def endpoints_statement() -> sa.Select[Any]:
    return sa.select(E)


def _endpoint(row: ResultRow | None) -> WebhookEndpointRecord | None:
    return None if row is None else WebhookEndpointRecord.of(row)


def _delivery(row: ResultRow | None) -> WebhookDeliveryRecord | None:
    return None if row is None else WebhookDeliveryRecord.of(row)


async def endpoint_by_id(executor: Executor, endpoint_id: int) -> WebhookEndpointRecord | None:
    return _endpoint((await executor.execute(sa.select(E).where(E.c.id == endpoint_id))).first())


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """What a caller sets of an endpoint, validated (an update replaces all of it)."""

    url: str
    events: list[str]
    description: str | None
    enabled: bool


async def insert_endpoint(
    session: AsyncSession, settings: EndpointSettings, secret: str, at: datetime
) -> WebhookEndpointRecord:
    statement = (
        sa.insert(E)
        .values(
            url=settings.url,
            events=settings.events,
            description=settings.description,
            enabled=settings.enabled,
            secret=secret,
            created_at=at,
            updated_at=at,
        )
        .returning(E)
    )
    return WebhookEndpointRecord.of((await session.execute(statement)).one())


async def update_endpoint(
    session: AsyncSession, endpoint_id: int, settings: EndpointSettings, at: datetime
) -> WebhookEndpointRecord | None:
    """None when there is no endpoint with this id."""
    statement = (
        sa.update(E)
        .where(E.c.id == endpoint_id)
        .values(
            url=settings.url,
            events=settings.events,
            description=settings.description,
            enabled=settings.enabled,
            updated_at=at,
        )
        .returning(E)
    )
    return _endpoint((await session.execute(statement)).first())


async def rotate_secret(
    session: AsyncSession,
    endpoint_id: int,
    secret: str,
    previous: str,
    previous_until: datetime,
    at: datetime,
) -> WebhookEndpointRecord | None:
    """Sign with ``secret`` from now on, and also with ``previous`` until ``previous_until``; None when
    there is no endpoint with this id."""
    statement = (
        sa.update(E)
        .where(E.c.id == endpoint_id)
        .values(secret=secret, previous_secret=previous, previous_secret_until=previous_until, updated_at=at)
        .returning(E)
    )
    return _endpoint((await session.execute(statement)).first())


async def delete_endpoint(session: AsyncSession, endpoint_id: int) -> int | None:
    # Deliveries go with it (ON DELETE CASCADE); said explicitly so no backend setting matters.
    await session.execute(sa.delete(D).where(D.c.endpoint_id == endpoint_id))
    deleted = await session.scalar(sa.delete(E).where(E.c.id == endpoint_id).returning(E.c.id))
    return None if deleted is None else int(deleted)


# --- deliveries as the API shows them --------------------------------------------------------


def deliveries_statement(statuses: Sequence[str] | None) -> sa.Select[Any]:
    statement = sa.select(D)
    if statuses:
        statement = statement.where(D.c.status.in_(list(statuses)))
    return statement


async def delivery_by_id(executor: Executor, delivery_id: int) -> WebhookDeliveryRecord | None:
    return _delivery((await executor.execute(sa.select(D).where(D.c.id == delivery_id))).first())


async def insert_delivery(
    session: AsyncSession,
    endpoint_id: int,
    event_type: str,
    body: str,
    at: datetime,
    retry_until: datetime,
    change_id: int | None = None,
) -> WebhookDeliveryRecord:
    statement = (
        sa.insert(D)
        .values(
            endpoint_id=endpoint_id,
            change_id=change_id,
            message_id=new_message_id(),
            event_type=event_type,
            body=body,
            status=_PENDING,
            attempts=0,
            next_attempt_at=at,
            retry_until=retry_until,
            created_at=at,
        )
        .returning(D)
    )
    return WebhookDeliveryRecord.of((await session.execute(statement)).one())


async def redeliver(
    session: AsyncSession, delivery_id: int, at: datetime, retry_until: datetime
) -> WebhookDeliveryRecord | None:
    """The delivery back to ``PENDING``, due now (same row, so the same ``webhook-id``)."""
    statement = (
        sa.update(D)
        .where(D.c.id == delivery_id)
        .values(status=_PENDING, next_attempt_at=at, retry_until=retry_until, delivered_at=None)
        .returning(D)
    )
    return _delivery((await session.execute(statement)).first())


# --- fan-out ---------------------------------------------------------------------------------


async def start_cursor(session: AsyncSession) -> None:
    """With the first endpoint, start fanning out at the newest change: older ones are not sent."""
    if (await session.execute(sa.select(WEBHOOK_CURSOR.c.id))).first() is None:
        start = await changes.latest(session)
        await session.execute(
            upsert_statement(session, WEBHOOK_CURSOR)
            .values(id=_CURSOR_ID, txid=start.txid, seq=start.seq)
            .on_conflict_do_nothing()
        )


async def fan_out(
    session: AsyncSession,
    at: datetime,
    retry_until: datetime,
    render: Callable[[Change], str],
    limit: int = _CHUNK,
) -> tuple[int, int] | None:
    """Turn up to ``limit`` changes after the cursor into deliveries and move the cursor past them.

    Returns (changes read, deliveries made), or None when another process holds the cursor.
    """
    postgresql = _is_postgresql(session)
    cursor_query = sa.select(WEBHOOK_CURSOR).where(WEBHOOK_CURSOR.c.id == _CURSOR_ID)
    cursor = (
        await session.execute(cursor_query.with_for_update(skip_locked=True) if postgresql else cursor_query)
    ).first()
    if cursor is None:
        return None  # no endpoint yet, or another process is fanning out
    batch = await changes.read_after(session, Revision(int(cursor.txid), int(cursor.seq)), limit)
    if not batch:
        return (0, 0)
    endpoints = list(await session.execute(sa.select(E.c.id, E.c.events).where(E.c.enabled.is_(True))))
    bodies: dict[int, str] = {}

    def body(change: Change) -> str:
        text = bodies.get(change.id)
        if text is None:
            text = bodies[change.id] = render(change)
        return text

    rows = [
        {
            "endpoint_id": endpoint.id,
            "change_id": change.id,
            "message_id": new_message_id(),
            "event_type": change.kind.event_name,
            "body": body(change),
            "status": _PENDING,
            "attempts": 0,
            "next_attempt_at": at,
            "retry_until": retry_until,
            "created_at": at,
        }
        for change in batch
        for endpoint in endpoints
        if subscribes(endpoint.events or (), change.kind.event_name)
    ]
    for start_at in range(0, len(rows), _CHUNK):
        await session.execute(sa.insert(D), rows[start_at : start_at + _CHUNK])
    last = batch[-1].revision
    await session.execute(
        sa.update(WEBHOOK_CURSOR)
        .where(WEBHOOK_CURSOR.c.id == _CURSOR_ID)
        .values(txid=last.txid, seq=last.seq)
    )
    return (len(batch), len(rows))


async def has_changes_to_fan_out(executor: Executor) -> bool:
    """A cheap read: is there a change after the cursor (or no cursor yet)?"""
    cursor = (
        await executor.execute(sa.select(WEBHOOK_CURSOR).where(WEBHOOK_CURSOR.c.id == _CURSOR_ID))
    ).first()
    if cursor is None:
        return False
    return bool(await changes.read_after(executor, Revision(int(cursor.txid), int(cursor.seq)), 1))


# --- sending ---------------------------------------------------------------------------------


def _lease_free(at: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(D.c.lease_until.is_(None), D.c.lease_until < at)


async def due_endpoints(executor: Executor, at: datetime, limit: int) -> list[int]:
    """Enabled endpoints whose oldest pending delivery is due and not leased."""
    heads = (
        sa.select(sa.func.min(D.c.id).label("id")).where(D.c.status == _PENDING).group_by(D.c.endpoint_id)
    ).subquery()
    statement = (
        sa.select(D.c.endpoint_id)
        .join(heads, heads.c.id == D.c.id)
        .join(E, E.c.id == D.c.endpoint_id)
        .where(E.c.enabled.is_(True), D.c.next_attempt_at <= at, _lease_free(at))
        .order_by(D.c.next_attempt_at)
        .limit(limit)
    )
    return [int(i) for i in (await executor.scalars(statement))]


async def claim(
    session: AsyncSession, endpoint_id: int, owner: str, at: datetime, lease_until: datetime, limit: int
) -> tuple[WebhookEndpointRecord | None, list[ClaimedDelivery]]:
    """Lease the due head of an endpoint's queue to ``owner``: (endpoint, deliveries in order).

    Nothing when the endpoint is gone, disabled, locked or leased by another process, or its head
    is not due yet.
    """
    endpoint_query = sa.select(E).where(E.c.id == endpoint_id, E.c.enabled.is_(True))
    if _is_postgresql(session):
        endpoint_query = endpoint_query.with_for_update(skip_locked=True)
    endpoint = _endpoint((await session.execute(endpoint_query)).first())
    if endpoint is None:
        return None, []
    leased = await session.scalar(
        sa.select(D.c.id)
        .where(D.c.endpoint_id == endpoint_id, D.c.status == _PENDING, D.c.lease_until >= at)
        .limit(1)
    )
    if leased is not None:
        return None, []
    head = list(
        await session.execute(
            sa.select(D.c.id, D.c.next_attempt_at)
            .where(D.c.endpoint_id == endpoint_id, D.c.status == _PENDING)
            .order_by(D.c.id)
            .limit(limit)
        )
    )
    ids: list[int] = []
    for row in head:
        if row.next_attempt_at is not None and row.next_attempt_at > at:
            break
        ids.append(int(row.id))
    if not ids:
        return None, []
    claimed = await session.execute(
        sa.update(D)
        .where(D.c.id.in_(ids))
        .values(lease_owner=owner, lease_until=lease_until)
        .returning(D.c.id, D.c.message_id, D.c.body, D.c.attempts, D.c.retry_until)
    )
    deliveries = [ClaimedDelivery(*row) for row in claimed]
    return endpoint, sorted(deliveries, key=lambda d: d.id)


async def renew(session: AsyncSession, ids: Sequence[int], owner: str, lease_until: datetime) -> None:
    await session.execute(
        sa.update(D).where(D.c.id.in_(list(ids)), D.c.lease_owner == owner).values(lease_until=lease_until)
    )


async def release(session: AsyncSession, ids: Sequence[int], owner: str) -> None:
    if ids:
        await session.execute(
            sa.update(D)
            .where(D.c.id.in_(list(ids)), D.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


async def record_successes(session: AsyncSession, outcomes: Sequence[tuple[int, int, datetime]]) -> None:
    """``(delivery id, status code, delivered at)`` of delivered attempts."""
    if outcomes:
        await session.execute(
            sa.update(D)
            .where(D.c.id == sa.bindparam("_id"))
            .values(
                status=DeliveryStatus.SUCCEEDED.value,
                attempts=D.c.attempts + 1,
                last_status_code=sa.bindparam("_code"),
                last_error=None,
                next_attempt_at=None,
                delivered_at=sa.bindparam("_at"),
                lease_owner=None,
                lease_until=None,
            ),
            [{"_id": i, "_code": code, "_at": at} for i, code, at in outcomes],
        )


async def record_failure(
    session: AsyncSession,
    delivery_id: int,
    status_code: int | None,
    error: str,
    next_attempt_at: datetime | None,
) -> None:
    """A failed attempt: due again at ``next_attempt_at``, or ``FAILED`` when that is None."""
    await session.execute(
        sa.update(D)
        .where(D.c.id == delivery_id, D.c.status == _PENDING)
        .values(
            status=_PENDING if next_attempt_at is not None else DeliveryStatus.FAILED.value,
            attempts=D.c.attempts + 1,
            last_status_code=status_code,
            last_error=error[:500],
            next_attempt_at=next_attempt_at,
            lease_owner=None,
            lease_until=None,
        )
    )
