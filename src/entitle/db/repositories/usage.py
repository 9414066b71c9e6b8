"""Usage counters per (subject, feature, period), reservations' holds on them, and the usage history.

Every consumption and every hold is one conditional UPDATE of the counter row: concurrent callers, in
any process, serialize on that row and each re-checks ``used + held + amount <= limit``, so a BLOCK
limit is never overshot. Locks are always taken counter first, then reservations.

``held`` may include holds past their expiry until a writer sweeps them; the fast path therefore
requires ``held_until`` (the earliest expiry among the holds) to be in the future, and otherwise sweeps
(marks them EXPIRED, recounts ``held``) under the counter's lock and tries again. Readers count only
live holds (``live_held``), so an expired hold stops counting at its expiry with no background job.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncSession

from entitle.db.engine import Database, Executor
from entitle.db.repositories import ResultRow
from entitle.db.tables import USAGE_COUNTERS as C
from entitle.db.tables import USAGE_RECORDS
from entitle.db.tables import USAGE_RESERVATIONS as R
from entitle.domain.metering import ReservationStatus, SubjectId

HELD = ReservationStatus.HELD.value


@dataclass(frozen=True, slots=True)
class CounterKey:
    subject: SubjectId
    feature_id: int
    period_start: datetime
    period_end: datetime | None = None
    """Stored when the row is created (the scheduler announces the period's end)."""

    def where(self, table: sa.Table = C) -> list[sa.ColumnElement[bool]]:
        return [
            table.c.subject_kind == self.subject[0],
            table.c.subject_id == self.subject[1],
            table.c.feature_id == self.feature_id,
            table.c.period_start == self.period_start,
        ]


@dataclass(frozen=True, slots=True)
class Counter:
    """A counter row as a write left it (``held`` may still include expired holds)."""

    used: int
    held: int
    alerted_threshold: int
    limit_alerted: bool

    @classmethod
    def of(cls, row: ResultRow | None) -> Counter:
        """The counter of ``row`` (None: no row yet, nothing counted)."""
        if row is None:
            return cls(0, 0, 0, False)
        return cls(int(row.used), int(row.held), int(row.alerted_threshold), bool(row.limit_alerted))


@dataclass(frozen=True, slots=True)
class UsageRecordEntry:
    """One stored line of the usage history (attribute names are the column names)."""

    id: int
    tenant_key: str | None
    user_key: str | None
    feature_key: str
    amount: int
    idempotency_key: str
    at: datetime
    accepted: bool
    reservation_id: int | None

    @classmethod
    def of(cls, row: ResultRow) -> UsageRecordEntry:
        return cls(**row._mapping)


_RETURNED = (C.c.used, C.c.held, C.c.alerted_threshold, C.c.limit_alerted)


# --------------------------------------------------------------------------- reads


_USAGE_COLUMNS = (C.c.feature_id, C.c.period_start, C.c.used, C.c.held, C.c.held_until)
_USAGE_IN_ONE_PERIOD = sa.select(*_USAGE_COLUMNS).where(
    C.c.subject_kind == sa.bindparam("kind"),
    C.c.subject_id == sa.bindparam("subject"),
    C.c.feature_id == sa.bindparam("feature"),
    C.c.period_start == sa.bindparam("start", type_=C.c.period_start.type),
)
"""Built once: no expanding IN rendered per call on the hot path."""


async def usage_in_periods(
    session: Executor, subject: SubjectId, wanted: Iterable[tuple[int, datetime]], at: datetime
) -> dict[tuple[int, datetime], tuple[int, int]]:
    """``(used, live held)`` per (feature id, period start); absent pairs have used and hold nothing."""
    pairs = list(wanted)
    if not pairs:
        return {}
    if len(pairs) == 1:  # a decision's one metered feature
        ((feature, start),) = pairs
        rows = await session.execute(
            _USAGE_IN_ONE_PERIOD,
            {"kind": subject[0], "subject": subject[1], "feature": feature, "start": start},
        )
    else:
        rows = await session.execute(
            sa.select(*_USAGE_COLUMNS).where(
                C.c.subject_kind == subject[0],
                C.c.subject_id == subject[1],
                C.c.feature_id.in_({f for f, _ in pairs}),
                C.c.period_start.in_({p for _, p in pairs}),
            )
        )
    found: dict[tuple[int, datetime], tuple[int, int]] = {}
    for feature_id, period_start, used, held, held_until in rows.all():
        held = int(held)
        if held and (held_until is None or held_until <= at):  # some hold expired: count the live ones
            held = await live_held(session, CounterKey(subject, feature_id, period_start), at)
        found[(feature_id, period_start)] = (int(used), held)
    return found


class UsageReader:
    """The decisions' reads of usage counters, each on a lookup connection of its own."""

    __slots__ = ("_database",)

    def __init__(self, database: Database) -> None:
        self._database = database

    async def in_periods(
        self, subject: SubjectId, wanted: Iterable[tuple[int, datetime]], at: datetime
    ) -> dict[tuple[int, datetime], tuple[int, int]]:
        """``usage_in_periods`` (holds live at ``at``)."""
        async with self._database.lookup() as connection:
            return await usage_in_periods(connection, subject, wanted, at)


async def live_held(session: Executor, key: CounterKey, at: datetime) -> int:
    total = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(R.c.amount), 0)).where(
            *key.where(R), R.c.status == HELD, R.c.expires_at > at
        )
    )
    return int(total or 0)


