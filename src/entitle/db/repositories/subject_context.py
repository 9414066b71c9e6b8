"""Loading one subject's context for a decision: its rows, membership and entitlements."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from entitle.db.engine import Executor
from entitle.db.tables import ENTITLEMENTS as _ents
from entitle.db.tables import MEMBERSHIPS as _members
from entitle.db.tables import TENANTS as _tenants
from entitle.db.tables import USERS as _users
from entitle.domain import model as m

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


def entitlement_record(row: Any) -> m.EntitlementRecord:
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


async def _ref(session: Executor, table: sa.Table, key: str | None) -> m.SubjectRef | None:
    if key is None:
        return None
    row = (await session.execute(sa.select(table.c.id, table.c.metadata).where(table.c.key == key))).first()
    return None if row is None else m.SubjectRef(id=row.id, key=key, metadata=row.metadata or {})


async def load_subject(session: Executor, tenant_key: str | None, user_key: str | None) -> m.Subject:
    """Everything a decision needs about (tenant_key, user_key): at most four indexed statements."""
    tenant = await _ref(session, _tenants, tenant_key)
    user = await _ref(session, _users, user_key)
    known = (tenant_key is None or tenant is not None) and (user_key is None or user is not None)
    if not known:
        return m.Subject(tenant_key=tenant_key, user_key=user_key, tenant=tenant, user=user)

    is_member = True
    if tenant is not None and user is not None:
        is_member = (
            await session.scalar(
                sa.select(sa.literal(1)).where(
                    _members.c.tenant_id == tenant.id, _members.c.user_id == user.id
                )
            )
        ) is not None
    if not is_member:
        return m.Subject(tenant_key=tenant_key, user_key=user_key, tenant=tenant, user=user)

    if tenant is not None:
        in_context = sa.and_(
            _ents.c.tenant_id == tenant.id,
            _ents.c.user_id.is_(None)
            if user is None
            else sa.or_(_ents.c.user_id.is_(None), _ents.c.user_id == user.id),
        )
    else:
        assert user is not None
        in_context = sa.and_(_ents.c.user_id == user.id, _ents.c.tenant_id.is_(None))
    rows = await session.execute(
        sa.select(*ENTITLEMENT_RECORD_COLUMNS).where(in_context).order_by(_ents.c.start_date, _ents.c.id)
    )
    return m.Subject(
        tenant_key=tenant_key,
        user_key=user_key,
        tenant=tenant,
        user=user,
        is_member=True,
        entitlements=tuple(entitlement_record(r) for r in rows),
    )
