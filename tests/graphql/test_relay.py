"""Relay on strawberry.relay's protocol, and why some of it stays ours (graphql/core/relay.py).

Part of this file pins the installed strawberry: each ``test_strawberry_*`` states a reason the
docstrings of ``node.py`` / ``pagination.py`` give for keeping a piece of our own. When one fails
after an upgrade, strawberry changed: read the message, and either adopt strawberry's piece (the
reason is gone) or update the reason.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, cast

import pytest
import strawberry
from strawberry import relay
from strawberry.types.base import StrawberryObjectDefinition

from entitle.domain.errors import BadUserInput
from entitle.graphql.core.relay import (
    Connection,
    Node,
    PageInfo,
    _node_type,
    from_global_id,
    resolve_node_type,
    to_global_id,
)
from entitle.graphql.schema import build_schema

SCHEMA = build_schema()


def _sdl(*types: Any, query: Any = None) -> str:
    @strawberry.type
    class Query:
        anything: int = 0

    return str(strawberry.Schema(query=query or Query, types=list(types)))


def _node_types() -> list[type[Node]]:
    found = []
    for graphql_type in SCHEMA._schema.type_map.values():
        definition = SCHEMA.get_type_by_name(graphql_type.name)
        if (
            isinstance(definition, StrawberryObjectDefinition)
            and not definition.is_interface
            and issubclass(definition.origin, Node)
        ):
            found.append(definition.origin)
    return found


def test_every_node_type_resolves_by_id_through_the_schema() -> None:
    # given
    node_types = _node_types()
    info = cast(Any, SimpleNamespace(schema=SCHEMA))
    # then: the twelve object types of the contract plus UsageReservation, each with its own resolve_nodes
    assert len(node_types) == 13
    for node_type in node_types:
        assert node_type.resolve_nodes.__func__ is not Node.resolve_nodes.__func__, node_type  # type: ignore[attr-defined]
        assert resolve_node_type(info, node_type.__strawberry_definition__.name) is node_type  # type: ignore[attr-defined]
    for not_a_node in ("Query", "Node", "PageInfo", "EntitlementConnection", "DateTime", "NoSuchType"):
        assert resolve_node_type(info, not_a_node) is None, not_a_node


def test_every_connection_makes_its_nodes_with_its_node_types_from_record() -> None:
    # given
    connections = [
        definition.origin
        for graphql_type in SCHEMA._schema.type_map.values()
        if isinstance(definition := SCHEMA.get_type_by_name(graphql_type.name), StrawberryObjectDefinition)
        and isinstance(definition.origin, type)
        and issubclass(definition.origin, Connection)
    ]
    # then
    assert len(connections) >= 12
    for connection in connections:
        node_type = _node_type(connection)
        assert issubclass(node_type, Node), connection
        assert callable(getattr(node_type, "from_record", None)), node_type


def test_ids_are_strawberry_relays_encoding_and_the_ones_clients_stored() -> None:
    # given
    stored = base64.b64encode(b"Entitlement:42").decode()  # what clients hold since the first release
    # when
    ours = to_global_id("Entitlement", 42)
    # then
    assert ours == stored == str(relay.GlobalID("Entitlement", "42")) == relay.to_base64("Entitlement", 42)
    assert relay.GlobalID.from_id(ours) == relay.GlobalID("Entitlement", "42")
    assert from_global_id(ours) == ("Entitlement", 42)


@pytest.mark.parametrize(
    "bad",
    [
        base64.b64encode(b"Entitlement:42").decode() + "!",  # stray character
        base64.b64encode(b"Entitlement:abc").decode(),  # not a primary key
        base64.b64encode(b"Entitlement:0").decode(),
        base64.b64encode(f"Entitlement:{2**31}".encode()).decode(),
    ],
)
def test_strawberry_parses_ids_we_refuse_so_parsing_stays_ours(bad: str) -> None:
    # when strawberry parses it, it accepts it (GlobalID's node_id is any string) ...
    type_name, _ = relay.from_base64(bad)
    assert type_name == "Entitlement", "strawberry.relay.from_base64 now refuses this id: parse with it"
    # ... where the contract wants BAD_USER_INPUT naming the argument
    with pytest.raises(BadUserInput) as refused:
        from_global_id(bad, field="entitlementId")
    assert refused.value.field == "entitlementId"


def test_strawberry_relays_node_interface_would_change_the_schema() -> None:
    # given
    @strawberry.type
    class Gadget(relay.Node):
        pk: relay.NodeID[int]

    # when
    theirs = _sdl(Gadget)
    # then: its description and its id's description are not the contract's
    assert '"""An object with a Globally Unique ID"""\ninterface Node {' in theirs, theirs
    assert '"""The Globally Unique ID of this object"""' in theirs, theirs
    assert (
        '"""An object with a global id, resolvable with node(id:)."""\ninterface Node {\n  id: ID!\n}'
        in str(SCHEMA)
    )

    # and a second interface named Node cannot stand beside it
    @strawberry.interface(name="Node")
    class Ours(relay.Node):
        pass

    @strawberry.type
    class Other(Ours):
        pk: relay.NodeID[int]

    with pytest.raises(Exception, match="Node is defined multiple times"):
        _sdl(Gadget, Other)


@strawberry.type
class Thing:
    key: str


@strawberry.type
class ThingConnection(relay.ListConnection[Thing]):
    pass


@strawberry.type
class ThingsQuery:
    @relay.connection(ThingConnection)
    def things(self, key: str | None = None) -> Iterable[Thing]:
        return []


def test_strawberry_relays_connection_types_would_change_the_schema() -> None:
    # when
    theirs = _sdl(query=ThingsQuery)
    # then: described types and fields, pageInfo before edges, paging arguments after the field's own
    assert '"""Information to aid in pagination."""\ntype PageInfo {' in theirs, theirs
    assert "type ThingConnection {\n" + '  """Pagination data for this connection"""\n  pageInfo' in theirs
    assert '"""An edge in a connection."""\ntype ThingEdge {' in theirs, theirs
    assert "things(\n    key: String = null\n\n" in theirs, theirs
    assert '"""Returns the items in the list that come before the specified cursor."""' in theirs, theirs
    ours = str(SCHEMA)
    assert "type PageInfo {\n  hasNextPage: Boolean!" in ours
    assert "type EntitlementConnection {\n  edges: [EntitlementEdge!]!\n  pageInfo: PageInfo!" in ours
    assert (
        "entitlements(first: Int = null, after: String = null, last: Int = null, before: String = null"
        in ours
    )
    assert PageInfo.__strawberry_definition__.description is None  # type: ignore[attr-defined]
