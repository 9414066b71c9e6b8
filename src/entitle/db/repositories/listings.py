"""The statements behind every GraphQL connection, built here so SQL stays in db/.

A ``Listing`` is a filtered ``SELECT`` of one table, its keyset order and the record its rows
become (a ``Listing[TenantRecord]`` pages into a ``Page[TenantRecord]``); a ``ChildListing`` adds the
column naming the parent, so the nested connections of a page of parents share one windowed
statement. ``db.pagination`` pages both; the callers only choose which listing and with which filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import sqlalchemy as sa

from entitle.db.pagination import Ordering
from entitle.db.repositories import decision_log
from entitle.db.repositories.changes import ChangeRecord, later_than
from entitle.db.repositories.decision_log import DecisionLogRecord
from entitle.db.repositories.entitlement_filters import (
    EntitlementQuery,
    filter_terms,
    ordering,
    subject_scope,
)
from entitle.db.repositories.entitlements import StoredEntitlement
from entitle.db.repositories.routes import RouteRecord
from entitle.db.repositories.rows import (
    CHANGE_ROWS,
    DECISION_LOG_ROWS,
    ENTITLEMENT_ROWS,
    ROUTE_ROWS,
    TENANT_ROWS,
    USAGE_RECORD_ROWS,
    USER_ROWS,
    WEBHOOK_DELIVERY_ROWS,
    WEBHOOK_ENDPOINT_ROWS,
    KeyedKind,
    StoredKind,
)
from entitle.db.repositories.subjects import TenantRecord, UserRecord
from entitle.db.repositories.usage import UsageRecordEntry
from entitle.db.repositories.webhooks import WebhookDeliveryRecord, WebhookEndpointRecord
from entitle.db.tables import (
    CHANGES,
    ENTITLEMENTS,
    MEMBERSHIPS,
    TENANTS,
    USAGE_RECORDS,
    USERS,
    WEBHOOK_DELIVERIES,
)
from entitle.domain.changes import Revision

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Listing(Generic[R]):
    """What one connection pages through: ``statement`` (a ``select`` of the table's columns, in their
    order) in ``ordering``; ``record`` builds a row's record from those columns' values."""

    statement: sa.Select[Any]
    ordering: Ordering
    record: Callable[..., R]

    @classmethod
    def of(cls, kind: StoredKind[R], statement: sa.Select[Any] | None = None) -> Listing[R]:
        """``statement`` (default: every row of ``kind``'s table) of ``kind``'s records, by id."""
        table = kind.table
        return cls(sa.select(table) if statement is None else statement, Ordering.by_id(table), kind.record)


@dataclass(frozen=True, slots=True)
class ChildListing(Generic[R]):
    """A listing nested under parents: ``parent`` is the column holding the parent's id."""

    listing: Listing[R]
    parent: sa.ColumnElement[int]


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


def keyed(kind: KeyedKind[R], keys: list[str] | None = None, search: str | None = None) -> Listing[R]:
    """Features, plans, flags, tenants or users (``FEATURE_ROWS``, ...) matching the key filter, by id."""
    table = kind.table
    return Listing.of(kind, sa.select(table).where(*key_filter(table, keys, search)))


def routes() -> Listing[RouteRecord]:
    return Listing.of(ROUTE_ROWS)


def entitlements(
    query: EntitlementQuery,
    at: datetime,
    *,
    own_subject: tuple[str | None, str] | None,
    order_field: str | None,
    descending: bool,
) -> Listing[StoredEntitlement]:
    """Entitlements matching ``query`` at ``at``; ``own_subject`` narrows to what applies to one
    user token's subject (tenant key, user key)."""
    terms = filter_terms(query, at)
    if own_subject is not None:
        terms.append(subject_scope(*own_subject))
    statement = sa.select(ENTITLEMENTS).where(*terms)
    return Listing(statement, ordering(order_field, descending), ENTITLEMENT_ROWS.record)


def entitlements_of(
    parent: Literal["plan", "tenant"], listing: Listing[StoredEntitlement]
) -> ChildListing[StoredEntitlement]:
    """``listing`` nested under plans or tenants."""
    column = ENTITLEMENTS.c.plan_id if parent == "plan" else ENTITLEMENTS.c.tenant_id
    return ChildListing(listing, column)


def members_of_tenants() -> ChildListing[UserRecord]:
    statement = sa.select(USERS).join(MEMBERSHIPS, MEMBERSHIPS.c.user_id == USERS.c.id)
    return ChildListing(Listing.of(USER_ROWS, statement), MEMBERSHIPS.c.tenant_id)


def tenants_of_users() -> ChildListing[TenantRecord]:
    statement = sa.select(TENANTS).join(MEMBERSHIPS, MEMBERSHIPS.c.tenant_id == TENANTS.c.id)
    return ChildListing(Listing.of(TENANT_ROWS, statement), MEMBERSHIPS.c.user_id)


def changes(
    kinds: Sequence[str] | None = None,
    tenant_keys: Sequence[str] | None = None,
    user_keys: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Revision | None = None,
) -> Listing[ChangeRecord]:
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
        terms.append(later_than(after))
    return Listing.of(CHANGE_ROWS, sa.select(CHANGES).where(*terms))


def webhook_endpoints() -> Listing[WebhookEndpointRecord]:
    return Listing.of(WEBHOOK_ENDPOINT_ROWS)


def webhook_deliveries_of_endpoints(statuses: Sequence[str] | None) -> ChildListing[WebhookDeliveryRecord]:
    """An endpoint's deliveries, newest first, optionally of some statuses only."""
    statement = sa.select(WEBHOOK_DELIVERIES)
    if statuses:
        statement = statement.where(WEBHOOK_DELIVERIES.c.status.in_(list(statuses)))
    ordering = Ordering.by_id(WEBHOOK_DELIVERIES, descending=True)
    listing = Listing(statement, ordering, WEBHOOK_DELIVERY_ROWS.record)
    return ChildListing(listing, WEBHOOK_DELIVERIES.c.endpoint_id)


def usage_records(
    tenant_keys: Sequence[str] | None = None,
    user_keys: Sequence[str] | None = None,
    feature_keys: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Listing[UsageRecordEntry]:
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
    return Listing(sa.select(r).where(*terms), Ordering.by_id(r, descending=True), USAGE_RECORD_ROWS.record)


def decision_log_entries(
    tenant_keys: Sequence[str] | None = None,
    user_keys: Sequence[str] | None = None,
    feature_keys: Sequence[str] | None = None,
    justifications: Sequence[str] | None = None,
    is_entitled: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Listing[DecisionLogRecord]:
    """Recorded decisions matching a ``DecisionLogFilter``, newest first."""
    statement, order = decision_log.listing_terms(
        tenant_keys, user_keys, feature_keys, justifications, is_entitled, since, until
    )
    return Listing(statement, order, DECISION_LOG_ROWS.record)
