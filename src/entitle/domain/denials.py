"""Actionable denials (contract §11): a sentence for the end user, and the plans that would entitle.

Both are read from a refused decision, the request it answered and the catalog it was decided on.
``message`` names features by their name (never an id or key) and is null when entitled.
``upgrade_options`` are the plans whose values would entitle the request, with enough limit for the
requested ``usage`` on ``LIMIT_EXCEEDED``, by rank (lowest first, null last) then key. A refusal
about the subject itself (unknown, not a member), an unknown feature, or a route that no plan can open
(no route, or a DENY route) has no upgrade options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from entitle.domain.catalog import Catalog
from entitle.domain.decision import AccessRequest, Decision
from entitle.domain.model import (
    UNLIMITED,
    Feature,
    JsonValue,
    Justification,
    Plan,
    ResetPeriod,
    RoutePolicy,
)

_PERIOD_WORDS = {
    ResetPeriod.DAY: "for today",
    ResetPeriod.WEEK: "of this week",
    ResetPeriod.MONTH: "of this month",
    ResetPeriod.YEAR: "of this year",
}

_FIXED_MESSAGES = {
    Justification.UNKNOWN_SUBJECT: "We could not find your account.",
    Justification.NOT_A_MEMBER: "You are not a member of this organization.",
    Justification.UNKNOWN_FEATURE: "This feature does not exist.",
    Justification.MISSING_PERMISSION: "Your plan does not allow this action.",
    Justification.MISSING_ROUTE: "This endpoint is not available.",
    Justification.ROUTE_DENIED: "Access to this endpoint is denied.",
}


_NO_UPGRADE = {None, Justification.UNKNOWN_SUBJECT, Justification.NOT_A_MEMBER}
"""Entitled, or refused for who is asking: no plan changes that. (Unknown features and routes that no
plan opens have no target, so they find no plan either.)"""


@dataclass(frozen=True, slots=True)
class Target:
    """What a request asks for once routes are resolved: a feature, a permission, or nothing a plan gives."""

    feature: Feature | None = None
    permission: str | None = None


def target_of(catalog: Catalog, request: AccessRequest) -> Target:
    if request.feature_key is not None:
        return Target(feature=catalog.features_by_key.get(request.feature_key))
    if request.permission_key is not None:
        return Target(permission=request.permission_key)
    route = catalog.compiled_routes.match(request.route_method or "", request.route_path or "")
    if route is None or route.policy in (RoutePolicy.ALLOW, RoutePolicy.DENY):
        return Target()
    if route.policy is RoutePolicy.REQUIRE_FEATURE:
        feature = None if route.feature_id is None else catalog.features_by_id.get(route.feature_id)
        return Target(feature=feature)
    return Target(permission=route.permission_key)


def denial_message(decision: Decision, target: Target) -> str | None:
    """A sentence a product can show its end user as is; None when entitled."""
    why = decision.justification
    if why is None:
        return None
    fixed = _FIXED_MESSAGES.get(why)
    if fixed is not None:
        return fixed
    feature = target.feature
    what = feature.name if feature is not None else "this"
    if why is Justification.PLAN_EXPIRED:
        return f"Your access to {what} has expired."
    if why is Justification.NOT_STARTED:
        return f"Your access to {what} has not started yet."
    if why is Justification.MISSING_FEATURE:
        return f"Your plan does not include {what}."
    return _limit_message(decision, what, feature)


def _limit_message(decision: Decision, what: str, feature: Feature | None) -> str:
    limit = decision.limit if decision.limit is not None else 0
    period = feature.reset_period if feature is not None else None
    if decision.used is None or period is None:
        return f"Your plan allows up to {limit:,} {what}."
    when = _PERIOD_WORDS[period]
    remaining = decision.remaining or 0
    if remaining == 0:
        return f"You have used all {limit:,} {what} {when}."
    return f"Only {remaining:,} of your {limit:,} {what} are left {when}."


def upgrade_options(
    catalog: Catalog, decision: Decision, request: AccessRequest, target: Target
) -> list[Plan]:
    """The plans (their current versions) that would entitle this request, by rank then key."""
    if decision.justification in _NO_UPGRADE:
        return []
    if target.feature is not None:
        needed = _needed_units(decision, request)
        feature_id = target.feature.id
        wanted = [
            p for p in catalog.plans_by_id.values() if _fits(catalog.plan_values[p.id], feature_id, needed)
        ]
    elif target.permission is not None:
        granting = {f.id for f in catalog.features_by_permission.get(target.permission, ())}
        wanted = [p for p in catalog.plans_by_id.values() if granting & catalog.plan_values[p.id].keys()]
    else:
        return []
    return sorted(wanted, key=upgrade_order)


def upgrade_order(plan: Plan) -> tuple[bool, int, str]:
    """By ``rank`` (lowest first, plans without one last), then key."""
    return (plan.rank is None, plan.rank or 0, plan.key)


def _needed_units(decision: Decision, request: AccessRequest) -> int | None:
    """The limit a plan needs on LIMIT_EXCEEDED: what is used in the period plus what is asked."""
    if decision.justification is not Justification.LIMIT_EXCEEDED or request.usage is None:
        return None
    return (decision.used or 0) + request.usage


def _fits(values: Mapping[int, JsonValue], feature_id: int, needed: int | None) -> bool:
    value = values.get(feature_id)
    if value is None:
        return False
    if needed is None or value == UNLIMITED:
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value >= needed
