"""Feature values: validation per type, the "most generous wins" merge, natural flag values, keys."""

from __future__ import annotations

import pytest

from entitle.domain.errors import BadUserInput
from entitle.domain.model import UNLIMITED, Feature, FeatureType, JsonValue, ResetPeriod
from entitle.domain.values import (
    grants_something,
    merge_values,
    natural_flag_value,
    validate_catalog_key,
    validate_feature_definition,
    validate_subject_key,
    validate_value,
)
from tests.unit.builders import feature

SSO = feature("sso", FeatureType.BOOLEAN, id=1)
SEATS = feature("seats", FeatureType.LIMIT, id=2)
SUPPORT = feature("support", FeatureType.TIER, id=3, tiers=("basic", "priority", "dedicated"))
EXPORTS = feature("exports", FeatureType.LIST, id=4)


# --------------------------------------------------------------------------- validate_value


@pytest.mark.parametrize(
    ("feature_", "value", "normalized"),
    [
        pytest.param(SSO, True, True, id="boolean_true_is_kept"),
        pytest.param(SSO, False, False, id="boolean_false_is_a_valid_value"),
        pytest.param(SEATS, 0, 0, id="limit_zero_is_valid"),
        pytest.param(SEATS, 25, 25, id="limit_positive_integer_is_kept"),
        pytest.param(SEATS, 2**31 - 1, 2**31 - 1, id="limit_accepts_the_largest_graphql_int"),
        pytest.param(SEATS, 25.0, 25, id="limit_integral_float_becomes_an_int"),
        pytest.param(SEATS, UNLIMITED, UNLIMITED, id="limit_accepts_unlimited"),
        pytest.param(SUPPORT, "priority", "priority", id="tier_accepts_one_of_its_tiers"),
        pytest.param(EXPORTS, [], [], id="list_may_be_empty"),
        pytest.param(
            EXPORTS, ["csv", "pdf", "csv"], ["csv", "pdf"], id="list_drops_duplicates_keeping_order"
        ),
    ],
)
def test_a_value_that_fits_its_feature_is_returned_normalized(
    feature_: Feature, value: JsonValue, normalized: JsonValue
) -> None:
    assert validate_value(feature_, value, field="features.0.value") == normalized


@pytest.mark.parametrize(
    ("feature_", "value"),
    [
        pytest.param(SSO, "true", id="boolean_rejects_a_string"),
        pytest.param(SSO, 1, id="boolean_rejects_one"),
        pytest.param(SSO, None, id="boolean_rejects_null"),
        pytest.param(SEATS, -1, id="limit_rejects_a_negative_number"),
        pytest.param(SEATS, True, id="limit_rejects_a_boolean"),
        pytest.param(SEATS, 2.5, id="limit_rejects_a_fraction"),
        pytest.param(SEATS, 2**31, id="limit_rejects_more_than_a_graphql_int"),
        pytest.param(SEATS, "10", id="limit_rejects_a_numeric_string"),
        pytest.param(SEATS, "Unlimited", id="limit_rejects_unlimited_in_another_case"),
        pytest.param(SUPPORT, "gold", id="tier_rejects_an_unknown_tier"),
        pytest.param(SUPPORT, 1, id="tier_rejects_an_index"),
        pytest.param(EXPORTS, "csv", id="list_rejects_a_bare_string"),
        pytest.param(EXPORTS, ["csv", 1], id="list_rejects_non_string_items"),
    ],
)
def test_a_value_that_does_not_fit_its_feature_is_rejected_naming_the_field(
    feature_: Feature, value: JsonValue
) -> None:
    with pytest.raises(BadUserInput) as raised:
        validate_value(feature_, value, field="features.0.value")
    assert raised.value.field == "features.0.value"
    assert "features.0.value" in raised.value.message


# --------------------------------------------------------------------------- validate_feature_definition


