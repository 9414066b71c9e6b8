"""The decision use cases: ``check_access`` (isEntitledTo) and ``effective_entitlements``.

The catalog and the subject's context come from per-process caches; only metered features
read their usage counter. The rules themselves are the pure ``entitle.domain.decision``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from entitle.clock import now
from entitle.db.repositories.catalog import CatalogSnapshot
from entitle.db.repositories.usage import usage_in_periods, usage_subject
from entitle.domain.decision import (
    AccessRequest,
    Decision,
    conclude,
    effective_grants,
    evaluate,
    validate_request,
)
from entitle.domain.grants import FeatureGrant
from entitle.domain.metering import remaining
from entitle.domain.model import Subject
from entitle.metrics import record_decision
from entitle.services.runtime import Runtime

SubjectLoader = Callable[[str | None, str | None], Awaitable[Subject]]


async def check_access(
    runtime: Runtime,
    load_subject: SubjectLoader,
    tenant_key: str | None,
    user_key: str | None,
    request: AccessRequest,
    at: datetime,
) -> tuple[Decision, Subject]:
    validate_request(tenant_key, user_key, request)
    snapshot = await runtime.catalog.get()
    subject = await load_subject(tenant_key, user_key)
    evaluation = evaluate(snapshot.catalog, subject, request, at)
    grant = evaluation.grant
    used, held = None, 0
    if grant is not None and grant.period is not None:
        used, held = (await _usage(runtime, subject, [grant])).get(grant.feature.id, (0, 0))
    decision = conclude(evaluation, used, held)
    record_decision(decision.is_entitled, decision.justification)
    return decision, subject


@dataclass(frozen=True)
class EffectiveFeatureView:
    grant: FeatureGrant
    used: int | None
    held: int = 0

    @property
    def remaining(self) -> int | None:
        return remaining(self.grant.limit, self.used or 0, self.held)


@dataclass(frozen=True)
class EffectiveView:
    subject: Subject
    features: list[EffectiveFeatureView]
    permissions: list[str]
    snapshot: CatalogSnapshot
    """The catalog the grants were computed from (render from it, not from a newer one)."""


async def effective_entitlements(
    runtime: Runtime, load_subject: SubjectLoader, tenant_key: str | None, user_key: str | None, at: datetime
) -> EffectiveView:
    validate_request(tenant_key, user_key, AccessRequest(feature_key=""))
    snapshot = await runtime.catalog.get()
    subject = await load_subject(tenant_key, user_key)
    grants = effective_grants(snapshot.catalog, subject, at)
    metered = [g for g in grants if g.period is not None]
    used = await _usage(runtime, subject, metered) if metered else {}
    permissions = list(dict.fromkeys(p for g in grants for p in g.feature.permissions))
    return EffectiveView(
        subject=subject,
        features=[_view(g, used.get(g.feature.id, (0, 0))) for g in grants],
        permissions=permissions,
        snapshot=snapshot,
    )


def _view(grant: FeatureGrant, usage: tuple[int, int]) -> EffectiveFeatureView:
    if grant.period is None:
        return EffectiveFeatureView(grant, None)
    return EffectiveFeatureView(grant, usage[0], usage[1])


async def _usage(
    runtime: Runtime, subject: Subject, grants: list[FeatureGrant]
) -> dict[int, tuple[int, int]]:
    """``(used, live held)`` per metered feature in its current period (holds expire on the wall clock)."""
    who = usage_subject(subject)
    if who is None:
        return {}
    wanted = [(g.feature.id, g.period.start) for g in grants if g.period is not None]
    async with runtime.database.lookup() as connection:
        found = await usage_in_periods(connection, who, wanted, now())
    return {feature_id: found.get((feature_id, start), (0, 0)) for feature_id, start in wanted}
