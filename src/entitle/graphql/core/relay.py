"""Relay on strawberry.relay's protocol: the ``Node`` interface, global ids and connections.

Nodes
-----
Ids are strawberry.relay's encoding, ``base64("TypeName:pk")`` (``strawberry.relay.to_base64``,
inlined), so the ids clients stored stay valid. Each node type answers ``resolve_nodes`` (relay's classmethod:
ids in, nodes or None out, in order), and ``node(id:)`` finds the type through the schema's own
type registry (``resolve_node_type``): no map from type names to loaders.

Kept ours, deliberately (``tests/graphql/test_relay.py`` pins each reason against the installed
strawberry, and fails when it no longer holds):

- the interface: ``strawberry.relay.Node`` is an interface named ``Node`` described "An object with
  a Globally Unique ID" with an ``id`` field of its own description, and a second interface named
  ``Node`` cannot be declared beside it; using it would change the published schema
  (``schema.graphql``, the contract's SDL) on every node type. Its ``id`` is also a resolver per
  object (``resolve_typename`` + ``resolve_id`` + a ``GlobalID``) where ours is a plain attribute
  computed once with the row: a page of 100 entitlements resolves several hundred ids.
- parsing: ``strawberry.relay.from_base64`` accepts non-canonical base64 (it drops stray characters)
  and any node id; a ``GlobalID`` argument fails in coercion with strawberry's message. The contract
  answers ``BAD_USER_INPUT`` naming the argument for any id this API could not have issued.

Connections
-----------
Resolved on strawberry.relay's protocol: a connection type answers the classmethod
``resolve_connection(nodes, *, info, first, after, last, before)`` and turns each stored record into
its node with ``resolve_node`` (the node type's ``from_record``). What ``nodes`` is here: a keyset
``Listing`` of ``services.listings`` (``resolve_connection``) or a parent's ``ChildListing``
(``resolve_children``, one windowed statement for the parents of a page), so the cursors are the
keyset's (opaque, stable under inserts) and a page costs the statements it did. A
``Listing[TenantRecord]`` pages into a ``Page[TenantRecord]``: typed records, never SQL rows.

The types are ours, not ``strawberry.relay.Connection`` / ``Edge`` / ``PageInfo`` or the
``relay.connection()`` field: those carry fixed descriptions on every type, field and paging
argument, order ``pageInfo`` before ``edges``, put ``before/after/first/last`` after a field's own
arguments, and the field extension wants an iterable of nodes to slice. Each would change the
published schema (``schema.graphql``, the contract's SDL); ``tests/graphql/test_relay.py`` pins
these differences against the installed strawberry and fails when they no longer hold.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from base64 import b64encode
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast, get_args, get_origin

import strawberry
from aiodataloader import DataLoader
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.nodes import SelectedField, Selection

from entitle.domain.errors import BadUserInput
from entitle.domain.text import shown
from entitle.services.listings import ChildListing, Listing, Page, PageArgs, list_page

if TYPE_CHECKING:
    from typing import Self

    from entitle.graphql.core.context import Info

NodeT = TypeVar("NodeT")
R = TypeVar("R")
T = TypeVar("T")


@strawberry.interface(description="An object with a global id, resolvable with node(id:).")
class Node:
    id: strawberry.ID

    user_tokens_may_resolve: ClassVar[bool] = False
    """``node(id:)`` of this type is open to user tokens (its ``resolve_nodes`` checks ownership);
    every other type is management only."""

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[Node | None]:
        """The objects with these primary keys, in order; None for unknown ones (relay's protocol)."""
        raise NotImplementedError(f"{cls.__name__} does not resolve by global id")

    @classmethod
    async def resolve_node(cls, node_id: int, *, info: Info) -> Node | None:
        return (await cls.resolve_nodes(info=info, node_ids=(node_id,)))[0]


async def load_nodes(
    loader: DataLoader[int, R | None], node_ids: Iterable[int], make: Callable[[R], NodeT]
) -> list[NodeT | None]:
    """``resolve_nodes`` through a per-request loader: the ids of one type asked together (``nodes``)
    share one statement."""
    records = await loader.load_many(list(node_ids))
    return [None if record is None else make(record) for record in records]


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    """``strawberry.relay.to_base64(type_name, pk)``, inlined: it runs for every node of every page
    (several hundred on a nested page of 100), and the pinned test checks the two agree."""
    return strawberry.ID(b64encode(f"{type_name}:{pk}".encode()).decode())


MAX_PK = 2**31 - 1


def from_global_id(global_id: str, *, field: str = "id") -> tuple[str, int]:
    """(type name, primary key) of an id this API issued; anything else is ``BAD_USER_INPUT``."""
    try:
        type_name, _, raw_pk = base64.b64decode(global_id, validate=True).decode().partition(":")
        pk = int(raw_pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"{shown(global_id)} is not a valid id", field=field) from None
    if not 1 <= pk <= MAX_PK:
        raise BadUserInput(f"{shown(global_id)} is not a valid id", field=field)
    return type_name, pk


def pk_of(global_id: str, expected_type: str, *, field: str = "id") -> int | None:
    """The primary key in ``global_id`` if it names an ``expected_type``, else None."""
    type_name, pk = from_global_id(global_id, field=field)
    return pk if type_name == expected_type else None


def resolve_node_type(info: Info, type_name: str) -> type[Node] | None:
    """The node type named ``type_name`` in the executing schema (strawberry's type registry, as
    ``strawberry.relay.GlobalID.resolve_type`` does); None when no node type has that name."""
    definition = info.schema.get_type_by_name(type_name)
    if not isinstance(definition, StrawberryObjectDefinition) or definition.is_interface:
        return None
    origin = definition.origin
    return origin if isinstance(origin, type) and issubclass(origin, Node) else None


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

    _node_from_record: ClassVar[Callable[..., object] | None] = None
    """The node type's ``from_record``, found once per connection type (``resolve_node``)."""

    @strawberry.field(description="Rows matching the filter, across all pages (counted only when asked).")
    async def total_count(self) -> int:
        return await self.count_rows()

    @classmethod
    def resolve_node(cls, record: R) -> NodeT:
        """The node of a stored record: ``NodeType.from_record`` of the connection's node type."""
        return cls._node_maker()(record)

    @classmethod
    def _node_maker(cls) -> Callable[[R], NodeT]:
        make = cls._node_from_record
        if make is None:
            make = cls._node_from_record = _node_type(cls).from_record
        return cast("Callable[[R], NodeT]", make)

    @classmethod
    def from_page(cls, page: Page[R], count_rows: Callable[[], Awaitable[int]]) -> Self:
        make: Callable[[R], NodeT] = cls._node_maker()
        cursors = page.cursors
        return cls(
            edges=[Edge(cursor=c, node=make(r)) for r, c in zip(page.records, cursors, strict=True)],
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
        nodes: Listing[R],
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
        connection = cls.from_page(page, count)
        await cls.load_ahead([edge.node for edge in connection.edges], info)
        return connection

    @classmethod
    async def load_ahead(cls, nodes: Sequence[NodeT], info: Info) -> None:
        """Load what the page's nodes (built from their records, not yet completed) are asked for, so
        their fields resolve synchronously (``resolved``) instead of each awaiting its loader. The same
        batched statements run as without it; a connection whose nodes relate to nothing loaded per row
        keeps this default."""

    @classmethod
    async def resolve_children(
        cls,
        nodes: ChildListing[R],
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


def node_fields(info: Info) -> set[str]:
    """The field names asked of ``edges { node { … } }`` under the connection being resolved (through
    fragments)."""

    def fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
        for selection in selections:
            if isinstance(selection, SelectedField):
                yield selection
            else:
                yield from fields(selection.selections)

    return {
        field.name
        for connection in info.selected_fields
        for edges in fields(connection.selections)
        if edges.name == "edges"
        for node in fields(edges.selections)
        if node.name == "node"
        for field in fields(node.selections)
    }


async def load_all(loader: DataLoader[int, T], keys: Iterable[int | None]) -> None:
    """Load ``keys`` in one batch; a failure is left for the fields to raise where they ask."""
    wanted = list({key for key in keys if key is not None})
    if wanted:
        with contextlib.suppress(Exception):
            await loader.load_many(wanted)


def present(record: R | None) -> R:
    """A record that must exist (an id just written, the target of a foreign key): its absence is an
    internal error (a concurrent delete), as it was when an untyped ``None`` row failed on its first
    attribute."""
    if record is None:
        raise LookupError("a stored record that must exist is missing")
    return record


def resolved(future: Awaitable[R | None], build: Callable[[R], T]) -> T | Awaitable[T | None] | None:
    """``build(value)`` now when the loader already has the value (``Connection.load_ahead``), else an
    awaitable of it that graphql-core awaits."""
    if (
        isinstance(future, asyncio.Future)
        and future.done()
        and not future.cancelled()
        and future.exception() is None
    ):
        value = future.result()
        return None if value is None else build(value)

    async def later() -> T | None:
        value = await future
        return None if value is None else build(value)

    return later()


def _node_type(connection: type[Connection[Any]]) -> Any:
    """``Entitlement`` for ``class EntitlementConnection(Connection[Entitlement])``."""
    for klass in connection.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if get_origin(base) is Connection:
                (node_type,) = get_args(base)
                return node_type
    raise TypeError(f"{connection.__name__} does not subclass Connection[NodeType]")
