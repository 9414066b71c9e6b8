"""``reportUsage``: check and consume metered units atomically, once per idempotency key.

The metering use cases (``UsageService`` here, ``ReservationService`` and ``UsageHistoryService``) run
on one ``Metering``, which ``Runtime`` builds at start-up like the ``AccessService``: the same catalog
and subject caches, the change feed, the database for reads, ``Runtime.write`` for the transactions,
and the injected clock (``create_app(clock=...)``; tests fix it). A resolver hands them a typed
request; each validates it once, before anything is loaded, and reads the time only from that clock.

The decision is evaluated first (subject, grant, period); the consumption is then one
conditional UPDATE in the transaction that also claims the idempotency key and records the
answer, so a retry returns exactly the first answer and concurrency never overshoots a BLOCK limit.
A refused consumption records no units, but its answer is recorded like any other: a retry
with the same key gets the same refusal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from entitle.db.engine import Database
from entitle.db.repositories import Session
from entitle.db.repositories import changes as change_log
from entitle.db.repositories import usage as counters
from entitle.db.repositories.idempotency import USAGE_EVENTS_LEDGER as usage_events
from entitle.db.repositories.usage import Counter, CounterKey
from entitle.domain.changes import ChangeKind, NewChange
from entitle.domain.decision import AccessRequest, Decision, Evaluation, conclude, evaluate, validate_request
from entitle.domain.errors import BadUserInput
from entitle.domain.grants import DecisionSource, FeatureGrant
from entitle.domain.metering import SubjectId, new_thresholds, over_limit, usage_subject
from entitle.domain.model import (
    Feature,
    JsonObject,
    JsonValue,
    Justification,
    OverageHandling,
    SourceKind,
    Subject,
    SubscriptionContext,
)
from entitle.services.access import Clock
from entitle.services.background.feed import ChangeFeed
from entitle.services.caches import CatalogCache, SubjectCache

MAX_COUNTER = 2**31 - 1
"""``used`` is a GraphQL Int: no period's counter may pass it, whatever the overage handling."""

GRANT_GONE = frozenset({Justification.PLAN_EXPIRED, Justification.NOT_STARTED, Justification.MISSING_FEATURE})
"""Refusals of a known member for a known feature: a key it already applied keeps its answer."""


Writer = Callable[[], AbstractAsyncContextManager[Session]]
"""``Runtime.write``: a write transaction whose changes go to the feed and evict the caches."""


@dataclasses.dataclass(frozen=True)
class UsageReport:
    tenant_key: str | None
    user_key: str | None
    feature_key: str
    amount: int
    idempotency_key: str
    at: datetime | None = None
    """When the units were used; None: now, by the service's clock."""


@dataclasses.dataclass(frozen=True)
class MeteredTarget:
    """What a consumption or a hold acts on: the evaluated request, its feature and whose counter."""

    evaluation: Evaluation
    feature: Feature | None
    who: SubjectId | None
    subject: Subject


@dataclasses.dataclass(frozen=True, slots=True)
class Metering:
    """What the metering use cases run on; ``Runtime`` builds one at start-up."""

    database: Database
    """For reads (a session or a lookup connection); the SQL stays in the repositories."""
    catalog: CatalogCache
    subjects: SubjectCache
    feed: ChangeFeed
    write: Writer
    clock: Clock
    """The injected clock: every "now" of a metering use case is read from it."""

    async def subject(self, tenant_key: str | None, user_key: str | None) -> Subject:
        """A subject's context as the decisions take it: the process cache, else one shared load."""
        cached = self.subjects.peek(tenant_key, user_key)
        if cached is not None:
            return cached
        return await self.subjects.get(tenant_key, user_key)

    async def target(
        self, tenant_key: str | None, user_key: str | None, request: AccessRequest, at: datetime
    ) -> MeteredTarget:
        """Evaluate a request on a metered feature (a feature that is not metered is ``BAD_USER_INPUT``)."""
        # A consumption must not use a limit another process has just lowered: catch up with the
        # revision row now (one read) instead of waiting for the next poll.
        await self.feed.catch_up()
        snapshot = await self.catalog.get()
        feature = snapshot.catalog.features_by_key.get(request.feature_key or "")
        if feature is not None and not feature.metered:
            raise BadUserInput(
                f"feature '{feature.key}' is not metered (a LIMIT feature with a resetPeriod)",
                field="featureKey",
            )
        subject = await self.subject(tenant_key, user_key)
        evaluation = evaluate(snapshot.catalog, subject, request, at)
        return MeteredTarget(evaluation, feature, usage_subject(subject), subject)


