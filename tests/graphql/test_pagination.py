"""Relay connections (§7): keyset cursors stable under inserts, both directions, limits and defaults."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import (
    UPSERT_TENANTS,
    batch_grant,
    entitlement_input,
    grant,
    make_feature,
    make_plan,
    make_tenant,
    make_user,
)

ENTITLEMENTS_PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $orderBy: EntitlementOrder) {
  entitlements(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
  }
}
"""
TENANTS_PAGE = """
query($first: Int, $after: String, $last: Int, $before: String) {
  tenants(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { key } }
  }
}
"""
ROWS = 300
PAGE = 47

Fetch = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Insert = Callable[[int], Awaitable[None]]


def _days(n: int) -> str:
    return f"2031-01-{1 + n % 28:02d}T00:00:00Z" if n % 3 else ""


async def _seed_entitlements(api: Api, count: int, start: int = 0) -> None:
    items = []
    for n in range(start, start + count):
        expiration = _days(n)
        items.append(
            entitlement_input(
                plan_key="pro", tenant_key="acme", reason=f"e{n}", expiration_date=expiration or None
            )
        )
    payload = await batch_grant(api, items)
    assert payload["errors"] == []


async def _walk_forward(fetch: Fetch, insert: Insert, key: Callable[[dict[str, Any]], str]) -> list[str]:
    """All pages with first/after, inserting rows before each next page; the keys seen, in order."""
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        connection = await fetch({"first": PAGE, "after": after})
        seen.extend(key(edge) for edge in connection["edges"])
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert connection["pageInfo"]["startCursor"] == connection["edges"][0]["cursor"]
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        assert pages < 50, "paging does not end"
        await insert(pages)
        after = connection["pageInfo"]["endCursor"]


async def _walk_backward(fetch: Fetch, insert: Insert, key: Callable[[dict[str, Any]], str]) -> list[str]:
    """All pages with last/before from the end, inserting rows between pages; keys in list order."""
    seen: list[str] = []
    before = None
    pages = 0
    while True:
        connection = await fetch({"last": PAGE, "before": before})
        seen[:0] = [key(edge) for edge in connection["edges"]]
        assert connection["pageInfo"]["hasNextPage"] is (before is not None)
        pages += 1
        if not connection["pageInfo"]["hasPreviousPage"]:
            return seen
        assert pages < 50, "paging does not end"
        await insert(pages)
        before = connection["pageInfo"]["startCursor"]


def _assert_each_original_once(seen: list[str], original: list[str]) -> None:
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert [k for k in seen if k in set(original)] == original, "a row was skipped or moved"


@pytest.mark.parametrize(
    "order",
    [
        None,
        {"field": "CREATED_AT", "direction": "ASC"},
        {"field": "CREATED_AT", "direction": "DESC"},
        {"field": "EXPIRATION_DATE", "direction": "ASC"},
        {"field": "EXPIRATION_DATE", "direction": "DESC"},
    ],
    ids=["id", "created-asc", "created-desc", "expiration-asc", "expiration-desc"],
)
async def test_paging_entitlements_both_ways_while_rows_are_added_never_repeats_or_skips(
    api: Api, order: dict[str, str] | None
) -> None:
    # given
    await make_plan(api, "pro")
    await make_tenant(api, "acme")
    await _seed_entitlements(api, ROWS)
    inserted = ROWS

    async def fetch(args: dict[str, Any]) -> dict[str, Any]:
        data = await api.data(ENTITLEMENTS_PAGE, {**args, "orderBy": order})
        connection: dict[str, Any] = data["entitlements"]
        return connection

    async def insert(page: int) -> None:
        nonlocal inserted
        await _seed_entitlements(api, 3, inserted)
        inserted += 3

    def key(edge: dict[str, Any]) -> str:
        node_id: str = edge["node"]["id"]
        return node_id

    everything = await api.data(ENTITLEMENTS_PAGE, {"first": 500, "orderBy": order})
    original = [key(e) for e in everything["entitlements"]["edges"]]
    assert len(original) == ROWS
    assert everything["entitlements"]["totalCount"] == ROWS
    # when
    forward = await _walk_forward(fetch, insert, key)
    backward = await _walk_backward(fetch, insert, key)
    # then
    _assert_each_original_once(forward, original)
    _assert_each_original_once(backward, original)
    assert (await fetch({"first": 1}))["totalCount"] == inserted


