"""Idempotency keys: claim a key inside the writing transaction, record the answer, replay it.

One mechanism for every operation that takes an idempotency key; each keeps its own table
(batch results per operation, usage events per subject and feature). A concurrent claim of the
same key waits on the unique row until the first transaction commits, then finds it taken.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from entitle.db.repositories import Session
from entitle.db.tables import BATCH_RESULTS, USAGE_EVENTS, USAGE_RESERVATIONS
from entitle.domain.model import JsonObject

IdempotencyKey: TypeAlias = tuple[str | int, ...]
"""The values of a ledger's ``key_columns``, in order."""


@dataclass(frozen=True)
class IdempotencyLedger:
    """The keys of one table: ``key_columns`` name a key's parts; ``response`` holds its answer."""

    table: sa.Table
    key_columns: tuple[str, ...]
    claimed_values: Mapping[str, object] = field(default_factory=dict)
    """What a claimed but not yet answered key stores besides its key (``response`` is ``{}``)."""

    def _where(self, key: IdempotencyKey) -> list[sa.ColumnElement[bool]]:
        return [self.table.c[name] == value for name, value in zip(self.key_columns, key, strict=True)]

    async def claim(self, session: Session, key: IdempotencyKey, at: datetime, **values: object) -> bool:
        """Claim ``key`` in this transaction; False when an earlier call holds it. ``values`` are further
        columns of the claiming row (beside ``claimed_values``)."""
        keyed = dict(zip(self.key_columns, key, strict=True))
        row = {**keyed, **self.claimed_values, **values, "response": {}, "created_at": at}
        result = await session.execute(_claim_statement(self.table, session.get_bind().dialect.name), row)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def record(
        self, session: Session, key: IdempotencyKey, response: JsonObject, **values: object
    ) -> None:
        """Store the answer given under a claimed key (and what else the table keeps about it)."""
        params: dict[str, object] = {
            f"k_{name}": value for name, value in zip(self.key_columns, key, strict=True)
        }
        params.update({f"v_{name}": value for name, value in values.items()}, v_response=response)
        await session.execute(_record_statement(self.table, self.key_columns, tuple(values)), params)

    async def recorded(self, session: Session, key: IdempotencyKey) -> JsonObject | None:
        """The answer recorded under ``key``, if any (``{}`` while its first call is still running)."""
        answer: JsonObject | None = await session.scalar(
            sa.select(self.table.c.response).where(*self._where(key))
        )
        return answer


@functools.cache
def _claim_statement(table: sa.Table, dialect: str) -> sa.Insert:
    """Built once per table (building a statement costs more CPU than a small SQLite write)."""
    insert = postgresql_dialect.insert if dialect == "postgresql" else sqlite_dialect.insert
    return insert(table).on_conflict_do_nothing()


@functools.cache
def _record_statement(table: sa.Table, key_columns: tuple[str, ...], columns: tuple[str, ...]) -> sa.Update:
    where = [table.c[name] == sa.bindparam(f"k_{name}", type_=table.c[name].type) for name in key_columns]
    values = {name: sa.bindparam(f"v_{name}", type_=table.c[name].type) for name in ("response", *columns)}
    return sa.update(table).where(*where).values(values)


BATCHES = IdempotencyLedger(BATCH_RESULTS, ("operation", "idempotency_key"))
"""Batch mutations; a key is ``(operation name, idempotency key)``."""

USAGE_EVENTS_LEDGER = IdempotencyLedger(
    USAGE_EVENTS, ("subject_kind", "subject_id", "feature_id", "idempotency_key"), {"amount": 0}
)
"""``reportUsage``: a key is ``(subject kind, subject id, feature id, key)``; ``amount`` is what it used."""

RESERVATIONS_LEDGER = IdempotencyLedger(
    USAGE_RESERVATIONS, ("subject_kind", "subject_id", "feature_id", "idempotency_key")
)
"""``reserveUsage``: keyed like ``reportUsage``; the reservation row itself is the claim, ``response`` the
decision of its last operation."""
