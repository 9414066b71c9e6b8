"""The statements behind every GraphQL connection, built here so SQL stays in db/.

A ``Listing`` is a filtered ``SELECT`` and its keyset order; a ``ChildListing`` adds the column
naming the parent, so the nested connections of a page of parents share one windowed statement.
``db.pagination`` pages both; the callers only choose which listing and with which filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from entitle.db.pagination import Ordering
from entitle.db.repositories import decision_log
from entitle.db.repositories.entitlement_filters import (
    EntitlementQuery,
    filter_terms,
    ordering,
    subject_scope,
)
from entitle.db.tables import (
    CHANGES,
    ENTITLEMENTS,
    FEATURES,
    FLAGS,
    MEMBERSHIPS,
    PLANS,
    ROUTES,
    TENANTS,
    USAGE_RECORDS,
    USERS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
)
from entitle.domain.changes import Revision


@dataclass(frozen=True, slots=True)
class Listing:
    """What one connection pages through: ``statement`` in ``ordering``."""

    statement: sa.Select[Any]
    ordering: Ordering


@dataclass(frozen=True, slots=True)
class ChildListing:
    """A listing nested under parents: ``parent`` is the column holding the parent's id."""

    listing: Listing
    parent: Any


KeyedKind = Literal["features", "plans", "flags", "tenants", "users"]

_KEYED: dict[KeyedKind, sa.Table] = {
    "features": FEATURES,
    "plans": PLANS,
    "flags": FLAGS,
    "tenants": TENANTS,
    "users": USERS,
}


def key_filter(table: sa.Table, keys: list[str] | None, search: str | None) -> list[sa.ColumnElement[bool]]:
    """WHERE terms for a key filter: exact keys, and/or a case-insensitive substring of key or name."""
    terms: list[sa.ColumnElement[bool]] = []
    if keys is not None:
        terms.append(table.c.key.in_(keys))
    if search:
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        terms.append(
            sa.or_(
                sa.func.lower(table.c.key).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(table.c.name, "")).like(pattern, escape="\\"),
            )
        )
    return terms


def keyed(kind: KeyedKind, keys: list[str] | None = None, search: str | None = None) -> Listing:
    """Features, plans, flags, tenants or users matching the key filter, by id."""
    table = _KEYED[kind]
    return Listing(sa.select(table).where(*key_filter(table, keys, search)), Ordering.by_id(table))


def routes() -> Listing:
    return Listing(sa.select(ROUTES), Ordering.by_id(ROUTES))


def entitlements(
    query: EntitlementQuery,
    at: datetime,
    *,
    own_subject: tuple[str | None, str] | None,
    order_field: str | None,
    descending: bool,
) -> Listing:
    """Entitlements matching ``query`` at ``at``; ``own_subject`` narrows to what applies to one
    user token's subject (tenant key, user key)."""
    terms = filter_terms(query, at)
    if own_subject is not None:
        terms.append(subject_scope(*own_subject))
    return Listing(sa.select(ENTITLEMENTS).where(*terms), ordering(order_field, descending))


def entitlements_of(parent: Literal["plan", "tenant"], listing: Listing) -> ChildListing:
    """``listing`` nested under plans or tenants."""
    column = ENTITLEMENTS.c.plan_id if parent == "plan" else ENTITLEMENTS.c.tenant_id
    return ChildListing(listing, column)


def members_of_tenants() -> ChildListing:
    statement = sa.select(USERS).join(MEMBERSHIPS, MEMBERSHIPS.c.user_id == USERS.c.id)
    return ChildListing(Listing(statement, Ordering.by_id(USERS)), MEMBERSHIPS.c.tenant_id)


def tenants_of_users() -> ChildListing:
    statement = sa.select(TENANTS).join(MEMBERSHIPS, MEMBERSHIPS.c.tenant_id == TENANTS.c.id)
    return ChildListing(Listing(statement, Ordering.by_id(TENANTS)), MEMBERSHIPS.c.user_id)


def changes(
    kinds: Sequence[str] | None = None,
    tenant_keys: Sequence[str] | None = None,
    user_keys: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Revision | None = None,
) -> Listing:
    """The changes matching a ``ChangeFilter`` (``since`` inclusive, ``until`` exclusive), oldest first."""
    terms: list[Any] = []
    if kinds is not None:
        terms.append(CHANGES.c.kind.in_(list(kinds)))
    if tenant_keys is not None:
        terms.append(CHANGES.c.tenant_key.in_(list(tenant_keys)))
    if user_keys is not None:
        terms.append(CHANGES.c.user_key.in_(list(user_keys)))
    if since is not None:
        terms.append(CHANGES.c.at >= since)
    if until is not None:
        terms.append(CHANGES.c.at < until)
    if after is not None:
        terms.append(
            sa.tuple_(CHANGES.c.txid, CHANGES.c.id) > sa.tuple_(sa.literal(after.txid), sa.literal(after.seq))
        )
    return Listing(sa.select(CHANGES).where(*terms), Ordering.by_id(CHANGES))


def webhook_endpoints() -> Listing:
    return Listing(sa.select(WEBHOOK_ENDPOINTS), Ordering.by_id(WEBHOOK_ENDPOINTS))


def webhook_deliveries_of_endpoints(statuses: Sequence[str] | None) -> ChildListing:
    """An endpoint's deliveries, newest first, optionally of some statuses only."""
    statement = sa.select(WEBHOOK_DELIVERIES)
    if statuses:
        statement = statement.where(WEBHOOK_DELIVERIES.c.status.in_(list(statuses)))
    listing = Listing(statement, Ordering.by_id(WEBHOOK_DELIVERIES, descending=True))
    return ChildListing(listing, WEBHOOK_DELIVERIES.c.endpoint_id)


def usage_records(
    tenant_keys: Sequence[str] | None = None,
    user_keys: Sequence[str] | None = None,
    feature_keys: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Listing:
    """Usage records matching a ``UsageRecordFilter`` (``since`` inclusive, ``until`` exclusive, on ``at``),
    newest recorded first."""
    r = USAGE_RECORDS
    terms: list[Any] = []
    for column, keys in (
        (r.c.tenant_key, tenant_keys),
        (r.c.user_key, user_keys),
        (r.c.feature_key, feature_keys),
    ):
        if keys is not None:
            terms.append(column.in_(list(keys)))
    if since is not None:
        terms.append(r.c.at >= since)
    if until is not None:
        terms.append(r.c.at < until)
    return Listing(sa.select(r).where(*terms), Ordering.by_id(r, descending=True))


def decision_log_entries(
    tenant_keys: Sequence[str] | None = None,
    user_keys: Sequence[str] | None = None,
    feature_keys: Sequence[str] | None = None,
    justifications: Sequence[str] | None = None,
    is_entitled: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Listing:
    """Recorded decisions matching a ``DecisionLogFilter``, newest first."""
    statement, order = decision_log.listing_terms(
        tenant_keys, user_keys, feature_keys, justifications, is_entitled, since, until
    )
    return Listing(statement, order)