class UsageService:
    """``reportUsage``."""

    __slots__ = ("_metering",)

    def __init__(self, metering: Metering) -> None:
        self._metering = metering

    async def report(self, report: UsageReport) -> Decision:
        """Consume ``report.amount`` units at ``report.at`` (default now), once per idempotency key."""
        if report.amount < 0:
            raise BadUserInput("amount must not be negative", field="amount")
        check_idempotency_key(report.idempotency_key)
        request = AccessRequest(feature_key=report.feature_key, usage=report.amount)
        validate_request(report.tenant_key, report.user_key, request)
        metering = self._metering
        now = metering.clock()
        at = now if report.at is None else report.at
        target = await metering.target(report.tenant_key, report.user_key, request, at)
        evaluation, feature, who = target.evaluation, target.feature, target.who
        grant = evaluation.grant
        if grant is None or grant.period is None or who is None or evaluation.justification is not None:
            if who is not None and feature is not None and evaluation.justification in GRANT_GONE:
                # A key already applied keeps its answer, even if the grant has since ended.
                async with metering.database.read() as session:
                    event = (*who, feature.id, report.idempotency_key)
                    recorded = await usage_events.recorded(session, event)
                if recorded is not None:
                    return decision_from_json(recorded, feature)
            return conclude(evaluation, None)  # nothing grants it: refuse, record nothing

        async with metering.write() as session:
            event = (*who, grant.feature.id, report.idempotency_key)
            if not await usage_events.claim(session, event, at):
                recorded = await usage_events.recorded(session, event)
                return decision_from_json(recorded or {}, grant.feature)
            key = CounterKey(who, grant.feature.id, grant.period.start, grant.period.end)
            blocking = blocks(grant)
            # Holds expire on the clock, not at the reported instant.
            applied, counter = await counters.consume(session, key, report.amount, cap(grant), now)
            if not applied and not blocking:
                raise BadUserInput(
                    f"amount: this period's counter would pass {MAX_COUNTER}, the largest value the API "
                    "reports",
                    field="amount",
                )
            # Either way the counter's holds are live: the update required it, or swept the expired ones.
            if applied:
                decision = conclude(dataclasses.replace(evaluation, usage=None), counter.used, counter.held)
            else:
                decision = conclude(evaluation, counter.used, counter.held)
            await announce(session, key, target, counter, applied=applied)
            await usage_events.record(
                session, event, decision_to_json(decision), amount=report.amount if applied else 0
            )
            await counters.record(
                session,
                counters.UsageLine(
                    tenant_key=report.tenant_key,
                    user_key=report.user_key,
                    feature_key=grant.feature.key,
                    amount=report.amount,
                    idempotency_key=report.idempotency_key,
                    at=at,
                    accepted=applied,
                ),
            )
        return decision


def check_idempotency_key(key: str) -> None:
    if not 0 < len(key) <= 200:
        raise BadUserInput("idempotencyKey must be 1 to 200 characters", field="idempotencyKey")


def blocks(grant: FeatureGrant) -> bool:
    return grant.feature.overage is OverageHandling.BLOCK and grant.limit is not None


def cap(grant: FeatureGrant) -> int:
    """The most ``used + held`` may reach: the limit under BLOCK, else the largest Int the API reports."""
    limit = grant.limit
    return min(limit, MAX_COUNTER) if limit is not None and blocks(grant) else MAX_COUNTER


