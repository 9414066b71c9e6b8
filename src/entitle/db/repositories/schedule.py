"""The scheduled changes' storage: a cursor per schedule, claimed by one process at a time (so one
run at a time takes the due changes), and the marked grants and usage counters whose instant has
come: a grant's start or expiration, a usage period's end."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from entitle.db.engine import upsert_statement
from entitle.db.repositories import Session
from entitle.db.repositories.entitlements import StoredEntitlement
from entitle.db.tables import ENTITLEMENTS, FEATURES, SCHEDULE_CURSOR, TENANTS, USAGE_COUNTERS, USERS
from entitle.domain.changes import ChangeKind, NewChange


async def claim_cursor(session: Session, name: str, now: datetime) -> datetime | None:
    """The instant up to which ``name`` has run, locked for this transaction; None when another process
    holds it (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite's single writer serializes anyway). A schedule
    that never ran starts now: what happened before it existed is not replayed."""
    await session.execute(
        upsert_statement(session, SCHEDULE_CURSOR).values(name=name, until=now).on_conflict_do_nothing()
    )
    statement = sa.select(SCHEDULE_CURSOR.c.until).where(SCHEDULE_CURSOR.c.name == name)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    until: datetime | None = await session.scalar(statement)
    return until


async def advance_cursor(session: Session, name: str, until: datetime) -> None:
    await session.execute(
        sa.update(SCHEDULE_CURSOR).where(SCHEDULE_CURSOR.c.name == name).values(until=until)
    )


PER_RUN = 1_000
"""At most this many grants and this many ended periods per run; the next run takes the rest."""


async def due_grants(
    session: Session, until: datetime
) -> tuple[list[StoredEntitlement], list[StoredEntitlement]]:
    """The grants marked to announce their start (``start_pending``) or expiration (``expiry_pending``)
    whose instant is at or before ``until``, unmarked now: ``(started, expired)``, each in the order
    of its instant, less those revoked before it. One statement reads both (one snapshot on
    PostgreSQL): read apart, a grant committed between the two reads had its expiration announced a
    run before its start."""
    e = ENTITLEMENTS
    starts = sa.and_(e.c.start_pending == 1, e.c.start_date <= until)
    expires = sa.and_(e.c.expiry_pending == 1, e.c.expiration_date <= until)
    # Each branch walks its partial index (an OR of the two scanned the whole table on SQLite, every
    # second, inside the scheduler's write transaction).
    due = sa.union_all(sa.select(e.c.id).where(starts), sa.select(e.c.id).where(expires)).subquery()
    rows = await session.execute(
        sa.select(e).where(e.c.id.in_(sa.select(due.c.id))).order_by(e.c.id).limit(PER_RUN)
    )
    taken = [StoredEntitlement.of(row) for row in rows]
    started = sorted(
        (g for g in taken if g.start_pending and g.start_date <= until), key=lambda g: (g.start_date, g.id)
    )
    expired = sorted(
        (
            g
            for g in taken
            if g.expiry_pending and g.expiration_date is not None and g.expiration_date <= until
        ),
        key=lambda g: (g.expiration_date, g.id),
    )
    if started:
        await session.execute(sa.update(e).where(e.c.id.in_([g.id for g in started])).values(start_pending=0))
    if expired:
        await session.execute(
            sa.update(e).where(e.c.id.in_([g.id for g in expired])).values(expiry_pending=0)
        )
    return (
        [g for g in started if g.revoked_at is None or g.revoked_at > g.start_date],
        [g for g in expired if g.revoked_at is None or g.revoked_at > (g.expiration_date or until)],
    )


async def usage_periods_ended(session: Session, until: datetime) -> list[NewChange]:
    """USAGE_PERIOD_RESET for every counter with usage whose period ended by ``until`` and was not
    dealt with yet: the tenant's (organization context) or the user's (individual context), with the
    feature's key. The counters taken (with usage or not) are marked, so each period's reset is
    appended once, also for a counter committed after its period had ended (a usage write that read
    the clock before the end and committed after it: a window of instants would have passed it)."""
    c = USAGE_COUNTERS
    rows = (
        await session.execute(
            sa.select(
                c.c.subject_kind,
                c.c.subject_id,
                c.c.feature_id,
                c.c.period_start,
                c.c.period_end,
                c.c.used,
                FEATURES.c.key,
                TENANTS.c.key,
                USERS.c.key,
            )
            .select_from(c)
            .join(FEATURES, FEATURES.c.id == c.c.feature_id)
            .outerjoin(TENANTS, sa.and_(c.c.subject_kind == "T", TENANTS.c.id == c.c.subject_id))
            .outerjoin(USERS, sa.and_(c.c.subject_kind == "U", USERS.c.id == c.c.subject_id))
            .where(c.c.reset_appended == 0, c.c.period_end <= until)
            .order_by(c.c.period_end, c.c.subject_kind, c.c.subject_id, c.c.feature_id)
            .limit(PER_RUN)
        )
    ).all()
    if not rows:
        return []
    key = sa.tuple_(c.c.subject_kind, c.c.subject_id, c.c.feature_id, c.c.period_start)
    await session.execute(
        sa.update(c).where(key.in_([tuple(row[:4]) for row in rows])).values(reset_appended=1)
    )
    return [
        NewChange(
            ChangeKind.USAGE_PERIOD_RESET,
            tenant_key=tenant_key,
            user_key=user_key,
            feature_key=feature_key,
            payload={
                "featureKey": feature_key,
                "used": int(used),
                "periodStart": _iso(start),
                "periodEnd": _iso(end),
            },
        )
        for _, _, _, start, end, used, feature_key, tenant_key, user_key in rows
        if used > 0
    ]


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")
