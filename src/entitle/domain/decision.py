"""The decision: may this subject use this feature / permission / route at this instant?

Two phases so that metering can read the usage counter in between: ``evaluate`` does everything
that needs only the catalog and the subject's sources; ``conclude`` adds the units used in the
current period. ``decide`` does both (for tests and non-metered checks).

Refusals, the first that applies: UNKNOWN_SUBJECT, NOT_A_MEMBER, UNKNOWN_FEATURE, PLAN_EXPIRED
(only expired or revoked sources had it), NOT_STARTED (future sources had it; wins over
PLAN_EXPIRED), MISSING_FEATURE / MISSING_PERMISSION / MISSING_ROUTE / ROUTE_DENIED, LIMIT_EXCEEDED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from entitle.domain import metering
from entitle.domain.catalog import Catalog
from entitle.domain.errors import BadUserInput
from entitle.domain.grants import DecisionSource, FeatureGrant, SourceVisit, latest_expiry
from entitle.domain.model import (
    Feature,
    FeatureType,
    JsonValue,
    Justification,
    OverageHandling,
    RoutePolicy,
    SourceKind,
    Subject,
    SubscriptionContext,
)

__all__ = [
    "AccessRequest",
    "Decision",
    "DecisionSource",
    "Evaluation",
    "FeatureGrant",
    "conclude",
    "decide",
    "effective_grants",
    "evaluate",
    "grant_for",
    "validate_request",
]


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """Exactly one of ``feature_key``, ``permission_key`` or a route (method and path)."""

    feature_key: str | None = None
    permission_key: str | None = None
    route_method: str | None = None
    route_path: str | None = None
    usage: int | None = None

    @property
    def has_route(self) -> bool:
        return self.route_method is not None or self.route_path is not None


def validate_request(tenant_key: str | None, user_key: str | None, request: AccessRequest) -> None:
    """Raise ``BadUserInput`` when the arguments break the rules of ``isEntitledTo``."""
    if tenant_key is None and user_key is None:
        raise BadUserInput("give a tenantKey, a userKey or both", field="tenantKey")
    asked = sum((request.feature_key is not None, request.permission_key is not None, request.has_route))
    if asked != 1:
        raise BadUserInput("give exactly one of featureKey, permissionKey or route", field="featureKey")
    if request.has_route and (request.route_method is None or request.route_path is None):
        raise BadUserInput("a route needs both a method and a path", field="route")
    if request.usage is not None and request.usage < 0:
        raise BadUserInput(f"usage must not be negative, got {request.usage}", field="usage")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Phase 1 of a decision: everything except the usage counter.

    ``justification`` is a refusal known before usage (None when entitled so far). ``grant`` is set
    for a feature (or REQUIRE_FEATURE route) that is granted; ``permission_grants`` for a permission
    (or REQUIRE_PERMISSION route). ``feature`` is the feature asked about, when it exists.
    """

    context: SubscriptionContext
    justification: Justification | None
    grant: FeatureGrant | None
    permission_grants: tuple[FeatureGrant, ...]
    sources: tuple[DecisionSource, ...]
    usage: int | None
    feature: Feature | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    is_entitled: bool
    justification: Justification | None
    context: SubscriptionContext
    value: JsonValue
    limit: int | None
    unlimited: bool
    used: int | None
    remaining: int | None
    resets_at: datetime | None
    overage: int | None
    warning: str | None
    expires_at: datetime | None
    sources: tuple[DecisionSource, ...]
    feature: Feature | None
    held: int | None = None
    """Units reserved and not yet settled (metered features): counted as used by every check."""


_ROUTE_SOURCE = DecisionSource(SourceKind.ROUTE)


