"""Metering-depth types (contract §11): reservations, usage periods, usage records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import strawberry

from entitle.domain.decision import AccessRequest
from entitle.domain.errors import Forbidden
from entitle.graphql.core.context import Info
from entitle.graphql.core.enums import ReservationStatus
from entitle.graphql.core.relay import Connection, Node, load_nodes, to_global_id
from entitle.graphql.decisions.types import EntitlementDecision
from entitle.services.lookups import ReservationRecord, UsageRecordEntry
from entitle.services.reservations import Reservation
from entitle.services.usage_history import UsagePeriodView


@strawberry.type(
    description="Units held by reserveUsage: they count as used for every check until committed, released "
    "or expired (EXPIRED once `expiresAt` has passed)."
)
class UsageReservation(Node):
    id: strawberry.ID
    status: ReservationStatus
    amount: int
    committed: int | None
    expires_at: datetime
    decision: EntitlementDecision
    tenant_key: strawberry.Private[str | None]
    user_key: strawberry.Private[str | None]

    user_tokens_may_resolve = True

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[UsageReservation | None]:
        """Management keys read any reservation; a user token only its own (else FORBIDDEN)."""
        principal = info.context.require_principal()
        rows = await info.context.loaders.usage_reservation_by_id.load_many(list(node_ids))
        if not principal.is_management and any(
            row is None or (row.tenant_key, row.user_key) != (principal.tenant_key, principal.user_key)
            for row in rows
        ):
            raise Forbidden("a user token may only read its own usage reservations")
        return [None if row is None else await cls.from_stored(info, row) for row in rows]

    @classmethod
    def from_domain(cls, reservation: Reservation) -> UsageReservation:
        return cls(
            id=to_global_id("UsageReservation", reservation.id),
            status=ReservationStatus(reservation.status.value),
            amount=reservation.amount,
            committed=reservation.committed,
            expires_at=reservation.expires_at,
            decision=EntitlementDecision.from_domain(
                reservation.decision,
                AccessRequest(feature_key=reservation.feature_key, usage=reservation.amount),
            ),
            tenant_key=reservation.tenant_key,
            user_key=reservation.user_key,
        )

    @classmethod
    async def from_stored(cls, info: Info, row: ReservationRecord) -> UsageReservation:
        return cls.from_domain(await info.context.runtime.reservations.shown(row))


@strawberry.input
class ReserveUsageInput:
    feature_key: str
    amount: int
    idempotency_key: str
    tenant_key: str | None = None
    user_key: str | None = None
    expires_in_seconds: int | None = None


@strawberry.type(description="Usage of one period [start, end); `limit` is today's limit (null: unlimited).")
class UsagePeriod:
    start: datetime
    end: datetime
    used: int
    limit: int | None
    overage: int

    @classmethod
    def from_view(cls, view: UsagePeriodView) -> UsagePeriod:
        return cls(start=view.start, end=view.end, used=view.used, limit=view.limit, overage=view.overage)


@strawberry.type(description="One reportUsage or commitUsage, applied (`accepted`) or refused.")
class UsageRecord(Node):
    id: strawberry.ID
    tenant_key: str | None
    user_key: str | None
    feature_key: str
    amount: int
    idempotency_key: str
    at: datetime
    accepted: bool

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[UsageRecord | None]:
        return await load_nodes(info.context.loaders.usage_record_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: UsageRecordEntry) -> UsageRecord:
        return cls(
            id=to_global_id("UsageRecord", record.id),
            tenant_key=record.tenant_key,
            user_key=record.user_key,
            feature_key=record.feature_key,
            amount=int(record.amount),
            idempotency_key=record.idempotency_key,
            at=record.at,
            accepted=bool(record.accepted),
        )


@strawberry.type
class UsageRecordConnection(Connection[UsageRecord]):
    pass


@strawberry.input
class UsageRecordFilter:
    tenant_keys: list[str] | None = None
    user_keys: list[str] | None = None
    feature_keys: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
