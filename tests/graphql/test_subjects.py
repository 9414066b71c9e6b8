"""Tenants, users and memberships through the API (contract §3, §7)."""

from __future__ import annotations

from tests.conftest import Api
from tests.factories import UPSERT_TENANTS, UPSERT_USERS, make_tenant, make_user

TENANT = """
query($key: String!) {
  tenant(key: $key) { id key name metadata members { totalCount edges { node { key } } } }
}
"""
USER = """
query($key: String!) {
  user(key: $key) { id key name email metadata tenants { totalCount edges { node { key } } } }
}
"""
UPSERT_TENANTS_ATOMIC = """
mutation($input: [TenantInput!]!, $atomic: Boolean) {
  upsertTenants(input: $input, atomic: $atomic) { tenants { key name } errors { index code field } }
}
"""
UPSERT_USERS_ATOMIC = """
mutation($input: [UserInput!]!, $atomic: Boolean) {
  upsertUsers(input: $input, atomic: $atomic) { users { key } errors { index code field message } }
}
"""
ADD_MEMBERS = """
mutation($t: String!, $u: [String!]!) {
  addMembers(tenantKey: $t, userKeys: $u) { key members { edges { node { key } } } }
}
"""
REMOVE_MEMBERS = """
mutation($t: String!, $u: [String!]!) {
  removeMembers(tenantKey: $t, userKeys: $u) { key members { edges { node { key } } } }
}
"""
TENANTS = """
query($filter: KeyFilter) { tenants(filter: $filter) { totalCount edges { node { key } } } }
"""
USERS = """
query($filter: KeyFilter) { users(filter: $filter) { totalCount edges { node { key } } } }
"""


def _keys(connection: dict[str, object]) -> list[str]:
    return [edge["node"]["key"] for edge in connection["edges"]]  # type: ignore[attr-defined, index]


async def test_upsert_tenants_inserts_then_updates_keeping_omitted_fields(api: Api) -> None:
    # given
    created = await make_tenant(api, "acme", name="Acme", metadata={"region": "eu"})
    # when
    data = await api.data(UPSERT_TENANTS, {"input": [{"key": "acme", "name": "Acme Inc."}]})
    # then
    updated = data["upsertTenants"]["tenants"][0]
    assert updated["id"] == created["id"]
    assert updated["name"] == "Acme Inc."
    assert updated["metadata"] == {"region": "eu"}
    assert (await api.data(TENANTS))["tenants"]["totalCount"] == 1


async def test_upsert_tenants_sets_metadata_without_touching_the_name(api: Api) -> None:
    # given
    await make_tenant(api, "acme", name="Acme")
    # when
    await api.data(UPSERT_TENANTS, {"input": [{"key": "acme", "metadata": {"tier": 2}}]})
    # then
    tenant = (await api.data(TENANT, {"key": "acme"}))["tenant"]
    assert tenant["name"] == "Acme"
    assert tenant["metadata"] == {"tier": 2}


async def test_upsert_users_inserts_then_updates_keeping_omitted_fields(api: Api) -> None:
    # given
    created = await make_user(api, "bob", name="Bob", email="bob@example.com", metadata={"role": "dev"})
    # when
    data = await api.data(UPSERT_USERS, {"input": [{"key": "bob", "email": "robert@example.com"}]})
    # then
    updated = data["upsertUsers"]["users"][0]
    assert updated["id"] == created["id"]
    assert updated["name"] == "Bob"
    assert updated["email"] == "robert@example.com"
    assert updated["metadata"] == {"role": "dev"}


async def test_upsert_accepts_subject_keys_like_uuids_and_emails(api: Api) -> None:
    # given
    keys = ["3f2c1e9a-7b4d-4c1e-9a2b-1c2d3e4f5a6b", "jane.doe+x@example.com".replace("+", "_"), "org:42"]
    # when
    data = await api.data(UPSERT_TENANTS, {"input": [{"key": k} for k in keys]})
    # then
    assert [t["key"] for t in data["upsertTenants"]["tenants"]] == keys


async def test_a_bad_subject_key_fails_the_atomic_batch_with_its_index(api: Api) -> None:
    # when
    data = await api.data(
        UPSERT_TENANTS_ATOMIC, {"input": [{"key": "good"}, {"key": "bad key"}, {"key": "-x"}]}
    )
    # then
    payload = data["upsertTenants"]
    assert payload["tenants"] == []
    assert [(e["index"], e["code"], e["field"]) for e in payload["errors"]] == [
        (1, "BAD_USER_INPUT", "key"),
        (2, "BAD_USER_INPUT", "key"),
    ]
    assert (await api.data(TENANTS))["tenants"]["totalCount"] == 0


async def test_a_non_atomic_tenant_upsert_writes_the_good_items(api: Api) -> None:
    # when
    data = await api.data(
        UPSERT_TENANTS_ATOMIC, {"input": [{"key": "good"}, {"key": "bad key"}], "atomic": False}
    )
    # then
    assert [t["key"] for t in data["upsertTenants"]["tenants"]] == ["good"]
    assert [e["index"] for e in data["upsertTenants"]["errors"]] == [1]
    assert _keys((await api.data(TENANTS))["tenants"]) == ["good"]


