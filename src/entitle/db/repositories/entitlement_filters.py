"""WHERE terms and orderings for entitlement listings (contract §7 filters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from entitle.db.pagination import Ordering, SortKey
from entitle.db.tables import (
    ENTITLEMENTS,
    FEATURES,
    MEMBERSHIPS,
    PLAN_FEATURES,
    PLANS,
    TENANTS,
    USERS,
    UTCDateTime,
)
from entitle.domain.model import EntitlementStatus

E = ENTITLEMENTS
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)
"""Sorts entitlements that never expire after every dated one."""


@dataclass(frozen=True)
class EntitlementQuery:
    plan_keys: list[str] | None = None
    feature_keys: list[str] | None = None
    tenant_keys: list[str] | None = None
    user_keys: list[str] | None = None
    assign_level: str | None = None
    statuses: list[EntitlementStatus] | None = None
    expires_before: datetime | None = None
    expires_after: datetime | None = None
    plan_id: int | None = None
    tenant_id: int | None = None


def _ids(table: sa.Table, keys: list[str]) -> Any:
    return sa.select(table.c.id).where(table.c.key.in_(keys)).scalar_subquery()


def status_term(status: EntitlementStatus, at: datetime) -> sa.ColumnElement[bool]:
    revoked = sa.and_(E.c.revoked_at.is_not(None), E.c.revoked_at <= at)
    live = sa.not_(revoked)
    started = E.c.start_date <= at
    ended = sa.and_(E.c.expiration_date.is_not(None), E.c.expiration_date <= at)
    return {
        EntitlementStatus.REVOKED: revoked,
        EntitlementStatus.SCHEDULED: sa.and_(live, sa.not_(started)),
        EntitlementStatus.EXPIRED: sa.and_(live, started, ended),
        EntitlementStatus.ACTIVE: sa.and_(live, started, sa.not_(ended)),
    }[status]


def filter_terms(query: EntitlementQuery, at: datetime) -> list[sa.ColumnElement[bool]]:
    terms: list[sa.ColumnElement[bool]] = []
    if query.plan_id is not None:
        terms.append(E.c.plan_id == query.plan_id)
    if query.tenant_id is not None:
        terms.append(E.c.tenant_id == query.tenant_id)
    if query.plan_keys is not None:
        terms.append(E.c.plan_id.in_(_ids(PLANS, query.plan_keys)))
    if query.feature_keys is not None:
        feature_ids = _ids(FEATURES, query.feature_keys)
        # A plan entitlement has the feature when the plan version that decides it does.
        versions_with = sa.select(PLAN_FEATURES.c.plan_id, PLAN_FEATURES.c.version).where(
            PLAN_FEATURES.c.feature_id.in_(feature_ids)
        )
        terms.append(
            sa.or_(
                E.c.feature_id.in_(feature_ids), sa.tuple_(E.c.plan_id, E.c.plan_version).in_(versions_with)
            )
        )
    if query.tenant_keys is not None:
        terms.append(E.c.tenant_id.in_(_ids(TENANTS, query.tenant_keys)))
    if query.user_keys is not None:
        terms.append(E.c.user_id.in_(_ids(USERS, query.user_keys)))
    if query.assign_level is not None:
        terms.append(E.c.assign_level == query.assign_level)
    if query.statuses is not None:
        terms.append(sa.or_(sa.false(), *(status_term(s, at) for s in query.statuses)))
    if query.expires_before is not None:
        terms.append(E.c.expiration_date < query.expires_before)
    if query.expires_after is not None:
        terms.append(E.c.expiration_date >= query.expires_after)
    return terms


def subject_scope(tenant_key: str | None, user_key: str) -> sa.ColumnElement[bool]:
    """The entitlements that apply to a user token's own subject (contract §2).

    With a tenant: its TENANT-level grants and the user's own USER-level ones there, and only while
    the user is a member (as in the decision, where a non-member gets ``NOT_A_MEMBER``).
    """
    user_id = _ids(USERS, [user_key])
    if tenant_key is None:
        return sa.and_(E.c.user_id == user_id, E.c.tenant_id.is_(None))
    tenant_id = _ids(TENANTS, [tenant_key])
    is_member = (
        sa.select(MEMBERSHIPS.c.user_id)
        .where(MEMBERSHIPS.c.tenant_id == tenant_id, MEMBERSHIPS.c.user_id == user_id)
        .exists()
    )
    return sa.and_(
        E.c.tenant_id == tenant_id, sa.or_(E.c.user_id.is_(None), E.c.user_id == user_id), is_member
    )


def ordering(field: str | None, descending: bool) -> Ordering:
    if field == "CREATED_AT":
        return Ordering((SortKey(E.c.created_at, "datetime"), SortKey(E.c.id, "int")), descending)
    if field == "EXPIRATION_DATE":
        never = sa.literal(_NEVER, UTCDateTime())
        expression = sa.func.coalesce(E.c.expiration_date, never, type_=UTCDateTime())
        return Ordering((SortKey(expression, "datetime"), SortKey(E.c.id, "int")), descending)
    return Ordering((SortKey(E.c.id, "int"),), descending)
