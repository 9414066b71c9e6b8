"""Route decisions (contract §6): ALLOW, DENY, REQUIRE_FEATURE, REQUIRE_PERMISSION, no match."""

from __future__ import annotations

import pytest

from entitle.domain.decision import AccessRequest, Decision, decide
from entitle.domain.model import (
    FeatureType,
    Justification,
    RoutePolicy,
    SourceKind,
    Subject,
    SubjectRef,
)
from tests.unit.builders import NOW, catalog, feature, plan, plan_entitlement, route, tenant_subject

J = Justification
REPORTS = feature("reports", id=1, permissions=("reports.read",))
SEATS = feature("seats", FeatureType.LIMIT, id=2)
PRO = plan("pro", id=1, values={REPORTS: True, SEATS: 10})
ROUTES = (
    route(1, "GET", "/api/public/**", RoutePolicy.ALLOW),
    route(2, "*", "/api/admin/**", RoutePolicy.DENY),
    route(3, "GET", "/api/reports/{id}", RoutePolicy.REQUIRE_FEATURE, feature_id=REPORTS.id),
    route(
        4, "GET", "/api/reports-by-permission", RoutePolicy.REQUIRE_PERMISSION, permission_key="reports.read"
    ),
    route(5, "POST", "/api/members", RoutePolicy.REQUIRE_FEATURE, feature_id=SEATS.id),
    route(6, "GET", "/api/retired", RoutePolicy.REQUIRE_FEATURE, feature_id=99),
)
CATALOG = catalog((REPORTS, SEATS), (PRO,), (), ROUTES)


def check_route(subject: Subject, method: str, path: str, usage: int | None = None) -> Decision:
    return decide(CATALOG, subject, AccessRequest(route_method=method, route_path=path, usage=usage), NOW)


@pytest.mark.parametrize(
    ("entitled_subject", "method", "path", "justification"),
    [
        pytest.param(False, "GET", "/api/public/docs", None, id="an_allow_route_entitles_without_any_plan"),
        pytest.param(
            True, "DELETE", "/api/admin/users/1", J.ROUTE_DENIED, id="a_deny_route_refuses_even_a_customer"
        ),
        pytest.param(
            True, "GET", "/api/reports/7", None, id="require_feature_entitles_a_subject_with_the_feature"
        ),
        pytest.param(
            False, "GET", "/api/reports/7", J.MISSING_FEATURE, id="require_feature_refuses_without_it"
        ),
        pytest.param(
            True, "GET", "/api/reports-by-permission", None, id="require_permission_entitles_with_it"
        ),
        pytest.param(
            False,
            "get",
            "/api/reports-by-permission/",
            J.MISSING_PERMISSION,
            id="require_permission_refuses_without_it",
        ),
        pytest.param(
            True, "GET", "/api/retired", J.UNKNOWN_FEATURE, id="require_feature_of_a_deleted_feature"
        ),
        pytest.param(True, "GET", "/api/unknown", J.MISSING_ROUTE, id="no_matching_route_is_missing_route"),
        pytest.param(True, "POST", "/api/reports/7", J.MISSING_ROUTE, id="another_method_is_missing_route"),
    ],
)
def test_route_policies(
    entitled_subject: bool, method: str, path: str, justification: Justification | None
) -> None:
    subject = tenant_subject(plan_entitlement(PRO)) if entitled_subject else tenant_subject()
    decision = check_route(subject, method, path)
    assert decision.justification is justification
    assert decision.is_entitled is (justification is None)


def test_an_allow_route_has_one_route_source_and_no_value() -> None:
    decision = check_route(tenant_subject(), "GET", "/api/public/docs?lang=en")
    assert decision.value is None
    assert [(s.kind, s.entitlement_id, s.plan_id, s.flag_id, s.expires_at) for s in decision.sources] == [
        (SourceKind.ROUTE, None, None, None, None)
    ]


def test_a_require_feature_route_is_decided_like_the_feature_including_usage() -> None:
    decision = check_route(tenant_subject(plan_entitlement(PRO)), "POST", "/api/members", usage=11)
    assert decision.justification is J.LIMIT_EXCEEDED
    assert (decision.limit, decision.remaining) == (10, 10)
    assert decision.feature == SEATS


@pytest.mark.parametrize(
    ("subject", "justification"),
    [
        pytest.param(Subject("ghost", None), J.UNKNOWN_SUBJECT, id="unknown_subject_before_allow"),
        pytest.param(
            Subject("acme", "jane", SubjectRef(1, "acme"), SubjectRef(2, "jane"), is_member=False),
            J.NOT_A_MEMBER,
            id="not_a_member_before_allow",
        ),
    ],
)
def test_subject_checks_come_before_route_matching(subject: Subject, justification: Justification) -> None:
    assert check_route(subject, "GET", "/api/public/docs").justification is justification
