"""The scheduled changes' storage: a cursor per schedule, claimed by one process at a time, the grants
whose start or expiration falls in a window, and the usage periods with usage that have ended and
were not announced yet."""

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


async def starting(session: Session, after: datetime, until: datetime) -> list[StoredEntitlement]:
    """Grants created ahead of their start that start in ``(after, until]`` and were not revoked before."""
    e = ENTITLEMENTS
    rows = await session.execute(
        sa.select(e)
        .where(e.c.start_date > after, e.c.start_date <= until, e.c.start_date > e.c.created_at)
        .where(sa.or_(e.c.revoked_at.is_(None), e.c.revoked_at > e.c.start_date))
        .order_by(e.c.start_date, e.c.id)
    )
    return [StoredEntitlement.of(row) for row in rows]


async def expiring(session: Session, after: datetime, until: datetime) -> list[StoredEntitlement]:
    """Grants whose expiration falls in ``(after, until]`` and that were not revoked before it."""
    e = ENTITLEMENTS
    rows = await session.execute(
        sa.select(e)
        .where(e.c.expiration_date > after, e.c.expiration_date <= until)
        .where(sa.or_(e.c.revoked_at.is_(None), e.c.revoked_at > e.c.expiration_date))
        .order_by(e.c.expiration_date, e.c.id)
    )
    return [StoredEntitlement.of(row) for row in rows]


RESETS_PER_RUN = 1_000
"""At most this many ended periods per run (the oldest first); the next run takes the rest."""


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
            .limit(RESETS_PER_RUN)
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
