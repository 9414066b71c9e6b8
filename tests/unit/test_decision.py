"""The decision of ``isEntitledTo``: justifications, merging, sources, expiry, limits and metering."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from entitle.domain.decision import AccessRequest, Decision, conclude, decide, evaluate
from entitle.domain.errors import BadUserInput
from entitle.domain.model import (
    UNLIMITED,
    AssignLevel,
    EntitlementRecord,
    FeatureType,
    JsonValue,
    Justification,
    OverageHandling,
    ResetPeriod,
    SourceKind,
    Subject,
    SubjectRef,
    SubscriptionContext,
)
from tests.unit.builders import (
    APR_1,
    FEB_1,
    JAN_1,
    MAR_1,
    NOW,
    catalog,
    feature,
    flag,
    grant,
    plan,
    plan_entitlement,
    tenant_subject,
    utc,
)

LIMIT, TIER, LIST = FeatureType.LIMIT, FeatureType.TIER, FeatureType.LIST
J = Justification

SSO = feature("sso", id=1, permissions=("sso.configure",))
SEATS = feature("seats", LIMIT, id=2, permissions=("members.invite",))
SUPPORT = feature("support", TIER, id=3, tiers=("basic", "priority", "dedicated"))
EXPORTS = feature("exports", LIST, id=4, permissions=("reports.export",))
API_CALLS = feature("api-calls", LIMIT, id=5, reset_period=ResetPeriod.MONTH)
API_CALLS_ALLOW = feature(
    "api-calls-allow", LIMIT, id=6, reset_period=ResetPeriod.MONTH, overage=OverageHandling.ALLOW
)
API_CALLS_WARN = feature(
    "api-calls-warn", LIMIT, id=7, reset_period=ResetPeriod.MONTH, overage=OverageHandling.WARN
)
AUDIT = feature("audit", id=8, permissions=("reports.export", "audit.read"))
BETA = feature("beta", id=9)
FEATURES = (SSO, SEATS, SUPPORT, EXPORTS, API_CALLS, API_CALLS_ALLOW, API_CALLS_WARN, AUDIT, BETA)

STARTER = plan(
    "starter",
    id=1,
    values={
        SSO: False,
        SEATS: 5,
        SUPPORT: "basic",
        EXPORTS: ["csv"],
        API_CALLS: 100,
        API_CALLS_ALLOW: 100,
        API_CALLS_WARN: 100,
    },
)
PRO = plan(
    "pro",
    id=2,
    values={
        SSO: True,
        SEATS: 50,
        SUPPORT: "priority",
        EXPORTS: ["pdf", "csv"],
        API_CALLS: 1000,
        AUDIT: True,
    },
)
BIG = plan("big", id=3, values={SEATS: UNLIMITED, API_CALLS: UNLIMITED})
PLANS = (STARTER, PRO, BIG)
CATALOG = catalog(FEATURES, PLANS)


def check(
    subject: Subject,
    feature_key: str,
    *,
    usage: int | None = None,
    used: int | None = None,
    at: datetime = NOW,
) -> Decision:
    return decide(CATALOG, subject, AccessRequest(feature_key=feature_key, usage=usage), at, used)


def check_permission(subject: Subject, permission: str, at: datetime = NOW) -> Decision:
    return decide(CATALOG, subject, AccessRequest(permission_key=permission), at)


def expired(entitlement_plan: object = STARTER) -> EntitlementRecord:
    return plan_entitlement(entitlement_plan, start_date=JAN_1, expiration_date=FEB_1)  # type: ignore[arg-type]


def future(entitlement_plan: object = STARTER) -> EntitlementRecord:
    return plan_entitlement(entitlement_plan, start_date=MAR_1, created_at=FEB_1)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- justifications


MEMBER = SubjectRef(7, "jane")


@pytest.mark.parametrize(
    ("subject", "feature_key", "justification"),
    [
        pytest.param(
            Subject("ghost", None), "sso", J.UNKNOWN_SUBJECT, id="an_unknown_tenant_is_unknown_subject"
        ),
        pytest.param(
            Subject("acme", "ghost", tenant=SubjectRef(1, "acme")),
            "sso",
            J.UNKNOWN_SUBJECT,
            id="a_known_tenant_with_an_unknown_user_is_unknown_subject",
        ),
        pytest.param(
            Subject(None, "ghost"),
            "nope",
            J.UNKNOWN_SUBJECT,
            id="unknown_subject_comes_before_unknown_feature",
        ),
        pytest.param(
            Subject(
                "acme",
                "jane",
                SubjectRef(1, "acme"),
                MEMBER,
                is_member=False,
                entitlements=(plan_entitlement(PRO),),
            ),
            "sso",
            J.NOT_A_MEMBER,
            id="a_user_outside_the_tenant_is_not_a_member_even_if_the_tenant_has_it",
        ),
        pytest.param(
            Subject("acme", "jane", SubjectRef(1, "acme"), MEMBER, is_member=False),
            "nope",
            J.NOT_A_MEMBER,
            id="not_a_member_comes_before_unknown_feature",
        ),
        pytest.param(tenant_subject(expired()), "nope", J.UNKNOWN_FEATURE, id="an_unknown_feature_key"),
        pytest.param(tenant_subject(expired()), "seats", J.PLAN_EXPIRED, id="only_an_expired_plan_had_it"),
        pytest.param(
            tenant_subject(plan_entitlement(PRO, revoked_at=FEB_1)),
            "seats",
            J.PLAN_EXPIRED,
            id="only_a_revoked_plan_had_it",
        ),
        pytest.param(tenant_subject(future()), "seats", J.NOT_STARTED, id="only_a_future_plan_has_it"),
        pytest.param(
            tenant_subject(expired(), future()),
            "seats",
            J.NOT_STARTED,
            id="expired_and_future_sources_without_an_active_one_is_not_started",
        ),
        pytest.param(
            tenant_subject(expired(PRO), plan_entitlement(STARTER)),
            "sso",
            J.PLAN_EXPIRED,
            id="an_active_plan_with_sso_false_does_not_hide_the_expired_one_that_had_it",
        ),
        pytest.param(
            tenant_subject(expired(STARTER)),
            "audit",
            J.MISSING_FEATURE,
            id="an_expired_plan_without_the_feature_is_missing_feature",
        ),
        pytest.param(
            tenant_subject(plan_entitlement(STARTER)),
            "sso",
            J.MISSING_FEATURE,
            id="boolean_false_in_a_plan_grants_nothing",
        ),
        pytest.param(tenant_subject(), "sso", J.MISSING_FEATURE, id="no_sources_at_all_is_missing_feature"),
        pytest.param(tenant_subject(plan_entitlement(STARTER)), "seats", None, id="an_active_plan_entitles"),
    ],
)
def test_the_first_justification_that_applies_is_given(
    subject: Subject, feature_key: str, justification: Justification | None
) -> None:
    decision = check(subject, feature_key)
    assert decision.justification is justification
    assert decision.is_entitled is (justification is None)


def test_a_refused_decision_carries_no_value_and_no_sources() -> None:
    decision = check(tenant_subject(expired()), "seats")
    assert (decision.value, decision.limit, decision.unlimited, decision.used, decision.remaining) == (
        None,
        None,
        False,
        None,
        None,
    )
    assert decision.sources == ()
    assert decision.expires_at is None
    assert decision.feature == SEATS


@pytest.mark.parametrize(
    ("subject", "context"),
    [
        pytest.param(
            tenant_subject(), SubscriptionContext.ORGANIZATION, id="a_tenant_key_is_organization_context"
        ),
        pytest.param(
            Subject(None, "jane", user=MEMBER),
            SubscriptionContext.INDIVIDUAL,
            id="only_a_user_key_is_individual",
        ),
        pytest.param(
            Subject("ghost", None), SubscriptionContext.ORGANIZATION, id="refusals_carry_the_context_too"
        ),
    ],
)
def test_the_decision_reports_the_subscription_context(
    subject: Subject, context: SubscriptionContext
) -> None:
    assert check(subject, "sso").context is context


def test_an_individual_entitlement_entitles_the_user_alone() -> None:
    # given
    personal = plan_entitlement(PRO, assign_level=AssignLevel.INDIVIDUAL, user_id=7)
    subject = Subject(None, "jane", user=MEMBER, entitlements=(personal,))
    # when
    decision = check(subject, "sso")
    # then
    assert decision.is_entitled
    assert decision.context is SubscriptionContext.INDIVIDUAL


# --------------------------------------------------------------------------- argument rules


@pytest.mark.parametrize(
    ("tenant_key", "user_key", "request_", "field"),
    [
        pytest.param(None, None, AccessRequest(feature_key="sso"), "tenantKey", id="no_subject"),
        pytest.param("acme", None, AccessRequest(), "featureKey", id="nothing_asked"),
        pytest.param(
            "acme",
            None,
            AccessRequest(feature_key="sso", permission_key="x"),
            "featureKey",
            id="a_feature_and_a_permission",
        ),
        pytest.param(
            "acme",
            None,
            AccessRequest(permission_key="x", route_method="GET", route_path="/"),
            "featureKey",
            id="a_permission_and_a_route",
        ),
        pytest.param("acme", None, AccessRequest(route_method="GET"), "route", id="a_route_without_a_path"),
        pytest.param(
            "acme", None, AccessRequest(feature_key="sso", usage=-1), "usage", id="a_negative_usage"
        ),
    ],
)
def test_breaking_the_argument_rules_is_bad_user_input(
    tenant_key: str | None, user_key: str | None, request_: AccessRequest, field: str
) -> None:
    subject = Subject(tenant_key, user_key)
    with pytest.raises(BadUserInput) as raised:
        decide(CATALOG, subject, request_, NOW)
    assert raised.value.field == field


# --------------------------------------------------------------------------- merging and sources


@pytest.mark.parametrize(
    ("feature_key", "entitlements", "value"),
    [
        pytest.param("sso", (plan_entitlement(STARTER), plan_entitlement(PRO)), True, id="boolean_any_true"),
        pytest.param("seats", (plan_entitlement(PRO), plan_entitlement(STARTER)), 50, id="limit_the_largest"),
        pytest.param(
            "seats", (plan_entitlement(PRO), plan_entitlement(BIG)), UNLIMITED, id="unlimited_beats_50"
        ),
        pytest.param(
            "seats", (plan_entitlement(STARTER), grant(SEATS, 8)), 8, id="an_add_on_grant_raises_a_limit"
        ),
        pytest.param(
            "support",
            (plan_entitlement(PRO), grant(SUPPORT, "basic")),
            "priority",
            id="tier_the_highest_in_feature_order",
        ),
        pytest.param(
            "exports",
            (
                plan_entitlement(PRO, start_date=FEB_1),
                plan_entitlement(STARTER, start_date=JAN_1),
                grant(EXPORTS, ["xlsx", "csv"], start_date=FEB_1, created_at=FEB_1),
            ),
            ["csv", "pdf", "xlsx"],
            id="list_union_in_start_date_then_creation_order",
        ),
        pytest.param(
            "seats", (grant(SEATS, None),), UNLIMITED, id="a_limit_grant_without_value_is_unlimited"
        ),
        pytest.param(
            "support", (grant(SUPPORT),), "dedicated", id="a_tier_grant_without_value_is_the_top_tier"
        ),
    ],
)
def test_the_most_generous_value_wins(
    feature_key: str, entitlements: tuple[EntitlementRecord, ...], value: JsonValue
) -> None:
    assert check(tenant_subject(*entitlements), feature_key).value == value


def test_sources_list_every_active_source_including_losing_values_in_visit_order() -> None:
    # given a later-starting pro plan created first, a starter plan and an expired one
    pro = plan_entitlement(PRO, start_date=FEB_1, created_at=JAN_1)
    starter = plan_entitlement(STARTER, start_date=JAN_1, created_at=FEB_1)
    addon = grant(SEATS, 3, start_date=FEB_1, created_at=FEB_1)
    # when
    decision = check(tenant_subject(pro, addon, starter, expired(PRO)), "seats")
    # then
    assert decision.value == 50
    assert [s.entitlement_id for s in decision.sources] == [starter.id, pro.id, addon.id]
    assert [s.kind for s in decision.sources] == [SourceKind.PLAN, SourceKind.PLAN, SourceKind.GRANT]
    assert [s.plan_id for s in decision.sources] == [STARTER.id, PRO.id, None]


def test_a_boolean_false_source_is_not_listed_as_a_source() -> None:
    decision = check(tenant_subject(plan_entitlement(STARTER), plan_entitlement(PRO)), "sso")
    assert [s.plan_id for s in decision.sources] == [PRO.id]


def test_renewals_of_the_same_plan_are_each_a_source() -> None:
    first, renewal = plan_entitlement(PRO), plan_entitlement(PRO, created_at=FEB_1)
    assert len(check(tenant_subject(first, renewal), "sso").sources) == 2


def test_plans_and_features_missing_from_the_catalog_are_skipped() -> None:
    # given an entitlement to a deleted plan and a grant of a deleted feature
    ghost_plan = plan_entitlement(plan("ghost", id=99))
    ghost_feature = grant(feature("gone", id=98), True)
    # when
    decision = check(tenant_subject(ghost_plan, ghost_feature, plan_entitlement(STARTER)), "seats")
    # then
    assert decision.value == 5
    assert len(decision.sources) == 1


# --------------------------------------------------------------------------- expiry and intervals


@pytest.mark.parametrize(
    ("ends", "expires_at"),
    [
        pytest.param((MAR_1, APR_1), APR_1, id="the_latest_expiry_among_sources"),
        pytest.param((MAR_1, None), None, id="null_when_any_source_never_expires"),
        pytest.param((None,), None, id="null_for_an_open_ended_source"),
    ],
)
def test_expires_at_is_the_latest_expiry(
    ends: tuple[datetime | None, ...], expires_at: datetime | None
) -> None:
    entitlements = [plan_entitlement(PRO, expiration_date=end) for end in ends]
    assert check(tenant_subject(*entitlements), "sso").expires_at == expires_at


def test_a_pending_revocation_ends_the_source_early() -> None:
    # given a plan revoked at April 1st, asked about before then
    decision = check(tenant_subject(plan_entitlement(PRO, revoked_at=APR_1)), "sso", at=MAR_1)
    # then
    assert decision.is_entitled
    assert decision.expires_at == APR_1


@pytest.mark.parametrize(
    ("at", "justification"),
    [
        pytest.param(FEB_1 - timedelta(microseconds=1), J.NOT_STARTED, id="a_microsecond_before_start"),
        pytest.param(FEB_1, None, id="exactly_at_start_is_active"),
        pytest.param(MAR_1 - timedelta(microseconds=1), None, id="a_microsecond_before_expiration_is_active"),
        pytest.param(MAR_1, J.PLAN_EXPIRED, id="exactly_at_expiration_is_expired"),
    ],
)
def test_entitlements_are_active_on_a_half_open_interval(
    at: datetime, justification: Justification | None
) -> None:
    entitlement = plan_entitlement(PRO, start_date=FEB_1, expiration_date=MAR_1)
    assert check(tenant_subject(entitlement), "sso", at=at).justification is justification


@pytest.mark.parametrize(
    ("at", "justification"),
    [
        pytest.param(FEB_1 - timedelta(microseconds=1), None, id="before_the_revocation_it_still_entitles"),
        pytest.param(FEB_1, J.PLAN_EXPIRED, id="from_the_revocation_on_it_does_not"),
    ],
)
def test_a_revocation_applies_from_its_instant(at: datetime, justification: Justification | None) -> None:
    entitlement = plan_entitlement(PRO, revoked_at=FEB_1)
    assert check(tenant_subject(entitlement), "sso", at=at).justification is justification


# --------------------------------------------------------------------------- limits and usage


@pytest.mark.parametrize(
    ("usage", "justification", "remaining"),
    [
        pytest.param(None, None, 5, id="remaining_is_the_limit_when_not_metered"),
        pytest.param(5, None, 5, id="usage_equal_to_remaining_fits"),
        pytest.param(6, J.LIMIT_EXCEEDED, 5, id="usage_beyond_remaining_is_limit_exceeded"),
        pytest.param(0, None, 5, id="zero_usage_fits"),
    ],
)
def test_usage_is_checked_against_remaining(
    usage: int | None, justification: Justification | None, remaining: int
) -> None:
    decision = check(tenant_subject(plan_entitlement(STARTER)), "seats", usage=usage)
    assert decision.justification is justification
    assert (decision.limit, decision.remaining, decision.used) == (5, remaining, None)


def test_limit_exceeded_keeps_the_value_limit_and_sources() -> None:
    # when
    decision = check(tenant_subject(plan_entitlement(STARTER)), "api-calls", usage=11, used=90)
    # then
    assert not decision.is_entitled
    assert decision.justification is J.LIMIT_EXCEEDED
    assert (decision.value, decision.limit, decision.used, decision.remaining) == (100, 100, 90, 10)
    assert len(decision.sources) == 1
    assert decision.resets_at == MAR_1


def test_a_limit_of_zero_is_granted_without_headroom() -> None:
    subject = tenant_subject(grant(SEATS, 0))
    assert check(subject, "seats").is_entitled
    assert check(subject, "seats", usage=1).justification is J.LIMIT_EXCEEDED


@pytest.mark.parametrize(
    ("used", "remaining"),
    [
        pytest.param(None, 100, id="nothing_used_counts_as_zero"),
        pytest.param(40, 60, id="remaining_is_limit_minus_used"),
        pytest.param(100, 0, id="exactly_at_the_limit_leaves_zero"),
        pytest.param(130, 0, id="remaining_is_never_negative"),
    ],
)
def test_metered_remaining_subtracts_usage_in_the_period(used: int | None, remaining: int) -> None:
    decision = check(tenant_subject(plan_entitlement(STARTER)), "api-calls", used=used)
    assert decision.used == (used or 0)
    assert decision.remaining == remaining


def test_an_unlimited_value_has_no_limit_and_never_exceeds() -> None:
    decision = check(tenant_subject(plan_entitlement(BIG)), "api-calls", usage=10**9, used=10**9)
    assert decision.is_entitled
    assert (decision.unlimited, decision.limit, decision.remaining, decision.overage) == (
        True,
        None,
        None,
        None,
    )
    assert decision.used == 10**9


@pytest.mark.parametrize(
    "feature_key",
    [
        pytest.param("sso", id="boolean"),
        pytest.param("support", id="tier"),
        pytest.param("exports", id="list"),
    ],
)
def test_usage_is_ignored_for_features_that_are_not_limits(feature_key: str) -> None:
    decision = check(tenant_subject(plan_entitlement(PRO)), feature_key, usage=10**6, used=10**6)
    assert decision.is_entitled
    assert (decision.used, decision.remaining, decision.limit, decision.resets_at) == (None, None, None, None)


@pytest.mark.parametrize(
    ("feature_key", "used", "usage", "entitled", "overage", "warning"),
    [
        pytest.param("api-calls", 100, 1, False, 0, None, id="block_refuses_usage_past_the_limit"),
        pytest.param(
            "api-calls-allow", 130, 5, True, 30, None, id="allow_stays_entitled_and_reports_overage"
        ),
        pytest.param("api-calls-allow", 40, None, True, 0, None, id="allow_within_the_limit_has_no_overage"),
        pytest.param(
            "api-calls-warn",
            120,
            5,
            True,
            20,
            "usage 120 exceeds the limit of 100 for 'api-calls-warn'",
            id="warn_stays_entitled_and_warns",
        ),
        pytest.param(
            "api-calls-warn", 100, None, True, 0, None, id="warn_at_exactly_the_limit_does_not_warn"
        ),
    ],
)
def test_overage_handling_of_metered_features(
    feature_key: str, used: int, usage: int | None, entitled: bool, overage: int, warning: str | None
) -> None:
    decision = check(tenant_subject(plan_entitlement(STARTER)), feature_key, usage=usage, used=used)
    assert decision.is_entitled is entitled
    assert decision.overage == overage
    assert decision.warning == warning
    assert decision.remaining == max(0, 100 - used)


def test_not_metered_features_report_no_overage_or_reset() -> None:
    decision = check(tenant_subject(plan_entitlement(STARTER)), "seats", used=50)
    assert (decision.overage, decision.warning, decision.resets_at, decision.used) == (None, None, None, None)


@pytest.mark.parametrize(
    ("entitlements", "resets_at"),
    [
        pytest.param(
            (plan_entitlement(STARTER, start_date=utc(2024, 11, 20)),),
            utc(2025, 2, 20),
            id="the_period_is_anchored_at_the_sources_start",
        ),
        pytest.param(
            (
                plan_entitlement(STARTER, start_date=utc(2025, 1, 10)),
                plan_entitlement(PRO, start_date=utc(2024, 12, 5), created_at=utc(2025, 1, 10)),
            ),
            utc(2025, 3, 5),
            id="the_earliest_starting_active_source_is_the_anchor",
        ),
        pytest.param(
            (
                plan_entitlement(PRO, start_date=utc(2024, 1, 3), expiration_date=utc(2024, 6, 1)),
                plan_entitlement(STARTER, start_date=utc(2025, 1, 10)),
            ),
            utc(2025, 3, 10),
            id="an_expired_source_is_not_the_anchor",
        ),
        pytest.param(
            (
                plan_entitlement(PRO, start_date=utc(2024, 12, 5), assign_level=AssignLevel.USER, user_id=7),
                plan_entitlement(STARTER, start_date=utc(2025, 1, 10)),
            ),
            utc(2025, 3, 10),
            id="a_members_earlier_own_grant_does_not_move_the_tenants_counted_period",
        ),
        pytest.param(
            (plan_entitlement(PRO, start_date=utc(2024, 12, 5), assign_level=AssignLevel.USER, user_id=7),),
            MAR_1,
            id="members_own_grants_alone_follow_the_calendar_so_members_share_the_tenants_counter",
        ),
    ],
)
def test_metered_features_reset_at_the_end_of_the_anchored_period(
    entitlements: tuple[EntitlementRecord, ...], resets_at: datetime
) -> None:
    assert check(tenant_subject(*entitlements), "api-calls").resets_at == resets_at


def test_a_flag_only_metered_grant_resets_at_the_calendar_boundary() -> None:
    # given
    beta = flag("beta-calls", API_CALLS, id=1)
    cat = catalog(FEATURES, PLANS, (beta,))
    # when
    decision = decide(cat, tenant_subject(), AccessRequest(feature_key="api-calls"), NOW, 3)
    # then
    assert decision.unlimited
    assert decision.resets_at == MAR_1
    assert decision.used == 3


def test_evaluate_then_conclude_lets_metering_read_the_counter_in_between() -> None:
    # given
    evaluation = evaluate(
        CATALOG,
        tenant_subject(plan_entitlement(STARTER)),
        AccessRequest(feature_key="api-calls", usage=10),
        NOW,
    )
    assert evaluation.grant is not None
    assert evaluation.grant.period is not None
    # when the counter says 95 units were used in the period
    decision = conclude(evaluation, 95)
    # then
    assert (evaluation.grant.period.start, evaluation.grant.period.end) == (FEB_1, MAR_1)
    assert decision.justification is J.LIMIT_EXCEEDED
    assert conclude(evaluation, 90).is_entitled


# --------------------------------------------------------------------------- flags


def test_a_flag_entitles_its_features_with_their_natural_value() -> None:
    # given
    rollout = flag("rollout", BETA, SEATS, id=4, tenant_keys=frozenset({"acme"}))
    cat = catalog(FEATURES, PLANS, (rollout,))
    # when
    beta = decide(cat, tenant_subject(), AccessRequest(feature_key="beta"), NOW)
    seats = decide(cat, tenant_subject(plan_entitlement(PRO)), AccessRequest(feature_key="seats"), NOW)
    # then
    assert beta.is_entitled
    assert beta.value is True
    assert [(s.kind, s.flag_id, s.expires_at) for s in beta.sources] == [(SourceKind.FEATURE_FLAG, 4, None)]
    assert seats.value == UNLIMITED
    assert [s.kind for s in seats.sources] == [SourceKind.PLAN, SourceKind.FEATURE_FLAG]
    assert seats.expires_at is None


@pytest.mark.parametrize(
    ("overrides", "entitled"),
    [
        pytest.param({"on": False}, False, id="a_flag_that_is_off_entitles_nobody"),
        pytest.param({"tenant_keys": frozenset({"globex"})}, False, id="a_flag_targeting_others"),
        pytest.param({}, True, id="a_flag_without_targeting_entitles_everybody"),
    ],
)
def test_flags_entitle_only_the_subjects_they_target(overrides: dict[str, Any], entitled: bool) -> None:
    cat = catalog(FEATURES, PLANS, (flag("beta", BETA, id=1, **overrides),))
    assert decide(cat, tenant_subject(), AccessRequest(feature_key="beta"), NOW).is_entitled is entitled


def test_flags_follow_entitlements_in_id_order_for_list_unions() -> None:
    # given
    exports = feature("exports", LIST, id=4, default_value=["json"])
    cat = catalog((exports,), (), (flag("b", exports, id=2), flag("a", exports, id=1)))
    subject = tenant_subject(grant(exports, ["csv"]))
    # when
    decision = decide(cat, subject, AccessRequest(feature_key="exports"), NOW)
    # then
    assert decision.value == ["csv", "json"]
    assert [s.flag_id for s in decision.sources] == [None, 1, 2]


# --------------------------------------------------------------------------- permissions


def test_a_permission_is_entitled_when_an_entitled_feature_lists_it() -> None:
    # given pro (exports and audit both list reports.export) and an add-on of exports
    pro = plan_entitlement(PRO, expiration_date=APR_1)
    addon = grant(EXPORTS, ["xlsx"], start_date=FEB_1, expiration_date=MAR_1)
    # when
    decision = check_permission(tenant_subject(addon, pro), "reports.export")
    # then the pro source appears once, in visit order
    assert decision.is_entitled
    assert decision.value is True
    assert [s.entitlement_id for s in decision.sources] == [pro.id, addon.id]
    assert decision.expires_at == APR_1
    assert (decision.limit, decision.unlimited, decision.remaining) == (None, False, None)


@pytest.mark.parametrize(
    ("entitlements", "permission", "justification"),
    [
        pytest.param(
            (plan_entitlement(STARTER),),
            "sso.configure",
            J.MISSING_PERMISSION,
            id="a_feature_granted_false_does_not_grant_its_permission",
        ),
        pytest.param(
            (plan_entitlement(PRO),),
            "no.such.permission",
            J.MISSING_PERMISSION,
            id="a_permission_no_feature_lists",
        ),
        pytest.param(
            (expired(PRO),), "audit.read", J.PLAN_EXPIRED, id="a_permission_only_an_expired_plan_had"
        ),
        pytest.param(
            (expired(PRO), future(PRO)),
            "audit.read",
            J.NOT_STARTED,
            id="a_permission_a_future_plan_will_grant",
        ),
        pytest.param(
            (plan_entitlement(STARTER),), "members.invite", None, id="a_limit_feature_grants_its_permission"
        ),
    ],
)
def test_permission_refusals(
    entitlements: tuple[EntitlementRecord, ...], permission: str, justification: Justification | None
) -> None:
    assert check_permission(tenant_subject(*entitlements), permission).justification is justification


def test_permission_expires_at_is_null_when_any_granting_source_never_expires() -> None:
    subject = tenant_subject(plan_entitlement(PRO, expiration_date=MAR_1), grant(AUDIT, True))
    assert check_permission(subject, "reports.export").expires_at is None
