"""Plan versions and grandfathering through the API (contract §11), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import grant, make_feature, make_plan, make_tenants
from tests.graphql.test_user_tokens import user_token

PLAN = """
query($key: String!) {
  plan(key: $key) {
    version features { feature { key } value }
    versions { version createdAt entitlementCount features { feature { key } value } }
  }
}
"""
PUBLISH = """
mutation($key: String!, $features: [PlanFeatureInput!]!) {
  publishPlanVersion(key: $key, features: $features) { key version features { feature { key } value } }
}
"""
MIGRATE = """
mutation($key: String!, $from: Int!, $to: Int!) {
  migratePlanEntitlements(key: $key, fromVersion: $from, toVersion: $to) { migratedCount }
}
"""
SEATS = """
query($tenant: String!) { isEntitledTo(tenantKey: $tenant, featureKey: "seats") { isEntitled value } }
"""
ENTITLEMENT = "query($id: ID!) { node(id: $id) { ... on Entitlement { planVersion } } }"
CHANGES = """
query($kinds: [ChangeKind!]) { changes(filter: {kinds: $kinds}) { edges { node { kind planKey tenantKey payload } } } }
"""


def features(**values: Any) -> list[dict[str, Any]]:
    return [{"featureKey": key, "value": value} for key, value in values.items()]


async def seats(api: Api, tenant: str) -> Any:
    return (await api.data(SEATS, {"tenant": tenant}))["isEntitledTo"]["value"]


async def plan_version(api: Api, entitlement_id: str) -> Any:
    return (await api.data(ENTITLEMENT, {"id": entitlement_id}))["node"]["planVersion"]


async def given_pro_on_two_versions(api: Api) -> dict[str, str]:
    """pro v1 (5 seats) granted to acme and (revoked) to initech; v2 (10 seats, sso) granted to globex."""
    await make_feature(api, "seats", "LIMIT")
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"seats": 5})
    await make_tenants(api, "acme", "globex", "initech")
    acme = await grant(api, plan_key="pro", tenant_key="acme")
    initech = await grant(api, plan_key="pro", tenant_key="initech")
    await api.data(
        "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount } }", {"ids": [initech["id"]]}
    )
    assert await seats(api, "acme") == 5  # decided (and cached) before the new version
    await api.data(PUBLISH, {"key": "pro", "features": features(seats=10, sso=True)})
    globex = await grant(api, plan_key="pro", tenant_key="globex")
    return {"acme": acme["id"], "globex": globex["id"], "initech": initech["id"]}


async def test_a_plan_starts_at_version_1(api: Api) -> None:
    # given
    await make_feature(api, "seats", "LIMIT")
    # when
    await make_plan(api, "pro", {"seats": 5})
    # then
    plan = (await api.data(PLAN, {"key": "pro"}))["plan"]
    assert plan["version"] == 1
    assert [(v["version"], v["entitlementCount"], v["features"]) for v in plan["versions"]] == [
        (1, 0, [{"feature": {"key": "seats"}, "value": 5}])
    ]


async def test_publishing_creates_the_next_version_and_plan_features_are_the_current_ones(api: Api) -> None:
    # given
    await make_feature(api, "seats", "LIMIT")
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"seats": 5})
    # when
    published = (await api.data(PUBLISH, {"key": "pro", "features": features(seats=10, sso=True)}))[
        "publishPlanVersion"
    ]
    # then
    current = [{"feature": {"key": "seats"}, "value": 10}, {"feature": {"key": "sso"}, "value": True}]
    assert published == {"key": "pro", "version": 2, "features": current}
    plan = (await api.data(PLAN, {"key": "pro"}))["plan"]
    assert plan["features"] == current
    assert [(v["version"], v["features"]) for v in plan["versions"]] == [
        (1, [{"feature": {"key": "seats"}, "value": 5}]),
        (2, current),
    ]
    assert plan["versions"][0]["createdAt"] <= plan["versions"][1]["createdAt"]


async def test_existing_entitlements_keep_their_version_and_are_decided_by_it(api: Api) -> None:
    # given / when
    ids = await given_pro_on_two_versions(api)
    # then
    assert await plan_version(api, ids["acme"]) == 1
    assert await plan_version(api, ids["globex"]) == 2
    assert await seats(api, "acme") == 5
    assert await seats(api, "globex") == 10
    sso = '{ isEntitledTo(tenantKey: "acme", featureKey: "sso") { isEntitled justification } }'
    assert (await api.data(sso))["isEntitledTo"] == {"isEntitled": False, "justification": "MISSING_FEATURE"}
    # entitlementCount leaves out the revoked one
    plan = (await api.data(PLAN, {"key": "pro"}))["plan"]
    assert [(v["version"], v["entitlementCount"]) for v in plan["versions"]] == [(1, 1), (2, 1)]


async def test_update_plan_features_edits_the_current_version_in_place(api: Api) -> None:
    # given
    await given_pro_on_two_versions(api)
    assert await seats(api, "globex") == 10
    # when
    await api.data(
        'mutation($f: [PlanFeatureInput!]) { updatePlan(key: "pro", input: {features: $f}) { version } }',
        {"f": features(seats=20)},
    )
    # then
    assert await seats(api, "globex") == 20
    assert await seats(api, "acme") == 5
    plan = (await api.data(PLAN, {"key": "pro"}))["plan"]
    assert plan["version"] == 2
    assert plan["versions"][0]["features"] == [{"feature": {"key": "seats"}, "value": 5}]
    assert plan["versions"][1]["features"] == [{"feature": {"key": "seats"}, "value": 20}]


async def test_migrating_moves_the_live_entitlements_of_a_version(api: Api) -> None:
    # given
    ids = await given_pro_on_two_versions(api)
    # when
    data = await api.data(MIGRATE, {"key": "pro", "from": 1, "to": 2})
    # then: acme moved (its decision follows at once); the revoked one is history and stays
    assert data["migratePlanEntitlements"] == {"migratedCount": 1}
    assert await plan_version(api, ids["acme"]) == 2
    assert await plan_version(api, ids["initech"]) == 1
    assert await seats(api, "acme") == 10
    plan = (await api.data(PLAN, {"key": "pro"}))["plan"]
    assert [(v["version"], v["entitlementCount"]) for v in plan["versions"]] == [(1, 0), (2, 2)]
    updated = (await api.data(CHANGES, {"kinds": ["ENTITLEMENT_UPDATED"]}))["changes"]["edges"]
    assert [(c["node"]["tenantKey"], c["node"]["planKey"]) for c in updated] == [("acme", "pro")]
    payload = updated[0]["node"]["payload"]
    assert (payload["planVersion"], payload["before"]["planVersion"]) == (2, 1)
    # and back: the same entitlement can be moved to an older version
    assert (await api.data(MIGRATE, {"key": "pro", "from": 2, "to": 1}))["migratePlanEntitlements"] == {
        "migratedCount": 2
    }
    assert await seats(api, "globex") == 5


async def test_publishing_appends_a_plan_change_with_the_new_version(api: Api) -> None:
    # given
    await given_pro_on_two_versions(api)
    # when
    changes = (await api.data(CHANGES, {"kinds": ["PLAN_CREATED", "PLAN_UPDATED"]}))["changes"]["edges"]
    # then
    assert [c["node"]["kind"] for c in changes] == ["PLAN_CREATED", "PLAN_UPDATED"]
    payload = changes[1]["node"]["payload"]
    assert payload["version"] == 2
    assert payload["before"]["version"] == 1
    assert payload["features"] == [{"featureKey": "seats", "value": 10}, {"featureKey": "sso", "value": True}]


@pytest.mark.parametrize(
    ("document", "variables", "code", "field"),
    [
        (MIGRATE, {"key": "pro", "from": 3, "to": 1}, "BAD_USER_INPUT", "fromVersion"),
        (MIGRATE, {"key": "pro", "from": 1, "to": 9}, "BAD_USER_INPUT", "toVersion"),
        (MIGRATE, {"key": "pro", "from": 2, "to": 2}, "BAD_USER_INPUT", "toVersion"),
        (MIGRATE, {"key": "nope", "from": 1, "to": 2}, "NOT_FOUND", "key"),
        (PUBLISH, {"key": "nope", "features": []}, "NOT_FOUND", "key"),
        (PUBLISH, {"key": "pro", "features": features(ghost=1)}, "NOT_FOUND", "features[0].featureKey"),
        (PUBLISH, {"key": "pro", "features": features(seats=-1)}, "BAD_USER_INPUT", "features[0].value"),
        (
            PUBLISH,
            {"key": "pro", "features": [*features(seats=1), *features(seats=2)]},
            "BAD_USER_INPUT",
            "features[1].featureKey",
        ),
    ],
)
async def test_bad_version_input_is_refused_naming_the_field_and_writes_nothing(
    api: Api, document: str, variables: dict[str, Any], code: str, field: str
) -> None:
    # given
    await make_feature(api, "seats", "LIMIT")
    await make_plan(api, "pro", {"seats": 5})
    await api.data(PUBLISH, {"key": "pro", "features": features(seats=10)})
    # when
    error = await api.error(document, variables)
    # then
    assert error["extensions"] == {"code": code, "field": field}
    plan = (await api.data(PLAN, {"key": "pro"}))["plan"]
    assert [v["version"] for v in plan["versions"]] == [1, 2]


@pytest.mark.parametrize(
    "document",
    [
        'mutation { publishPlanVersion(key: "pro", features: []) { version } }',
        'mutation { migratePlanEntitlements(key: "pro", fromVersion: 1, toVersion: 1) { migratedCount } }',
        'mutation { changePlan(entitlementId: "RW50aXRsZW1lbnQ6MQ==", toPlanKey: "pro") { started { id } } }',
        'mutation { updatePlan(key: "pro", input: {autoAssign: true, rank: 1}) { key } }',
        '{ plan(key: "pro") { versions { version } } }',
    ],
)
async def test_a_user_token_cannot_manage_plans(api: Api, document: str) -> None:
    # given
    await make_plan(api, "pro")
    # when
    error = await api.error(document, token=user_token("alice", "acme"))
    # then
    assert error["extensions"]["code"] == "FORBIDDEN"
