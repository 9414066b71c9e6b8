"""Loading one subject's context for a decision: its rows, membership and entitlements, in ONE statement.

The statement starts from one constant row and LEFT JOINs the tenant (by key), the user (by key), the
membership and the entitlements of the context, so it always returns at least one row: the tenant's and
user's ids and metadata (as JSON text, decoded once) repeat on every entitlement row. There are three
shapes (tenant and user, tenant only, user only), built once. On PostgreSQL each is compiled once and
run on the asyncpg connection itself (asyncpg prepares and caches it; no SQLAlchemy execution, row or
type processing per call: asyncpg's codecs already give aware UTC datetimes and decoded JSON); on SQLite
as a Core statement, whose types convert the stored text.

What it builds is as small as the decision allows (``entitle.domain.model``): records without the
storage-only fields, one shared empty metadata mapping, equal datetimes shared within a subject.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from entitle.db.engine import Executor
from entitle.db.tables import ENTITLEMENTS as _ents
from entitle.db.tables import MEMBERSHIPS as _members
from entitle.db.tables import TENANTS as _tenants
from entitle.db.tables import USERS as _users
from entitle.domain import model as m

if TYPE_CHECKING:
    from entitle.db.repositories.entitlements import StoredEntitlement

ENTITLEMENT_RECORD_COLUMNS = (
    _ents.c.id,
    _ents.c.assign_level,
    _ents.c.start_date,
    _ents.c.created_at,
    _ents.c.plan_id,
    _ents.c.feature_id,
    _ents.c.value,
    _ents.c.expiration_date,
    _ents.c.revoked_at,
    _ents.c.tenant_id,
    _ents.c.user_id,
    _ents.c.plan_version,
    _ents.c.period_anchor,
)


def entitlement_record(row: StoredEntitlement) -> m.EntitlementRecord:
    """A stored entitlement row (every column) as the domain's record (its status, for the API)."""
    return m.EntitlementRecord(
        id=row.id,
        assign_level=m.AssignLevel(row.assign_level),
        start_date=row.start_date,
        created_at=row.created_at,
        plan_id=row.plan_id,
        feature_id=row.feature_id,
        value=row.value,
        expiration_date=row.expiration_date,
        revoked_at=row.revoked_at,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        plan_version=row.plan_version,
        period_anchor=row.period_anchor,
    )


_NO_METADATA: Mapping[str, m.JsonValue] = MappingProxyType({})
_LEVELS = {level.value: level for level in m.AssignLevel}

# --------------------------------------------------------------------------- the statement

_CONTEXT_COLUMNS = (
    _ents.c.id,
    _ents.c.assign_level,
    _ents.c.start_date,
    _ents.c.created_at,
    _ents.c.plan_id,
    _ents.c.plan_version,
    _ents.c.feature_id,
    _ents.c.value,
    _ents.c.expiration_date,
    _ents.c.revoked_at,
    _ents.c.period_anchor,
)
"""What a decision reads of an entitlement (row positions 5.. of the statement)."""


def _statement(with_tenant: bool, with_user: bool) -> sa.Select[Any]:
    one = sa.select(sa.literal_column("1").label("one")).subquery("one")
    t = _tenants.alias("t")
    u = _users.alias("u")
    member: Any = sa.true()
    if with_tenant and with_user:
        member = (
            sa.select(sa.literal_column("1"))
            .where(_members.c.tenant_id == t.c.id, _members.c.user_id == u.c.id)
            .exists()
        )
    columns: list[Any] = [
        (t.c.id if with_tenant else sa.null()).label("tenant_id"),
        (sa.cast(t.c.metadata, sa.Text) if with_tenant else sa.null()).label("tenant_metadata"),
        (u.c.id if with_user else sa.null()).label("user_id"),
        (sa.cast(u.c.metadata, sa.Text) if with_user else sa.null()).label("user_metadata"),
        member.label("is_member"),
        *_CONTEXT_COLUMNS,
    ]
    source: Any = one
    if with_tenant:
        source = source.outerjoin(t, t.c.key == sa.bindparam("tenant_key"))
    if with_user:
        source = source.outerjoin(u, u.c.key == sa.bindparam("user_key"))
    if with_tenant and with_user:
        in_context = sa.and_(
            _ents.c.tenant_id == t.c.id,
            sa.or_(_ents.c.user_id.is_(None), _ents.c.user_id == u.c.id),
            member,
        )
    elif with_tenant:
        in_context = sa.and_(_ents.c.tenant_id == t.c.id, _ents.c.user_id.is_(None))
    else:
        in_context = sa.and_(_ents.c.user_id == u.c.id, _ents.c.tenant_id.is_(None))
    source = source.outerjoin(_ents, in_context)
    return sa.select(*columns).select_from(source).order_by(_ents.c.start_date, _ents.c.id)


_STATEMENTS = {
    (True, True): _statement(True, True),
    (True, False): _statement(True, False),
    (False, True): _statement(False, True),
}
_POSTGRES_SQL: dict[tuple[bool, bool], str] = {}


def _postgres_sql(shape: tuple[bool, bool], connection: AsyncConnection) -> str:
    sql = _POSTGRES_SQL.get(shape)
    if sql is None:
        compiled = _STATEMENTS[shape].compile(dialect=connection.dialect)
        names = list(compiled.positiontup or ())
        expected = [n for n, given in (("tenant_key", shape[0]), ("user_key", shape[1])) if given]
        if names != expected:  # the bind order the raw call passes
            raise RuntimeError(f"unexpected parameters {names} in the subject statement")
        sql = _POSTGRES_SQL[shape] = str(compiled)
    return sql


