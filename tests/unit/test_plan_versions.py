"""Plan versions (grandfathering), carried-over period anchors and the order of upgrade options: pure rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from entitle.domain.decision import AccessRequest, decide, grant_for
from entitle.domain.denials import target_of, upgrade_options, upgrade_order
from entitle.domain.model import FeatureType, JsonValue, Justification, Plan, PlanFeatureValue, ResetPeriod
from tests.unit.builders import FEB_1, JAN_1, NOW, catalog, feature, plan_entitlement, tenant_subject, utc

SEATS = feature("seats", FeatureType.LIMIT, id=1)
SSO = feature("sso", id=2)
CALLS = feature("calls", FeatureType.LIMIT, id=3, reset_period=ResetPeriod.MONTH)

PRO = Plan(
    id=1,
    key="pro",
    name="Pro",
    version=3,
    features=(PlanFeatureValue(SEATS.id, 20), PlanFeatureValue(SSO.id, True)),
    earlier_versions=(
        (1, (PlanFeatureValue(SEATS.id, 5),)),
        (2, (PlanFeatureValue(SEATS.id, 10), PlanFeatureValue(SSO.id, False))),
    ),
)
CATALOG = catalog((SEATS, SSO, CALLS), (PRO,))


@pytest.mark.parametrize(
    ("version", "feature_key", "value"),
    [
        (1, "seats", 5),  # grandfathered on version 1
        (2, "seats", 10),
        (3, "seats", 20),  # the current version
        (None, "seats", 20),  # no version recorded: the current one
        (1, "sso", None),  # version 1 did not have sso at all
        (2, "sso", None),  # version 2 had it false: grants nothing
        (3, "sso", True),
        (7, "seats", None),  # a version the catalog does not know grants nothing
    ],
)
def test_a_plan_entitlement_is_decided_by_its_version(
    version: int | None, feature_key: str, value: JsonValue
) -> None:
    # given
    subject = tenant_subject(plan_entitlement(PRO, plan_version=version))
    # when
    decision = decide(CATALOG, subject, AccessRequest(feature_key=feature_key), NOW)
    # then
    assert decision.value == value
    assert decision.is_entitled is (value is not None)


def test_two_entitlements_on_different_versions_merge_generously() -> None:
    subject = tenant_subject(plan_entitlement(PRO, plan_version=1), plan_entitlement(PRO, plan_version=2))
    decision = decide(CATALOG, subject, AccessRequest(feature_key="seats"), NOW)
    assert decision.value == 10
    assert len(decision.sources) == 2


def test_upgrade_options_consider_current_versions_only() -> None:
    # given a tenant grandfathered on pro version 1 (5 seats) asking for 15: pro's current version has 20
    subject = tenant_subject(plan_entitlement(PRO, plan_version=1))
    request = AccessRequest(feature_key="seats", usage=15)
    # when
    decision = decide(CATALOG, subject, request, NOW)
    options = upgrade_options(CATALOG, decision, request, target_of(CATALOG, request))
    # then
    assert decision.justification is Justification.LIMIT_EXCEEDED
    assert [p.key for p in options] == ["pro"]
    # and 25 seats: no version of pro would do (its current version has 20)
    request = AccessRequest(feature_key="seats", usage=25)
    decision = decide(CATALOG, subject, request, NOW)
    assert upgrade_options(CATALOG, decision, request, target_of(CATALOG, request)) == []


METERED = Plan(id=2, key="metered", name="Metered", features=(PlanFeatureValue(CALLS.id, 100),))


@pytest.mark.parametrize(
    ("start", "anchor", "at", "period"),
    [
        # no carried anchor: periods start at the entitlement's start
        (utc(2025, 1, 15), None, utc(2025, 1, 20), (utc(2025, 1, 15), utc(2025, 2, 15))),
        # a plan change on Jan 15 that carried the Jan 1 anchor over: the month still runs to Feb 1
        (utc(2025, 1, 15), JAN_1, utc(2025, 1, 20), (JAN_1, FEB_1)),
        (utc(2025, 1, 15), JAN_1, utc(2025, 2, 3), (FEB_1, utc(2025, 3, 1))),
        # at the carried anchor's boundary the new period begins
        (FEB_1, JAN_1, FEB_1, (FEB_1, utc(2025, 3, 1))),
    ],
)
def test_a_carried_over_anchor_keeps_the_usage_period(
    start: datetime, anchor: datetime | None, at: datetime, period: tuple[datetime, datetime]
) -> None:
    subject = tenant_subject(plan_entitlement(METERED, start_date=start, period_anchor=anchor))
    grant = grant_for(catalog((CALLS,), (METERED,)), subject, CALLS, at)
    assert grant is not None
    assert grant.period is not None
    assert (grant.period.start, grant.period.end) == period


def test_the_earliest_anchor_among_the_subjects_grants_wins() -> None:
    # an add-on plan started Jan 10; the changed-to plan started Jan 15 but carries Jan 1
    subject = tenant_subject(
        plan_entitlement(METERED, start_date=utc(2025, 1, 10)),
        plan_entitlement(METERED, start_date=utc(2025, 1, 15), period_anchor=JAN_1),
    )
    grant = grant_for(catalog((CALLS,), (METERED,)), subject, CALLS, utc(2025, 1, 20))
    assert grant is not None
    assert grant.period is not None
    assert grant.period.start == JAN_1


def _plan(key: str, rank: int | None) -> Plan:
    return Plan(id=hash(key) % 1000, key=key, name=key, rank=rank)


@pytest.mark.parametrize(
    ("plans", "ordered"),
    [
        ([("b", None), ("a", None)], ["a", "b"]),  # no ranks: by key
        ([("z", 1), ("a", None)], ["z", "a"]),  # ranked first, unranked last
        ([("pro", 2), ("team", 1), ("basic", 2)], ["team", "basic", "pro"]),  # rank, then key
        ([("neg", -5), ("zero", 0), ("none", None)], ["neg", "zero", "none"]),
    ],
)
def test_upgrade_options_are_ordered_by_rank_nulls_last_then_key(
    plans: list[tuple[str, Any]], ordered: list[str]
) -> None:
    assert [p.key for p in sorted((_plan(k, r) for k, r in plans), key=upgrade_order)] == ordered
