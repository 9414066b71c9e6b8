"""Nested fields load with dataloaders (§7): a page's SQL statement count does not grow with its size."""

from __future__ import annotations

from tests.conftest import Api
from tests.factories import batch_grant, entitlement_input, make_feature, make_plan, make_tenants, make_user

PAGE = """
query($first: Int!) {
  entitlements(first: $first) {
    totalCount
    edges {
      node {
        id status
        plan { key features { feature { key } value } }
        feature { key }
        tenant { key }
        user { key }
      }
    }
  }
}
"""
TENANTS = [f"tenant-{n}" for n in range(6)]
PLANS = ["basic", "pro", "enterprise"]


async def _seed(api: Api) -> None:
    """120 grants of every level across 6 tenants, 12 users, 3 plans and 2 features."""
    await make_feature(api, "sso")
    await make_feature(api, "seats", "LIMIT")
    for index, key in enumerate(PLANS):
        await make_plan(api, key, {"sso": index > 0, "seats": 5 * (index + 1)})
    await make_tenants(api, *TENANTS)
    for n in range(12):
        await make_user(api, f"user-{n}", [TENANTS[n % len(TENANTS)]])
    items = []
    for n in range(120):
        tenant = TENANTS[n % len(TENANTS)]
        user = f"user-{n % 12}"
        kind = n % 4
        if kind == 0:
            items.append(entitlement_input(plan_key=PLANS[n % 3], tenant_key=tenant))
        elif kind == 1:
            # user-k belongs to TENANTS[k % 6], and n % 12 % 6 == n % 6: always a member here
            items.append(entitlement_input(plan_key=PLANS[n % 3], tenant_key=tenant, user_key=user))
        elif kind == 2:
            items.append(entitlement_input(feature_key="seats", value=n, user_key=user))
        else:
            items.append(entitlement_input(feature_key="sso", value=True, tenant_key=tenant))
    payload = await batch_grant(api, items)
    assert payload["errors"] == []


async def _statements_for(api: Api, first: int) -> tuple[int, list[str]]:
    await api.data(PAGE, {"first": first})  # warm per-process caches (catalog snapshot, key lookups)
    api.statements.clear()
    data = await api.data(PAGE, {"first": first})
    edges = data["entitlements"]["edges"]
    assert len(edges) == first
    assert data["entitlements"]["totalCount"] == 120
    statements = [s for s in api.statements if _is_request_query(s)]
    return len(statements), statements


def _is_request_query(statement: str) -> bool:
    """A query the request ran: not transaction control (SQLite's explicit BEGIN), not the
    background revision poll that shares the engine (every ENTITLE_CACHE_POLL_MS)."""
    text = statement.strip().upper()
    return not text.startswith(("BEGIN", "COMMIT", "ROLLBACK")) and "FROM REVISIONS" not in text


async def test_a_page_of_100_entitlements_runs_as_many_statements_as_a_page_of_10(api: Api) -> None:
    # given
    await _seed(api)
    # when
    small, small_sql = await _statements_for(api, 10)
    large, large_sql = await _statements_for(api, 100)
    # then
    assert small == large, "\n".join(s[:90] for s in ["--small", *small_sql, "--large", *large_sql])
    assert large <= 6, "\n".join(s[:120] for s in large_sql)
    # the page, its count, the tenants and the users: each one batched statement (the catalog is cached)
    tables = sorted(
        next(t for t in ("COUNT(", "FROM ENTITLEMENTS", "FROM TENANTS", "FROM USERS") if t in s.upper())
        for s in large_sql
    )
    assert tables == ["COUNT(", "FROM ENTITLEMENTS", "FROM TENANTS", "FROM USERS"], large_sql