@pytest.mark.parametrize(
    ("type_", "tiers", "default_value", "reset_period", "permissions"),
    [
        pytest.param(FeatureType.BOOLEAN, (), None, None, (), id="a_bare_boolean"),
        pytest.param(
            FeatureType.BOOLEAN, (), False, None, ("reports.export",), id="a_boolean_with_a_permission"
        ),
        pytest.param(FeatureType.LIMIT, (), 100, ResetPeriod.MONTH, (), id="a_metered_limit"),
        pytest.param(FeatureType.LIMIT, (), UNLIMITED, None, (), id="a_limit_defaulting_to_unlimited"),
        pytest.param(FeatureType.TIER, ("a", "b"), "b", None, (), id="a_tier_with_a_default_tier"),
        pytest.param(
            FeatureType.LIST, (), ["csv"], None, ("api:read", "a-b_c.d"), id="a_list_with_permissions"
        ),
    ],
)
def test_a_coherent_feature_definition_is_accepted(
    type_: FeatureType,
    tiers: tuple[str, ...],
    default_value: JsonValue,
    reset_period: ResetPeriod | None,
    permissions: tuple[str, ...],
) -> None:
    validate_feature_definition(type_, tiers, default_value, reset_period, permissions)


@pytest.mark.parametrize(
    ("type_", "tiers", "default_value", "reset_period", "permissions", "field"),
    [
        pytest.param(FeatureType.TIER, (), None, None, (), "tiers", id="a_tier_feature_without_tiers"),
        pytest.param(FeatureType.TIER, ("a", "a"), None, None, (), "tiers", id="duplicate_tiers"),
        pytest.param(FeatureType.TIER, ("a", ""), None, None, (), "tiers", id="an_empty_tier"),
        pytest.param(FeatureType.LIST, ("a",), None, None, (), "tiers", id="tiers_on_a_list_feature"),
        pytest.param(
            FeatureType.BOOLEAN,
            (),
            None,
            ResetPeriod.DAY,
            (),
            "resetPeriod",
            id="a_reset_period_on_a_boolean",
        ),
        pytest.param(FeatureType.LIMIT, (), -5, None, (), "defaultValue", id="a_negative_default_limit"),
        pytest.param(
            FeatureType.TIER, ("a",), "z", None, (), "defaultValue", id="a_default_outside_the_tiers"
        ),
        pytest.param(
            FeatureType.BOOLEAN, (), None, None, ("Reports",), "permissions", id="an_uppercase_permission"
        ),
        pytest.param(
            FeatureType.BOOLEAN, (), None, None, (".x",), "permissions", id="a_permission_starting_with_a_dot"
        ),
    ],
)
def test_an_incoherent_feature_definition_is_rejected_naming_the_field(
    type_: FeatureType,
    tiers: tuple[str, ...],
    default_value: JsonValue,
    reset_period: ResetPeriod | None,
    permissions: tuple[str, ...],
    field: str,
) -> None:
    with pytest.raises(BadUserInput) as raised:
        validate_feature_definition(type_, tiers, default_value, reset_period, permissions)
    assert raised.value.field == field


# --------------------------------------------------------------------------- merge_values


@pytest.mark.parametrize(
    ("feature_", "values", "merged"),
    [
        pytest.param(SSO, [False, True, False], True, id="boolean_any_true_wins"),
        pytest.param(SSO, [False, False], False, id="boolean_all_false_stays_false"),
        pytest.param(SEATS, [5, 50, 10], 50, id="limit_the_largest_number_wins"),
        pytest.param(SEATS, [5, UNLIMITED, 10_000], UNLIMITED, id="limit_unlimited_beats_any_number"),
        pytest.param(SEATS, [0], 0, id="limit_zero_alone_stays_zero"),
        pytest.param(SUPPORT, ["priority", "basic"], "priority", id="tier_the_highest_in_feature_order_wins"),
        pytest.param(
            SUPPORT, ["basic", "dedicated", "priority"], "dedicated", id="tier_order_is_the_features"
        ),
        pytest.param(SUPPORT, ["retired", "basic"], "basic", id="tier_an_unknown_tier_loses"),
        pytest.param(
            EXPORTS, [["pdf", "csv"], ["csv", "xlsx"]], ["pdf", "csv", "xlsx"], id="list_union_first_seen"
        ),
        pytest.param(EXPORTS, [[], ["csv"]], ["csv"], id="list_union_with_an_empty_list"),
        pytest.param(SEATS, [], None, id="nothing_to_merge_gives_none"),
    ],
)
def test_merging_keeps_the_most_generous_value(
    feature_: Feature, values: list[JsonValue], merged: JsonValue
) -> None:
    assert merge_values(feature_, values) == merged