async def test_paging_tenants_both_ways_while_tenants_are_added(api: Api) -> None:
    # given
    await api.data(UPSERT_TENANTS, {"input": [{"key": f"t{n:04d}"} for n in range(ROWS)]})
    added = 0

    async def fetch(args: dict[str, Any]) -> dict[str, Any]:
        connection: dict[str, Any] = (await api.data(TENANTS_PAGE, args))["tenants"]
        return connection

    async def insert(page: int) -> None:
        nonlocal added
        await api.data(UPSERT_TENANTS, {"input": [{"key": f"new{added + i}"} for i in range(2)]})
        added += 2

    def key(edge: dict[str, Any]) -> str:
        tenant_key: str = edge["node"]["key"]
        return tenant_key

    original = [f"t{n:04d}" for n in range(ROWS)]
    # when
    forward = await _walk_forward(fetch, insert, key)
    backward = await _walk_backward(fetch, insert, key)
    # then
    _assert_each_original_once(forward, original)
    _assert_each_original_once(backward, original)
    assert (await fetch({"first": 0}))["totalCount"] == ROWS + added


async def test_the_default_page_size_is_50(api: Api) -> None:
    # given
    await api.data(UPSERT_TENANTS, {"input": [{"key": f"t{n:03d}"} for n in range(60)]})
    # when
    connection = (await api.data(TENANTS_PAGE))["tenants"]
    # then
    assert len(connection["edges"]) == 50
    assert connection["totalCount"] == 60
    assert connection["pageInfo"]["hasNextPage"] is True
    assert connection["pageInfo"]["hasPreviousPage"] is False


async def test_the_last_page_has_no_next_page_and_an_empty_list_has_no_cursors(api: Api) -> None:
    # given
    empty = (await api.data(TENANTS_PAGE, {"first": 10}))["tenants"]
    await api.data(UPSERT_TENANTS, {"input": [{"key": f"t{n}"} for n in range(3)]})
    # when
    full = (await api.data(TENANTS_PAGE, {"first": 3}))["tenants"]
    # then
    assert empty["edges"] == []
    assert empty["totalCount"] == 0
    assert empty["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }
    assert [e["node"]["key"] for e in full["edges"]] == ["t0", "t1", "t2"]
    assert full["pageInfo"]["hasNextPage"] is False


OUT_OF_RANGE: list[dict[str, int]] = [{"first": 501}, {"last": 501}, {"first": -1}, {"first": 5, "last": 5}]
FEATURES_PAGE = "query($first: Int, $last: Int) { features(first: $first, last: $last) { totalCount } }"


async def test_a_page_size_out_of_range_is_bad_user_input(api: Api) -> None:
    for args in OUT_OF_RANGE:
        # when
        errors = [
            await api.error(TENANTS_PAGE, args),
            await api.error(ENTITLEMENTS_PAGE, args),
            await api.error(FEATURES_PAGE, args),
        ]
        # then
        assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"] * 3, args


async def test_500_is_the_largest_page_allowed(api: Api) -> None:
    connection = (await api.data(TENANTS_PAGE, {"first": 500}))["tenants"]
    assert connection["edges"] == []


GARBAGE_CURSORS = [
    "garbage!",
    "",
    base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
    base64.urlsafe_b64encode(b'"x"').decode(),
    base64.urlsafe_b64encode(b'["not-a-date", 1]').decode(),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
]


async def test_a_garbage_cursor_is_bad_user_input(api: Api) -> None:
    for cursor in GARBAGE_CURSORS:
        # when
        tenants = await api.error(TENANTS_PAGE, {"first": 5, "after": cursor})
        entitlements = await api.error(
            ENTITLEMENTS_PAGE,
            {"last": 5, "before": cursor, "orderBy": {"field": "CREATED_AT", "direction": "ASC"}},
        )
        # then
        assert (tenants["extensions"]["code"], tenants["extensions"]["field"]) == ("BAD_USER_INPUT", "after")
        assert (entitlements["extensions"]["code"], entitlements["extensions"]["field"]) == (
            "BAD_USER_INPUT",
            "before",
        )


# --------------------------------------------------------------------------- node / nodes (§7)

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Feature { key }
    ... on Plan { key }
    ... on Tenant { key }
    ... on User { key }
    ... on Entitlement { reason }
    ... on FeatureFlag { key }
    ... on ApiRoute { pathPattern }
  }
}
"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def _one_of_each(api: Api) -> dict[str, str]:
    """The global id of one object of every Node type."""
    ids = {
        "Feature": (await make_feature(api, "sso"))["id"],
        "Plan": (await make_plan(api, "pro", {"sso": True}))["id"],
        "Tenant": (await make_tenant(api, "acme"))["id"],
        "User": (await make_user(api, "ann", ["acme"]))["id"],
    }
    ids["Entitlement"] = (await grant(api, plan_key="pro", tenant_key="acme", reason="r"))["id"]
    flag = await api.data(
        'mutation { createFeatureFlag(input: {key: "beta", name: "Beta", on: true, featureKeys: ["sso"]}) { id } }'
    )
    ids["FeatureFlag"] = flag["createFeatureFlag"]["id"]
    route = await api.data(
        'mutation { createApiRoute(input: {method: "GET", pathPattern: "/x", policy: ALLOW}) { id } }'
    )
    ids["ApiRoute"] = route["createApiRoute"]["id"]
    return ids


