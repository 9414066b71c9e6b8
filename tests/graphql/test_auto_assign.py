"""Auto-assigned plans and plan ranks through the API (contract §11), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import Api
from tests.factories import UPSERT_TENANTS, grant, make_feature, make_plan, make_tenants

TENANT_ENTITLEMENTS = """
query($key: String!) {
  tenant(key: $key) {
    createdAt
    entitlements { edges { node { plan { key } planVersion reason startDate expirationDate assignLevel } } }
  }
}
"""
UPDATE_PLAN = """
mutation($key: String!, $input: UpdatePlanInput!) { updatePlan(key: $key, input: $input) { key autoAssign rank } }
"""


async def entitlements_of(api: Api, tenant: str) -> tuple[str, list[dict[str, Any]]]:
    data = (await api.data(TENANT_ENTITLEMENTS, {"key": tenant}))["tenant"]
    return data["createdAt"], [edge["node"] for edge in data["entitlements"]["edges"]]


def parse(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


async def test_a_tenant_created_after_a_plan_has_auto_assign_gets_it_from_its_creation(api: Api) -> None:
    # given a 14-day trial plan that new tenants get, and a plan they do not
    await make_feature(api, "sso")
    trial = await api.data(
        'mutation { createPlan(input: {key: "trial", name: "Trial", autoAssign: true, '
        "defaultTimeLimitationDays: 14}) { autoAssign rank } }"
    )
    assert trial["createPlan"] == {"autoAssign": True, "rank": None}
    await make_plan(api, "pro", {"sso": True})
    # when
    await make_tenants(api, "acme")
    # then
    created_at, entitlements = await entitlements_of(api, "acme")
    assert entitlements == [
        {
            "plan": {"key": "trial"},
            "planVersion": 1,
            "reason": "auto-assigned",
            "startDate": created_at,
            "expirationDate": entitlements[0]["expirationDate"],
            "assignLevel": "TENANT",
        }
    ]
    assert parse(entitlements[0]["expirationDate"]) - parse(created_at) == timedelta(days=14)


async def test_only_created_tenants_get_auto_assigned_plans_not_updated_ones(api: Api) -> None:
    # given acme exists before the plan is auto-assigned
    await make_tenants(api, "acme")
    await make_plan(api, "free")
    await api.data(UPDATE_PLAN, {"key": "free", "input": {"autoAssign": True}})
    # when one batch updates acme and creates globex and initech; then acme and globex again
    await make_tenants(api, "acme", "globex", "initech", name="renamed")
    await make_tenants(api, "acme", "globex", name="again")
    # then
    assert (await entitlements_of(api, "acme"))[1] == []
    for key in ("globex", "initech"):
        _, entitlements = await entitlements_of(api, key)
        assert [(e["plan"]["key"], e["reason"], e["expirationDate"]) for e in entitlements] == [
            ("free", "auto-assigned", None)
        ]
    changes = await api.data("{ changes(filter: {kinds: [ENTITLEMENT_GRANTED]}) { totalCount } }")
    assert changes["changes"]["totalCount"] == 2


async def test_auto_assignment_stops_when_the_plan_stops_auto_assigning(api: Api) -> None:
    # given
    await make_plan(api, "free", autoAssign=True)
    await make_tenants(api, "acme")
    # when
    data = await api.data(UPDATE_PLAN, {"key": "free", "input": {"autoAssign": False}})
    await make_tenants(api, "globex")
    # then
    assert data["updatePlan"]["autoAssign"] is False
    assert len((await entitlements_of(api, "acme"))[1]) == 1
    assert (await entitlements_of(api, "globex"))[1] == []


async def test_new_tenants_get_every_auto_assigned_plan_on_its_current_version(api: Api) -> None:
    # given
    await make_feature(api, "seats", "LIMIT")
    await make_plan(api, "free", {"seats": 1}, autoAssign=True)
    await make_plan(api, "addon", autoAssign=True)
    await api.data(
        'mutation { publishPlanVersion(key: "free", features: [{featureKey: "seats", value: 3}]) { version } }'
    )
    # when
    await make_tenants(api, "acme")
    # then
    entitlements = (await entitlements_of(api, "acme"))[1]
    assert sorted((e["plan"]["key"], e["planVersion"]) for e in entitlements) == [("addon", 1), ("free", 2)]
    decision = await api.data('{ isEntitledTo(tenantKey: "acme", featureKey: "seats") { value } }')
    assert decision["isEntitledTo"] == {"value": 3}


async def test_a_non_atomic_batch_auto_assigns_only_its_good_items(api: Api) -> None:
    # given
    await make_plan(api, "free", autoAssign=True)
    # when
    data = await api.data(
        'mutation { upsertTenants(input: [{key: "acme"}, {key: "bad key!"}], atomic: false) '
        "{ tenants { key } errors { index } } }"
    )
    # then
    assert data["upsertTenants"] == {"tenants": [{"key": "acme"}], "errors": [{"index": 1}]}
    assert len((await entitlements_of(api, "acme"))[1]) == 1
    total = await api.data("{ entitlements { totalCount } }")
    assert total["entitlements"]["totalCount"] == 1


async def test_a_large_upsert_auto_assigns_every_new_tenant(api: Api) -> None:
    # given
    await make_plan(api, "free", autoAssign=True)
    await make_tenants(api, *(f"t-{n}" for n in range(500)))
    # when: 500 updated and 1,000 created
    payload = await api.data(UPSERT_TENANTS, {"input": [{"key": f"t-{n}"} for n in range(1500)]})
    # then
    assert payload["upsertTenants"]["errors"] == []
    total = await api.data('{ entitlements(filter: {planKeys: ["free"]}) { totalCount } }')
    assert total["entitlements"]["totalCount"] == 1500


RANKED = """
{ isEntitledTo(tenantKey: "acme", featureKey: "sso") { justification upgradeOptions { key rank } } }
"""


async def test_upgrade_options_are_ordered_by_rank_with_unranked_plans_last_then_by_key(api: Api) -> None:
    # given four plans with sso; ranks are set on create and on update
    await make_feature(api, "sso")
    await make_plan(api, "zeta", {"sso": True})
    await make_plan(api, "alpha", {"sso": True})
    await make_plan(api, "team", {"sso": True}, rank=2)
    await make_plan(api, "business", {"sso": True}, rank=5)
    await api.data(UPDATE_PLAN, {"key": "business", "input": {"rank": 1}})
    await make_tenants(api, "acme")
    # when
    data = await api.data(RANKED)
    # then
    assert data["isEntitledTo"] == {
        "justification": "MISSING_FEATURE",
        "upgradeOptions": [
            {"key": "business", "rank": 1},
            {"key": "team", "rank": 2},
            {"key": "alpha", "rank": None},
            {"key": "zeta", "rank": None},
        ],
    }
    # and a rank set to null goes last again
    await api.data(UPDATE_PLAN, {"key": "business", "input": {"rank": None}})
    keys = [p["key"] for p in (await api.data(RANKED))["isEntitledTo"]["upgradeOptions"]]
    assert keys == ["team", "alpha", "business", "zeta"]


async def test_plan_updates_of_auto_assign_and_rank_are_changes(api: Api) -> None:
    await make_plan(api, "free")
    await api.data(UPDATE_PLAN, {"key": "free", "input": {"autoAssign": True, "rank": 3}})
    data = await api.data("{ changes(filter: {kinds: [PLAN_UPDATED]}) { edges { node { payload } } } }")
    payload = data["changes"]["edges"][0]["node"]["payload"]
    assert (payload["autoAssign"], payload["rank"]) == (True, 3)
    assert (payload["before"]["autoAssign"], payload["before"]["rank"]) == (False, None)


async def test_an_existing_grant_still_works_beside_an_auto_assigned_one(api: Api) -> None:
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"sso": True})
    await make_plan(api, "free", autoAssign=True)
    await make_tenants(api, "acme")
    await grant(api, plan_key="pro", tenant_key="acme")
    assert len((await entitlements_of(api, "acme"))[1]) == 2


async def test_concurrent_upserts_of_the_same_new_tenants_auto_assign_each_once(api: Api) -> None:
    # given
    await make_plan(api, "free", autoAssign=True)
    keys = [{"key": f"t-{n}"} for n in range(200)]
    # when: two batches race to create the same tenants (each also updates the ones the other created)
    results = await asyncio.gather(*(api.data(UPSERT_TENANTS, {"input": keys}) for _ in range(2)))
    # then
    assert all(r["upsertTenants"]["errors"] == [] for r in results)
    total = await api.data("{ entitlements { totalCount } }")
    assert total["entitlements"]["totalCount"] == 200
