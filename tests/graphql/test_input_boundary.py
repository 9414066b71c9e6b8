"""The input boundary (issue 7): NUL and lone surrogates, JSON depth and size, quoted input,
suggestions with introspection off, and no variable value in any log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from entitle.domain.errors import BadUserInput
from entitle.graphql.boundary import MAX_JSON_BYTES, MAX_JSON_DEPTH, check_value
from entitle.graphql.schema import build_schema
from entitle.settings import Settings
from graphql import (
    GraphQLArgument,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)
from tests.conftest import Api, serving
from tests.factories import make_tenant

NUL = "a\u0000b"
TEXT_SCALARS = {"String", "ID", "JSON"}

# --------------------------------------------------------------------------- the NUL sweep


def _unwrap(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _positions(type_: GraphQLInputType, seen: tuple[str, ...] = ()) -> Iterator[tuple[Any, str]]:
    """Every String/ID/JSON position under ``type_``: (a value carrying NUL there, its path suffix)."""
    inner = _unwrap(type_)
    if isinstance(inner, GraphQLList):
        for value, path in _positions(inner.of_type, seen):
            yield [value], f"[0]{path}"
    elif isinstance(inner, GraphQLInputObjectType):
        if inner.name in seen:
            return
        for name, field in inner.fields.items():
            for value, path in _positions(field.type, (*seen, inner.name)):
                yield {name: value}, f".{name}{path}"
    elif isinstance(inner, GraphQLScalarType) and inner.name in TEXT_SCALARS:
        yield ({"note": NUL} if inner.name == "JSON" else NUL), ""
        if inner.name == "JSON":
            yield {NUL: 1}, ""  # a NUL in a key, too


def _selection(field_type: Any) -> str:
    return "" if is_leaf_type(get_named_type(field_type)) else "{ __typename }"


def _document(
    kind: str, name: str, args: dict[str, GraphQLArgument], field_type: Any, tested: str, literal: str | None
) -> str:
    """``kind ($tested: T, $required: T!…) { name(tested: $tested|literal, required: $required…) {…} }``."""
    variables, passed = [], []
    for arg_name, arg in args.items():
        if arg_name == tested and literal is not None:
            passed.append(f"{arg_name}: {literal}")
        elif arg_name == tested or isinstance(arg.type, GraphQLNonNull):
            variables.append(f"${arg_name}: {arg.type}")
            passed.append(f"{arg_name}: ${arg_name}")
    declared = f"({', '.join(variables)})" if variables else ""
    return f"{kind} {declared} {{ {name}({', '.join(passed)}) {_selection(field_type)} }}"


def _cases() -> Iterator[tuple[str, str, Any, str]]:
    """(case id, document, variables, the field the error must name) for every position."""
    schema = build_schema(Settings(_env_file=None))._schema  # type: ignore[call-arg]
    roots: list[tuple[str, GraphQLObjectType | None]] = [
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
    ]
    for kind, root in roots:
        assert root is not None
        for name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                for value, path in _positions(arg.type):
                    document = _document(kind, name, field.args, field.type, arg_name, None)
                    yield f"{name}.{arg_name}{path}", document, {arg_name: value}, f"{arg_name}{path}"
                inner = _unwrap(arg.type)
                if isinstance(inner, GraphQLScalarType) and inner.name in {"String", "ID"}:
                    literal = json.dumps(NUL)  # a GraphQL string literal with the escape \u0000
                    document = _document(kind, name, field.args, field.type, arg_name, literal)
                    yield f"{name}.{arg_name} (literal)", document, {}, arg_name


CASES = list(_cases())
_TENANT_INPUT = build_schema(Settings(_env_file=None))._schema.type_map["TenantInput"]  # type: ignore[call-arg]


def test_the_sweep_covers_every_entry_point_named_in_the_issue() -> None:
    ids = {case[0] for case in CASES}
    for expected in [
        "upsertTenants.input[0].name",
        "upsertTenants.input[0].metadata",
        "upsertUsers.input[0].email",
        "createEntitlement.input.reason",
        "reportUsage.input.idempotencyKey",
        "tenant.key",
        "tenant.key (literal)",
        "tenants.filter.search",
        "entitlements.filter.tenantKeys[0]",
        "isEntitledTo.featureKey",
        "isEntitledTo.route.path",
        "createApiRoute.input.pathPattern",
        "node.id",
        "nodes.ids[0]",
        "createFeatureFlag.input.rules[0].values[0]",
        "updatePlan.input.features[0].value",
    ]:
        assert expected in ids
    assert len(CASES) > 150


async def test_nul_anywhere_is_bad_user_input_naming_the_field(api: Api) -> None:
    wrong: list[tuple[str, Any]] = []
    for case_id, document, variables, field in CASES:
        body = await api.gql(document, variables)
        errors = body.get("errors") or [{}]
        got = errors[0].get("extensions", {})
        if (got.get("code"), got.get("field")) != ("BAD_USER_INPUT", field):
            wrong.append((case_id, errors))
    assert wrong == []


async def test_a_lone_surrogate_never_gets_in(api: Api) -> None:
    """Not UTF-8 encodable, so never storable: refused as unparseable by every way in (JSON bodies,
    GET variables, GraphQL literals), and by the boundary itself should a decoder let one through."""
    document = "query($key: String!) { tenant(key: $key) { key } }"
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
    post = await api.client.post(
        "/graphql", content=json.dumps({"query": document, "variables": {"key": "a\ud800b"}}), headers=headers
    )
    get = await api.client.get(
        "/graphql", params={"query": document, "variables": json.dumps({"key": "a\ud800b"})}, headers=headers
    )
    literal = await api.post('{ tenant(key: "a\\uD800b") { key } }')
    for response in (post, get, literal):
        assert response.status_code in (200, 400), response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    with pytest.raises(BadUserInput, match="lone surrogate") as refused:
        check_value({"metadata": {"a\udc00": 1}}, _TENANT_INPUT, "input[0]")
    assert refused.value.field == "input[0].metadata"


# --------------------------------------------------------------------------- JSON bounds

UPSERT = """
mutation($input: [TenantInput!]!) {
  upsertTenants(input: $input) { tenants { key } errors { index code message } }
}
"""
TENANT = "query($key: String!) { tenant(key: $key) { key metadata } }"
TENANTS = "{ tenants(first: 500) { totalCount edges { node { key metadata } } } }"


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [33, 300, 900])
async def test_json_nested_too_deep_is_refused_and_listings_keep_working(api: Api, depth: int) -> None:
    await make_tenant(api, "acme")
    error = await api.error(UPSERT, {"input": [{"key": "poison", "metadata": nested(depth)}]})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "input[0].metadata",
    )
    assert f"deeper than {MAX_JSON_DEPTH}" in error["message"]
    data = await api.data(TENANTS)
    assert [edge["node"]["key"] for edge in data["tenants"]["edges"]] == ["acme"]


async def test_json_as_deep_as_allowed_is_stored_and_read_back(api: Api) -> None:
    deepest = nested(MAX_JSON_DEPTH)
    await api.data(UPSERT, {"input": [{"key": "deep", "metadata": deepest}]})
    assert (await api.data(TENANT, {"key": "deep"}))["tenant"]["metadata"] == deepest
    assert (await api.data(TENANTS))["tenants"]["edges"][0]["node"]["metadata"] == deepest


async def test_a_too_deep_json_literal_is_refused_too(api: Api) -> None:
    literal = "{a: " * 40 + "1" + "}" * 40
    error = await api.error(
        f'mutation {{ upsertTenants(input: [{{key: "x", metadata: {literal}}}]) {{ tenants {{ key }} }} }}'
    )
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "input[0].metadata",
    )


async def test_json_larger_than_the_limit_is_refused(api: Api) -> None:
    big = {"blob": "x" * MAX_JSON_BYTES}
    error = await api.error(UPSERT, {"input": [{"key": "big", "metadata": big}]})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "input[0].metadata",
    )
    fits = {"blob": "x" * (MAX_JSON_BYTES - 100)}
    await api.data(UPSERT, {"input": [{"key": "fits", "metadata": fits}]})
    assert (await api.data(TENANT, {"key": "fits"}))["tenant"]["metadata"] == fits


@pytest.mark.parametrize("number", ["123456789012345678901234567890", "1e999"])
async def test_a_json_number_that_cannot_be_read_back_is_refused(api: Api, number: str) -> None:
    error = await api.error(
        f'mutation {{ upsertTenants(input: [{{key: "n", metadata: {{n: {number}}}}}]) {{ tenants {{ key }} }} }}'
    )
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "input[0].metadata",
    )
    assert (await api.data(TENANTS))["tenants"]["totalCount"] == 0


# --------------------------------------------------------------------------- quoted input


async def test_an_error_quotes_at_most_64_characters_of_the_input(api: Api) -> None:
    huge = "k" * 1_000_000
    error = (await api.data(UPSERT, {"input": [{"key": huge}]}))["upsertTenants"]["errors"][0]
    assert error["code"] == "BAD_USER_INPUT"
    assert "k" * 64 + "…" in error["message"]
    assert "k" * 65 not in error["message"]
    error = await api.error(
        "mutation($key: String!) { deleteFeature(key: $key) { deletedId } }", {"key": huge}
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "k" * 64 + "…" in error["message"]
    assert "k" * 65 not in json.dumps(error)
    error = await api.error(
        'query($at: DateTime) { viewer { kind } e: effectiveEntitlements(tenantKey: "x", at: $at) { context } }',
        {"at": huge},
    )
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "k" * 65 not in json.dumps(error)


# --------------------------------------------------------------------------- suggestions

MISSPELT_FIELD = "{ tenantz { totalCount } }"
MISSPELT_INPUT_FIELD = "query($f: KeyFilter) { tenants(filter: $f) { totalCount } }"
MISSPELT_ENUM = "query($l: AssignLevel) { entitlements(filter: {assignLevel: $l}) { totalCount } }"


async def _messages(api: Api) -> list[str]:
    return [
        (await api.error(MISSPELT_FIELD))["message"],
        (await api.error(MISSPELT_INPUT_FIELD, {"f": {"keyz": ["a"]}}))["message"],
        (await api.error(MISSPELT_ENUM, {"l": "TENANTS"}))["message"],
        (await api.error('{ tenants(filtre: {keys: ["a"]}) { totalCount } }'))["message"],
    ]


async def test_no_suggestions_when_introspection_is_off(database_url: str) -> None:
    async with serving(database_url, entitle_introspection=False) as api:
        messages = await _messages(api)
    assert all("Did you mean" not in message for message in messages), messages
    assert all(term not in " ".join(messages) for term in ("'tenants'", "'keys'", "TENANT'", "'filter'"))


async def test_suggestions_when_introspection_is_on(api: Api) -> None:
    messages = await _messages(api)
    assert all("Did you mean" in message for message in messages), messages


# --------------------------------------------------------------------------- logs

SECRET = "ent_TOPSECRET_customer_value_4711"


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (
            'query($at: DateTime) { effectiveEntitlements(tenantKey: "a", at: $at) { context } }',
            {"at": SECRET},
        ),
        ("query($n: Int) { tenants(first: $n) { totalCount } }", {"n": SECRET}),
        ("query($f: KeyFilter) { tenants(filter: $f) { totalCount } }", {"f": {"keys": SECRET, "x": SECRET}}),
        ("query($f: KeyFilter!) { tenants(filter: $f) { totalCount } }", {"f": {"keys": [{"k": SECRET}]}}),
        ("query($l: AssignLevel) { entitlements(filter: {assignLevel: $l}) { totalCount } }", {"l": SECRET}),
        ("query($k: String!) { tenant(key: $k) { key } }", {"k": SECRET + "\u0000"}),
        (
            "mutation($i: [TenantInput!]!) { upsertTenants(input: $i) { tenants { key } } }",
            {"i": [{"key": SECRET * 9}]},
        ),
    ],
    ids=["datetime", "int", "input-object", "list-of-objects", "enum", "nul", "item-error"],
)
async def test_no_variable_value_or_token_reaches_the_log(
    api: Api, caplog: pytest.LogCaptureFixture, document: str, variables: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    body = await api.gql(document, variables)
    assert body.get("errors") or body["data"]["upsertTenants"]  # a request that really failed
    logged = [
        record.getMessage() + " " + str(record.exc_info) + " " + str(record.args) for record in caplog.records
    ]
    assert all(SECRET not in line and api.token not in line for line in logged), logged


async def test_a_database_error_never_quotes_the_statements_parameters(api: Api) -> None:
    """An unexpected database error is logged (with its message) as INTERNAL_SERVER_ERROR: the
    engines hide bound parameters, so the message carries no customer value or key."""
    database = api.app.runtime.database
    for engine in (database.engine, database.write_engine):
        async with engine.connect() as connection:
            with pytest.raises(sa.exc.DBAPIError) as failed:
                await connection.execute(sa.text("SELECT * FROM no_such_table WHERE k = :k"), {"k": SECRET})
        assert SECRET not in str(failed.value)
