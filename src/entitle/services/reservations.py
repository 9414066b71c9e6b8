"""``reserveUsage`` / ``commitUsage`` / ``releaseUsage`` (contract §11): hold units, then settle them.

A hold is one conditional UPDATE of the usage counter (``used + held + amount <= limit`` under BLOCK),
in the transaction that claims the idempotency key, so concurrent holds and consumptions in any
process never overshoot the limit. Settling locks the counter, then moves the reservation from HELD
once (a second settle is CONFLICT): committed units become used, the rest are freed. A hold past its
``expiresAt`` no longer counts for anyone and reads EXPIRED; a writer sweeps it when it next needs the
room (see ``db.repositories.usage``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from entitle.db.repositories import reservations as reservation_rows
from entitle.db.repositories import usage as counters
from entitle.db.repositories.idempotency import RESERVATIONS_LEDGER
from entitle.db.repositories.reservations import ReservationRecord
from entitle.db.repositories.usage import CounterKey
from entitle.domain.decision import AccessRequest, Decision, conclude, validate_request
from entitle.domain.errors import BadUserInput, Conflict, NotFound
from entitle.domain.metering import ReservationStatus, commit_amount, hold_duration, status_at
from entitle.domain.model import Feature
from entitle.services.usage import (
    GRANT_GONE,
    MAX_COUNTER,
    MeteredTarget,
    Metering,
    announce,
    blocks,
    cap,
    check_idempotency_key,
    decision_from_json,
    decision_to_json,
)


@dataclasses.dataclass(frozen=True)
class ReservationRequest:
    tenant_key: str | None
    user_key: str | None
    feature_key: str
    amount: int
    idempotency_key: str
    expires_in_seconds: int | None = None


@dataclasses.dataclass(frozen=True)
class Reservation:
    """A reservation as the API shows it; ``id`` 0 is a refusal that was not stored (nothing to key it by)."""

    id: int
    status: ReservationStatus
    amount: int
    committed: int | None
    expires_at: datetime
    decision: Decision
    feature_key: str
    tenant_key: str | None
    user_key: str | None


def shown(record: ReservationRecord, feature: Feature | None, feature_key: str, at: datetime) -> Reservation:
    return Reservation(
        id=record.id,
        status=status_at(record.status, record.expires_at, at),
        amount=record.amount,
        committed=record.committed,
        expires_at=record.expires_at,
        decision=decision_from_json(record.response, feature),
        feature_key=feature_key,
        tenant_key=record.tenant_key,
        user_key=record.user_key,
    )


class ReservationService:
    """``reserveUsage``, ``commitUsage``, ``releaseUsage`` and a stored reservation as the API shows it,
    all at the metering's clock."""

    __slots__ = ("_metering",)

    def __init__(self, metering: Metering) -> None:
        self._metering = metering

    async def reserve(self, request: ReservationRequest) -> Reservation:
        if request.amount < 1:
            raise BadUserInput("amount must be at least 1", field="amount")
        check_idempotency_key(request.idempotency_key)
        metering = self._metering
        expires_at = (at := metering.clock()) + hold_duration(request.expires_in_seconds)
        access = AccessRequest(feature_key=request.feature_key, usage=request.amount)
        validate_request(request.tenant_key, request.user_key, access)
        target = await metering.target(request.tenant_key, request.user_key, access, at)
        evaluation, feature, who = target.evaluation, target.feature, target.who
        grant = evaluation.grant
        if grant is None or grant.period is None or who is None or evaluation.justification is not None:
            if who is not None and feature is not None and evaluation.justification in GRANT_GONE:
                async with metering.database.read() as session:
                    claimed_as = (*who, feature.id, request.idempotency_key)
                    stored = await reservation_rows.by_key(session, claimed_as)
                if stored is not None:
                    return shown(stored, feature, feature.key, at)
            refusal = conclude(evaluation, None)  # nothing grants it: refuse, store nothing
            return Reservation(
                0, ReservationStatus.REFUSED, request.amount, None, expires_at, refusal,
                request.feature_key, request.tenant_key, request.user_key,
            )  # fmt: skip

        async with metering.write() as session:
            claim = (*who, grant.feature.id, request.idempotency_key)
            key = CounterKey(who, grant.feature.id, grant.period.start, grant.period.end)
            claimed = await RESERVATIONS_LEDGER.claim(
                session,
                claim,
                at,
                period_start=key.period_start,
                tenant_key=request.tenant_key,
                user_key=request.user_key,
                status=ReservationStatus.REFUSED.value,
                amount=request.amount,
                expires_at=expires_at,
            )
            if not claimed:
                stored = await reservation_rows.by_key(session, claim)
                assert stored is not None
                return shown(stored, grant.feature, grant.feature.key, at)
            applied, counter = await counters.hold(session, key, request.amount, cap(grant), at, expires_at)
            if not applied and not blocks(grant):
                raise BadUserInput(
                    f"amount: this period's counter would pass {MAX_COUNTER}, the largest value the API "
                    "reports",
                    field="amount",
                )
            held_evaluation = dataclasses.replace(evaluation, usage=None) if applied else evaluation
            decision = conclude(held_evaluation, counter.used, counter.held)
            status = ReservationStatus.HELD if applied else ReservationStatus.REFUSED
            await RESERVATIONS_LEDGER.record(session, claim, decision_to_json(decision), status=status.value)
            if not applied:
                await announce(session, key, target, counter, applied=False)
            stored = await reservation_rows.by_key(session, claim)
            assert stored is not None
        return shown(stored, grant.feature, grant.feature.key, at)

    async def shown(self, stored: ReservationRecord) -> Reservation:
        """A stored reservation (from a loader) as the API shows it now."""
        return await self._shown(stored, self._metering.clock())

    async def _shown(self, stored: ReservationRecord, at: datetime) -> Reservation:
        snapshot = await self._metering.catalog.get()
        feature = snapshot.catalog.features_by_id.get(stored.feature_id)
        return shown(stored, feature, feature.key if feature is not None else "", at)

    async def _live(self, reservation_id: int, at: datetime) -> ReservationRecord:
        """The reservation to settle: NOT_FOUND when unknown, CONFLICT when it is no longer held."""
        async with self._metering.database.read() as session:
            stored = await reservation_rows.by_id(session, reservation_id)
        if stored is None:
            raise NotFound("no usage reservation with this id", field="reservationId")
        _still_held(stored, at)
        return stored

    async def commit(self, reservation_id: int, amount: int | None) -> Reservation:
        """Consume ``amount`` of the held units (default: all) and free the rest."""
        metering = self._metering
        at = metering.clock()
        stored = await self._live(reservation_id, at)
        committed = commit_amount(stored.amount, amount)
        snapshot = await metering.catalog.get()
        feature = snapshot.catalog.features_by_id.get(stored.feature_id)
        assert feature is not None  # a feature with reservations cannot be deleted
        target = await metering.target(
            stored.tenant_key, stored.user_key, AccessRequest(feature_key=feature.key), at
        )
        key = CounterKey((stored.subject_kind, stored.subject_id), stored.feature_id, stored.period_start)
        async with metering.write() as session:
            counter = await counters.settle(
                session, key, stored.id, ReservationStatus.COMMITTED, committed, at
            )
            if counter is None:  # settled by a concurrent call (or expired) since it was read
                raise Conflict("the reservation is already settled", field="reservationId")
            held = await counters.live_held(session, key, at) if counter.held else 0
            decision = _settled_decision(target, stored, feature, counter.used, held)
            if _same_period(target, stored):
                await announce(session, key, target, counter, applied=True)
            response = decision_to_json(decision)
            await reservation_rows.answer(session, stored.id, response)
            await counters.record(
                session,
                counters.UsageLine(
                    tenant_key=stored.tenant_key,
                    user_key=stored.user_key,
                    feature_key=feature.key,
                    amount=committed,
                    idempotency_key=stored.idempotency_key,
                    at=at,
                    accepted=True,
                    reservation_id=stored.id,
                ),
            )
        settled = dataclasses.replace(
            stored, status=ReservationStatus.COMMITTED, committed=committed, settled_at=at, response=response
        )
        return shown(settled, feature, feature.key, at)

    async def release(self, reservation_id: int) -> Reservation:
        """Free the held units."""
        at = self._metering.clock()
        stored = await self._live(reservation_id, at)
        key = CounterKey((stored.subject_kind, stored.subject_id), stored.feature_id, stored.period_start)
        async with self._metering.write() as session:
            counter = await counters.settle(session, key, stored.id, ReservationStatus.RELEASED, 0, at)
            if counter is None:
                raise Conflict("the reservation is already settled", field="reservationId")
            settled = await reservation_rows.by_id(session, stored.id)
            assert settled is not None
        return await self._shown(settled, at)


def _still_held(stored: ReservationRecord, at: datetime) -> None:
    status = status_at(stored.status, stored.expires_at, at)
    if status is not ReservationStatus.HELD:
        raise Conflict(f"the reservation is already settled: {status.value}", field="reservationId")


def _same_period(target: MeteredTarget, stored: ReservationRecord) -> bool:
    grant = target.evaluation.grant
    return (
        grant is not None
        and grant.period is not None
        and target.evaluation.justification is None
        and target.who == (stored.subject_kind, stored.subject_id)
        and grant.period.start == stored.period_start
    )


def _settled_decision(
    target: MeteredTarget, stored: ReservationRecord, feature: Feature, used: int, held: int
) -> Decision:
    """The decision after a commit: today's grant when it still covers the reservation's period, else the
    reservation's own decision with the counter's new numbers."""
    if _same_period(target, stored):
        return conclude(target.evaluation, used, held)
    before = decision_from_json(stored.response, feature)
    limit = before.limit
    return dataclasses.replace(
        before,
        used=used,
        held=held,
        remaining=None if limit is None else max(0, limit - used - held),
        overage=None if limit is None else max(0, used - limit),
    )
