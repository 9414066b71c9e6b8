"""Usage counters per (subject, feature, period) and the atomic, conditional consumption."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from entitle.db.engine import Executor, upsert_statement
from entitle.db.tables import USAGE_COUNTERS as C
from entitle.domain.model import Subject, SubscriptionContext

SubjectId = tuple[str, int]
"""("T", tenant id) in organization context, ("U", user id) in individual context."""


def usage_subject(subject: Subject) -> SubjectId | None:
    if subject.context is SubscriptionContext.ORGANIZATION:
        return None if subject.tenant is None else ("T", subject.tenant.id)
    return None if subject.user is None else ("U", subject.user.id)


def _key(subject: SubjectId, feature_id: int, period_start: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        C.c.subject_kind == subject[0],
        C.c.subject_id == subject[1],
        C.c.feature_id == feature_id,
        C.c.period_start == period_start,
    ]


_USED_IN_ONE_PERIOD = sa.select(C.c.used).where(
    C.c.subject_kind == sa.bindparam("kind"),
    C.c.subject_id == sa.bindparam("subject"),
    C.c.feature_id == sa.bindparam("feature"),
    C.c.period_start == sa.bindparam("start", type_=C.c.period_start.type),
)
"""A decision's one metered feature: built once (no expanding IN to render per call)."""


async def used_in_periods(
    session: Executor, subject: SubjectId, wanted: Iterable[tuple[int, datetime]]
) -> dict[tuple[int, datetime], int]:
    """Units used per (feature id, period start); absent pairs have used nothing."""
    pairs = list(wanted)
    if not pairs:
        return {}
    if len(pairs) == 1:
        ((feature, start),) = pairs
        used = await session.scalar(
            _USED_IN_ONE_PERIOD,
            {"kind": subject[0], "subject": subject[1], "feature": feature, "start": start},
        )
        return {} if used is None else {(feature, start): int(used)}
    rows = await session.execute(
        sa.select(C.c.feature_id, C.c.period_start, C.c.used).where(
            C.c.subject_kind == subject[0],
            C.c.subject_id == subject[1],
            C.c.feature_id.in_({f for f, _ in pairs}),
            C.c.period_start.in_({p for _, p in pairs}),
        )
    )
    return {(f, p): int(u) for f, p, u in rows}


async def consume(
    session: AsyncSession,
    subject: SubjectId,
    feature_id: int,
    period_start: datetime,
    amount: int,
    limit: int | None,
) -> tuple[bool, int]:
    """Add ``amount`` unless that takes ``used`` past ``limit`` (None: no cap). Returns (applied, used).

    One conditional UPDATE on a locked row: concurrent callers, in any process, serialize on it
    and each re-checks the condition, so the limit is never overshot.
    """
    seed = upsert_statement(session, C).values(
        subject_kind=subject[0],
        subject_id=subject[1],
        feature_id=feature_id,
        period_start=period_start,
        used=0,
    )
    await session.execute(seed.on_conflict_do_nothing())
    condition = _key(subject, feature_id, period_start)
    if limit is not None:
        condition.append(C.c.used + amount <= limit)
    updated = await session.scalar(
        sa.update(C).where(*condition).values(used=C.c.used + amount).returning(C.c.used)
    )
    if updated is not None:
        return True, int(updated)
    current = await session.scalar(sa.select(C.c.used).where(*_key(subject, feature_id, period_start)))
    return False, int(current or 0)
