from __future__ import annotations

from tests.conftest import Api

CREATE_FEATURE = """
mutation($input: CreateFeatureInput!) { createFeature(input: $input) { id key type tiers } }
"""
IS_ENTITLED = """
query($t: String, $u: String, $f: String) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f) { isEntitled justification value limit remaining sources { kind plan { key } } }
}
"""


async def test_a_tenant_on_a_plan_is_entitled_to_its_feature(api: Api) -> None:
    # given
    await api.data(CREATE_FEATURE, {"input": {"key": "seats", "name": "Seats", "type": "LIMIT"}})
    await api.data(
        'mutation { createPlan(input: {key: "pro", name: "Pro", features: [{featureKey: "seats", value: 10}]}) { key } }'
    )
    await api.data('mutation { upsertTenants(input: [{key: "acme"}]) { tenants { key } errors { code } } }')
    await api.data('mutation { createEntitlement(input: {planKey: "pro", tenantKey: "acme"}) { id status } }')
    # when
    data = await api.data(IS_ENTITLED, {"t": "acme", "f": "seats"})
    # then
    decision = data["isEntitledTo"]
    assert decision["isEntitled"] is True
    assert decision["limit"] == 10
    assert decision["remaining"] == 10
    assert decision["sources"] == [{"kind": "PLAN", "plan": {"key": "pro"}}]