async def announce(
    session: Session, key: CounterKey, target: MeteredTarget, counter: Counter, *, applied: bool
) -> None:
    """Append USAGE_THRESHOLD_REACHED for thresholds this consumption reached first in the period, and
    USAGE_LIMIT_EXCEEDED the first time the period goes over the limit (or a BLOCK refusal happens).

    The counter row is locked by this transaction (or the update is conditional), so across workers
    each is appended exactly once per period.
    """
    grant = target.evaluation.grant
    if grant is None or grant.period is None or grant.limit is None:
        return
    limit, feature = grant.limit, grant.feature
    changes: list[NewChange] = []
    fresh = new_thresholds(feature.warning_thresholds, limit, counter.used, counter.alerted_threshold)
    if applied and fresh and await counters.announce_thresholds(session, key, fresh[-1]):
        changes += [_usage_change(ChangeKind.USAGE_THRESHOLD_REACHED, target, counter, t) for t in fresh]
    exceeded = over_limit(limit, counter.used) if applied else blocks(grant)
    if exceeded and not counter.limit_alerted and await counters.announce_limit(session, key):
        changes.append(_usage_change(ChangeKind.USAGE_LIMIT_EXCEEDED, target, counter, None))
    if changes:
        change_log.record(session, *changes)


def _usage_change(
    kind: ChangeKind, target: MeteredTarget, counter: Counter, threshold: int | None
) -> NewChange:
    grant = target.evaluation.grant
    assert grant is not None
    assert grant.period is not None
    subject = target.subject
    organization = subject.context is SubscriptionContext.ORGANIZATION
    payload: dict[str, Any] = {
        "featureKey": grant.feature.key,
        "used": counter.used,
        "limit": grant.limit,
        "overage": grant.feature.overage.value,
        "periodStart": _time(grant.period.start),
        "resetsAt": _time(grant.period.end),
    }
    if threshold is not None:
        payload["threshold"] = threshold
    return NewChange(
        kind,
        tenant_key=subject.tenant_key if organization else None,
        user_key=None if organization else subject.user_key,
        feature_key=grant.feature.key,
        payload=payload,
    )


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def decision_to_json(decision: Decision) -> JsonObject:
    """A decision as its idempotency ledger stores it (``decision_from_json`` reads it back)."""
    return {
        "isEntitled": decision.is_entitled,
        "justification": decision.justification.value if decision.justification else None,
        "context": decision.context.value,
        "value": decision.value,
        "limit": decision.limit,
        "unlimited": decision.unlimited,
        "used": decision.used,
        "remaining": decision.remaining,
        "resetsAt": _time(decision.resets_at),
        "overage": decision.overage,
        "warning": decision.warning,
        "expiresAt": _time(decision.expires_at),
        "held": decision.held,
        "sources": [
            {
                "kind": s.kind.value,
                "entitlementId": s.entitlement_id,
                "planId": s.plan_id,
                "flagId": s.flag_id,
                "expiresAt": _time(s.expires_at),
            }
            for s in decision.sources
        ],
    }


def decision_from_json(data: JsonObject, feature: Feature | None) -> Decision:
    def source(s: JsonObject) -> DecisionSource:
        return DecisionSource(
            kind=SourceKind(str(s["kind"])),
            entitlement_id=_int(s.get("entitlementId")),
            plan_id=_int(s.get("planId")),
            flag_id=_int(s.get("flagId")),
            expires_at=_parse_time(_str(s.get("expiresAt"))),
        )

    justification, sources = _str(data.get("justification")), data.get("sources", [])
    return Decision(
        is_entitled=bool(data.get("isEntitled")),
        justification=Justification(justification) if justification else None,
        context=SubscriptionContext(str(data.get("context", "ORGANIZATION"))),
        value=data.get("value"),
        limit=_int(data.get("limit")),
        unlimited=bool(data.get("unlimited")),
        used=_int(data.get("used")),
        remaining=_int(data.get("remaining")),
        resets_at=_parse_time(_str(data.get("resetsAt"))),
        overage=_int(data.get("overage")),
        warning=_str(data.get("warning")),
        expires_at=_parse_time(_str(data.get("expiresAt"))),
        sources=tuple(source(s) for s in sources if isinstance(s, dict)) if isinstance(sources, list) else (),
        feature=feature,
        held=_int(data.get("held")),
    )


def _int(value: JsonValue) -> int | None:
    """A stored number (the decision's own ints), or None."""
    return value if isinstance(value, int) else None


def _str(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None