async def test_tenant_keys_on_a_user_add_memberships_and_keep_existing_ones(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "bob", ["acme"])
    # when
    await make_user(api, "bob", ["globex"])
    # then
    user = (await api.data(USER, {"key": "bob"}))["user"]
    assert user["tenants"]["totalCount"] == 2
    assert sorted(_keys(user["tenants"])) == ["acme", "globex"]
    tenant = (await api.data(TENANT, {"key": "acme"}))["tenant"]
    assert _keys(tenant["members"]) == ["bob"]


async def test_an_unknown_tenant_in_tenant_keys_is_a_not_found_item_error(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    # when
    data = await api.data(
        UPSERT_USERS_ATOMIC,
        {"input": [{"key": "ann", "tenantKeys": ["acme"]}, {"key": "bob", "tenantKeys": ["acme", "ghost"]}]},
    )
    # then
    payload = data["upsertUsers"]
    assert payload["users"] == []
    assert [(e["index"], e["code"], e["field"]) for e in payload["errors"]] == [
        (1, "NOT_FOUND", "tenantKeys")
    ]
    assert "ghost" in payload["errors"][0]["message"]
    assert (await api.data(USERS))["users"]["totalCount"] == 0


async def test_an_unknown_tenant_in_a_non_atomic_user_upsert_only_skips_that_user(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    # when
    data = await api.data(
        UPSERT_USERS_ATOMIC,
        {
            "input": [{"key": "ann", "tenantKeys": ["acme"]}, {"key": "bob", "tenantKeys": ["ghost"]}],
            "atomic": False,
        },
    )
    # then
    assert [u["key"] for u in data["upsertUsers"]["users"]] == ["ann"]
    assert [(e["index"], e["code"]) for e in data["upsertUsers"]["errors"]] == [(1, "NOT_FOUND")]
    assert _keys((await api.data(USERS))["users"]) == ["ann"]


async def test_add_members_and_remove_members_change_the_tenant_members(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    for key in ("ann", "bob", "cid"):
        await make_user(api, key)
    # when
    added = await api.data(ADD_MEMBERS, {"t": "acme", "u": ["ann", "bob", "cid"]})
    removed = await api.data(REMOVE_MEMBERS, {"t": "acme", "u": ["bob"]})
    # then
    assert _keys(added["addMembers"]["members"]) == ["ann", "bob", "cid"]
    assert _keys(removed["removeMembers"]["members"]) == ["ann", "cid"]
    bob = (await api.data(USER, {"key": "bob"}))["user"]
    assert bob["tenants"]["totalCount"] == 0


async def test_adding_a_member_twice_keeps_one_membership(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    await make_user(api, "ann", ["acme"])
    # when
    data = await api.data(ADD_MEMBERS, {"t": "acme", "u": ["ann"]})
    # then
    assert _keys(data["addMembers"]["members"]) == ["ann"]


async def test_add_members_with_an_unknown_user_is_not_found_and_adds_nobody(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    await make_user(api, "ann")
    # when
    error = await api.error(ADD_MEMBERS, {"t": "acme", "u": ["ann", "ghost"]})
    # then
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert "ghost" in error["message"]
    assert (await api.data(TENANT, {"key": "acme"}))["tenant"]["members"]["totalCount"] == 0


async def test_add_members_to_an_unknown_tenant_is_not_found(api: Api) -> None:
    await make_user(api, "ann")
    error = await api.error(ADD_MEMBERS, {"t": "ghost", "u": ["ann"]})
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_members_and_tenants_connections_page(api: Api) -> None:
    # given
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    for index in range(5):
        await make_user(api, f"user-{index}", ["acme"] if index % 2 else ["acme", "globex"])
    # when
    data = await api.data(
        """
        {
          tenant(key: "acme") {
            members(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { key } } }
          }
          user(key: "user-0") { tenants(last: 1) { totalCount pageInfo { hasPreviousPage } edges { node { key } } } }
        }
        """
    )
    # then
    members = data["tenant"]["members"]
    assert members["totalCount"] == 5
    assert _keys(members) == ["user-0", "user-1"]
    assert members["pageInfo"]["hasNextPage"] is True
    tenants = data["user"]["tenants"]
    assert tenants["totalCount"] == 2
    assert _keys(tenants) == ["globex"]
    assert tenants["pageInfo"]["hasPreviousPage"] is True


async def test_tenants_and_users_can_be_filtered_by_key_and_search(api: Api) -> None:
    # given
    await make_tenant(api, "acme", name="Acme Corp")
    await make_tenant(api, "globex", name="Globex")
    await make_tenant(api, "initech", name="Initech 100%")
    await make_user(api, "ann", name="Ann Acme")
    await make_user(api, "bob")
    # when
    by_key = await api.data(TENANTS, {"filter": {"keys": ["globex", "nope"]}})
    by_name = await api.data(TENANTS, {"filter": {"search": "CORP"}})
    by_literal_percent = await api.data(TENANTS, {"filter": {"search": "%"}})
    users = await api.data(USERS, {"filter": {"search": "acme"}})
    # then
    assert _keys(by_key["tenants"]) == ["globex"]
    assert _keys(by_name["tenants"]) == ["acme"]
    assert _keys(by_literal_percent["tenants"]) == ["initech"]
    assert _keys(users["users"]) == ["ann"]


async def test_an_unknown_tenant_or_user_key_reads_as_null(api: Api) -> None:
    data = await api.data('{ tenant(key: "ghost") { key } user(key: "ghost") { key } }')
    assert data == {"tenant": None, "user": None}
