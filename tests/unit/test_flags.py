"""Feature-flag targeting: on/off, no targeting, listed keys, rules, negation, percentage buckets."""

from __future__ import annotations

from typing import Any

import pytest

from entitle.domain.flags import bucket, flag_applies, rule_matches
from entitle.domain.model import FlagAttribute, FlagOperator, FlagRule, JsonValue, Subject, SubjectRef
from tests.unit.builders import flag

TENANT_META = FlagAttribute.TENANT_METADATA
USER_META = FlagAttribute.USER_METADATA


def subject(
    tenant_key: str | None = "acme",
    user_key: str | None = "jane",
    tenant_metadata: dict[str, JsonValue] | None = None,
    user_metadata: dict[str, JsonValue] | None = None,
) -> Subject:
    return Subject(
        tenant_key=tenant_key,
        user_key=user_key,
        tenant=None if tenant_key is None else SubjectRef(1, tenant_key, tenant_metadata or {}),
        user=None if user_key is None else SubjectRef(2, user_key, user_metadata or {}),
        is_member=True,
    )


# --------------------------------------------------------------------------- bucket


@pytest.mark.parametrize(
    ("flag_key", "subject_key", "expected"),
    [
        pytest.param("new-ui", "acme", 76, id="new_ui_for_acme"),
        pytest.param("new-ui", "globex", 13, id="new_ui_for_globex"),
        pytest.param("beta.export", "jane@example.com", 33, id="beta_export_for_an_email"),
        pytest.param("beta.export", "acme", 70, id="the_same_subject_lands_elsewhere_for_another_flag"),
    ],
)
def test_buckets_are_fixed_sha256_values_so_a_hash_change_is_caught(
    flag_key: str, subject_key: str, expected: int
) -> None:
    assert bucket(flag_key, subject_key) == expected


def test_buckets_spread_over_zero_to_ninety_nine() -> None:
    buckets = {bucket("rollout", f"tenant-{n}") for n in range(2000)}
    assert min(buckets) == 0
    assert max(buckets) == 99
    assert len(buckets) == 100


# --------------------------------------------------------------------------- flag_applies


