"""schema.graphql is what the code exports, and it contains every part of the contract's schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql.language.printer import print_ast

from entitle.graphql.schema import build_schema as build_entitle_schema
from graphql import (
    EnumTypeDefinitionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    build_schema,
    parse,
    print_type,
)

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT.parent / "shared" / "api-contract.md"


def test_schema_file_equals_the_exported_schema() -> None:
    exported = str(build_entitle_schema()) + "\n"
    assert (ROOT / "schema.graphql").read_text() == exported, "run `make schema` and commit schema.graphql"


def _contract_sdl() -> str:
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} not found: the contract lives in ../shared beside the repository")
    text = CONTRACT.read_text()
    blocks = re.findall(r"```graphql\n(.*?)```", text, flags=re.S)
    assert blocks, "the contract has no graphql block"
    return "\n".join(blocks)


def test_every_contract_type_field_argument_and_enum_value_is_in_the_schema() -> None:
    ours = build_schema((ROOT / "schema.graphql").read_text())
    missing: list[str] = []
    for definition in parse(_contract_sdl()).definitions:
        name = definition.name.value  # type: ignore[attr-defined]
        mine = ours.type_map.get(name)
        if mine is None:
            missing.append(f"type {name}")
            continue
        if isinstance(definition, EnumTypeDefinitionNode):
            assert isinstance(mine, GraphQLEnumType), name
            missing += [
                f"{name}.{v.name.value}" for v in definition.values or () if v.name.value not in mine.values
            ]
        elif isinstance(
            definition,
            ObjectTypeDefinitionNode
            | InterfaceTypeDefinitionNode
            | InputObjectTypeDefinitionNode
            | ObjectTypeExtensionNode  # `extend type Query { ... }` of the later sections
            | InputObjectTypeExtensionNode,
        ):
            assert isinstance(mine, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType), name
            for field in definition.fields or ():
                field_name = field.name.value
                their_type = print_ast(field.type)
                my_field = mine.fields.get(field_name)
                if my_field is None:
                    missing.append(f"{name}.{field_name}")
                    continue
                if str(my_field.type) != their_type:
                    missing.append(f"{name}.{field_name}: {my_field.type} != {their_type}")
                for arg in getattr(field, "arguments", None) or ():
                    my_arg = my_field.args.get(arg.name.value)  # type: ignore[union-attr]
                    if my_arg is None or str(my_arg.type) != print_ast(arg.type):
                        missing.append(f"{name}.{field_name}({arg.name.value}: {print_ast(arg.type)})")
            for interface in getattr(definition, "interfaces", None) or ():
                if interface.name.value not in [i.name for i in mine.interfaces]:  # type: ignore[union-attr]
                    missing.append(f"{name} implements {interface.name.value}")
    assert not missing, "schema.graphql lacks parts of the contract:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    "connection",
    ["Feature", "Plan", "Tenant", "User", "Entitlement", "FeatureFlag", "ApiRoute"],
)
def test_every_connection_has_edges_page_info_and_total_count(connection: str) -> None:
    ours = build_schema((ROOT / "schema.graphql").read_text())
    printed = print_type(ours.type_map[f"{connection}Connection"])
    assert f"edges: [{connection}Edge!]!" in printed
    assert "pageInfo: PageInfo!" in printed
    assert "totalCount: Int!" in printed