async def test_nested_fields_are_resolved_correctly_through_the_loaders(api: Api) -> None:
    # given
    await _seed(api)
    # when
    edges = (await api.data(PAGE, {"first": 8}))["entitlements"]["edges"]
    # then
    nodes = [edge["node"] for edge in edges]
    assert nodes[0]["plan"]["key"] == "basic"
    assert nodes[0]["plan"]["features"] == [
        {"feature": {"key": "sso"}, "value": False},
        {"feature": {"key": "seats"}, "value": 5},
    ]
    assert (nodes[0]["tenant"], nodes[0]["user"], nodes[0]["feature"]) == ({"key": "tenant-0"}, None, None)
    assert (nodes[1]["plan"]["key"], nodes[1]["tenant"], nodes[1]["user"]) == (
        "pro",
        {"key": "tenant-1"},
        {"key": "user-1"},
    )
    assert (nodes[2]["plan"], nodes[2]["feature"], nodes[2]["tenant"], nodes[2]["user"]) == (
        None,
        {"key": "seats"},
        None,
        {"key": "user-2"},
    )
    assert (nodes[3]["feature"], nodes[3]["tenant"]) == ({"key": "sso"}, {"key": "tenant-3"})
    assert nodes[5]["user"] == {"key": "user-5"}
    assert all(node["status"] == "ACTIVE" for node in nodes)


NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Tenant { key } ... on User { key } } }"


async def test_nodes_loads_many_ids_with_as_many_statements_as_a_few(api: Api) -> None:
    # given
    await _seed(api)
    tenants = (await api.data("{ tenants(first: 6) { edges { node { id } } } }"))["tenants"]["edges"]
    users = (await api.data("{ users(first: 12) { edges { node { id } } } }"))["users"]["edges"]
    few = [tenants[0]["node"]["id"], users[0]["node"]["id"]]
    many = [e["node"]["id"] for e in tenants + users]
    # when
    counts = []
    for ids in (few, many):
        api.statements.clear()
        nodes = (await api.data(NODES, {"ids": ids}))["nodes"]
        counts.append(len([s for s in api.statements if _is_request_query(s)]))
        assert [n["id"] for n in nodes] == ids
    # then
    assert counts[0] == counts[1] == 2


NESTED_CONNECTIONS = """
query($first: Int!) {
  tenants(first: $first) {
    edges {
      node {
        key
        members(first: 2) { totalCount edges { node { key tenants(first: 3) { totalCount edges { node { key } } } } } }
        entitlements(first: 3, orderBy: {field: CREATED_AT, direction: DESC}) {
          totalCount
          pageInfo { hasNextPage }
          edges { node { id plan { key } } }
        }
      }
    }
  }
  plans { edges { node { key entitlements(first: 2) { totalCount edges { node { tenant { key } } } } } } }
}
"""


async def _nested_statements_for(api: Api, first: int) -> tuple[int, dict[str, object]]:
    await api.data(NESTED_CONNECTIONS, {"first": first})
    api.statements.clear()
    data = await api.data(NESTED_CONNECTIONS, {"first": first})
    assert len(data["tenants"]["edges"]) == first
    return len([s for s in api.statements if _is_request_query(s)]), data


async def test_nested_connections_of_a_page_of_parents_run_as_many_statements_for_2_parents_as_for_6(
    api: Api,
) -> None:
    # given
    await _seed(api)
    # when
    small, _ = await _nested_statements_for(api, 2)
    large, data = await _nested_statements_for(api, 6)
    # then
    assert small == large
    first = data["tenants"]["edges"][0]["node"]
    assert first["key"] == "tenant-0"
    assert first["members"]["totalCount"] == 2
    assert [m["node"]["key"] for m in first["members"]["edges"]] == ["user-0", "user-6"]
    assert first["members"]["edges"][0]["node"]["tenants"] == {
        "totalCount": 1,
        "edges": [{"node": {"key": "tenant-0"}}],
    }
    # tenant-0 has 120/6 = 20 grants at TENANT or USER level (every n with n % 6 == 0, kinds 0, 1 and 3)
    entitlements = first["entitlements"]
    assert entitlements["totalCount"] == len([n for n in range(0, 120, 6) if n % 4 != 2])
    assert len(entitlements["edges"]) == 3
    assert entitlements["pageInfo"]["hasNextPage"] is True
    plans = {p["node"]["key"]: p["node"]["entitlements"] for p in data["plans"]["edges"]}
    assert sum(p["totalCount"] for p in plans.values()) == 60  # kinds 0 and 1 are plan grants
    assert all(len(p["edges"]) == 2 for p in plans.values())


