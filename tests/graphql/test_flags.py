"""Feature flags through the API (contract §3 "Feature flag", §4 precise rules): targeting and values."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import grant, make_feature, make_plan, make_tenant, make_user

AT = "2030-01-15T00:00:00Z"

CREATE_FLAG = "mutation($input: FeatureFlagInput!) { createFeatureFlag(input: $input) { id key } }"
UPDATE_FLAG = "mutation($key: String!, $input: FeatureFlagInput!) { updateFeatureFlag(key: $key, input: $input) { key } }"
DELETE_FLAG = "mutation($key: String!) { deleteFeatureFlag(key: $key) { deletedId } }"
DECISION = """
query($t: String, $u: String, $f: String!, $at: DateTime) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f, at: $at) {
    isEntitled justification context value limit unlimited expiresAt
    sources { kind expiresAt entitlement { id } plan { key } flag { key } }
  }
}
"""

TENANT_METADATA = {
    "region": "eu-west",
    "seats": 12,
    "plan": {"tier": "gold"},
    "tags": ["beta", "vip"],
    "active": True,
    "nothing": None,
}
USER_METADATA = {"role": "admin", "age": 30}


async def make_flag(
    api: Api, key: str = "beta-flag", features: tuple[str, ...] = ("beta",), **fields: Any
) -> None:
    payload = {"key": key, "name": key, "on": True, "featureKeys": list(features), **fields}
    await api.data(CREATE_FLAG, {"input": payload})


async def decide(api: Api, t: str | None = None, u: str | None = None, f: str = "beta") -> dict[str, Any]:
    data = await api.data(DECISION, {"t": t, "u": u, "f": f, "at": AT})
    decision: dict[str, Any] = data["isEntitledTo"]
    return decision


async def given_subjects(api: Api) -> None:
    """Tenants acme-eu (with metadata) and globex; alice@example.com in acme-eu, bob in globex, solo alone."""
    await make_feature(api, "beta")
    await make_tenant(api, "acme-eu", metadata=TENANT_METADATA)
    await make_tenant(api, "globex")
    await make_user(api, "alice@example.com", ["acme-eu"], metadata=USER_METADATA)
    await make_user(api, "bob", ["globex"])
    await make_user(api, "solo")


SUBJECTS = [("acme-eu", None), ("acme-eu", "alice@example.com"), ("globex", "bob"), (None, "solo")]


# --------------------------------------------------------------------------- on / off, no targeting


async def test_a_flag_that_is_off_entitles_nobody(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api, on=False)
    # when
    decisions = [await decide(api, t, u) for t, u in SUBJECTS]
    # then
    assert [(d["isEntitled"], d["justification"]) for d in decisions] == [(False, "MISSING_FEATURE")] * 4


async def test_a_flag_without_targeting_entitles_everyone_in_both_contexts(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api)
    # when
    decisions = [await decide(api, t, u) for t, u in SUBJECTS]
    # then
    assert [d["isEntitled"] for d in decisions] == [True] * 4
    assert [d["context"] for d in decisions] == ["ORGANIZATION"] * 3 + ["INDIVIDUAL"]


async def test_a_flag_for_everyone_does_not_entitle_unknown_subjects_or_non_members(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api)
    # when
    unknown = await decide(api, "nobody")
    outsider = await decide(api, "acme-eu", "bob")
    # then
    assert unknown["justification"] == "UNKNOWN_SUBJECT"
    assert outsider["justification"] == "NOT_A_MEMBER"


async def test_a_flag_source_is_a_feature_flag_naming_the_flag_and_never_expiring(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api, key="early-access")
    # when
    decision = await decide(api, "globex", "bob")
    # then
    assert decision["value"] is True
    assert decision["expiresAt"] is None
    assert decision["sources"] == [
        {
            "kind": "FEATURE_FLAG",
            "expiresAt": None,
            "entitlement": None,
            "plan": None,
            "flag": {"key": "early-access"},
        }
    ]


# --------------------------------------------------------------------------- listed keys


async def test_listed_tenant_keys_entitle_that_tenant_and_its_members_only(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api, tenantKeys=["globex"])
    # when
    decisions = [await decide(api, t, u) for t, u in SUBJECTS]
    # then
    assert [d["isEntitled"] for d in decisions] == [False, False, True, False]


async def test_listed_user_keys_entitle_that_user_in_any_context(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api, userKeys=["alice@example.com", "solo"])
    # when
    decisions = [await decide(api, t, u) for t, u in SUBJECTS]
    # then
    assert [d["isEntitled"] for d in decisions] == [False, True, False, True]


# --------------------------------------------------------------------------- rules


def rule(
    attribute: str, operator: str, values: list[str], path: str | None = None, negate: bool = False
) -> dict[str, Any]:
    return {"attribute": attribute, "path": path, "operator": operator, "values": values, "negate": negate}


@pytest.mark.parametrize(
    ("flag_rule", "expected"),
    [
        pytest.param(rule("TENANT_KEY", "EQUALS", ["acme-eu"]), True, id="tenant.key equals"),
        pytest.param(rule("TENANT_KEY", "EQUALS", ["acme"]), False, id="tenant.key equals is exact"),
        pytest.param(rule("TENANT_KEY", "IN_LIST", ["x", "acme-eu"]), True, id="tenant.key in list"),
        pytest.param(rule("TENANT_KEY", "IN_LIST", ["x", "y"]), False, id="tenant.key not in list"),
        pytest.param(rule("TENANT_KEY", "CONTAINS", ["me-e"]), True, id="tenant.key contains"),
        pytest.param(
            rule("TENANT_KEY", "STARTS_WITH", ["zzz", "acme"]), True, id="tenant.key starts with any"
        ),
        pytest.param(rule("TENANT_KEY", "ENDS_WITH", ["-us"]), False, id="tenant.key does not end with"),
        pytest.param(
            rule("TENANT_KEY", "ENDS_WITH", ["-us"], negate=True), True, id="negated tenant.key rule"
        ),
        pytest.param(rule("USER_KEY", "ENDS_WITH", ["@example.com"]), True, id="user.key ends with"),
        pytest.param(
            rule("USER_KEY", "EQUALS", ["alice@example.com"], negate=True), False, id="negated user.key"
        ),
        pytest.param(rule("USER_KEY", "GREATER_THAN", ["aaa"]), True, id="user.key greater than as text"),
        pytest.param(rule("USER_KEY", "LESS_THAN", ["aaa"]), False, id="user.key less than as text"),
        pytest.param(
            rule("TENANT_METADATA", "EQUALS", ["eu-west"], "region"), True, id="tenant.metadata equals"
        ),
        pytest.param(
            rule("TENANT_METADATA", "IN_LIST", ["gold", "platinum"], "plan.tier"), True, id="nested path"
        ),
        pytest.param(
            rule("TENANT_METADATA", "GREATER_THAN", ["9"], "seats"), True, id="numbers compare numerically"
        ),
        pytest.param(rule("TENANT_METADATA", "LESS_THAN", ["9"], "seats"), False, id="numbers less than"),
        pytest.param(
            rule("TENANT_METADATA", "CONTAINS", ["vip"], "tags"), True, id="list attribute contains"
        ),
        pytest.param(
            rule("TENANT_METADATA", "CONTAINS", ["vi"], "tags"), False, id="list contains whole elements"
        ),
        pytest.param(rule("TENANT_METADATA", "EQUALS", ["true"], "active"), True, id="boolean reads true"),
        pytest.param(
            rule("TENANT_METADATA", "STARTS_WITH", ["eu"], "region"), True, id="metadata starts with"
        ),
        pytest.param(rule("TENANT_METADATA", "EQUALS", ["x"], "missing"), False, id="missing path is false"),
        pytest.param(
            rule("TENANT_METADATA", "EQUALS", ["x"], "missing", True), True, id="negated missing path"
        ),
        pytest.param(
            rule("TENANT_METADATA", "EQUALS", ["null"], "nothing"), False, id="json null is missing"
        ),
        pytest.param(rule("USER_METADATA", "EQUALS", ["admin"], "role"), True, id="user.metadata equals"),
        pytest.param(rule("USER_METADATA", "LESS_THAN", ["100"], "age"), True, id="user.metadata numeric"),
        pytest.param(
            rule("USER_METADATA", "ENDS_WITH", ["min"], "role", True), False, id="negated user.metadata"
        ),
    ],
)
async def test_a_rule_targets_the_subject_by_key_or_metadata(
    api: Api, flag_rule: dict[str, Any], expected: bool
) -> None:
    # given
    await given_subjects(api)
    await make_flag(api, rules=[flag_rule])
    # when
    decision = await decide(api, "acme-eu", "alice@example.com")
    # then
    assert decision["isEntitled"] is expected
    assert decision["justification"] == (None if expected else "MISSING_FEATURE")


async def test_any_matching_rule_is_enough(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(
        api,
        rules=[rule("TENANT_KEY", "EQUALS", ["globex"]), rule("USER_METADATA", "EQUALS", ["admin"], "role")],
    )
    # when
    decisions = [await decide(api, t, u) for t, u in SUBJECTS]
    # then
    assert [d["isEntitled"] for d in decisions] == [False, True, True, False]


async def test_a_user_metadata_rule_applies_in_individual_context(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_user(api, "solo", metadata={"role": "admin"})
    await make_flag(api, rules=[rule("USER_METADATA", "EQUALS", ["admin"], "role")])
    # when
    decision = await decide(api, None, "solo")
    # then
    assert (decision["isEntitled"], decision["context"]) == (True, "INDIVIDUAL")


# --------------------------------------------------------------------------- percentage


async def test_percentage_zero_targets_nobody_by_percentage_but_listed_keys_still_apply(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api, percentage=0, tenantKeys=["globex"])
    # when
    decisions = [await decide(api, t, u) for t, u in SUBJECTS]
    # then
    assert [d["isEntitled"] for d in decisions] == [False, False, True, False]


async def test_percentage_one_hundred_targets_everyone(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api, percentage=100)
    # when
    decisions = [await decide(api, t, u) for t, u in SUBJECTS]
    # then
    assert [d["isEntitled"] for d in decisions] == [True] * 4


@pytest.mark.parametrize(
    ("percentage", "acme", "globex"),
    [(13, False, False), (14, False, True), (76, False, True), (77, True, True)],
)
async def test_percentage_compares_the_stable_bucket_of_flag_key_and_tenant_key(
    api: Api, percentage: int, acme: bool, globex: bool
) -> None:
    # given: bucket("new-ui", "acme") == 76 and bucket("new-ui", "globex") == 13
    await make_feature(api, "beta")
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "bob", ["globex"])
    await make_flag(api, key="new-ui", percentage=percentage)
    # when
    for_acme = await decide(api, "acme")
    for_globex_member = await decide(api, "globex", "bob")
    # then: a member is bucketed by its tenant key
    assert (for_acme["isEntitled"], for_globex_member["isEntitled"]) == (acme, globex)


async def test_percentage_buckets_an_individual_user_by_user_key(api: Api) -> None:
    # given: bucket("new-ui", "acme") == 76
    await make_feature(api, "beta")
    await make_user(api, "acme")
    await make_flag(api, key="new-ui", percentage=77)
    # when
    above = await decide(api, None, "acme")
    await api.data(
        UPDATE_FLAG,
        {
            "key": "new-ui",
            "input": {"key": "new-ui", "name": "n", "on": True, "featureKeys": ["beta"], "percentage": 76},
        },
    )
    below = await decide(api, None, "acme")
    # then
    assert (above["isEntitled"], below["isEntitled"]) == (True, False)


# --------------------------------------------------------------------------- natural values


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        pytest.param(
            {"type": "BOOLEAN"}, {"value": True, "limit": None, "unlimited": False}, id="boolean true"
        ),
        pytest.param(
            {"type": "LIMIT"}, {"value": "unlimited", "limit": None, "unlimited": True}, id="limit unlimited"
        ),
        pytest.param(
            {"type": "LIMIT", "defaultValue": 5},
            {"value": 5, "limit": 5, "unlimited": False},
            id="limit default",
        ),
        pytest.param(
            {"type": "TIER", "tiers": ["a", "b", "c"], "defaultValue": "b"},
            {"value": "b", "limit": None, "unlimited": False},
            id="tier default",
        ),
        pytest.param(
            {"type": "LIST", "defaultValue": ["csv"]},
            {"value": ["csv"], "limit": None, "unlimited": False},
            id="list default",
        ),
    ],
)
async def test_a_flag_grants_the_features_natural_value(
    api: Api, feature: dict[str, Any], expected: dict[str, Any]
) -> None:
    # given
    fields = dict(feature)
    await make_feature(api, "beta", fields.pop("type"), **fields)
    await make_tenant(api, "acme")
    await make_flag(api)
    # when
    decision = await decide(api, "acme")
    # then
    assert {k: decision[k] for k in expected} == expected


async def test_a_flag_value_merges_with_plans_and_both_are_sources(api: Api) -> None:
    # given
    await make_feature(api, "beta", "LIMIT", defaultValue=5)
    await make_plan(api, "pro", {"beta": 10})
    await make_tenant(api, "acme")
    await grant(
        api,
        plan_key="pro",
        tenant_key="acme",
        start_date="2030-01-01T00:00:00Z",
        expiration_date="2030-06-01T00:00:00Z",
    )
    await make_flag(api)
    # when
    decision = await decide(api, "acme")
    # then
    assert decision["limit"] == 10
    assert [s["kind"] for s in decision["sources"]] == ["PLAN", "FEATURE_FLAG"]
    assert decision["sources"][0]["expiresAt"] == "2030-06-01T00:00:00Z"
    assert decision["expiresAt"] is None  # a flag never expires


# --------------------------------------------------------------------------- changes apply at once


async def test_updating_a_flag_changes_the_next_decision(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api, tenantKeys=["globex"])
    before = await decide(api, "acme-eu")
    # when
    await api.data(
        UPDATE_FLAG,
        {
            "key": "beta-flag",
            "input": {
                "key": "beta-flag",
                "name": "b",
                "on": True,
                "featureKeys": ["beta"],
                "tenantKeys": ["acme-eu"],
            },
        },
    )
    after = await decide(api, "acme-eu")
    globex = await decide(api, "globex")
    # then
    assert (before["isEntitled"], after["isEntitled"], globex["isEntitled"]) == (False, True, False)


async def test_turning_a_flag_off_or_deleting_it_changes_the_next_decision(api: Api) -> None:
    # given
    await given_subjects(api)
    await make_flag(api)
    await make_flag(api, key="second")
    # when
    await api.data(
        UPDATE_FLAG,
        {
            "key": "beta-flag",
            "input": {"key": "beta-flag", "name": "b", "on": False, "featureKeys": ["beta"]},
        },
    )
    only_second = await decide(api, "globex")
    await api.data(DELETE_FLAG, {"key": "second"})
    none_left = await decide(api, "globex")
    # then
    assert [s["flag"] for s in only_second["sources"]] == [{"key": "second"}]
    assert (none_left["isEntitled"], none_left["justification"]) == (False, "MISSING_FEATURE")
