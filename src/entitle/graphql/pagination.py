"""Relay connections: ``<Type>Connection { edges { cursor node } pageInfo totalCount }``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import strawberry

from entitle.services.listings import ChildListing, Listing, Page, PageArgs, list_page

if TYPE_CHECKING:
    from entitle.graphql.context import Info

NodeT = TypeVar("NodeT")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    count_rows: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Rows matching the filter, across all pages (counted only when asked).")
    async def total_count(self) -> int:
        return await self.count_rows()


ConnectionT = TypeVar("ConnectionT", bound=Connection[Any])


def to_connection(
    cls: type[ConnectionT],
    page: Page,
    make_node: Callable[[Any], Any],
    count_rows: Callable[[], Awaitable[int]],
) -> ConnectionT:
    return cls(
        edges=[Edge(cursor=c, node=make_node(r)) for r, c in zip(page.rows, page.cursors, strict=True)],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count_rows=count_rows,
    )


async def paged(
    info: Info,
    cls: type[ConnectionT],
    make_node: Callable[[Any], Any],
    listing: Listing,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ConnectionT:
    """One keyset page of ``listing`` as a connection: the one path every list field takes."""
    args = PageArgs.parse(first, after, last, before)
    page, count = await list_page(info.context.runtime, listing, args)
    return to_connection(cls, page, make_node, count)


async def paged_children(
    info: Info,
    relation: Hashable,
    cls: type[ConnectionT],
    make_node: Callable[[Any], Any],
    child: ChildListing,
    parent_id: int,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ConnectionT:
    """A nested connection (a tenant's members, a plan's entitlements, ...): the parents of one list
    share one windowed statement for their pages and one for their counts.

    ``relation`` identifies ``child`` (the relation and any filter or order in it).
    """
    args = PageArgs.parse(first, after, last, before)
    children = info.context.loaders.children((relation, args), child, args)
    page = await children.pages.load(parent_id)

    async def count_rows() -> int:
        count: int = await children.counts.load(parent_id)
        return count

    return to_connection(cls, page, make_node, count_rows)