PLAN_VERSIONS_PAGE = """
query($first: Int!) {
  plans(first: $first) {
    edges { node { key version versions { version createdAt entitlementCount features { feature { key } value } } } }
  }
}
"""


async def _plan_versions_statements_for(api: Api, first: int) -> tuple[int, list[str]]:
    await api.data(PLAN_VERSIONS_PAGE, {"first": first})  # warm the catalog snapshot
    api.statements.clear()
    data = await api.data(PLAN_VERSIONS_PAGE, {"first": first})
    assert len(data["plans"]["edges"]) == first
    assert all(len(edge["node"]["versions"]) == 2 for edge in data["plans"]["edges"])
    statements = [s for s in api.statements if _is_request_query(s)]
    return len(statements), statements


async def test_plan_versions_of_a_page_of_100_plans_run_as_many_statements_as_of_10(api: Api) -> None:
    # given 100 plans with two versions each, every plan granted on both versions
    await make_feature(api, "seats", "LIMIT")
    await make_tenants(api, "acme")
    items = [entitlement_input(plan_key=f"plan-{n:03}", tenant_key="acme") for n in range(100)]
    for n in range(100):
        await make_plan(api, f"plan-{n:03}", {"seats": n})
    assert (await batch_grant(api, items))["errors"] == []  # on version 1
    for n in range(100):
        await api.data(
            "mutation($key: String!) { publishPlanVersion(key: $key, features: []) { version } }",
            {"key": f"plan-{n:03}"},
        )
    assert (await batch_grant(api, items))["errors"] == []  # on version 2
    # when
    small, small_sql = await _plan_versions_statements_for(api, 10)
    large, large_sql = await _plan_versions_statements_for(api, 100)
    # then
    assert small == large, "\n".join(s[:90] for s in ["--small", *small_sql, "--large", *large_sql])
    data = await api.data('{ plan(key: "plan-007") { versions { version entitlementCount } } }')
    assert data["plan"]["versions"] == [
        {"version": 1, "entitlementCount": 1},
        {"version": 2, "entitlementCount": 1},
    ]


FRAGMENT_PAGE = """
query($first: Int!) {
  entitlements(first: $first) {
    totalCount
    edges { node { id ...Holder } }
  }
}
fragment Holder on Entitlement {
  ... on Entitlement { tenant { key } }
  holder: user { key }
}
"""


async def test_tenants_and_users_asked_through_fragments_are_loaded_ahead_of_the_page(api: Api) -> None:
    """The page loads its tenants and users before completing its edges (EntitlementConnection.load_ahead)
    however the selection names them: through a fragment or an alias, the answer is the plain one's and
    the statements do not grow with the page."""
    # given
    await _seed(api)
    plain = await api.data(PAGE, {"first": 100})
    # when
    await api.data(FRAGMENT_PAGE, {"first": 10})
    api.statements.clear()
    small = await api.data(FRAGMENT_PAGE, {"first": 10})
    small_count = len([s for s in api.statements if _is_request_query(s)])
    api.statements.clear()
    large = await api.data(FRAGMENT_PAGE, {"first": 100})
    large_count = len([s for s in api.statements if _is_request_query(s)])
    # then
    assert small_count == large_count
    assert len(small["entitlements"]["edges"]) == 10
    expected = [
        (e["node"]["id"], e["node"]["tenant"], e["node"]["user"]) for e in plain["entitlements"]["edges"]
    ]
    answered = [
        (e["node"]["id"], e["node"]["tenant"], e["node"]["holder"]) for e in large["entitlements"]["edges"]
    ]
    assert answered == expected
    assert any(t is not None for _, t, _ in answered)
    assert any(u is not None for _, _, u in answered)
