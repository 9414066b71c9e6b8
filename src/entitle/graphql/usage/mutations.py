from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.domain.decision import AccessRequest
from entitle.graphql.core.context import Info
from entitle.graphql.core.permissions import writer
from entitle.graphql.core.relay import pk_of
from entitle.graphql.core.subjects import own_subject
from entitle.graphql.decisions.types import EntitlementDecision
from entitle.graphql.usage.types import ReserveUsageInput, UsageReservation
from entitle.services.reservations import ReservationRequest
from entitle.services.usage import UsageReport


@strawberry.input
class ReportUsageInput:
    feature_key: str
    amount: int
    idempotency_key: str
    tenant_key: str | None = None
    user_key: str | None = None
    at: datetime | None = None


def _reservation_pk(reservation_id: str) -> int:
    from entitle.domain.errors import NotFound

    pk = pk_of(reservation_id, "UsageReservation", field="reservationId")
    if pk is None:
        raise NotFound("no usage reservation with this id", field="reservationId")
    return pk


@strawberry.type
class UsageMutation:
    @strawberry.mutation(
        extensions=writer(),
        description="Atomically check and consume metered units; "
        "a repeated idempotencyKey returns the first answer.",
    )
    async def report_usage(self, info: Info, input: ReportUsageInput) -> EntitlementDecision:
        tenant_key, user_key = own_subject(info.context, input.tenant_key, input.user_key)
        report = UsageReport(
            tenant_key=tenant_key,
            user_key=user_key,
            feature_key=input.feature_key,
            amount=input.amount,
            idempotency_key=input.idempotency_key,
            at=input.at,
        )
        decision = await info.context.runtime.usage.report(report)
        return EntitlementDecision.from_domain(
            decision, AccessRequest(feature_key=input.feature_key, usage=input.amount)
        )

    @strawberry.mutation(
        extensions=writer(),
        description="Hold `amount` units at once (they count as used for every other check until settled "
        "or expired), or answer REFUSED with the decision saying why; idempotent like reportUsage.",
    )
    async def reserve_usage(self, info: Info, input: ReserveUsageInput) -> UsageReservation:
        tenant_key, user_key = own_subject(info.context, input.tenant_key, input.user_key)
        request = ReservationRequest(
            tenant_key=tenant_key,
            user_key=user_key,
            feature_key=input.feature_key,
            amount=input.amount,
            idempotency_key=input.idempotency_key,
            expires_in_seconds=input.expires_in_seconds,
        )
        reservation = await info.context.runtime.reservations.reserve(request)
        return UsageReservation.from_domain(reservation)

    @strawberry.mutation(
        extensions=writer(),
        description="Consume `amount` of the held units (default: all) and free the rest; "
        "CONFLICT when the reservation is already settled or expired.",
    )
    async def commit_usage(
        self, info: Info, reservation_id: strawberry.ID, amount: int | None = None
    ) -> UsageReservation:
        reservation = await info.context.runtime.reservations.commit(_reservation_pk(reservation_id), amount)
        return UsageReservation.from_domain(reservation)

    @strawberry.mutation(
        extensions=writer(),
        description="Free the held units; CONFLICT when the reservation is already settled or expired.",
    )
    async def release_usage(self, info: Info, reservation_id: strawberry.ID) -> UsageReservation:
        reservation = await info.context.runtime.reservations.release(_reservation_pk(reservation_id))
        return UsageReservation.from_domain(reservation)
