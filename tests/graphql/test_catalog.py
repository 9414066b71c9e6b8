"""Features and plans through the API: typed values, keys, conflicts and trials (contract §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import Api
from tests.factories import (
    CREATE_FEATURE,
    CREATE_PLAN,
    grant,
    make_feature,
    make_plan,
    make_tenant,
)

FEATURE = """
query($key: String!) {
  feature(key: $key) {
    key name description type unit tiers permissions defaultValue resetPeriod overage metadata
  }
}
"""
UPDATE_FEATURE = """
mutation($key: String!, $input: UpdateFeatureInput!) {
  updateFeature(key: $key, input: $input) {
    key name description type unit tiers permissions defaultValue resetPeriod overage metadata
  }
}
"""
DELETE_FEATURE = "mutation($key: String!) { deleteFeature(key: $key) { deletedId } }"
PLAN = """
query($key: String!) {
  plan(key: $key) { key name description defaultTimeLimitationDays metadata features { feature { key } value } }
}
"""
UPDATE_PLAN = """
mutation($key: String!, $input: UpdatePlanInput!) {
  updatePlan(key: $key, input: $input) {
    key name description defaultTimeLimitationDays features { feature { key } value }
  }
}
"""
DELETE_PLAN = "mutation($key: String!) { deletePlan(key: $key) { deletedId } }"
REVOKE = "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount errors { index code } } }"
CREATE_FLAG = """
mutation($input: FeatureFlagInput!) { createFeatureFlag(input: $input) { key } }
"""
CREATE_ROUTE = """
mutation($input: ApiRouteInput!) { createApiRoute(input: $input) { id } }
"""
FEATURE_KEYS = "{ features { totalCount edges { node { key } } } }"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


FEATURES_OF_EACH_TYPE: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("BOOLEAN", {}, {"tiers": [], "defaultValue": None}),
    ("LIMIT", {"unit": "seats", "defaultValue": 5}, {"unit": "seats", "defaultValue": 5}),
    ("LIMIT", {"resetPeriod": "MONTH", "overage": "WARN"}, {"resetPeriod": "MONTH", "overage": "WARN"}),
    ("TIER", {"tiers": ["bronze", "silver", "gold"]}, {"tiers": ["bronze", "silver", "gold"]}),
    ("LIST", {"defaultValue": ["csv"]}, {"defaultValue": ["csv"]}),
]


async def test_a_feature_of_each_type_can_be_created_and_read_back(api: Api) -> None:
    for index, (type_, extra, expected) in enumerate(FEATURES_OF_EACH_TYPE):
        # given
        key = f"thing-{index}"
        payload = {"key": key, "name": "Thing", "type": type_, "permissions": ["thing.use"], **extra}
        # when
        await api.data(CREATE_FEATURE, {"input": payload})
        data = await api.data(FEATURE, {"key": key})
        # then
        feature = data["feature"]
        assert feature["type"] == type_
        assert feature["name"] == "Thing"
        assert feature["permissions"] == ["thing.use"]
        assert feature["overage"] == expected.get("overage", "BLOCK")
        assert feature["metadata"] == {}
        for name, value in expected.items():
            assert feature[name] == value, (type_, name)


async def test_update_feature_changes_only_the_given_fields(api: Api) -> None:
    # given
    await make_feature(api, "seats", "LIMIT", description="Seats in the org", unit="seats")
    # when
    data = await api.data(
        UPDATE_FEATURE, {"key": "seats", "input": {"name": "Team seats", "metadata": {"ui": "slider"}}}
    )
    # then
    feature = data["updateFeature"]
    assert feature["name"] == "Team seats"
    assert feature["description"] == "Seats in the org"
    assert feature["unit"] == "seats"
    assert feature["metadata"] == {"ui": "slider"}
    assert (await api.data(FEATURE, {"key": "seats"}))["feature"]["name"] == "Team seats"


async def test_a_tier_feature_cannot_drop_a_tier_a_plan_uses(api: Api) -> None:
    # given
    await make_feature(api, "support", "TIER", tiers=["basic", "priority"])
    await make_plan(api, "pro", {"support": "priority"})
    # when
    error = await api.error(UPDATE_FEATURE, {"key": "support", "input": {"tiers": ["basic"]}})
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await api.data(FEATURE, {"key": "support"}))["feature"]["tiers"] == ["basic", "priority"]


async def test_an_unused_feature_can_be_deleted(api: Api) -> None:
    # given
    created = await make_feature(api, "sso")
    # when
    data = await api.data(DELETE_FEATURE, {"key": "sso"})
    # then
    assert data["deleteFeature"]["deletedId"] == created["id"]
    assert (await api.data(FEATURE, {"key": "sso"}))["feature"] is None
    assert (await api.data(FEATURE_KEYS))["features"]["totalCount"] == 0


async def test_deleting_an_unknown_feature_is_not_found(api: Api) -> None:
    error = await api.error(DELETE_FEATURE, {"key": "nope"})
    assert error["extensions"]["code"] == "NOT_FOUND"


BAD_PLAN_VALUES: list[tuple[str, dict[str, Any], Any]] = [
    ("BOOLEAN", {}, "yes"),
    ("BOOLEAN", {}, 1),
    ("LIMIT", {}, -1),
    ("LIMIT", {}, "lots"),
    ("LIMIT", {}, 2.5),
    ("LIMIT", {}, True),
    ("TIER", {"tiers": ["basic", "pro"]}, "platinum"),
    ("LIST", {}, "csv"),
    ("LIST", {}, ["csv", 3]),
]
GOOD_PLAN_VALUES: list[tuple[str, dict[str, Any], Any]] = [
    ("BOOLEAN", {}, False),
    ("LIMIT", {}, 0),
    ("LIMIT", {}, "unlimited"),
    ("TIER", {"tiers": ["basic", "pro"]}, "pro"),
    ("LIST", {}, ["csv", "pdf"]),
]


async def test_a_plan_value_that_does_not_fit_the_feature_type_is_rejected_naming_the_field(
    api: Api,
) -> None:
    # given
    await make_feature(api, "sso")
    for index, (type_, extra, _) in enumerate(BAD_PLAN_VALUES):
        await make_feature(api, f"thing-{index}", type_, **extra)
    for index, (type_, _, value) in enumerate(BAD_PLAN_VALUES):
        features = [{"featureKey": "sso", "value": True}, {"featureKey": f"thing-{index}", "value": value}]
        # when
        error = await api.error(CREATE_PLAN, {"input": {"key": "pro", "name": "Pro", "features": features}})
        # then
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (type_, value)
        assert error["extensions"]["field"] == "features[1].value", (type_, value)
        assert "features[1].value" in error["message"]
    assert (await api.data(PLAN, {"key": "pro"}))["plan"] is None


async def test_a_plan_value_that_fits_the_feature_type_is_stored(api: Api) -> None:
    # given
    for index, (type_, extra, _) in enumerate(GOOD_PLAN_VALUES):
        await make_feature(api, f"thing-{index}", type_, **extra)
    # when
    await make_plan(api, "pro", {f"thing-{i}": value for i, (_, _, value) in enumerate(GOOD_PLAN_VALUES)})
    # then
    plan = (await api.data(PLAN, {"key": "pro"}))["plan"]
    assert plan["features"] == [
        {"feature": {"key": f"thing-{i}"}, "value": value} for i, (_, _, value) in enumerate(GOOD_PLAN_VALUES)
    ]


async def test_a_plan_naming_an_unknown_feature_is_refused_naming_the_field(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    features = [{"featureKey": "sso", "value": True}, {"featureKey": "ghost", "value": True}]
    # when
    error = await api.error(CREATE_PLAN, {"input": {"key": "pro", "name": "Pro", "features": features}})
    # then
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["field"] == "features[1].featureKey"
    assert "ghost" in error["message"]
    assert (await api.data(PLAN, {"key": "pro"}))["plan"] is None


async def test_a_duplicate_feature_key_is_a_conflict(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    # when
    error = await api.error(CREATE_FEATURE, {"input": {"key": "sso", "name": "Again", "type": "LIMIT"}})
    # then
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await api.data(FEATURE, {"key": "sso"}))["feature"]["type"] == "BOOLEAN"


async def test_a_duplicate_plan_key_is_a_conflict(api: Api) -> None:
    # given
    await make_plan(api, "pro", name="Pro")
    # when
    error = await api.error(CREATE_PLAN, {"input": {"key": "pro", "name": "Other"}})
    # then
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await api.data(PLAN, {"key": "pro"}))["plan"]["name"] == "Pro"


BAD_CATALOG_KEYS = ["Pro", "-pro", "pro plan", "", "p" * 65, "pro/1", "prö", "pro\n"]


async def test_a_badly_formed_catalog_key_is_bad_user_input(api: Api) -> None:
    for key in BAD_CATALOG_KEYS:
        # when
        feature_error = await api.error(
            CREATE_FEATURE, {"input": {"key": key, "name": "X", "type": "BOOLEAN"}}
        )
        plan_error = await api.error(CREATE_PLAN, {"input": {"key": key, "name": "X"}})
        # then
        assert feature_error["extensions"]["code"] == "BAD_USER_INPUT", key
        assert feature_error["extensions"]["field"] == "key"
        assert plan_error["extensions"]["code"] == "BAD_USER_INPUT", key
    assert (await api.data(FEATURE_KEYS))["features"]["totalCount"] == 0
    assert (await api.data("{ plans { totalCount } }"))["plans"]["totalCount"] == 0


async def test_deleting_a_feature_a_plan_uses_is_a_conflict(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"sso": True})
    # when
    error = await api.error(DELETE_FEATURE, {"key": "sso"})
    # then
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await api.data(FEATURE, {"key": "sso"}))["feature"]["key"] == "sso"


async def test_deleting_a_feature_an_entitlement_uses_is_a_conflict_even_when_revoked(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    await make_tenant(api, "acme")
    entitlement = await grant(api, feature_key="sso", tenant_key="acme", value=True)
    await api.data(REVOKE, {"ids": [entitlement["id"]]})
    # when
    error = await api.error(DELETE_FEATURE, {"key": "sso"})
    # then
    assert error["extensions"]["code"] == "CONFLICT"


async def test_deleting_a_feature_a_flag_uses_is_a_conflict(api: Api) -> None:
    # given
    await make_feature(api, "beta")
    await api.data(
        CREATE_FLAG, {"input": {"key": "beta-flag", "name": "Beta", "on": True, "featureKeys": ["beta"]}}
    )
    # when
    error = await api.error(DELETE_FEATURE, {"key": "beta"})
    # then
    assert error["extensions"]["code"] == "CONFLICT"


async def test_deleting_a_feature_a_route_uses_is_a_conflict(api: Api) -> None:
    # given
    await make_feature(api, "premium")
    await api.data(
        CREATE_ROUTE,
        {
            "input": {
                "method": "GET",
                "pathPattern": "/premium",
                "policy": "REQUIRE_FEATURE",
                "featureKey": "premium",
            }
        },
    )
    # when
    error = await api.error(DELETE_FEATURE, {"key": "premium"})
    # then
    assert error["extensions"]["code"] == "CONFLICT"


async def test_an_unreferenced_plan_can_be_deleted(api: Api) -> None:
    # given
    created = await make_plan(api, "pro")
    # when
    data = await api.data(DELETE_PLAN, {"key": "pro"})
    # then
    assert data["deletePlan"]["deletedId"] == created["id"]
    assert (await api.data(PLAN, {"key": "pro"}))["plan"] is None


async def test_deleting_a_plan_with_a_revoked_entitlement_is_still_a_conflict(api: Api) -> None:
    # given
    await make_plan(api, "pro")
    await make_tenant(api, "acme")
    entitlement = await grant(api, plan_key="pro", tenant_key="acme")
    revoked = await api.data(REVOKE, {"ids": [entitlement["id"]]})
    assert revoked["revokeEntitlements"]["revokedCount"] == 1
    # when
    error = await api.error(DELETE_PLAN, {"key": "pro"})
    # then
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await api.data(PLAN, {"key": "pro"}))["plan"]["key"] == "pro"


async def test_update_plan_features_replace_the_whole_list(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    await make_feature(api, "seats", "LIMIT")
    await make_feature(api, "exports", "LIST")
    await make_plan(api, "pro", {"sso": True, "seats": 5}, description="Our best")
    # when
    data = await api.data(
        UPDATE_PLAN,
        {
            "key": "pro",
            "input": {
                "features": [
                    {"featureKey": "exports", "value": ["csv"]},
                    {"featureKey": "seats", "value": 10},
                ]
            },
        },
    )
    # then
    expected = [{"feature": {"key": "exports"}, "value": ["csv"]}, {"feature": {"key": "seats"}, "value": 10}]
    assert data["updatePlan"]["features"] == expected
    assert data["updatePlan"]["description"] == "Our best"
    assert (await api.data(PLAN, {"key": "pro"}))["plan"]["features"] == expected


async def test_update_plan_without_features_keeps_them(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"sso": True})
    # when
    data = await api.data(UPDATE_PLAN, {"key": "pro", "input": {"name": "Professional"}})
    # then
    assert data["updatePlan"]["name"] == "Professional"
    assert data["updatePlan"]["features"] == [{"feature": {"key": "sso"}, "value": True}]


async def test_update_plan_with_a_bad_value_changes_nothing(api: Api) -> None:
    # given
    await make_feature(api, "seats", "LIMIT")
    await make_plan(api, "pro", {"seats": 5})
    # when
    error = await api.error(
        UPDATE_PLAN,
        {"key": "pro", "input": {"name": "Changed", "features": [{"featureKey": "seats", "value": -3}]}},
    )
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "features[0].value"
    plan = (await api.data(PLAN, {"key": "pro"}))["plan"]
    assert plan["name"] == "pro"
    assert plan["features"] == [{"feature": {"key": "seats"}, "value": 5}]


async def test_a_trial_plan_entitlement_without_expiration_ends_n_days_after_start(api: Api) -> None:
    # given
    await make_plan(api, "trial", defaultTimeLimitationDays=14)
    await make_tenant(api, "acme")
    start = datetime(2030, 3, 1, 9, 30, tzinfo=UTC)
    # when
    entitlement = await grant(api, plan_key="trial", tenant_key="acme", start_date=_iso(start))
    # then
    assert entitlement["startDate"] == _iso(start)
    assert entitlement["expirationDate"] == _iso(start + timedelta(days=14))
    assert entitlement["status"] == "SCHEDULED"


async def test_a_trial_plan_entitlement_keeps_an_explicit_expiration(api: Api) -> None:
    # given
    await make_plan(api, "trial", defaultTimeLimitationDays=14)
    await make_tenant(api, "acme")
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
    # when
    entitlement = await grant(api, plan_key="trial", tenant_key="acme", expiration_date=_iso(end))
    # then
    assert entitlement["expirationDate"] == _iso(end)
    assert entitlement["status"] == "ACTIVE"


async def test_a_trial_plan_entitlement_without_start_expires_n_days_from_now(api: Api) -> None:
    # given
    await make_plan(api, "trial", defaultTimeLimitationDays=7)
    await make_tenant(api, "acme")
    before = datetime.now(UTC)
    # when
    entitlement = await grant(api, plan_key="trial", tenant_key="acme")
    # then
    start = datetime.fromisoformat(entitlement["startDate"])
    end = datetime.fromisoformat(entitlement["expirationDate"])
    assert before - timedelta(seconds=5) <= start <= datetime.now(UTC)
    assert end - start == timedelta(days=7)


UPDATE_TIERS = """
mutation($tiers: [String!]) { updateFeature(key: "support", input: {tiers: $tiers}) { tiers } }
"""


async def test_changing_tiers_cannot_strand_a_tier_a_plan_or_grant_uses(api: Api) -> None:
    # given: a tier used by a plan and by a single-feature grant
    await make_feature(api, "support", "TIER", tiers=["basic", "pro", "premium"])
    await make_plan(api, "gold", {"support": "pro"})
    await make_tenant(api, "acme")
    await grant(api, feature_key="support", tenant_key="acme", value="premium")
    # when
    dropping_plan_tier = await api.error(UPDATE_TIERS, {"tiers": ["basic", "premium"]})
    dropping_grant_tier = await api.error(UPDATE_TIERS, {"tiers": ["basic", "pro"]})
    kept = await api.data(UPDATE_TIERS, {"tiers": ["basic", "pro", "premium", "ultimate"]})
    # then
    assert (dropping_plan_tier["extensions"]["code"], dropping_plan_tier["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "tiers",
    )
    assert "gold" in dropping_plan_tier["message"]
    assert (dropping_grant_tier["extensions"]["code"], dropping_grant_tier["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "tiers",
    )
    assert kept["updateFeature"]["tiers"] == ["basic", "pro", "premium", "ultimate"]