def evaluate(catalog: Catalog, subject: Subject, request: AccessRequest, at: datetime) -> Evaluation:
    """Phase 1: resolve the subject, the target and the merged grant, for a request its caller
    validated (``validate_request``) before loading anything."""
    refusal = _subject_refusal(subject)
    if refusal is not None:
        return _refusal(subject, refusal, request)
    if request.feature_key is not None:
        feature = catalog.features_by_key.get(request.feature_key)
        return _evaluate_feature(catalog, subject, feature, request, at)
    if request.permission_key is not None:
        return _evaluate_permission(catalog, subject, request.permission_key, request, at)
    route = catalog.compiled_routes.match(request.route_method or "", request.route_path or "")
    if route is None:
        return _refusal(subject, Justification.MISSING_ROUTE, request)
    if route.policy is RoutePolicy.DENY:
        return _refusal(subject, Justification.ROUTE_DENIED, request)
    if route.policy is RoutePolicy.ALLOW:
        return Evaluation(subject.context, None, None, (), (_ROUTE_SOURCE,), request.usage)
    if route.policy is RoutePolicy.REQUIRE_FEATURE:
        feature = None if route.feature_id is None else catalog.features_by_id.get(route.feature_id)
        return _evaluate_feature(catalog, subject, feature, request, at)
    return _evaluate_permission(catalog, subject, route.permission_key or "", request, at)


def conclude(evaluation: Evaluation, used: int | None, held: int = 0) -> Decision:
    """Phase 2: the decision, given ``used`` units in ``evaluation.grant.period`` (metered only) and
    ``held`` units reserved there (they count as used: ``remaining`` is ``limit - used - held``).

    ``evaluation.usage`` units are checked against ``remaining`` for LIMIT features, except for
    metered features whose overage is ALLOW or WARN (consumption beyond the limit is permitted).
    """
    if evaluation.grant is not None and evaluation.justification is None:
        return _feature_decision(evaluation, evaluation.grant, used, held)
    if evaluation.justification is not None:
        return _refused(evaluation, evaluation.justification)
    if evaluation.permission_grants:
        return _decision(evaluation, value=True, expires_at=latest_expiry(evaluation.sources))
    return _decision(evaluation, value=None, expires_at=None)


def decide(
    catalog: Catalog, subject: Subject, request: AccessRequest, at: datetime, used: int | None = None
) -> Decision:
    """``validate_request``, ``evaluate`` then ``conclude``."""
    validate_request(subject.tenant_key, subject.user_key, request)
    return conclude(evaluate(catalog, subject, request, at), used)


def grant_for(catalog: Catalog, subject: Subject, feature: Feature, at: datetime) -> FeatureGrant | None:
    """The feature's grant, or None when no active source grants it (or the subject is refused)."""
    if _subject_refusal(subject) is not None:
        return None
    return SourceVisit(catalog, subject, at).lookup(feature).grant


def effective_grants(catalog: Catalog, subject: Subject, at: datetime) -> list[FeatureGrant]:
    """Every feature granted to the subject at ``at``, by feature id ([] when the subject is refused)."""
    if _subject_refusal(subject) is not None:
        return []
    visit = SourceVisit(catalog, subject, at)
    grants = []
    for feature_id in sorted(visit.granted_feature_ids()):
        grant = visit.lookup(catalog.features_by_id[feature_id]).grant
        if grant is not None:
            grants.append(grant)
    return grants


# --------------------------------------------------------------------------- phase 1


def _subject_refusal(subject: Subject) -> Justification | None:
    if not subject.known:
        return Justification.UNKNOWN_SUBJECT
    if subject.tenant_key is not None and subject.user_key is not None and not subject.is_member:
        return Justification.NOT_A_MEMBER
    return None


def _refusal(
    subject: Subject, justification: Justification, request: AccessRequest, feature: Feature | None = None
) -> Evaluation:
    return Evaluation(subject.context, justification, None, (), (), request.usage, feature)


def _inactive_refusal(had_expired: bool, had_future: bool, missing: Justification) -> Justification:
    if had_future:
        return Justification.NOT_STARTED
    if had_expired:
        return Justification.PLAN_EXPIRED
    return missing