@pytest.mark.parametrize(
    ("feature_", "value", "granted"),
    [
        pytest.param(SSO, True, True, id="boolean_true_grants"),
        pytest.param(SSO, False, False, id="boolean_false_grants_nothing"),
        pytest.param(SEATS, 0, True, id="limit_zero_grants_with_no_headroom"),
        pytest.param(SEATS, UNLIMITED, True, id="unlimited_grants"),
        pytest.param(EXPORTS, [], True, id="an_empty_list_grants"),
        pytest.param(SUPPORT, "basic", True, id="the_lowest_tier_grants"),
        pytest.param(SEATS, None, False, id="no_value_grants_nothing"),
    ],
)
def test_only_boolean_false_grants_nothing(feature_: Feature, value: JsonValue, granted: bool) -> None:
    assert grants_something(feature_, value) is granted


@pytest.mark.parametrize(
    ("feature_", "natural"),
    [
        pytest.param(
            feature("b", FeatureType.BOOLEAN, id=9, default_value=False), True, id="boolean_is_always_true"
        ),
        pytest.param(
            feature("l", FeatureType.LIMIT, id=9), UNLIMITED, id="limit_without_default_is_unlimited"
        ),
        pytest.param(
            feature("l", FeatureType.LIMIT, id=9, default_value=3), 3, id="limit_with_default_is_the_default"
        ),
        pytest.param(SUPPORT, "dedicated", id="tier_without_default_is_the_highest_tier"),
        pytest.param(
            feature("t", FeatureType.TIER, id=9, tiers=("a", "b"), default_value="a"),
            "a",
            id="tier_with_default",
        ),
        pytest.param(EXPORTS, [], id="list_without_default_is_empty"),
        pytest.param(
            feature("x", FeatureType.LIST, id=9, default_value=["csv"]), ["csv"], id="list_with_default"
        ),
    ],
)
def test_a_flag_grants_the_features_natural_value(feature_: Feature, natural: JsonValue) -> None:
    assert natural_flag_value(feature_) == natural


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        pytest.param("api-calls", True, id="lowercase_with_dash"),
        pytest.param("v2.export_pdf", True, id="dots_and_underscores"),
        pytest.param("0day", True, id="may_start_with_a_digit"),
        pytest.param("a" * 64, True, id="sixty_four_characters"),
        pytest.param("a" * 65, False, id="sixty_five_characters"),
        pytest.param("Seats", False, id="uppercase"),
        pytest.param("-seats", False, id="starts_with_a_dash"),
        pytest.param("", False, id="empty"),
        pytest.param("seats\n", False, id="trailing_newline"),
    ],
)
def test_catalog_keys_follow_the_contract_pattern(key: str, valid: bool) -> None:
    if valid:
        validate_catalog_key(key, "key")
    else:
        with pytest.raises(BadUserInput) as raised:
            validate_catalog_key(key, "input.key")
        assert raised.value.field == "input.key"


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        pytest.param("ACME-Corp", True, id="mixed_case"),
        pytest.param("jane.doe+x@example.com", False, id="plus_sign_is_not_allowed"),
        pytest.param("jane.doe@example.com", True, id="an_email"),
        pytest.param("urn:tenant:42", True, id="colons"),
        pytest.param("0b8f1c2e-7d4a-4f6e-9a35-2c1e5d7b9f00", True, id="a_uuid"),
        pytest.param("k" * 128, True, id="one_hundred_twenty_eight_characters"),
        pytest.param("k" * 129, False, id="one_hundred_twenty_nine_characters"),
        pytest.param("@acme", False, id="starts_with_an_at_sign"),
        pytest.param("acme corp", False, id="contains_a_space"),
    ],
)
def test_subject_keys_follow_the_contract_pattern(key: str, valid: bool) -> None:
    if valid:
        validate_subject_key(key, "tenantKey")
    else:
        with pytest.raises(BadUserInput) as raised:
            validate_subject_key(key, "tenantKey")
        assert raised.value.field == "tenantKey"
