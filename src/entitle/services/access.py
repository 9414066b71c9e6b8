"""The decision use cases, isEntitledTo and effectiveEntitlements: one ``AccessService`` per process.

``Runtime`` builds it at start-up with the catalog cache, the subject cache, the usage counters'
reader and the clock (tests inject a fixed one). A check validates the request once, before anything
is loaded, takes the catalog and the subject's context from the caches, reads a usage counter only for
a metered feature, and returns the domain's ``Decision``; the rules are the pure
``entitle.domain.decision``. When the caller gives no ``at``, the service's clock decides the instant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from entitle.db.repositories.catalog import CatalogSnapshot
from entitle.db.repositories.usage import UsageReader
from entitle.domain.decision import (
    AccessRequest,
    Decision,
    conclude,
    effective_grants,
    evaluate,
    validate_request,
)
from entitle.domain.grants import FeatureGrant
from entitle.domain.metering import remaining, usage_subject
from entitle.domain.model import Subject
from entitle.metrics import record_decision
from entitle.services.caches import CatalogCache, SubjectCache

Clock = Callable[[], datetime]
"""The instant "now" (``entitle.clock.now`` in production; ``create_app(clock=...)`` injects it)."""


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


class AccessService:
    __slots__ = ("_catalog", "_clock", "_subjects", "_usage")

    def __init__(
        self, catalog: CatalogCache, subjects: SubjectCache, usage: UsageReader, clock: Clock
    ) -> None:
        self._catalog = catalog
        self._subjects = subjects
        self._usage = usage
        self._clock = clock

    def now(self) -> datetime:
        """The service's clock (wall clock in production, fixed in tests that inject one)."""
        return self._clock()

    async def subject(self, tenant_key: str | None, user_key: str | None) -> Subject:
        """A subject's context: from the process cache when it is there (no extra event-loop turn), else
        loaded once however many concurrent requests ask for it."""
        cached = self._subjects.peek(tenant_key, user_key)
        if cached is not None:
            return cached
        return await self._subjects.get(tenant_key, user_key)

    async def check(
        self, tenant_key: str | None, user_key: str | None, request: AccessRequest, at: datetime | None = None
    ) -> Decision:
        """isEntitledTo: may this subject use this feature / permission / route at ``at`` (default now)?"""
        validate_request(tenant_key, user_key, request)
        when = self._clock() if at is None else at
        snapshot = await self._catalog.get()
        subject = await self.subject(tenant_key, user_key)
        evaluation = evaluate(snapshot.catalog, subject, request, when)
        grant = evaluation.grant
        used, held = None, 0
        if grant is not None and grant.period is not None:
            used, held = (await self._used(subject, [grant])).get(grant.feature.id, (0, 0))
        decision = conclude(evaluation, used, held)
        record_decision(decision.is_entitled, decision.justification)
        return decision

    async def effective(
        self, tenant_key: str | None, user_key: str | None, at: datetime | None = None
    ) -> EffectiveView:
        """Every feature and permission the subject has at ``at`` (default now)."""
        validate_request(tenant_key, user_key, AccessRequest(feature_key=""))
        when = self._clock() if at is None else at
        snapshot = await self._catalog.get()
        subject = await self.subject(tenant_key, user_key)
        grants = effective_grants(snapshot.catalog, subject, when)
        metered = [g for g in grants if g.period is not None]
        used = await self._used(subject, metered) if metered else {}
        permissions = list(dict.fromkeys(p for g in grants for p in g.feature.permissions))
        return EffectiveView(
            subject=subject,
            features=[_view(g, used.get(g.feature.id, (0, 0))) for g in grants],
            permissions=permissions,
            snapshot=snapshot,
        )

    async def _used(self, subject: Subject, grants: list[FeatureGrant]) -> dict[int, tuple[int, int]]:
        """``(used, live held)`` per metered feature in its current period (holds expire on the clock)."""
        who = usage_subject(subject)
        if who is None:
            return {}
        wanted = [(g.feature.id, g.period.start) for g in grants if g.period is not None]
        found = await self._usage.in_periods(who, wanted, self._clock())
        return {feature_id: found.get((feature_id, start), (0, 0)) for feature_id, start in wanted}


def _view(grant: FeatureGrant, usage: tuple[int, int]) -> EffectiveFeatureView:
    if grant.period is None:
        return EffectiveFeatureView(grant, None)
    return EffectiveFeatureView(grant, usage[0], usage[1])