def _evaluate_feature(
    catalog: Catalog, subject: Subject, feature: Feature | None, request: AccessRequest, at: datetime
) -> Evaluation:
    if feature is None:
        return _refusal(subject, Justification.UNKNOWN_FEATURE, request)
    lookup = SourceVisit(catalog, subject, at).lookup(feature)
    if lookup.grant is None:
        why = _inactive_refusal(lookup.had_expired, lookup.had_future, Justification.MISSING_FEATURE)
        return _refusal(subject, why, request, feature)
    grant = lookup.grant
    return Evaluation(subject.context, None, grant, (), grant.sources, request.usage, feature)


def _evaluate_permission(
    catalog: Catalog, subject: Subject, permission: str, request: AccessRequest, at: datetime
) -> Evaluation:
    visit = SourceVisit(catalog, subject, at)
    grants: list[FeatureGrant] = []
    had_expired = had_future = False
    for feature in catalog.features_by_permission.get(permission, ()):
        lookup = visit.lookup(feature)
        if lookup.grant is not None:
            grants.append(lookup.grant)
        had_expired = had_expired or lookup.had_expired
        had_future = had_future or lookup.had_future
    if not grants:
        why = _inactive_refusal(had_expired, had_future, Justification.MISSING_PERMISSION)
        return _refusal(subject, why, request)
    sources = visit.in_visit_order([source for grant in grants for source in grant.sources])
    return Evaluation(subject.context, None, None, tuple(grants), sources, request.usage)


# --------------------------------------------------------------------------- phase 2


def _feature_decision(evaluation: Evaluation, grant: FeatureGrant, used: int | None, held: int) -> Decision:
    feature = grant.feature
    limit = grant.limit
    metered = grant.period is not None
    used_now = (used or 0) if metered else None
    remaining = limit
    overage = warning = None
    if used_now is not None and limit is not None:
        remaining = metering.remaining(limit, used_now, held)
        overage = max(0, used_now - limit)
        if feature.overage is OverageHandling.WARN and used_now > limit:
            warning = f"usage {used_now} exceeds the limit of {limit} for {feature.key!r}"
        else:
            warning = metering.threshold_warning(feature.key, feature.warning_thresholds, limit, used_now)
    blocks = not metered or feature.overage is OverageHandling.BLOCK
    usage = evaluation.usage
    exceeded = (
        feature.type is FeatureType.LIMIT
        and blocks
        and usage is not None
        and remaining is not None
        and usage > remaining
    )
    return Decision(
        is_entitled=not exceeded,
        justification=Justification.LIMIT_EXCEEDED if exceeded else None,
        context=evaluation.context,
        value=grant.value,
        limit=limit,
        unlimited=grant.unlimited,
        used=used_now,
        remaining=remaining,
        resets_at=grant.period.end if grant.period is not None else None,
        overage=overage,
        warning=warning,
        expires_at=grant.expires_at,
        sources=grant.sources,
        feature=feature,
        held=held if metered else None,
    )


def _refused(evaluation: Evaluation, justification: Justification) -> Decision:
    return _unquantified(
        evaluation, justification, value=None, expires_at=None, sources=(), feature=evaluation.feature
    )


def _decision(evaluation: Evaluation, *, value: JsonValue, expires_at: datetime | None) -> Decision:
    """An entitled decision without a feature value (a permission, or an ALLOW route)."""
    return _unquantified(
        evaluation, None, value=value, expires_at=expires_at, sources=evaluation.sources, feature=None
    )


def _unquantified(
    evaluation: Evaluation,
    justification: Justification | None,
    *,
    value: JsonValue,
    expires_at: datetime | None,
    sources: tuple[DecisionSource, ...],
    feature: Feature | None,
) -> Decision:
    """A decision with no limit, usage or period: entitled exactly when there is no justification."""
    return Decision(
        is_entitled=justification is None,
        justification=justification,
        context=evaluation.context,
        value=value,
        limit=None,
        unlimited=False,
        used=None,
        remaining=None,
        resets_at=None,
        overage=None,
        warning=None,
        expires_at=expires_at,
        sources=sources,
        feature=feature,
    )
