"""Effective grants (``effectiveEntitlements``) and the indexed catalog."""

from __future__ import annotations

from entitle.domain.catalog import Catalog
from entitle.domain.decision import effective_grants, grant_for
from entitle.domain.model import UNLIMITED, FeatureType, ResetPeriod, Subject
from tests.unit.builders import (
    FEB_1,
    MAR_1,
    NOW,
    catalog,
    feature,
    flag,
    grant,
    plan,
    plan_entitlement,
    route,
    tenant_subject,
    utc,
)

SSO = feature("sso", id=1, permissions=("sso.configure",))
SEATS = feature("seats", FeatureType.LIMIT, id=2, permissions=("members.invite", "sso.configure"))
CALLS = feature("calls", FeatureType.LIMIT, id=3, reset_period=ResetPeriod.DAY)
BETA = feature("beta", id=4)
STARTER = plan("starter", id=1, values={SSO: False, SEATS: 5, CALLS: 100})


def test_effective_grants_list_every_granted_feature_by_feature_id() -> None:
    # given a plan with sso false, a seats add-on and a beta flag for everybody
    cat = catalog((SSO, SEATS, CALLS, BETA), (STARTER,), (flag("beta", BETA, id=1),))
    subject = tenant_subject(grant(SEATS, UNLIMITED, start_date=FEB_1), plan_entitlement(STARTER))
    # when
    grants = effective_grants(cat, subject, NOW)
    # then
    assert [(g.feature.key, g.value) for g in grants] == [
        ("seats", UNLIMITED),
        ("calls", 100),
        ("beta", True),
    ]
    assert grants[0].unlimited
    assert grants[0].limit is None
    assert grants[1].limit == 100
    assert grants[1].period is not None
    assert grants[1].period.end == utc(2025, 2, 16)


def test_effective_grants_are_empty_for_a_refused_subject() -> None:
    cat = catalog((BETA,), (), (flag("beta", BETA, id=1),))
    assert effective_grants(cat, Subject("ghost", None), NOW) == []
    assert grant_for(cat, Subject("ghost", None), BETA, NOW) is None


def test_grant_for_is_none_when_nothing_active_grants_the_feature() -> None:
    cat = catalog((SSO, SEATS, CALLS), (STARTER,))
    subject = tenant_subject(plan_entitlement(STARTER, expiration_date=FEB_1))
    assert grant_for(cat, subject, SEATS, MAR_1) is None
    assert grant_for(cat, subject, SSO, NOW) is None


def test_the_catalog_indexes_features_plans_flags_and_routes() -> None:
    # given
    cat = Catalog.build(
        7,
        (SEATS, SSO),
        (STARTER,),
        (flag("b", BETA, id=2), flag("a", BETA, id=1)),
        (route(2, "GET", "/b"), route(1, "GET", "/a")),
    )
    # then
    assert cat.revision == 7
    assert cat.features_by_key["sso"] is SSO
    assert cat.plans_by_key["starter"] is STARTER
    assert [f.id for f in cat.flags] == [1, 2]
    assert [r.id for r in cat.routes] == [1, 2]
    assert cat.features_by_permission["sso.configure"] == (SSO, SEATS)
    assert dict(cat.plan_values[STARTER.id]) == {SEATS.id: 5}
    assert cat.flags_by_feature_id == {}
    assert cat.compiled_routes.match("GET", "/a") is not None


def test_the_empty_catalog_knows_nothing() -> None:
    empty = Catalog.empty()
    assert (empty.revision, len(empty.features_by_id), len(empty.routes)) == (0, 0, 0)
