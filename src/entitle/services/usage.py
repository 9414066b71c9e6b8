"""``reportUsage``: check and consume metered units atomically, once per idempotency key.

The decision is evaluated first (subject, grant, period); the consumption is then one
conditional UPDATE in the transaction that also claims the idempotency key and records the
answer, so a retry returns exactly the first answer and concurrency never overshoots a BLOCK limit.
A refused consumption records no units, but its answer is recorded like any other: a retry
with the same key gets the same refusal.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from entitle.db.repositories.idempotency import USAGE_EVENTS_LEDGER as usage_events
from entitle.db.repositories.usage import consume, usage_subject
from entitle.domain.decision import AccessRequest, Decision, conclude, evaluate, validate_request
from entitle.domain.errors import BadUserInput
from entitle.domain.grants import DecisionSource
from entitle.domain.model import Justification, OverageHandling, SourceKind, SubscriptionContext
from entitle.services.access import SubjectLoader
from entitle.services.runtime import Runtime

MAX_COUNTER = 2**31 - 1
"""``used`` is a GraphQL Int: no period's counter may pass it, whatever the overage handling."""

_GRANT_GONE = frozenset(
    {Justification.PLAN_EXPIRED, Justification.NOT_STARTED, Justification.MISSING_FEATURE}
)
"""Refusals of a known member for a known feature: a key it already applied keeps its answer."""


@dataclasses.dataclass(frozen=True)
class UsageReport:
    tenant_key: str | None
    user_key: str | None
    feature_key: str
    amount: int
    idempotency_key: str
    at: datetime


async def report_usage(runtime: Runtime, load_subject: SubjectLoader, report: UsageReport) -> Decision:
    if report.amount < 0:
        raise BadUserInput("amount must not be negative", field="amount")
    if not 0 < len(report.idempotency_key) <= 200:
        raise BadUserInput("idempotencyKey must be 1 to 200 characters", field="idempotencyKey")
    request = AccessRequest(feature_key=report.feature_key, usage=report.amount)
    validate_request(report.tenant_key, report.user_key, request)
    # A consumption must not use a limit another process has just lowered: catch up with the
    # revision row now (one read) instead of waiting for the next poll.
    await runtime.feed.catch_up()
    snapshot = await runtime.catalog.get()
    feature = snapshot.catalog.features_by_key.get(report.feature_key)
    if feature is not None and not feature.metered:
        raise BadUserInput(
            f"feature '{feature.key}' is not metered (a LIMIT feature with a resetPeriod)", field="featureKey"
        )
    subject = await load_subject(report.tenant_key, report.user_key)
    evaluation = evaluate(snapshot.catalog, subject, request, report.at)
    grant, who = evaluation.grant, usage_subject(subject)
    if grant is None or grant.period is None or who is None or evaluation.justification is not None:
        if who is not None and feature is not None and evaluation.justification in _GRANT_GONE:
            # A key already applied keeps its answer, even if the grant has since ended.
            async with runtime.database.read() as session:
                recorded = await usage_events.recorded(session, (*who, feature.id, report.idempotency_key))
            if recorded is not None:
                return decision_from_json(recorded, feature)
        return conclude(evaluation, None)  # nothing grants it: refuse, record nothing

    async with runtime.write() as session:
        event = (*who, grant.feature.id, report.idempotency_key)
        if not await usage_events.claim(session, event, report.at):
            recorded = await usage_events.recorded(session, event)
            return decision_from_json(recorded or {}, grant.feature)
        limit = grant.limit
        blocking = grant.feature.overage is OverageHandling.BLOCK and limit is not None
        cap = min(limit, MAX_COUNTER) if limit is not None and blocking else MAX_COUNTER
        applied, used = await consume(session, who, grant.feature.id, grant.period.start, report.amount, cap)
        if not applied and not blocking:
            raise BadUserInput(
                f"amount: this period's counter would pass {MAX_COUNTER}, the largest value the API reports",
                field="amount",
            )
        if applied:
            decision = conclude(dataclasses.replace(evaluation, usage=None), used)
        else:
            decision = conclude(evaluation, used)
        await usage_events.record(
            session, event, decision_to_json(decision), amount=report.amount if applied else 0
        )
    return decision


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def decision_to_json(decision: Decision) -> dict[str, Any]:
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
        "sources": [
            {
                "kind": s.kind.value,
                "entitlementId": s.entitlement.id if s.entitlement else None,
                "planId": s.plan_id,
                "flagId": s.flag_id,
                "expiresAt": _time(s.expires_at),
            }
            for s in decision.sources
        ],
    }


def decision_from_json(data: dict[str, Any], feature: Any) -> Decision:
    from entitle.domain.model import AssignLevel, EntitlementRecord

    def source(s: dict[str, Any]) -> DecisionSource:
        record = None
        if s.get("entitlementId") is not None:
            # Only the id is rendered from a replayed source; the row is loaded by id.
            epoch = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
            record = EntitlementRecord(
                id=s["entitlementId"], assign_level=AssignLevel.TENANT, start_date=epoch, created_at=epoch
            )
        return DecisionSource(
            kind=SourceKind(s["kind"]),
            entitlement=record,
            plan_id=s.get("planId"),
            flag_id=s.get("flagId"),
            expires_at=_parse_time(s.get("expiresAt")),
        )

    return Decision(
        is_entitled=bool(data.get("isEntitled")),
        justification=Justification(data["justification"]) if data.get("justification") else None,
        context=SubscriptionContext(data.get("context", "ORGANIZATION")),
        value=data.get("value"),
        limit=data.get("limit"),
        unlimited=bool(data.get("unlimited")),
        used=data.get("used"),
        remaining=data.get("remaining"),
        resets_at=_parse_time(data.get("resetsAt")),
        overage=data.get("overage"),
        warning=data.get("warning"),
        expires_at=_parse_time(data.get("expiresAt")),
        sources=tuple(source(s) for s in data.get("sources", [])),
        feature=feature,
    )
