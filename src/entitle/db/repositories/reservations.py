"""Usage reservations (``reserveUsage``): the stored holds, read by key or id.

Holding and settling change the counter too, so those statements live with the counter in ``usage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from entitle.db.engine import Executor
from entitle.db.repositories import ResultRow
from entitle.db.repositories.idempotency import RESERVATIONS_LEDGER
from entitle.db.tables import USAGE_RESERVATIONS as R
from entitle.domain.metering import ReservationStatus
from entitle.domain.model import JsonObject


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    id: int
    subject_kind: str
    subject_id: int
    feature_id: int
    idempotency_key: str
    period_start: datetime
    tenant_key: str | None
    user_key: str | None
    status: ReservationStatus
    amount: int
    committed: int | None
    expires_at: datetime
    response: JsonObject
    created_at: datetime
    settled_at: datetime | None

    @classmethod
    def of(cls, row: ResultRow) -> ReservationRecord:
        values = dict(row._mapping)
        values["status"] = ReservationStatus(values["status"])
        return cls(**values)

    @property
    def key(self) -> tuple[str, int, int, str]:
        return (self.subject_kind, self.subject_id, self.feature_id, self.idempotency_key)


async def by_key(session: Executor, key: tuple[str, int, int, str]) -> ReservationRecord | None:
    where = [R.c[name] == value for name, value in zip(RESERVATIONS_LEDGER.key_columns, key, strict=True)]
    row = (await session.execute(sa.select(R).where(*where))).first()
    return None if row is None else ReservationRecord.of(row)


async def by_id(session: Executor, reservation_id: int) -> ReservationRecord | None:
    row = (await session.execute(sa.select(R).where(R.c.id == reservation_id))).first()
    return None if row is None else ReservationRecord.of(row)


async def answer(session: Executor, reservation_id: int, response: JsonObject) -> None:
    """Store the decision of the reservation's latest operation."""
    await session.execute(sa.update(R).where(R.c.id == reservation_id).values(response=response))
