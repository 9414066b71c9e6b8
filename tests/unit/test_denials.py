"""Actionable denials: the end-user sentence and the plans that would entitle (contract §11)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from entitle.domain.decision import AccessRequest, decide
from entitle.domain.denials import denial_message, target_of, upgrade_options
from entitle.domain.model import (
    UNLIMITED,
    FeatureType,
    ResetPeriod,
    RoutePolicy,
    Subject,
    SubjectRef,
)
from tests.unit.builders import (
    FEB_1,
    JAN_1,
    NOW,
    catalog,
    feature,
    grant,
    plan,
    plan_entitlement,
    route,
    tenant_subject,
)

SEATS = feature("seat_limit", FeatureType.LIMIT, id=1, name="Seats")
CALLS = feature("monthly_calls", FeatureType.LIMIT, id=2, name="API calls", reset_period=ResetPeriod.MONTH)
EXPORT = feature("export_reports", id=3, name="Exports", permissions=("reports.export",))
SSO = feature("sso_login", id=4, name="Single sign-on")
FREE = plan("plan_free", id=10, values={SEATS: 3, CALLS: 1_000})
TEAM = plan("plan_team", id=11, values={SEATS: 10, CALLS: 5_000, EXPORT: True})
ENTERPRISE = plan(
    "plan_enterprise", id=12, values={SEATS: UNLIMITED, CALLS: UNLIMITED, EXPORT: True, SSO: True}
)
CATALOG = catalog(
    (SEATS, CALLS, EXPORT, SSO),
    (TEAM, ENTERPRISE, FREE),
    routes=(
        route(20, "GET", "/reports/**", RoutePolicy.REQUIRE_PERMISSION, permission_key="reports.export"),
        route(21, "GET", "/admin/**", RoutePolicy.DENY),
        route(22, "GET", "/sso/**", RoutePolicy.REQUIRE_FEATURE, feature_id=SSO.id),
    ),
)
ON_FREE = tenant_subject(plan_entitlement(FREE))
EXPIRED_TEAM = tenant_subject(plan_entitlement(TEAM, expiration_date=FEB_1))
FUTURE_TEAM = tenant_subject(plan_entitlement(TEAM, start_date=NOW + timedelta(days=3)))
UNKNOWN = Subject(tenant_key="ghost", user_key=None)
OUTSIDER = Subject(
    tenant_key="acme", user_key="eve", tenant=SubjectRef(id=1, key="acme"), user=SubjectRef(id=2, key="eve")
)


def _explain(
    subject: Subject, request: AccessRequest, used: int | None = None
) -> tuple[str | None, list[str]]:
    decision = decide(CATALOG, subject, request, NOW, used)
    target = target_of(CATALOG, request)
    options = upgrade_options(CATALOG, decision, request, target)
    return denial_message(decision, target), [p.key for p in options]


CASES = [
    # (name, subject, request, used, message, upgrade options)
    ("entitled", ON_FREE, AccessRequest(feature_key="seat_limit"), None, None, []),
    (
        "unknown subject",
        UNKNOWN,
        AccessRequest(feature_key="sso_login"),
        None,
        "We could not find your account.",
        [],
    ),
    (
        "not a member",
        OUTSIDER,
        AccessRequest(feature_key="sso_login"),
        None,
        "You are not a member of this organization.",
        [],
    ),
    ("unknown feature", ON_FREE, AccessRequest(feature_key="nope"), None, "This feature does not exist.", []),
    (
        "missing feature",
        ON_FREE,
        AccessRequest(feature_key="sso_login"),
        None,
        "Your plan does not include Single sign-on.",
        ["plan_enterprise"],
    ),
    (
        "missing permission",
        ON_FREE,
        AccessRequest(permission_key="reports.export"),
        None,
        "Your plan does not allow this action.",
        ["plan_enterprise", "plan_team"],
    ),
    (
        "expired",
        EXPIRED_TEAM,
        AccessRequest(feature_key="export_reports"),
        None,
        "Your access to Exports has expired.",
        ["plan_enterprise", "plan_team"],
    ),
    (
        "not started",
        FUTURE_TEAM,
        AccessRequest(feature_key="export_reports"),
        None,
        "Your access to Exports has not started yet.",
        ["plan_enterprise", "plan_team"],
    ),
    (
        "metered, all used",
        ON_FREE,
        AccessRequest(feature_key="monthly_calls", usage=1),
        1_000,
        "You have used all 1,000 API calls of this month.",
        ["plan_enterprise", "plan_team"],
    ),
    (
        "metered, some left",
        ON_FREE,
        AccessRequest(feature_key="monthly_calls", usage=50),
        990,
        "Only 10 of your 1,000 API calls are left of this month.",
        ["plan_enterprise", "plan_team"],
    ),
    (
        "metered, more than any finite plan",
        ON_FREE,
        AccessRequest(feature_key="monthly_calls", usage=4_500),
        900,
        "Only 100 of your 1,000 API calls are left of this month.",
        ["plan_enterprise"],
    ),
    (
        "not metered limit",
        ON_FREE,
        AccessRequest(feature_key="seat_limit", usage=5),
        None,
        "Your plan allows up to 3 Seats.",
        ["plan_enterprise", "plan_team"],
    ),
    (
        "route requiring a permission",
        ON_FREE,
        AccessRequest(route_method="GET", route_path="/reports/q1"),
        None,
        "Your plan does not allow this action.",
        ["plan_enterprise", "plan_team"],
    ),
    (
        "route requiring a feature",
        ON_FREE,
        AccessRequest(route_method="GET", route_path="/sso/login"),
        None,
        "Your plan does not include Single sign-on.",
        ["plan_enterprise"],
    ),
    (
        "denied route",
        ON_FREE,
        AccessRequest(route_method="GET", route_path="/admin/x"),
        None,
        "Access to this endpoint is denied.",
        [],
    ),
    (
        "no route",
        ON_FREE,
        AccessRequest(route_method="GET", route_path="/elsewhere"),
        None,
        "This endpoint is not available.",
        [],
    ),
]


@pytest.mark.parametrize(
    ("subject", "request_", "used", "message", "options"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_denial_explains_itself_and_names_the_plans_that_would_entitle(
    subject: Subject, request_: AccessRequest, used: int | None, message: str | None, options: list[str]
) -> None:
    assert _explain(subject, request_, used) == (message, options)


def test_a_single_feature_grant_that_expired_names_the_feature() -> None:
    subject = tenant_subject(grant(SSO, True, start_date=JAN_1, expiration_date=FEB_1))
    message, options = _explain(subject, AccessRequest(feature_key="sso_login"))
    assert message == "Your access to Single sign-on has expired."
    assert options == ["plan_enterprise"]


def test_no_message_carries_an_internal_id_or_key() -> None:
    for _name, subject, request_, used, _message, _options in CASES:
        message, _ = _explain(subject, request_, used)
        for internal in (
            "seat_limit",
            "monthly_calls",
            "export_reports",
            "sso_login",
            "reports.export",
            "plan_",
        ):
            assert message is None or internal not in message