@pytest.mark.parametrize(
    ("overrides", "subject_", "applies"),
    [
        pytest.param({"on": False}, subject(), False, id="a_flag_that_is_off_applies_to_nobody"),
        pytest.param(
            {"on": False, "tenant_keys": frozenset({"acme"})},
            subject(),
            False,
            id="off_wins_over_a_listed_tenant",
        ),
        pytest.param({}, subject(), True, id="a_flag_without_targeting_applies_to_everybody"),
        pytest.param({}, subject(tenant_key=None), True, id="no_targeting_applies_in_individual_context_too"),
        pytest.param({"tenant_keys": frozenset({"acme"})}, subject(), True, id="a_listed_tenant_key_applies"),
        pytest.param(
            {"tenant_keys": frozenset({"globex"})}, subject(), False, id="an_unlisted_tenant_key_does_not"
        ),
        pytest.param({"user_keys": frozenset({"jane"})}, subject(), True, id="a_listed_user_key_applies"),
        pytest.param(
            {"user_keys": frozenset({"jane"})}, subject(user_key=None), False, id="a_user_list_needs_a_user"
        ),
        pytest.param({"percentage": 100}, subject(), True, id="percentage_100_applies_to_everybody"),
        pytest.param({"percentage": 0}, subject(), False, id="percentage_0_targets_nobody_by_percentage"),
        pytest.param(
            {"percentage": 0, "tenant_keys": frozenset({"acme"})},
            subject(),
            True,
            id="percentage_0_still_lets_listed_keys_through",
        ),
        pytest.param(
            {"percentage": 77},
            subject(tenant_key="acme"),
            True,
            id="a_tenant_whose_bucket_76_is_below_77_applies",
        ),
        pytest.param(
            {"percentage": 76},
            subject(tenant_key="acme"),
            False,
            id="a_tenant_whose_bucket_76_is_not_below_76",
        ),
        pytest.param(
            {"percentage": 14},
            subject(tenant_key="globex", user_key="acme"),
            True,
            id="the_bucket_uses_the_tenant_key",
        ),
        pytest.param(
            {"percentage": 77},
            subject(tenant_key=None, user_key="acme"),
            True,
            id="without_tenant_the_user_key",
        ),
        pytest.param(
            {"rules": (FlagRule(FlagAttribute.TENANT_KEY, FlagOperator.STARTS_WITH, ("ac",)),)},
            subject(),
            True,
            id="a_matching_rule_applies",
        ),
        pytest.param(
            {"rules": (FlagRule(FlagAttribute.TENANT_KEY, FlagOperator.STARTS_WITH, ("zz",)),)},
            subject(),
            False,
            id="a_rule_that_does_not_match_is_targeting_so_nobody_else",
        ),
    ],
)
def test_flag_targeting(overrides: dict[str, Any], subject_: Subject, applies: bool) -> None:
    assert flag_applies(flag("new-ui", id=1, **overrides), subject_) is applies


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("rule", "subject_", "matches"),
    [
        # tenant / user keys
        pytest.param(
            FlagRule(FlagAttribute.TENANT_KEY, FlagOperator.IN_LIST, ("globex", "acme")),
            subject(),
            True,
            id="in_list_matches_the_tenant_key",
        ),
        pytest.param(
            FlagRule(FlagAttribute.USER_KEY, FlagOperator.EQUALS, ("jane",)),
            subject(),
            True,
            id="equals_user_key",
        ),
        pytest.param(
            FlagRule(FlagAttribute.USER_KEY, FlagOperator.EQUALS, ("Jane",)),
            subject(),
            False,
            id="equals_is_exact",
        ),
        pytest.param(
            FlagRule(FlagAttribute.TENANT_KEY, FlagOperator.CONTAINS, ("cm",)),
            subject(),
            True,
            id="contains_substring",
        ),
        pytest.param(
            FlagRule(FlagAttribute.TENANT_KEY, FlagOperator.ENDS_WITH, ("x", "me")),
            subject(),
            True,
            id="ends_with_any",
        ),
        pytest.param(
            FlagRule(FlagAttribute.TENANT_KEY, FlagOperator.STARTS_WITH, ("me",)),
            subject(),
            False,
            id="starts_with_no",
        ),
        # metadata
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.EQUALS, ("enterprise",), path="plan.tier"),
            subject(tenant_metadata={"plan": {"tier": "enterprise"}}),
            True,
            id="a_dotted_path_reads_nested_tenant_metadata",
        ),
        pytest.param(
            FlagRule(USER_META, FlagOperator.EQUALS, ("true",), path="beta"),
            subject(user_metadata={"beta": True}),
            True,
            id="a_boolean_reads_as_true_json_style",
        ),
        pytest.param(
            FlagRule(USER_META, FlagOperator.EQUALS, ("false",), path="beta"),
            subject(user_metadata={"beta": False}),
            True,
            id="a_false_boolean_reads_as_false",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.IN_LIST, ("eu", "uk"), path="regions"),
            subject(tenant_metadata={"regions": ["us", "uk"]}),
            True,
            id="in_list_on_a_list_attribute_matches_any_element",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.CONTAINS, ("uk",), path="regions"),
            subject(tenant_metadata={"regions": ["us", "uk"]}),
            True,
            id="contains_on_a_list_attribute_is_element_membership",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.CONTAINS, ("u",), path="regions"),
            subject(tenant_metadata={"regions": ["us", "uk"]}),
            False,
            id="contains_on_a_list_attribute_is_not_a_substring_search",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.GREATER_THAN, ("9",), path="seats"),
            subject(tenant_metadata={"seats": 10}),
            True,
            id="greater_than_compares_numbers_numerically",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.LESS_THAN, ("9.5",), path="score"),
            subject(tenant_metadata={"score": "10"}),
            False,
            id="less_than_parses_numeric_strings",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.GREATER_THAN, ("2024-06-01",), path="since"),
            subject(tenant_metadata={"since": "2025-01-15"}),
            True,
            id="greater_than_falls_back_to_string_comparison",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.LESS_THAN, ("b",), path="name"),
            subject(tenant_metadata={"name": "a"}),
            True,
            id="less_than_on_strings",
        ),
        # missing attributes and negation
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.EQUALS, ("x",), path="plan.tier"),
            subject(tenant_metadata={"plan": "basic"}),
            False,
            id="a_path_through_a_non_object_is_missing",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.EQUALS, ("x",), path="plan.tier", negate=True),
            subject(tenant_metadata={}),
            True,
            id="negate_inverts_a_missing_attribute_literally",
        ),
        pytest.param(
            FlagRule(USER_META, FlagOperator.EQUALS, ("x",), path="beta"),
            subject(user_key=None),
            False,
            id="user_metadata_without_a_user_is_missing",
        ),
        pytest.param(
            FlagRule(FlagAttribute.USER_KEY, FlagOperator.STARTS_WITH, ("",)),
            subject(user_key=None),
            False,
            id="a_user_key_rule_without_a_user_is_false",
        ),
        pytest.param(
            FlagRule(TENANT_META, FlagOperator.EQUALS, ("null",), path="x"),
            subject(tenant_metadata={"x": None}),
            False,
            id="json_null_counts_as_missing",
        ),
        pytest.param(
            FlagRule(FlagAttribute.TENANT_KEY, FlagOperator.IN_LIST, ("acme",), negate=True),
            subject(),
            False,
            id="negate_inverts_a_match",
        ),
        pytest.param(
            FlagRule(FlagAttribute.TENANT_KEY, FlagOperator.GREATER_THAN, ()),
            subject(),
            False,
            id="an_ordering_without_values_is_false",
        ),
    ],
)
def test_rule_evaluation(rule: FlagRule, subject_: Subject, matches: bool) -> None:
    assert rule_matches(rule, subject_) is matches
