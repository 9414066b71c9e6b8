"""Listing pages for every connection: one keyset helper, one lazy count.

The GraphQL layer picks a listing (``db.repositories.listings`` builds its statement) and pages it
here; nested connections page many parents with one windowed statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from entitle.db.pagination import Page, PageArgs, count, count_many, paginate, paginate_many
from entitle.db.repositories.entitlement_filters import EntitlementQuery
from entitle.db.repositories.listings import (
    ChildListing,
    Listing,
    changes,
    decision_log_entries,
    entitlements,
    entitlements_of,
    keyed,
    members_of_tenants,
    routes,
    tenants_of_users,
    usage_records,
    webhook_deliveries_of_endpoints,
    webhook_endpoints,
)
from entitle.db.repositories.rows import KeyedKind
from entitle.services.runtime import Runtime

__all__ = [
    "ChildListing",
    "EntitlementQuery",
    "KeyedKind",
    "Listing",
    "Page",
    "PageArgs",
    "changes",
    "child_counts",
    "child_pages",
    "decision_log_entries",
    "entitlements",
    "entitlements_of",
    "keyed",
    "list_page",
    "members_of_tenants",
    "routes",
    "tenants_of_users",
    "usage_records",
    "webhook_deliveries_of_endpoints",
    "webhook_endpoints",
]

R = TypeVar("R")


async def list_page(
    runtime: Runtime, listing: Listing[R], args: PageArgs
) -> tuple[Page[R], Callable[[], Awaitable[int]]]:
    """One page of ``listing``'s records plus a function that counts all matching rows when asked."""
    async with runtime.database.lookup() as connection:
        page = await paginate(connection, listing.statement, listing.ordering, args, listing.record)

    async def count_rows() -> int:
        async with runtime.database.lookup() as connection:
            return await count(connection, listing.statement)

    return page, count_rows


async def child_pages(
    runtime: Runtime, child: ChildListing[R], parent_ids: Sequence[int], args: PageArgs
) -> list[Page[R]]:
    """The same page of ``child`` for each parent, in order, in one statement."""
    listing = child.listing
    async with runtime.database.lookup() as connection:
        pages = await paginate_many(
            connection, listing.statement, child.parent, parent_ids, listing.ordering, args, listing.record
        )
    return [pages[i] for i in parent_ids]


async def child_counts(runtime: Runtime, child: ChildListing[R], parent_ids: Sequence[int]) -> list[int]:
    """How many rows of ``child`` each parent has, in order, in one statement."""
    async with runtime.database.lookup() as connection:
        counts = await count_many(connection, child.listing.statement, child.parent, parent_ids)
    return [counts[i] for i in parent_ids]