async def _rows(session: Executor, tenant_key: str | None, user_key: str | None) -> Sequence[Sequence[Any]]:
    shape = (tenant_key is not None, user_key is not None)
    if isinstance(session, AsyncConnection) and session.dialect.name == "postgresql":
        return await _postgres_rows(session, shape, tuple(k for k in (tenant_key, user_key) if k is not None))
    params = {"tenant_key": tenant_key, "user_key": user_key}
    rows: Sequence[Sequence[Any]] = (await session.execute(_STATEMENTS[shape], params)).all()
    return rows


async def _postgres_rows(
    connection: AsyncConnection, shape: tuple[bool, bool], args: tuple[str, ...]
) -> Sequence[Sequence[Any]]:
    """The statement straight on the asyncpg connection: a third of a miss's CPU is SQLAlchemy's
    execution and row machinery otherwise. SQLAlchemy's cursor listeners (statement logs and counts)
    are told of it as of any statement, and a failure goes through SQLAlchemy's own error handling
    (``_as_sqlalchemy_fails``), as it would on ``connection.execute``."""
    sql = _postgres_sql(shape, connection)
    sync = connection.sync_connection
    if sync is not None and sync.dispatch.before_cursor_execute:
        for listener in sync.dispatch.before_cursor_execute:
            listener(sync, None, sql, args, None, False)
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection[Any] = raw.driver_connection
    try:
        rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *args)
    except Exception as error:
        await connection.run_sync(_as_sqlalchemy_fails, raw.dbapi_connection, error, sql, args)
        raise  # not reached: the handling raises
    return rows


def _as_sqlalchemy_fails(
    sync: sa.Connection, adapted: Any, error: Exception, sql: str, args: tuple[str, ...]
) -> NoReturn:
    """Raise what ``connection.execute`` would have raised for ``error``, with the same effects.

    The asyncpg error becomes the DBAPI error SQLAlchemy's asyncpg adapter makes of it, then goes
    through ``Connection._handle_dbapi_exception``: the ``handle_error`` hooks run (the engine's
    ``_drop_connections_on_timeout`` among them), a disconnect invalidates the connection AND the pool
    (siblings opened before the outage are discarded at their next checkout), and the error raised
    is SQLAlchemy's (``DBAPIError`` with ``connection_invalidated``), which ``db.health`` classifies
    as it classifies every other statement's. Runs in SQLAlchemy's greenlet (``run_sync``), where
    invalidating may close the connection.
    """
    try:
        adapted._handle_exception(error)  # raises the adapter's DBAPI error (or ``error`` itself)
    except Exception as translated:
        sync._handle_dbapi_exception(translated, sql, args, None, None)
    raise error  # pragma: no cover - both calls above raise


# --------------------------------------------------------------------------- building the subject


async def load_subject(session: Executor, tenant_key: str | None, user_key: str | None) -> m.Subject:
    """Everything a decision needs about (tenant_key, user_key), in one indexed statement."""
    if tenant_key is None and user_key is None:
        return m.Subject(tenant_key=None, user_key=None)
    rows = await _rows(session, tenant_key, user_key)
    first = rows[0]
    tenant_id, tenant_metadata, user_id, user_metadata, is_member = first[:5]
    tenant = (
        None if tenant_id is None else m.SubjectRef(tenant_id, tenant_key or "", _metadata(tenant_metadata))
    )
    user = None if user_id is None else m.SubjectRef(user_id, user_key or "", _metadata(user_metadata))
    known = (tenant_key is None or tenant is not None) and (user_key is None or user is not None)
    if not known or not is_member:
        return m.Subject(tenant_key=tenant_key, user_key=user_key, tenant=tenant, user=user)
    if first[5] is None:  # no entitlement row joined
        return m.Subject(tenant_key=tenant_key, user_key=user_key, tenant=tenant, user=user, is_member=True)
    shared: dict[Any, Any] = {}
    records = tuple(_record(row, shared) for row in rows)
    return m.Subject(
        tenant_key=tenant_key,
        user_key=user_key,
        tenant=tenant,
        user=user,
        is_member=True,
        entitlements=records,
    )


def _metadata(text: str | None) -> Mapping[str, m.JsonValue]:
    """Metadata comes as JSON text (it repeats on every row: decoded once, from the first)."""
    if not text or text == "{}":
        return _NO_METADATA
    value = json.loads(text)
    return value if value else _NO_METADATA


def _record(row: Sequence[Any], shared: dict[Any, Any]) -> m.EntitlementRecord:
    (
        _,
        _,
        _,
        _,
        _,
        id_,
        level,
        start,
        created,
        plan_id,
        plan_version,
        feature_id,
        value,
        expires,
        revoked,
        anchor,
    ) = row
    start = shared.setdefault(start, start)
    return m.EntitlementRecord(
        id=id_,
        assign_level=_LEVELS[level],
        start_date=start,
        created_at=shared.setdefault(created, created),
        plan_id=plan_id,
        feature_id=feature_id,
        value=value,
        expiration_date=None if expires is None else shared.setdefault(expires, expires),
        revoked_at=revoked,
        plan_version=plan_version,
        period_anchor=None if anchor is None else shared.setdefault(anchor, anchor),
    )
