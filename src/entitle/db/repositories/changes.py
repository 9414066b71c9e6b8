"""The change feed's storage: append in the writer's transaction, read in revision order, safely.

Appending takes the transaction's id once (PostgreSQL ``pg_current_xact_id()``; 0 on SQLite, whose
writers are serialized) and inserts every change of the write in one statement. Reading returns
only changes of transactions older than every transaction of this database still running
(``_HORIZON``), ordered by ``(txid, id)``: a change that commits after a reader moved past
later-numbered ones is still ahead of that reader (see domain/changes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from entitle.db.repositories import ResultRow
from entitle.db.tables import CHANGES
from entitle.domain.changes import Change, ChangeKind, NewChange, Revision

CHANNEL = "entitle_changes"
"""PostgreSQL ``NOTIFY`` channel: every appending transaction notifies it (delivered on commit)."""

_XID = sa.text("pg_current_xact_id()::text::bigint")
_HORIZON = sa.text(
    """(SELECT coalesce(min(x::text::bigint), pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
         FROM pg_snapshot_xip(pg_current_snapshot()) AS x
        WHERE x::text::bigint % 4294967296 NOT IN (
              SELECT backend_xid::text::bigint FROM pg_stat_activity
               WHERE datname IS DISTINCT FROM current_database() AND backend_xid IS NOT NULL))"""
)
"""The oldest transaction id that may still commit changes here: the statement snapshot's running
transactions, less those positively seen running in *other* databases of the cluster (their
transactions can append nothing here, and a long one must not hold this feed back). A transaction of
this database is never left out, so the horizon is safe; a transaction of another database that ends
between the snapshot and the look-up is kept, which only delays by one read."""


def _is_postgresql(executor: AsyncConnection | AsyncSession) -> bool:
    dialect = executor.dialect if isinstance(executor, AsyncConnection) else executor.get_bind().dialect
    return dialect.name == "postgresql"


_PENDING = "entitle.pending_changes"
APPENDED = "entitle.appended_revisions"
"""``session.info`` key: the revisions this session appended (so the writer's own tail can skip them)."""


def record(session: AsyncSession, *changes: NewChange) -> None:
    """Note changes of this write; ``Runtime.write`` appends them before the transaction commits."""
    session.info.setdefault(_PENDING, []).extend(changes)


def take(session: AsyncSession) -> list[NewChange]:
    """The changes noted in this session so far (and forget them)."""
    pending: list[NewChange] = session.info.pop(_PENDING, [])
    return pending


_APPEND = sa.insert(CHANGES).returning(CHANGES.c.id, sort_by_parameter_order=True)


async def append(
    session: AsyncSession, changes: Sequence[NewChange], at: datetime, actor: str = "system"
) -> Revision | None:
    """Insert ``changes`` in the session's transaction; returns the revision of the last one."""
    if not changes:
        return None
    txid = int(await session.scalar(sa.select(_XID)) or 0) if _is_postgresql(session) else 0
    rows = [
        {
            "txid": txid,
            "kind": change.kind.value,
            "at": at,
            "actor": actor,
            "tenant_key": change.tenant_key,
            "user_key": change.user_key,
            "feature_key": change.feature_key,
            "plan_key": change.plan_key,
            "entitlement_id": change.entitlement_id,
            "payload": change.payload,
        }
        for change in changes
    ]
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues") from
    # one cached compiled statement; `.values(rows)` would compile a statement per chunk (0.3 s per 1,000).
    ids: list[int] = list(await session.scalars(_APPEND, rows))
    session.info.setdefault(APPENDED, []).extend(Revision(txid, i) for i in ids)
    revision = Revision(txid, max(ids))
    if txid:
        await session.execute(sa.select(sa.func.pg_notify(CHANNEL, str(revision))))
    return revision


def _visible(executor: AsyncConnection | AsyncSession) -> list[Any]:
    """Only changes of transactions that can no longer commit behind a reader."""
    return [CHANGES.c.txid < _HORIZON] if _is_postgresql(executor) else []


_WITHOUT_PAYLOAD = [c for c in CHANGES.c if c.name != "payload"]


class _After(ColumnElement[Any]):
    """``(txid, id) > (after.txid, after.seq)``: the changes after a revision, as each dialect's
    planner walks ``ix_changes_position`` from that revision on.

    PostgreSQL seeks the row value in the index. SQLite's planner seeks only on the first column
    of a row value, and ``txid`` is 0 in every SQLite row (its writers are serialized, see
    ``append``), so there the comparison scanned the feed from its first row on every read (18 ms
    at 200,000 changes, every catch-up); ``txid = ? AND id > ?`` is the same set there (a
    position with ``txid > 0`` is past every row, ``txid`` is never negative) and an index seek."""

    inherit_cache = True
    type = sa.types.NullType()  # a predicate as it is (a Boolean would get "= 1" on SQLite)
    # The two bound values are part of the statement's cache key (a cached statement takes new ones).
    _traverse_internals = [
        ("txid", InternalTraversal.dp_clauseelement),
        ("seq", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, revision: Revision) -> None:
        self.txid = sa.literal(revision.txid)
        self.seq = sa.literal(revision.seq)

    def row_value(self) -> ColumnElement[Any]:
        return sa.tuple_(CHANGES.c.txid, CHANGES.c.id) > sa.tuple_(self.txid, self.seq)


@compiles(_After)
def _after_row_value(element: _After, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.row_value(), **kw)


@compiles(_After, "sqlite")
def _after_sqlite(element: _After, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(sa.and_(CHANGES.c.txid == element.txid, CHANGES.c.id > element.seq), **kw)})"


def later_than(revision: Revision) -> ColumnElement[Any]:
    """The changes committed after ``revision`` (a WHERE term; see ``_After``)."""
    return _After(revision)


async def read_after(
    executor: AsyncConnection | AsyncSession, after: Revision, limit: int = 1_000, *, payloads: bool = True
) -> list[Change]:
    """The next ``limit`` changes after ``after`` that are safe to hand out, in revision order
    (``payloads=False``: their ``payload`` left empty, for readers that need only kinds and keys)."""
    rows = await executor.execute(
        sa.select(*(CHANGES.c if payloads else _WITHOUT_PAYLOAD))
        .where(later_than(after), *_visible(executor))
        .order_by(CHANGES.c.txid, CHANGES.c.id)
        .limit(limit)
    )
    return [to_change(row) for row in rows]


async def latest(executor: AsyncConnection | AsyncSession) -> Revision:
    """The newest revision a reader may start tailing from (``START`` when the feed is empty)."""
    row = (
        await executor.execute(
            sa.select(CHANGES.c.txid, CHANGES.c.id)
            .where(*_visible(executor))
            .order_by(CHANGES.c.txid.desc(), CHANGES.c.id.desc())
            .limit(1)
        )
    ).first()
    return Revision(0, 0) if row is None else Revision(int(row.txid), int(row.id))


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A stored change row (attribute names are the column names); ``to_change`` makes it a domain one."""

    id: int
    txid: int
    kind: str
    at: datetime
    actor: str
    tenant_key: str | None
    user_key: str | None
    feature_key: str | None
    plan_key: str | None
    entitlement_id: int | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, row: ResultRow) -> ChangeRecord:
        return cls(**row._mapping)


def to_change(row: ChangeRecord | ResultRow) -> Change:
    """The domain change of a stored one (a row without ``payload`` gets ``{}``)."""
    return Change(
        id=row.id,
        revision=Revision(int(row.txid), int(row.id)),
        kind=ChangeKind(row.kind),
        at=row.at,
        actor=row.actor,
        tenant_key=row.tenant_key,
        user_key=row.user_key,
        feature_key=row.feature_key,
        plan_key=row.plan_key,
        entitlement_id=row.entitlement_id,
        payload=dict(getattr(row, "payload", None) or {}),
    )
