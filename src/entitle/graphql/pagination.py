"""Relay connections: ``<Type>Connection { edges { cursor node } pageInfo totalCount }``.

Resolved on strawberry.relay's protocol: a connection type answers the classmethod
``resolve_connection(nodes, *, info, first, after, last, before)`` and turns each stored row into
its node with ``resolve_node``. What ``nodes`` is here: a keyset ``Listing`` of ``services.listings``
(``resolve_connection``) or a parent's ``ChildListing`` (``resolve_children``, one windowed
statement for the parents of a page), so the cursors are the keyset's (opaque, stable under
inserts) and a page costs the statements it did.

The types are ours, not ``strawberry.relay.Connection`` / ``Edge`` / ``PageInfo`` or the
``relay.connection()`` field: those carry fixed descriptions on every type, field and paging
argument, order ``pageInfo`` before ``edges``, put ``before/after/first/last`` after a field's own
arguments, and the field extension wants an iterable of nodes to slice. Each would change the
published schema (``schema.graphql``, the contract's SDL); ``tests/graphql/test_relay.py`` pins
these differences against the installed strawberry and fails when they no longer hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, get_args, get_origin

import strawberry

from entitle.services.listings import ChildListing, Listing, Page, PageArgs, list_page

if TYPE_CHECKING:
    from typing import Self

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

    _node_from_row: ClassVar[Callable[[Any], Any] | None] = None

    @strawberry.field(description="Rows matching the filter, across all pages (counted only when asked).")
    async def total_count(self) -> int:
        return await self.count_rows()

    @classmethod
    def resolve_node(cls, row: Any) -> NodeT:
        """The node of a stored row: ``NodeType.from_row`` of the connection's node type."""
        make = cls._node_from_row
        if make is None:
            make = cls._node_from_row = _node_type(cls).from_row
        node: NodeT = make(row)
        return node

    @classmethod
    def from_page(cls, page: Page, count_rows: Callable[[], Awaitable[int]]) -> Self:
        make = cls._node_from_row or cls.resolve_node
        cursors = page.cursors
        return cls(
            edges=[Edge(cursor=c, node=make(r)) for r, c in zip(page.rows, cursors, strict=True)],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
            count_rows=count_rows,
        )

    @classmethod
    async def resolve_connection(
        cls,
        nodes: Listing,
        *,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Self:
        """One keyset page of ``nodes`` as a connection: the one path every list field takes."""
        args = PageArgs.parse(first, after, last, before)
        page, count = await list_page(info.context.runtime, nodes, args)
        return cls.from_page(page, count)

    @classmethod
    async def resolve_children(
        cls,
        nodes: ChildListing,
        *,
        info: Info,
        relation: Hashable,
        parent_id: int,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Self:
        """A nested connection (a tenant's members, a plan's entitlements, ...): the parents of one
        list share one windowed statement for their pages and one for their counts.

        ``relation`` identifies ``nodes`` (the relation and any filter or order in it).
        """
        args = PageArgs.parse(first, after, last, before)
        children = info.context.loaders.children((relation, args), nodes, args)
        page = await children.pages.load(parent_id)

        async def count_rows() -> int:
            count: int = await children.counts.load(parent_id)
            return count

        return cls.from_page(page, count_rows)


def _node_type(connection: type[Connection[Any]]) -> Any:
    """``Entitlement`` for ``class EntitlementConnection(Connection[Entitlement])``."""
    for klass in connection.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if get_origin(base) is Connection:
                (node_type,) = get_args(base)
                return node_type
    raise TypeError(f"{connection.__name__} does not subclass Connection[NodeType]")