async def used_in_periods(
    session: Executor, subject: SubjectId, starts: Iterable[datetime], feature_id: int
) -> dict[datetime, int]:
    """Units used (committed) per period start of one feature; absent periods used nothing."""
    wanted = list(starts)
    rows = await session.execute(
        sa.select(C.c.period_start, C.c.used).where(
            C.c.subject_kind == subject[0],
            C.c.subject_id == subject[1],
            C.c.feature_id == feature_id,
            C.c.period_start.in_(wanted),
        )
    )
    return {start: int(used) for start, used in rows.all()}


# --------------------------------------------------------------------------- writes


# The statements of a small usage write, built once: building one costs more CPU than running it
# on SQLite. Parameters: the counter's key (``_key_params``), ``amount``, ``at``, ``limit``.
_KEY_WHERE = (
    C.c.subject_kind == sa.bindparam("k_kind", type_=C.c.subject_kind.type),
    C.c.subject_id == sa.bindparam("k_id", type_=C.c.subject_id.type),
    C.c.feature_id == sa.bindparam("k_feature", type_=C.c.feature_id.type),
    C.c.period_start == sa.bindparam("k_start", type_=C.c.period_start.type),
)
_AMOUNT = sa.bindparam("amount", type_=C.c.used.type)


def _key_params(key: CounterKey) -> dict[str, Any]:
    return {
        "k_kind": key.subject[0],
        "k_id": key.subject[1],
        "k_feature": key.feature_id,
        "k_start": key.period_start,
    }


@functools.cache
def _seed_statement(dialect: str) -> Any:
    insert = postgresql_dialect.insert if dialect == "postgresql" else sqlite_dialect.insert
    return insert(C).on_conflict_do_nothing()


@functools.cache
def _consume_statement(*, capped: bool, fresh: bool) -> Any:
    condition = list(_KEY_WHERE)
    if fresh:
        at = sa.bindparam("at", type_=C.c.held_until.type)
        condition.append(sa.or_(C.c.held == 0, C.c.held_until > at))
    if capped:
        condition.append(C.c.used + C.c.held + _AMOUNT <= sa.bindparam("limit", type_=C.c.used.type))
    return sa.update(C).where(*condition).values(used=C.c.used + _AMOUNT).returning(*_RETURNED)


async def _seed(session: AsyncSession, key: CounterKey) -> None:
    seed = {
        "subject_kind": key.subject[0],
        "subject_id": key.subject[1],
        "feature_id": key.feature_id,
        "period_start": key.period_start,
        "period_end": key.period_end,
        "used": 0,
        "held": 0,
        "alerted_threshold": 0,
        "limit_alerted": 0,
    }
    await session.execute(_seed_statement(session.get_bind().dialect.name), seed)


async def _conditional_add(
    session: AsyncSession,
    key: CounterKey,
    amount: int,
    limit: int | None,
    at: datetime,
    values: dict[str, Any],
) -> Counter | None:
    """Apply ``values`` when ``used + held + amount <= limit`` (None: no cap), the holds counted being
    live. Returns the counter after it, or None when it does not fit."""
    fresh = sa.or_(C.c.held == 0, C.c.held_until > at)
    condition = [*key.where(), fresh]
    if limit is not None:
        condition.append(C.c.used + C.c.held + amount <= limit)
    row = (
        await session.execute(sa.update(C).where(*condition).values(**values).returning(*_RETURNED))
    ).first()
    if row is not None:
        return Counter.of(row)
    if not await _sweep(session, key, at):  # nothing expired: it does not fit
        return None
    condition.remove(fresh)  # swept under the counter's lock: the holds counted are live now
    row = (
        await session.execute(sa.update(C).where(*condition).values(**values).returning(*_RETURNED))
    ).first()
    return None if row is None else Counter.of(row)


async def _lock(session: AsyncSession, key: CounterKey) -> Any:
    statement = sa.select(C.c.held, C.c.held_until).where(*key.where())
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return (await session.execute(statement)).first()