async def test_every_node_type_resolves_by_its_id(api: Api) -> None:
    # given
    ids = await _one_of_each(api)
    expected = {
        "Feature": {"key": "sso"},
        "Plan": {"key": "pro"},
        "Tenant": {"key": "acme"},
        "User": {"key": "ann"},
        "Entitlement": {"reason": "r"},
        "FeatureFlag": {"key": "beta"},
        "ApiRoute": {"pathPattern": "/x"},
    }
    for type_name, global_id in ids.items():
        # when
        node = (await api.data(NODE, {"id": global_id}))["node"]
        # then
        assert node == {"__typename": type_name, "id": global_id, **expected[type_name]}
    nodes = (await api.data(NODES, {"ids": list(ids.values())}))["nodes"]
    assert [n["__typename"] for n in nodes] == list(ids)


async def test_unknown_and_deleted_nodes_are_null(api: Api) -> None:
    # given
    ids = await _one_of_each(api)
    feature = await api.data(
        'mutation { createFeature(input: {key: "gone", name: "G", type: BOOLEAN}) { id } }'
    )
    gone_id = feature["createFeature"]["id"]
    await api.data('mutation { deleteFeature(key: "gone") { deletedId } }')
    unknown = base64.b64encode(b"Tenant:999999").decode()
    unknown_type = base64.b64encode(b"Spaceship:1").decode()
    # when
    data = await api.data(NODES, {"ids": [ids["Tenant"], gone_id, unknown, unknown_type, ids["Plan"]]})
    single = await api.data(NODE, {"id": gone_id})
    # then
    assert [n and n["__typename"] for n in data["nodes"]] == ["Tenant", None, None, None, "Plan"]
    assert single["node"] is None


MALFORMED_IDS = [
    "not base64!",
    "",
    base64.b64encode(b"Tenant:abc").decode(),
    base64.b64encode(b"\xff\xfe").decode(),
]


async def test_a_malformed_node_id_is_bad_user_input(api: Api) -> None:
    for bad_id in MALFORMED_IDS:
        # when
        single = await api.error(NODE, {"id": bad_id})
        many = await api.error(NODES, {"ids": [bad_id]})
        # then
        assert single["extensions"]["code"] == "BAD_USER_INPUT", bad_id
        assert many["extensions"]["code"] == "BAD_USER_INPUT", bad_id
