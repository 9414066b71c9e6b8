"""The decision log's storage (contract §12): batched inserts, chunked retention, and the listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

import sqlalchemy as sa

from entitle.db.pagination import Ordering
from entitle.db.repositories import ResultRow, Session
from entitle.db.tables import DECISION_LOG

COLUMNS = (
    "at",
    "tenant_key",
    "user_key",
    "feature_key",
    "permission_key",
    "route_method",
    "route_path",
    "is_entitled",
    "justification",
    "usage",
    "actor",
)
"""The order of the values of one entry as ``insert`` takes them (``at`` first)."""

NewEntry: TypeAlias = tuple[
    datetime,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    bool,
    str | None,
    int | None,
    str | None,
]
"""One entry to append, its values in ``COLUMNS`` order (``actor`` is never None in practice; the column
refuses it)."""


@dataclass(frozen=True, slots=True)
class DecisionLogRecord:
    """One stored entry (attribute names are the column names)."""

    id: int
    at: datetime
    tenant_key: str | None
    user_key: str | None
    feature_key: str | None
    permission_key: str | None
    route_method: str | None
    route_path: str | None
    is_entitled: bool
    justification: str | None
    usage: int | None
    actor: str

    @classmethod
    def of(cls, row: ResultRow) -> DecisionLogRecord:
        return cls(**row._mapping)


_SQLITE_AT = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy stores a ``DateTime`` on SQLite (``UTCDateTime`` reads it back as UTC)."""
_NAMES = ", ".join(COLUMNS)
_INSERT_SQLITE = f"INSERT INTO decision_log ({_NAMES}) VALUES ({', '.join('?' for _ in COLUMNS)})"


async def insert(session: Session, entries: Sequence[NewEntry]) -> None:
    """Append ``entries`` (tuples in ``COLUMNS`` order, ``at`` timezone-aware) in one batched statement.

    PostgreSQL: asyncpg's ``COPY``; SQLite: the driver's own ``executemany`` with the values as they are.
    Both skip SQLAlchemy's per-row parameter processing: this runs for every decision under
    ``ENTITLE_DECISION_LOG=all`` (measured, CPU of the API process per entry: SQLite 13 → 9 µs,
    PostgreSQL 8 → 4 µs with executemany).
    """
    if not entries:
        return
    connection = await session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":  # COPY: the cheapest bulk insert asyncpg has (binary, no statement per row)
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table("decision_log", records=entries, columns=COLUMNS)
        return
    stored = [(entry[0].astimezone(UTC).strftime(_SQLITE_AT), *entry[1:]) for entry in entries]
    await connection.exec_driver_sql(_INSERT_SQLITE, stored)


async def delete_before(session: Session, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the oldest entries recorded before ``cutoff``; returns how many."""
    oldest = sa.select(DECISION_LOG.c.id).where(DECISION_LOG.c.at < cutoff).order_by(DECISION_LOG.c.id)
    result = await session.execute(
        sa.delete(DECISION_LOG).where(DECISION_LOG.c.id.in_(oldest.limit(limit).scalar_subquery()))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def listing_terms(
    tenant_keys: Sequence[str] | None,
    user_keys: Sequence[str] | None,
    feature_keys: Sequence[str] | None,
    justifications: Sequence[str] | None,
    is_entitled: bool | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[sa.Select[Any], Ordering]:
    """Entries matching a ``DecisionLogFilter`` (``since`` inclusive, ``until`` exclusive), newest first."""
    d = DECISION_LOG
    terms: list[Any] = []
    if tenant_keys is not None:
        terms.append(d.c.tenant_key.in_(list(tenant_keys)))
    if user_keys is not None:
        terms.append(d.c.user_key.in_(list(user_keys)))
    if feature_keys is not None:
        terms.append(d.c.feature_key.in_(list(feature_keys)))
    if justifications is not None:
        terms.append(d.c.justification.in_(list(justifications)))
    if is_entitled is not None:
        terms.append(d.c.is_entitled.is_(is_entitled))
    if since is not None:
        terms.append(d.c.at >= since)
    if until is not None:
        terms.append(d.c.at < until)
    return sa.select(d).where(*terms), Ordering.by_id(d, descending=True)