async def _sweep(session: AsyncSession, key: CounterKey, at: datetime) -> bool:
    """Mark the counter's expired holds EXPIRED and recount ``held``; False when none had expired."""
    row = await _lock(session, key)
    if row is None or not row.held or (row.held_until is not None and row.held_until > at):
        return False
    await session.execute(
        sa.update(R)
        .where(*key.where(R), R.c.status == HELD, R.c.expires_at <= at)
        .values(status=ReservationStatus.EXPIRED.value, settled_at=R.c.expires_at)
    )
    await _recount(session, key)
    return True


async def _recount(session: AsyncSession, key: CounterKey) -> None:
    holds = (
        await session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(R.c.amount), 0), sa.func.min(R.c.expires_at)).where(
                *key.where(R), R.c.status == HELD
            )
        )
    ).one()
    await session.execute(sa.update(C).where(*key.where()).values(held=int(holds[0]), held_until=holds[1]))


async def _current(session: AsyncSession, key: CounterKey) -> Counter:
    return Counter.of((await session.execute(sa.select(*_RETURNED).where(*key.where()))).first())


async def consume(
    session: AsyncSession, key: CounterKey, amount: int, limit: int | None, at: datetime
) -> tuple[bool, Counter]:
    """Add ``amount`` to ``used`` unless ``used + held + amount`` passes ``limit`` (None: no cap).

    Returns (applied, the counter after it); ``at`` is the wall-clock instant holds expire against.
    """
    await _seed(session, key)
    # _conditional_add with {"used": used + amount}, from statements built once
    params = {**_key_params(key), "amount": amount, "at": at, "limit": limit}
    capped = limit is not None
    row = (await session.execute(_consume_statement(capped=capped, fresh=True), params)).first()
    if row is None and await _sweep(session, key, at):  # swept under the counter's lock: holds are live
        row = (await session.execute(_consume_statement(capped=capped, fresh=False), params)).first()
    if row is not None:
        return True, Counter.of(row)
    return False, await _current(session, key)


async def hold(
    session: AsyncSession, key: CounterKey, amount: int, limit: int | None, at: datetime, expires_at: datetime
) -> tuple[bool, Counter]:
    """Hold ``amount`` more units until ``expires_at`` unless that passes ``limit``; (applied, counter)."""
    await _seed(session, key)
    earliest = sa.case(
        (sa.or_(C.c.held == 0, C.c.held_until.is_(None), C.c.held_until > expires_at), expires_at),
        else_=C.c.held_until,
    )
    values = {"held": C.c.held + amount, "held_until": earliest}
    after = await _conditional_add(session, key, amount, limit, at, values)
    if after is not None:
        return True, after
    return False, await _current(session, key)


async def settle(
    session: AsyncSession,
    key: CounterKey,
    reservation_id: int,
    status: ReservationStatus,
    committed: int,
    at: datetime,
) -> Counter | None:
    """Settle a live hold: ``committed`` of its units become used, the rest are freed. None when the
    reservation is no longer held (settled by another call, or expired): nothing changes then."""
    await _lock(session, key)
    amount = await session.scalar(
        sa.update(R)
        .where(R.c.id == reservation_id, R.c.status == HELD, R.c.expires_at > at)
        .values(status=status.value, committed=committed, settled_at=at)
        .returning(R.c.amount)
    )
    if amount is None:
        return None
    row = (
        await session.execute(
            sa.update(C)
            .where(*key.where())
            .values(
                used=C.c.used + committed,
                held=C.c.held - amount,
                held_until=sa.case((C.c.held == amount, None), else_=C.c.held_until),
            )
            .returning(*_RETURNED)
        )
    ).one()
    return Counter.of(row)


async def announce_thresholds(session: AsyncSession, key: CounterKey, upto: int) -> bool:
    """Note that thresholds up to ``upto`` were announced; False when another call already did."""
    done = await session.execute(
        sa.update(C).where(*key.where(), C.c.alerted_threshold < upto).values(alerted_threshold=upto)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def announce_limit(session: AsyncSession, key: CounterKey) -> bool:
    """Note that going over the limit was announced this period; False when another call already did."""
    await _seed(session, key)
    done = await session.execute(
        sa.update(C).where(*key.where(), C.c.limit_alerted == 0).values(limit_alerted=1)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


_INSERT_RECORD = sa.insert(USAGE_RECORDS)


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One line of the usage history (``usageRecords``): a report, or a reservation's commit."""

    tenant_key: str | None
    user_key: str | None
    feature_key: str
    amount: int
    idempotency_key: str
    at: datetime
    accepted: bool
    reservation_id: int | None = None


async def record(session: AsyncSession, line: UsageLine) -> None:
    """Append ``line`` to the usage history."""
    await session.execute(
        _INSERT_RECORD,
        {
            "tenant_key": line.tenant_key,
            "user_key": line.user_key,
            "feature_key": line.feature_key,
            "amount": line.amount,
            "idempotency_key": line.idempotency_key,
            "at": line.at,
            "accepted": line.accepted,
            "reservation_id": line.reservation_id,
        },
    )
